//! `/v1/connect/{project_id}/proxy/{url}` and `/v1/accounts/{account_id}/proxy/{url}`: the
//! authenticated proxy (API.md §6). The target segment is taken from the raw request path, so
//! `%2F` in Base64 never splits it.

use axum::{
    body::Bytes,
    extract::{OriginalUri, State},
    http::{HeaderMap, Method},
    response::Response,
};
use serde::Deserialize;

use crate::{
    error::{ApiError, ApiResult, AppQuery},
    proxy::{self, ProxyContext, ProxyRequest},
    service::{accounts, connect, Caller},
    AppState,
};

/// The raw `{url}` part of the path: everything after `/proxy/`, still percent-encoded.
fn raw_target(uri: &OriginalUri) -> ApiResult<String> {
    let path = uri.0.path();
    let (_, rest) = path
        .split_once("/proxy/")
        .ok_or_else(|| ApiError::invalid("url", "is missing"))?;
    if rest.is_empty() {
        return Err(ApiError::invalid("url", "is missing"));
    }
    Ok(rest.to_owned())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConnectProxyQuery {
    external_user_id: Option<String>,
    account_id: Option<String>,
}

/// Any method on `/v1/connect/{project_id}/proxy/{url}`.
pub(crate) async fn connect_proxy(
    State(state): State<AppState>,
    caller: connect::ConnectCaller,
    uri: OriginalUri,
    method: Method,
    AppQuery(query): AppQuery<ConnectProxyQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let raw_target = raw_target(&uri)?;
    let account = connect::accounts::for_proxy(
        &state,
        &caller,
        query.external_user_id.as_deref(),
        query.account_id.as_deref(),
    )
    .await?;
    let who = ProxyContext {
        actor: caller.actor(),
        limit_key: &caller.project.id,
    };
    Ok(proxy::forward(
        &state,
        account,
        who,
        ProxyRequest {
            method,
            raw_target,
            headers,
            body,
        },
    )
    .await)
}

/// Any method on `/v1/accounts/{account_id}/proxy/{url}`: a member's (or API client's) own or
/// shared account, under the access rules.
pub(crate) async fn account_proxy(
    State(state): State<AppState>,
    caller: Caller,
    uri: OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let raw_target = raw_target(&uri)?;
    let account_id = uri
        .0
        .path()
        .split('/')
        .skip_while(|s| *s != "accounts")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let account = accounts::for_proxy(&state, &caller, &account_id).await?;
    let who = ProxyContext {
        actor: caller.actor(),
        limit_key: caller.workspace_id(),
    };
    Ok(proxy::forward(
        &state,
        account,
        who,
        ProxyRequest {
            method,
            raw_target,
            headers,
            body,
        },
    )
    .await)
}
