//! First run: `latchkey serve` prints a one-time link to `/setup` while no workspace exists;
//! the page creates the first workspace and its owner and signs them in.
//!
//! The link's token is stored as a hash in `meta` (any instance can check it) and is gone once
//! used; the page refuses as soon as any workspace exists, however it was created.

use askama::Template;
use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Form,
};
use latchkey_crypto::{generate_secret, hash_token};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{check_origin, login::start_session, page};
use crate::{service::provisioning, App, AppState};

const META_KEY: &str = "setup_token_hash";

/// A new one-time setup link, when the install has no workspace yet (`None` otherwise).
///
/// # Errors
/// On database failure.
pub async fn setup_link(app: &App) -> Result<Option<String>, latchkey_store::StoreError> {
    if app.store.count_workspaces().await? > 0 {
        return Ok(None);
    }
    let token = generate_secret("lksetup_");
    app.store
        .put_meta(META_KEY, hash_token(token.expose_secret()).as_bytes())
        .await?;
    Ok(Some(format!(
        "{}/setup?token={}",
        app.config.public_base_url(),
        token.expose_secret()
    )))
}

async fn token_is_valid(state: &AppState, token: &str) -> bool {
    let Ok(Some(stored)) = state.store.get_meta(META_KEY).await else {
        return false;
    };
    let fresh = matches!(state.store.count_workspaces().await, Ok(0));
    fresh && bool::from(stored.as_slice().ct_eq(hash_token(token).as_bytes()))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    token: &'a str,
    workspace: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

fn gone() -> Response {
    super::problem(
        StatusCode::NOT_FOUND,
        "This setup link is no longer valid: Latchkey is already set up. Sign in at /login.",
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetupQuery {
    #[serde(default)]
    token: String,
}

/// `GET /setup?token=…`
pub(crate) async fn form(
    State(state): State<AppState>,
    Query(query): Query<SetupQuery>,
) -> Response {
    if !token_is_valid(&state, &query.token).await {
        return gone();
    }
    page(
        StatusCode::OK,
        &SetupPage {
            token: &query.token,
            workspace: "",
            email: "",
            error: None,
        },
    )
}

/// The setup form. Not `Debug`: it holds the password.
#[derive(Deserialize)]
pub(crate) struct SetupForm {
    token: String,
    workspace: String,
    email: String,
    password: SecretString,
}

/// `POST /setup`
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    if let Err(refused) = check_origin(&state, &headers) {
        return refused.into_response();
    }
    if !token_is_valid(&state, &form.token).await {
        return gone();
    }
    let again = |error: &str| {
        page(
            StatusCode::BAD_REQUEST,
            &SetupPage {
                token: &form.token,
                workspace: &form.workspace,
                email: &form.email,
                error: Some(error),
            },
        )
    };
    if form.password.expose_secret().chars().count() < 10 {
        return again("The password must be at least 10 characters.");
    }
    match provisioning::create_workspace(
        &*state.store,
        &form.workspace,
        &form.email,
        Some(&form.password),
    )
    .await
    {
        Ok(issued) => {
            let _ = state.store.delete_meta(META_KEY).await;
            tracing::info!(workspace.id = %issued.workspace_id, "first workspace created from the setup page");
            start_session(&state, issued.user_id, issued.workspace_id).await
        }
        Err(crate::service::ServiceError::Invalid(e)) => again(&e.to_string()),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
