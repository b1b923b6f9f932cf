//! `/v1/oauth_apps` — the workspace's own OAuth clients. The secret is write-only: accepted on
//! create and update, never returned.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use latchkey_store::OAuthClient;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    clock,
    error::{ApiResult, AppJson},
    service::{
        oauth::{client_health, clients, redirect_uri},
        Caller,
    },
    views, AppState,
};

/// Body of create and update (every field optional on update).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientBody {
    app: Option<String>,
    name: Option<String>,
    /// Accepted for compatibility; not stored.
    #[serde(default)]
    #[allow(dead_code, reason = "accepted for API compatibility, not stored")]
    description: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scopes: Option<Vec<String>>,
    additional_scopes: Option<Vec<String>>,
}

impl ClientBody {
    pub(crate) fn into_input(self) -> clients::ClientInput {
        let scopes = match (self.scopes, self.additional_scopes) {
            (None, None) => None,
            (scopes, extra) => Some(
                scopes
                    .unwrap_or_default()
                    .into_iter()
                    .chain(extra.unwrap_or_default())
                    .collect(),
            ),
        };
        clients::ClientInput {
            app: self.app,
            name: self.name,
            client_id: self.client_id,
            client_secret: self.client_secret,
            scopes,
        }
    }
}

fn view(state: &AppState, c: &OAuthClient) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "app": c.app_slug,
        "name_slug": c.app_slug,
        "client_id": c.client_id,
        "scopes": c.scopes,
        "redirect_uri": redirect_uri(state),
        "status": if c.rejected_at.is_some() { "rejected" } else { "active" },
        "rejected_error": c.rejected_error,
        "rejected_at": c.rejected_at.map(clock::iso),
        "owner_id": c.workspace_id,
        "created_at": clock::iso(c.created_at),
        "updated_at": clock::iso(c.updated_at),
    })
}

/// `GET /v1/oauth_apps`
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let all = clients::list(&state, &caller).await?;
    let data: Vec<Value> = all.iter().map(|c| view(&state, c)).collect();
    Ok(Json(views::Data { data }).into_response())
}

/// `GET /v1/oauth_apps/defaults` — the operator's clients this workspace can connect with
/// (read-only: they come from the server's configuration), with the provider's verdict.
pub(crate) async fn defaults(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let redirect = redirect_uri(&state);
    let data: Vec<Value> = client_health::defaults(&state, &caller)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "app": d.app,
                "client_id": d.client_id,
                "source": "config",
                "redirect_uri": redirect,
                "status": if d.rejection.is_some() { "rejected" } else { "active" },
                "rejected_error": d.rejection.as_ref().map(|r| r.error.clone()),
                "rejected_at": d.rejection.as_ref().map(|r| clock::iso(r.at)),
            })
        })
        .collect();
    Ok(Json(views::Data { data }).into_response())
}

/// `POST /v1/oauth_apps` (admins)
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<ClientBody>,
) -> ApiResult<Response> {
    let client = clients::create(&state, &caller, body.into_input()).await?;
    Ok((
        StatusCode::CREATED,
        Json(views::Data {
            data: view(&state, &client),
        }),
    )
        .into_response())
}

/// `GET /v1/oauth_apps/{id}`
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let client = clients::get(&state, &caller, &id).await?;
    Ok(Json(views::Data {
        data: view(&state, &client),
    })
    .into_response())
}

/// `PUT /v1/oauth_apps/{id}` (admins)
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AppJson(body): AppJson<ClientBody>,
) -> ApiResult<Response> {
    let client = clients::update(&state, &caller, &id, body.into_input()).await?;
    Ok(Json(views::Data {
        data: view(&state, &client),
    })
    .into_response())
}

/// `DELETE /v1/oauth_apps/{id}` (admins)
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    clients::delete(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
