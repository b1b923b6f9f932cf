//! `/oauth-clients` (admins) — the OAuth clients members connect with: the operator's default
//! client per app (read-only here: it comes from the server's configuration) and the
//! workspace's own clients (secret write-only), with the redirect URI to register at the
//! provider.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Form,
};
use secrecy::SecretString;
use serde::Deserialize;

use super::{explain, failure, page, problem, WebSession};
use crate::{
    clock,
    service::{
        oauth::{client_health, clients, code_flow_config, redirect_uri},
        ServiceError,
    },
    AppState,
};

/// A client, as listed.
pub(crate) struct ClientRow {
    id: String,
    app: String,
    name: String,
    client_id: String,
    scopes: String,
    status: &'static str,
    error: Option<String>,
    updated: String,
}

/// An OAuth app a client can be made for.
pub(crate) struct AppChoice {
    slug: String,
    name: String,
}

#[derive(Template)]
#[template(path = "oauth_clients.html")]
struct ClientsPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    redirect_uri: String,
    defaults: Vec<ClientRow>,
    custom: Vec<ClientRow>,
    apps: Vec<AppChoice>,
    message: Option<&'static str>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    session: &WebSession,
    status: StatusCode,
    message: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let caller = &session.caller;
    if let Err(e) = caller.require_admin() {
        return failure(&e);
    }
    let loaded = async {
        let defaults = client_health::defaults(state, caller).await?;
        let custom = clients::list(state, caller).await?;
        let apps = state
            .catalog
            .list(&*state.store, caller.workspace_id())
            .await?;
        Ok::<_, ServiceError>((defaults, custom, apps))
    };
    let (defaults, custom, apps) = match loaded.await {
        Ok(all) => all,
        Err(e) => return failure(&e),
    };
    let name_of = |slug: &str| {
        apps.iter()
            .find(|a| a.definition.name_slug == slug)
            .map_or_else(|| slug.to_owned(), |a| a.definition.name.clone())
    };
    let defaults = defaults
        .into_iter()
        .map(|d| ClientRow {
            id: String::new(),
            name: "Server default".into(),
            app: name_of(&d.app),
            client_id: d.client_id,
            scopes: String::new(),
            status: if d.rejection.is_some() {
                "rejected"
            } else {
                "active"
            },
            error: d.rejection.map(|r| r.error),
            updated: String::new(),
        })
        .collect();
    let custom = custom
        .into_iter()
        .map(|c| ClientRow {
            app: name_of(&c.app_slug),
            id: c.id,
            name: c.name,
            client_id: c.client_id,
            scopes: c.scopes.map(|s| s.join(" ")).unwrap_or_default(),
            status: if c.rejected_at.is_some() {
                "rejected"
            } else {
                "active"
            },
            error: c.rejected_error,
            updated: clock::iso(c.updated_at),
        })
        .collect();
    let apps = apps
        .iter()
        .filter(|a| code_flow_config(&a.definition).is_ok())
        .map(|a| AppChoice {
            slug: a.definition.name_slug.clone(),
            name: a.definition.name.clone(),
        })
        .collect();
    page(
        status,
        &ClientsPage {
            section: "oauth-clients",
            admin: true,
            email: &session.email,
            csrf: &session.csrf,
            redirect_uri: redirect_uri(state),
            defaults,
            custom,
            apps,
            message,
            error,
        },
    )
}

/// `GET /oauth-clients`
pub(crate) async fn list(State(state): State<AppState>, session: WebSession) -> Response {
    render(&state, &session, StatusCode::OK, None, None).await
}

/// The create form. Not `Debug`: it holds the secret.
#[derive(Deserialize)]
pub(crate) struct ClientForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    app: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    client_id: String,
    client_secret: Option<SecretString>,
    #[serde(default)]
    scopes: String,
}

/// `POST /oauth-clients` (create) and `POST /oauth-clients/{id}/delete`.
pub(crate) async fn act(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    path: Option<Path<(String, String)>>,
    Form(form): Form<ClientForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    let caller = &session.caller;
    let outcome = match path {
        None => {
            let input = clients::ClientInput {
                app: Some(form.app),
                name: Some(form.name).filter(|n| !n.trim().is_empty()),
                client_id: Some(form.client_id),
                client_secret: form.client_secret,
                scopes: Some(form.scopes.split_whitespace().map(str::to_owned).collect()),
            };
            clients::create(&state, caller, input)
                .await
                .map(|_| "OAuth client saved. Members connecting this app now use it.")
        }
        Some(Path((id, action))) if action == "delete" => clients::delete(&state, caller, &id)
            .await
            .map(|()| "OAuth client deleted."),
        Some(_) => return problem(StatusCode::NOT_FOUND, "Unknown action."),
    };
    match outcome {
        Ok(message) => render(&state, &session, StatusCode::OK, Some(message), None).await,
        Err(e) => {
            let (status, text) = explain(&e);
            render(&state, &session, status, None, Some(text)).await
        }
    }
}
