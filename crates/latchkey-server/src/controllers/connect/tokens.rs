//! `POST /v1/connect/{project_id}/tokens` and `GET /v1/connect/tokens/{ctok}/validate`.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
    Json,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    clock,
    error::{ApiResult, AppJson, AppQuery},
    service::connect::{tokens, ConnectCaller},
    AppState,
};

/// Body of a token request (API.md §3 #2).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    external_user_id: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    success_redirect_uri: Option<String>,
    #[serde(default)]
    error_redirect_uri: Option<String>,
    #[serde(default)]
    webhook_uri: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    allow_progressive_scopes: bool,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    oauth_app_id: Option<String>,
    /// Sent by the legacy SDK next to `external_user_id`.
    #[serde(default)]
    external_id: Option<String>,
}

/// `POST /v1/connect/{project_id}/tokens` → `{token, expires_at, connect_link_url}`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let _ = body.external_id;
    let created = tokens::create(
        &state,
        &caller,
        tokens::NewToken {
            external_user_id: body.external_user_id,
            allowed_origins: body.allowed_origins,
            success_redirect_uri: body.success_redirect_uri,
            error_redirect_uri: body.error_redirect_uri,
            webhook_uri: body.webhook_uri,
            expires_in: body.expires_in,
            scope: body.scope,
            allow_progressive_scopes: body.allow_progressive_scopes,
            app_id: body.app_id,
            oauth_app_id: body.oauth_app_id,
        },
    )
    .await?;
    Ok(Json(json!({
        "token": created.token.expose_secret(),
        "expires_at": clock::iso(created.expires_at),
        "connect_link_url": created.connect_link_url,
        "connect_session_id": created.session_id,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ValidateQuery {
    app_id: Option<String>,
    account_id: Option<String>,
    oauth_app_id: Option<String>,
    app_override_id: Option<String>,
}

/// `GET /v1/connect/tokens/{ctok}/validate` → ValidateTokenResponse (API.md §4.6). The token in
/// the path is the credential; a dead token answers `success: false`.
pub(crate) async fn validate(
    State(state): State<AppState>,
    Path(token): Path<String>,
    AppQuery(query): AppQuery<ValidateQuery>,
) -> ApiResult<Response> {
    let validation = tokens::validate(
        &state,
        &token,
        tokens::ValidateParams {
            app_id: query.app_id,
            account_id: query.account_id,
            oauth_app_id: query.oauth_app_id,
            app_override_id: query.app_override_id.clone(),
        },
    )
    .await?;
    let mut body = json!({"success": validation.error.is_none()});
    if let Some(error) = &validation.error {
        body["error"] = json!(error);
    }
    if let Some(project) = &validation.project {
        body["project_id"] = json!(project.id);
        body["project_app_name"] = json!(project.name);
        body["project_support_email"] = json!(project.support_email);
        body["project_environment"] = json!(validation.environment.map(|e| e.as_str()));
        body["success_redirect_uri"] = json!(validation.settings.success_redirect_uri);
        body["error_redirect_uri"] = json!(validation.settings.error_redirect_uri);
        body["oauth_app_id"] = json!(validation.oauth_app_id);
        body["app_override_field_names"] = json!(validation.preset_fields);
    }
    if let Some(app) = &validation.app {
        body["app"] = serde_json::from_str::<Value>(app.view.get()).unwrap_or(Value::Null);
    }
    if let Some(id) = query.app_override_id {
        body["app_override_id"] = json!(id);
    }
    Ok(Json(body).into_response())
}
