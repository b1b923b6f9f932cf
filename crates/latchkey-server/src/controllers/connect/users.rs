//! `GET /v1/connect/{project_id}/users` and `DELETE …/users/{external_user_id}`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use latchkey_store::ExternalUser;
use serde::{Deserialize, Serialize};

use crate::{
    clock,
    controllers::limit,
    error::{ApiResult, AppQuery},
    service::connect::{users, ConnectCaller},
    views, AppState,
};

#[derive(Serialize)]
struct UserView<'a> {
    id: &'a str,
    external_id: &'a str,
    created_at: String,
    updated_at: String,
}

fn view(u: &ExternalUser) -> UserView<'_> {
    UserView {
        id: &u.id,
        external_id: &u.external_id,
        created_at: clock::iso(u.created_at),
        updated_at: clock::iso(u.updated_at),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    after: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/connect/{project_id}/users` → `{data: [ExternalUser], page_info}`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    let _ = query.before;
    let page = users::list(
        &state,
        &caller,
        query.q.as_deref(),
        query.after.as_deref().filter(|s| !s.is_empty()),
        limit(query.limit.as_deref())?,
    )
    .await?;
    Ok(Json(views::Listing {
        data: page.items.iter().map(view).collect(),
        page_info: views::PageInfo::of(&page),
    })
    .into_response())
}

/// `DELETE /v1/connect/{project_id}/users/{external_user_id}` → 204; their accounts go too.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
) -> ApiResult<Response> {
    let external_id = path.last().map(String::as_str).unwrap_or_default();
    users::delete(&state, &caller, external_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
