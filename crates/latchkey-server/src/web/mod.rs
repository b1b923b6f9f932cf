//! The web UI (issue 6): server-rendered pages from templates compiled into the binary
//! (`templates/`, askama), a little plain JavaScript only where a page needs it.
//!
//! Sessions: a random secret in an HttpOnly, SameSite=Lax cookie (Secure behind https); the
//! database keeps only its hash. Every state-changing form carries a CSRF token derived from the
//! session secret (a cross-site page can neither read the cookie nor compute the token), and
//! POSTs must come from Latchkey's own origin when the browser says where they come from.

pub(crate) mod account;
pub(crate) mod accounts;
pub(crate) mod api_access;
pub(crate) mod app_requests;
pub(crate) mod audit;
pub(crate) mod connect;
pub(crate) mod invite;
pub(crate) mod login;
pub(crate) mod members;
pub(crate) mod oauth_clients;
pub mod setup;
pub(crate) mod workflows;

use askama::Template;
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use latchkey_crypto::hash_token;
use latchkey_store::Principal;

use crate::{
    service::{Caller, ServiceError},
    AppState,
};

/// The web UI's routes.
pub(crate) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/login", get(login::form).post(login::sign_in))
        .route("/logout", post(login::sign_out))
        .route("/setup", get(setup::form).post(setup::create))
        .route("/invite", get(invite::form).post(invite::accept))
        .route("/accounts", get(accounts::list))
        .route("/accounts/{id}", get(account::show))
        .route("/accounts/{id}/{action}", post(account::act))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/app.js", get(script))
        .route("/assets/icon.svg", get(icon))
        .route("/assets/connect-popup.js", get(popup_script))
        .route("/audit", get(audit::list))
        .route("/connect", get(connect::pick))
        .route(
            "/connect/{app}",
            get(connect::show).post(connect::connect_keys),
        )
        .route("/connect/{app}/oauth", post(connect::connect_oauth))
        .route("/members", get(members::list))
        .route("/members/invite", post(members::invite))
        .route("/members/{user_id}/role", post(members::set_role))
        .route("/api", get(api_access::show))
        .route("/api/{*action}", post(api_access::act))
        .route(
            "/oauth-clients",
            get(oauth_clients::list).post(oauth_clients::act),
        )
        .route("/oauth-clients/{id}/{action}", post(oauth_clients::act))
        .route("/app-requests", get(app_requests::list))
        .route("/workflows", get(workflows::list).post(workflows::create))
        .route("/workflows/{id}", get(workflows::show))
        .route("/workflows/{id}/steps", post(workflows::add_step))
        .route(
            "/workflows/{id}/steps/{*action}",
            post(workflows::step_action),
        )
        .route(
            "/connect/request",
            get(app_requests::form).post(app_requests::submit),
        )
}

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "lk_session";
/// How long a session lasts.
pub(crate) const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;

/// A signed-in member, from the session cookie.
#[derive(Debug)]
pub(crate) struct WebSession {
    /// The member as a caller of the services.
    pub(crate) caller: Caller,
    /// The member's email (for the header).
    pub(crate) email: String,
    /// The token forms must carry.
    pub(crate) csrf: String,
    /// Hash of the cookie (to sign out).
    pub(crate) id_hash: String,
}

/// The CSRF token of a session: derived from its secret, so nothing else has to be stored.
pub(crate) fn csrf_token(session_secret: &str) -> String {
    hash_token(&format!("latchkey-csrf:{session_secret}"))
}

/// A cookie's value from the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Pages without a session go to the sign-in page.
pub(crate) struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = SignInFirst;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SignInFirst> {
        let secret = cookie(&parts.headers, SESSION_COOKIE).ok_or(SignInFirst)?;
        let id_hash = hash_token(&secret);
        let session = state
            .store
            .get_session(&id_hash, crate::clock::now_ms())
            .await
            .ok()
            .flatten()
            .ok_or(SignInFirst)?;
        // The role is read at every request: a demoted or removed member loses it at once.
        let member = state
            .store
            .get_member(&session.workspace_id, &session.user_id)
            .await
            .ok()
            .flatten()
            .ok_or(SignInFirst)?;
        Ok(Self {
            caller: Caller(Principal::Member {
                workspace_id: member.workspace_id,
                user_id: member.user_id,
                role: member.role,
            }),
            email: member.email,
            csrf: csrf_token(&secret),
            id_hash,
        })
    }
}

impl WebSession {
    /// Checks a submitted form: it comes from Latchkey's own origin and carries this session's
    /// CSRF token.
    pub(crate) fn verify_form(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<(), Refused> {
        check_origin(state, headers).and_then(|()| self.check_csrf(csrf))
    }

    /// Checks a form's CSRF token.
    pub(crate) fn check_csrf(&self, submitted: &str) -> Result<(), Refused> {
        use subtle::ConstantTimeEq;
        if bool::from(self.csrf.as_bytes().ct_eq(submitted.as_bytes())) {
            Ok(())
        } else {
            Err(Refused)
        }
    }
}

/// A form that did not come from this site's own pages (403).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused;

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::FORBIDDEN,
            "This form has expired. Go back, reload the page and try again.",
        )
            .into_response();
        secure(&mut response);
        response
    }
}

/// Refuses a POST whose `Origin` (or, without one, `Referer`) is another site.
pub(crate) fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Refused> {
    let own = url::Url::parse(&state.config.public_base_url())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .map(|u| u.origin().ascii_serialization())
        });
    match claimed {
        Some(origin) if origin != own && origin != "null" => Err(Refused),
        _ => Ok(()),
    }
}

/// The headers every page sends.
pub(crate) fn secure(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// What a failed action tells the person: the status and a sentence for the page.
pub(crate) fn explain(e: &ServiceError) -> (StatusCode, String) {
    match e {
        // A credential check's verdict reads as a sentence; other fields are named.
        ServiceError::Invalid(v) if v.field == "cfmap" => {
            let mut text = v.message.clone();
            if let Some(first) = text.get(0..1) {
                text.replace_range(0..1, &first.to_uppercase());
            }
            (StatusCode::BAD_REQUEST, text)
        }
        ServiceError::Invalid(v) => (StatusCode::BAD_REQUEST, v.to_string()),
        ServiceError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
        ServiceError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
        ServiceError::NotFound(what) => (
            StatusCode::NOT_FOUND,
            format!("This {what} does not exist or you may not see it."),
        ),
        _ => {
            tracing::error!(error = %e, "web action failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.".into(),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage<'a> {
    title: &'a str,
    text: &'a str,
}

/// A page that only says what went wrong (with the page headers, like every other page).
pub(crate) fn problem(status: StatusCode, text: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Cannot do that",
        _ => "Something went wrong",
    };
    page(status, &ProblemPage { title, text })
}

/// [`problem`] for a failed service call.
pub(crate) fn failure(e: &ServiceError) -> Response {
    let (status, text) = explain(e);
    problem(status, &text)
}

/// Renders a page.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    let mut response = match template.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => crate::error::ApiError::internal(format!("template: {e}")).into_response(),
    };
    secure(&mut response);
    response
}

/// A static asset compiled into the binary, cached briefly by browsers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /assets/app.css`
pub(crate) async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    )
}

/// `GET /assets/app.js`: copy buttons and confirmations, shared by every page.
pub(crate) async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/app.js"),
    )
}

/// `GET /assets/connect-popup.js`: the OAuth popup of the connect and account pages.
pub(crate) async fn popup_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/connect-popup.js"),
    )
}

/// An app's monogram: its initial and one of eight hues picked from its slug. Pages never load
/// third-party logos (no requests leave the browser for another site, and none can fail).
pub(crate) fn monogram(name: &str, slug: &str) -> (String, u8) {
    let initial = name
        .chars()
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().collect());
    let hue = slug
        .bytes()
        .fold(0u8, |acc, b| acc.wrapping_mul(31).wrapping_add(b))
        % 8;
    (initial, hue)
}

/// `GET /assets/icon.svg`
pub(crate) async fn icon() -> Response {
    const SVG: &str = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><rect width='32' height='32' rx='7' fill='#2f5bd3'/><path d='M11 9v14h10' stroke='#fff' stroke-width='3.5' fill='none' stroke-linecap='round' stroke-linejoin='round'/></svg>";
    let mut response = ([(header::CONTENT_TYPE, "image/svg+xml")], SVG).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// An account's health as one word: `healthy`, `unhealthy` or `dead`.
pub(crate) fn health(account: &latchkey_store::Account) -> &'static str {
    if account.dead {
        "dead"
    } else if account.healthy {
        "healthy"
    } else {
        "unhealthy"
    }
}
