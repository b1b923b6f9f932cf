//! `/api` — programmatic access: every member's personal API keys (a new one shown once) and,
//! for admins, the workspace's API clients (OAuth client credentials; secret shown once).

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Form,
};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{explain, failure, page, problem, WebSession};
use crate::{clock, service::members, AppState};

/// An API client, as listed.
pub(crate) struct ClientRow {
    id: String,
    name: String,
    scopes: String,
    created: String,
    revoked: bool,
}

/// A secret shown once, with what it is.
pub(crate) struct Revealed {
    label: &'static str,
    id: Option<String>,
    secret: String,
}

#[derive(Template)]
#[template(path = "api_access.html")]
struct ApiPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    token_url: String,
    clients: Vec<ClientRow>,
    revealed: Option<Revealed>,
    message: Option<&'static str>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    session: &WebSession,
    status: StatusCode,
    revealed: Option<Revealed>,
    message: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let admin = session.caller.is_admin();
    let clients = if admin {
        match members::list_api_clients(state, &session.caller).await {
            Ok(list) => list
                .into_iter()
                .map(|c| ClientRow {
                    id: c.id,
                    name: c.name,
                    scopes: c.scopes.join(" "),
                    created: clock::iso(c.created_at),
                    revoked: c.revoked_at.is_some(),
                })
                .collect(),
            Err(e) => return failure(&e),
        }
    } else {
        Vec::new()
    };
    page(
        status,
        &ApiPage {
            section: "api",
            admin,
            email: &session.email,
            csrf: &session.csrf,
            token_url: format!("{}/v1/oauth/token", state.config.public_base_url()),
            clients,
            revealed,
            message,
            error,
        },
    )
}

/// `GET /api`
pub(crate) async fn show(State(state): State<AppState>, session: WebSession) -> Response {
    render(&state, &session, StatusCode::OK, None, None, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: String,
}

/// `POST /api/keys` (a personal key), `POST /api/clients` (an API client) and
/// `POST /api/clients/{id}/revoke`.
pub(crate) async fn act(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Path(path): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    let caller = &session.caller;
    let outcome = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["keys"] => members::create_personal_key(&state, caller)
            .await
            .map(|key| {
                let revealed = Revealed {
                    label: "Your new API key",
                    id: None,
                    secret: key.expose_secret().to_owned(),
                };
                (Some(revealed), None)
            }),
        ["clients"] => members::create_api_client(&state, caller, &form.name, &form.scopes)
            .await
            .map(|(client, secret)| {
                let revealed = Revealed {
                    label: "The new API client",
                    id: Some(client.id),
                    secret: secret.expose_secret().to_owned(),
                };
                (Some(revealed), None)
            }),
        ["clients", id, "revoke"] => members::revoke_api_client(&state, caller, id)
            .await
            .map(|()| (None, Some("API client revoked."))),
        _ => return problem(StatusCode::NOT_FOUND, "Unknown action."),
    };
    match outcome {
        Ok((revealed, message)) => {
            render(&state, &session, StatusCode::OK, revealed, message, None).await
        }
        Err(e) => {
            let (status, text) = explain(&e);
            render(&state, &session, status, None, None, Some(text)).await
        }
    }
}
