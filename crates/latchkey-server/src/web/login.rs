//! `/login` and `/logout`.

use askama::Template;
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use latchkey_crypto::{generate_secret, hash_token, verify_password};
use latchkey_store::Session;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{check_origin, cookie, page, WebSession, SESSION_COOKIE, SESSION_TTL_MS};
use crate::{clock, service::provisioning::normalise_email, AppState};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    email: &'a str,
    error: Option<&'a str>,
}

/// `GET /login` (signed-in members go straight to their accounts).
pub(crate) async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        if let Ok(Some(_)) = state
            .store
            .get_session(&hash_token(&secret), clock::now_ms())
            .await
        {
            return Redirect::to("/accounts").into_response();
        }
    }
    page(
        StatusCode::OK,
        &LoginPage {
            email: "",
            error: None,
        },
    )
}

/// The sign-in form. Not `Debug`: it holds the password.
#[derive(Deserialize)]
pub(crate) struct Credentials {
    email: String,
    password: SecretString,
}

/// A real Argon2id hash to verify against when the email is unknown, so an unknown email takes
/// as long as a wrong password (no user enumeration by timing).
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    latchkey_crypto::hash_password(&SecretString::from("decoy password".to_owned()))
});

/// `POST /login` — checks the password, starts a session (a new id every time), and sends the
/// member to their accounts.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    if let Err(refused) = check_origin(&state, &headers) {
        return refused.into_response();
    }
    let email = normalise_email(&form.email).unwrap_or_default();
    let login = if email.is_empty() {
        None
    } else {
        state.store.find_login(&email).await.ok().flatten()
    };
    let hash = login.as_ref().and_then(|l| l.password_hash.clone());
    let password = form.password;
    let verified = tokio::task::spawn_blocking(move || {
        let against = hash.unwrap_or_else(|| DECOY_HASH.clone());
        verify_password(&against, &password)
    })
    .await
    .unwrap_or(false);
    let workspace = login
        .as_ref()
        .and_then(|l| l.workspace_ids.first().cloned());
    let (Some(login), Some(workspace_id), true) = (login, workspace, verified) else {
        tracing::info!("sign-in refused");
        return page(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                email: &form.email,
                error: Some("The email or password is wrong."),
            },
        );
    };
    tracing::info!(user.id = %login.user_id, "signed in");
    start_session(&state, login.user_id, workspace_id).await
}

/// Starts a session for a member and sends the browser to the accounts page with the cookie.
pub(crate) async fn start_session(
    state: &AppState,
    user_id: String,
    workspace_id: String,
) -> Response {
    let secret = generate_secret("lks_");
    let now = clock::now_ms();
    let session = Session {
        id_hash: hash_token(secret.expose_secret()),
        workspace_id,
        user_id,
        csrf_hash: hash_token(&super::csrf_token(secret.expose_secret())),
        created_at: now,
        expires_at: now + SESSION_TTL_MS,
    };
    if let Err(e) = state.store.insert_session(&session).await {
        return crate::error::ApiError::internal(e).into_response();
    }
    let secure = if state.config.public_base_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        secret.expose_secret(),
        SESSION_TTL_MS / 1000
    );
    let mut response = Redirect::to("/accounts").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub(crate) struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    if let Err(e) = state.store.delete_session(&session.id_hash).await {
        return crate::error::ApiError::internal(e).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("lk_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    response
}
