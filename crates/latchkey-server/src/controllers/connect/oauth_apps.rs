//! `/v1/connect/{project_id}/oauth_apps` (API.md §3 #17–#18, §4.8): the workspace's own OAuth
//! clients as the Connect SDK sees them — the app's metadata merged with the client's fields.
//! The secret is write-only.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use latchkey_store::{OAuthClient, Page};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    clock,
    controllers::{limit, oauth_apps::ClientBody},
    error::{ApiResult, AppJson, AppQuery},
    service::{
        connect::ConnectCaller,
        oauth::{clients, redirect_uri},
        ServiceError,
    },
    views, AppState,
};

async fn view(state: &AppState, c: &OAuthClient) -> Value {
    let mut out = match state
        .catalog
        .resolve(&*state.store, &c.workspace_id, &c.app_slug)
        .await
    {
        Ok(Some(app)) => {
            serde_json::from_str::<Value>(app.view.get()).unwrap_or_else(|_| json!({}))
        }
        _ => json!({"name_slug": c.app_slug}),
    };
    let fields = json!({
        "id": c.id,
        "name": c.name,
        "client_id": c.client_id,
        "scopes": c.scopes.clone().unwrap_or_default(),
        "additional_scopes": [],
        "redirect_uri": redirect_uri(state),
        "owner_id": c.workspace_id,
        "created_at": clock::iso(c.created_at),
        "updated_at": clock::iso(c.updated_at),
    });
    if let (Some(target), Value::Object(extra)) = (out.as_object_mut(), fields) {
        target.extend(extra);
    }
    out
}

fn require(caller: &ConnectCaller, write: bool) -> Result<(), ServiceError> {
    caller.require_server()?;
    caller.require_scope(if write {
        "connect:oauth_apps:write"
    } else {
        "connect:oauth_apps:read"
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    app: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

/// `GET …/oauth_apps` → `{data, page_info}` (one page: a workspace has few clients).
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    require(&caller, false)?;
    let _ = (query.after, query.before, limit(query.limit.as_deref())?);
    let app = match query.app.filter(|a| !a.is_empty()) {
        Some(key) => Some(
            crate::service::connect::tokens::resolve_app(&state, &caller.project, &key)
                .await?
                .definition
                .name_slug
                .clone(),
        ),
        None => None,
    };
    let needle = query.q.unwrap_or_default().to_lowercase();
    let all = state
        .store
        .list_oauth_clients(caller.workspace_id(), app.as_deref())
        .await?;
    let mut data = Vec::new();
    for c in all
        .iter()
        .filter(|c| needle.is_empty() || c.name.to_lowercase().contains(&needle))
    {
        data.push(view(&state, c).await);
    }
    let page = Page {
        total_count: i64::try_from(data.len()).unwrap_or(i64::MAX),
        start_cursor: None,
        end_cursor: None,
        items: data,
    };
    let page_info = views::PageInfo::of(&page);
    Ok(Json(views::Listing {
        data: page.items,
        page_info,
    })
    .into_response())
}

/// `POST …/oauth_apps` → bare OauthApp (201).
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppJson(body): AppJson<ClientBody>,
) -> ApiResult<Response> {
    require(&caller, true)?;
    let client = clients::create_in(&state, caller.workspace_id(), body.into_input()).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &client).await)).into_response())
}

fn id_of(path: &[String]) -> &str {
    path.last().map_or("", String::as_str)
}

/// `GET …/oauth_apps/{id}` → bare OauthApp.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
) -> ApiResult<Response> {
    require(&caller, false)?;
    let client = clients::get_in(&state, caller.workspace_id(), id_of(&path)).await?;
    Ok(Json(view(&state, &client).await).into_response())
}

/// `PUT …/oauth_apps/{id}` → bare OauthApp.
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
    AppJson(body): AppJson<ClientBody>,
) -> ApiResult<Response> {
    require(&caller, true)?;
    let client = clients::update_in(
        &state,
        caller.workspace_id(),
        id_of(&path),
        body.into_input(),
    )
    .await?;
    Ok(Json(view(&state, &client).await).into_response())
}

/// `DELETE …/oauth_apps/{id}` → 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
) -> ApiResult<Response> {
    require(&caller, true)?;
    clients::delete_in(&state, caller.workspace_id(), id_of(&path)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
