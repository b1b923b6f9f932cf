//! `/v1/accounts` — the workspace's connected accounts.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{flag, limit};
use crate::{
    error::{ApiError, ApiResult, AppJson, AppQuery},
    outbound::CheckResult,
    service::{accounts, Caller},
    views, AppState,
};

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    app: Option<String>,
    app_id: Option<String>,
    q: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    include_credentials: Option<String>,
}

async fn members(state: &AppState, caller: &Caller) -> ApiResult<Arc<Vec<latchkey_store::Member>>> {
    Ok(accounts::members(state, caller.workspace_id()).await?)
}

/// `GET /v1/accounts`
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    let params = accounts::ListParams {
        app: query.app.or(query.app_id).filter(|s| !s.is_empty()),
        search: query.q,
        after: query.after.filter(|s| !s.is_empty()),
        limit: limit(query.limit.as_deref())?,
        with_credentials: flag("include_credentials", query.include_credentials.as_deref())?,
    };
    let page = accounts::list(&state, &caller, params).await?;
    let members = members(&state, &caller).await?;
    let data = page
        .items
        .iter()
        .map(|d| views::account(d, &members))
        .collect();
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

/// `GET /v1/accounts/{id}`
pub(crate) async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AppQuery(query): AppQuery<GetQuery>,
) -> ApiResult<Response> {
    let with_credentials = flag("include_credentials", query.include_credentials.as_deref())?;
    let details = accounts::get(&state, &caller, &id, with_credentials).await?;
    let members = members(&state, &caller).await?;
    Ok(Json(views::Data {
        data: views::account(&details, &members),
    })
    .into_response())
}

/// The answer to a connect: the account and the credential check's result.
#[derive(Serialize)]
struct Created<'a> {
    data: views::AccountView<'a>,
    check: &'a CheckResult,
}

/// Body of `POST /v1/accounts`. Deliberately not `Debug`: `cfmap` holds secrets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    app: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    cfmap: BTreeMap<String, Value>,
    #[serde(default)]
    skip_check: bool,
}

pub(crate) fn scalar_fields(cfmap: BTreeMap<String, Value>) -> ApiResult<BTreeMap<String, String>> {
    cfmap
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            _ => Err(ApiError::invalid(format!("cfmap.{k}"), "must be a string")),
        })
        .collect()
}

/// `POST /v1/accounts` — connect a key-based account.
pub(crate) async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let input = accounts::NewAccount {
        app: body.app,
        name: body.name,
        cfmap: scalar_fields(body.cfmap)?,
        skip_check: body.skip_check,
    };
    let (details, check) = accounts::create(&state, &caller, input).await?;
    let members = members(&state, &caller).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            data: views::account(&details, &members),
            check: &check,
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    name: String,
}

/// `PATCH /v1/accounts/{id}` — rename.
pub(crate) async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AppJson(body): AppJson<UpdateBody>,
) -> ApiResult<Response> {
    let details = accounts::rename(&state, &caller, &id, &body.name).await?;
    let members = members(&state, &caller).await?;
    Ok(Json(views::Data {
        data: views::account(&details, &members),
    })
    .into_response())
}

/// `DELETE /v1/accounts/{id}` — 204; `Latchkey-Revocation: revoked | unsupported | failed`
/// says what happened to the grant at the provider (a failure never blocks the delete).
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let revocation = accounts::delete(&state, &caller, &id).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [("latchkey-revocation", revocation.as_str())],
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectBody {
    app: String,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    oauth_app_id: Option<String>,
}

/// `POST /v1/accounts/connect` — start an OAuth connect (or a reconnect with `account_id`).
pub(crate) async fn connect_account(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<ConnectBody>,
) -> ApiResult<Response> {
    let url = crate::service::oauth::connect::start(
        &state,
        &caller,
        &body.app,
        body.account_id.as_deref(),
        body.oauth_app_id.as_deref(),
    )
    .await?;
    Ok(Json(views::Data {
        data: serde_json::json!({ "authorize_url": url }),
    })
    .into_response())
}
