//! Connect accounts: list, retrieve, delete, delete by app, per end user, create with
//! `cfmap_json` (API.md §3 #4–#9). Single accounts are bare objects, lists `{data, page_info}`,
//! the per-user list a bare array.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

use crate::{
    controllers::{flag, limit},
    error::{ApiResult, AppJson, AppQuery},
    service::connect::{accounts, ConnectCaller},
    views, AppState,
};

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    external_user_id: Option<String>,
    oauth_app_id: Option<String>,
    app: Option<String>,
    app_id: Option<String>,
    include_credentials: Option<String>,
    after: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/connect/{project_id}/accounts`
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    let _ = query.before;
    let page = accounts::list(
        &state,
        &caller,
        accounts::ListParams {
            external_user_id: query.external_user_id.filter(|s| !s.is_empty()),
            oauth_app_id: query.oauth_app_id,
            app: query.app.or(query.app_id),
            with_credentials: flag("include_credentials", query.include_credentials.as_deref())?,
            after: query.after.filter(|s| !s.is_empty()),
            limit: limit(query.limit.as_deref())?,
        },
    )
    .await?;
    let data = page.items.iter().map(|d| views::account(d, &[])).collect();
    Ok(Json(views::Listing {
        data,
        page_info: views::PageInfo::of(&page),
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetQuery {
    include_credentials: Option<String>,
}

/// `GET /v1/connect/{project_id}/accounts/{account_id}` → bare Account.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
    AppQuery(query): AppQuery<GetQuery>,
) -> ApiResult<Response> {
    let account_id = path.last().map(String::as_str).unwrap_or_default();
    let with_credentials = flag("include_credentials", query.include_credentials.as_deref())?;
    let details = accounts::get(&state, &caller, account_id, with_credentials).await?;
    Ok(Json(views::account(&details, &[])).into_response())
}

/// `DELETE /v1/connect/{project_id}/accounts/{account_id}` → 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
) -> ApiResult<Response> {
    let account_id = path.last().map(String::as_str).unwrap_or_default();
    accounts::delete(&state, &caller, account_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1/connect/{project_id}/apps/{app_id}/accounts` (and the legacy
/// `…/accounts/app/{app_id}`) → 204.
pub(crate) async fn delete_by_app(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
) -> ApiResult<Response> {
    let app = path.last().map(String::as_str).unwrap_or_default();
    accounts::delete_by_app(&state, &caller, app).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserAccountsQuery {
    include_credentials: Option<String>,
    app: Option<String>,
}

/// `GET /v1/connect/{project_id}/users/{external_user_id}/accounts` → bare array.
pub(crate) async fn list_of_user(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
    AppQuery(query): AppQuery<UserAccountsQuery>,
) -> ApiResult<Response> {
    // The router percent-decodes the segment exactly once (`user%201%2Fx` → `user 1/x`).
    let external_id = path.last().map(String::as_str).unwrap_or_default();
    let items = accounts::list_of_user(
        &state,
        &caller,
        external_id,
        query.app.filter(|s| !s.is_empty()),
        flag("include_credentials", query.include_credentials.as_deref())?,
    )
    .await?;
    let data: Vec<_> = items.iter().map(|d| views::account(d, &[])).collect();
    Ok(Json(data).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateQuery {
    external_user_id: Option<String>,
    oauth_app_id: Option<String>,
}

/// Body of `POST …/accounts`. Not `Debug`: `cfmap_json` holds secrets.
#[derive(Deserialize)]
pub(crate) struct CreateBody {
    app_slug: String,
    cfmap_json: String,
    connect_token: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    app_override_id: Option<String>,
}

/// `POST /v1/connect/{project_id}/accounts` — a key-based connection → bare Account (201).
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppQuery(query): AppQuery<CreateQuery>,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let _ = query.oauth_app_id;
    if body.account_id.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(crate::error::ApiError::invalid(
            "account_id",
            "reconnecting a key-based account is done by connecting it again and deleting the old one",
        ));
    }
    let (details, check) = accounts::create(
        &state,
        &caller,
        accounts::NewConnectAccount {
            app_slug: body.app_slug,
            cfmap_json: body.cfmap_json,
            connect_token: body.connect_token,
            name: body.name,
            external_user_id: query.external_user_id,
            app_override_id: body.app_override_id,
        },
    )
    .await?;
    let mut response = (StatusCode::OK, Json(views::account(&details, &[]))).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(check.status) {
        response.headers_mut().insert("x-latchkey-check", value);
    }
    Ok(response)
}
