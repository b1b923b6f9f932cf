//! `POST /v1/oauth/token` — OAuth 2 client credentials for workspace API clients (API.md §1.1).
//! Accepts a JSON body (SDK 3.x) or a form body (SDK 1.x, RFC 6749), and client authentication
//! in the body or with HTTP Basic. Errors use RFC 6749 §5.2 codes in the API's error shape.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::{
    service::provisioning::{issue_access_token, TokenError},
    AppState,
};

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, code: &'static str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": code, "error_description": description, "code": code })),
    )
        .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic"),
        );
    }
    response
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), SecretString::from(secret.to_owned())))
}

/// The handler.
pub(crate) async fn issue_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let parsed: Result<TokenRequest, String> =
        if content_type.starts_with("application/x-www-form-urlencoded") {
            serde_urlencoded_form(&body)
        } else if content_type.starts_with("application/json") || content_type.is_empty() {
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        } else {
            Err("expected a JSON or form-encoded body".to_owned())
        };
    let request = match parsed {
        Ok(r) => r,
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body is not a valid token request",
            )
        }
    };
    match request.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
    }
    let credentials = match (request.client_id, request.client_secret) {
        (Some(id), Some(secret)) => Some((id, secret)),
        _ => basic_credentials(&headers),
    };
    let Some((client_id, client_secret)) = credentials else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let ttl = state.config.access_token_ttl_seconds;
    match issue_access_token(
        &*state.store,
        &client_id,
        &client_secret,
        request.scope.as_deref(),
        ttl,
    )
    .await
    {
        Ok(token) => {
            let mut response = Json(json!({
                "access_token": token.access_token.expose_secret(),
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "created_at": token.created_at,
                "scope": token.scopes.join(" "),
            }))
            .into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(TokenError::InvalidClient) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ),
        Err(TokenError::InvalidScope) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the requested scope is not allowed for this client",
        ),
        Err(TokenError::Unavailable) => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again later",
        ),
    }
}

fn serde_urlencoded_form(body: &[u8]) -> Result<TokenRequest, String> {
    let mut request = TokenRequest {
        grant_type: None,
        client_id: None,
        client_secret: None,
        scope: None,
    };
    for (key, value) in url::form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "grant_type" => request.grant_type = Some(value),
            "client_id" => request.client_id = Some(value),
            "client_secret" => request.client_secret = Some(SecretString::from(value)),
            "scope" => request.scope = Some(value),
            // SDK 1.x also sends project_id and environment; they do not apply to tokens here.
            _ => {}
        }
    }
    Ok(request)
}
