//! The browser side of the OAuth connect flow: `/oauth/authorize/{handle}` (binds the browser,
//! redirects to the provider) and `/oauth/callback` (finishes, then tells the opener).
//!
//! These pages carry codes and states in their URLs, so they send `Referrer-Policy:
//! no-referrer` and `Cache-Control: no-store`, load no third-party resources, and allow no
//! framing (SECURITY.md T-13, T-14).

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::{
    service::oauth::connect::{self, CallbackParams, FlowError, FLOW_TTL_MS},
    AppState,
};

const COOKIE: &str = "lk_connect";

/// No `form-action`: the confirmation form's answer is a redirect to the provider, which
/// browsers check against `form-action` too.
fn page_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

pub(crate) fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// The page that reports the outcome to the opener (see `complete.js`) or to the person.
pub(crate) fn result_page(
    state: &AppState,
    status: StatusCode,
    outcome: Result<&str, &FlowError>,
) -> Response {
    let origin = url::Url::parse(&state.config.public_base_url())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let (title, text, data) = match outcome {
        Ok(account_id) => (
            "Account connected",
            "The account is connected. You can close this window.".to_owned(),
            format!(
                r#"data-status="success" data-account-id="{}""#,
                escape(account_id)
            ),
        ),
        Err(error) => (
            "Connection failed",
            error.message.clone(),
            format!(
                r#"data-status="error" data-error="{}" data-message="{}""#,
                escape(error.code),
                escape(&error.message)
            ),
        ),
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Latchkey</title><script src=\"/oauth/complete.js\" defer></script></head>\
         <body {data} data-origin=\"{origin}\"><main><h1>{title}</h1><p>{text}</p></main></body></html>\n",
        title = escape(title),
        text = escape(&text),
        origin = escape(&origin),
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    page_headers(&mut response);
    response
}

/// `GET /oauth/authorize/{handle}` — a confirmation page naming the app, the workspace and the
/// member. Nothing happens on GET: link previewers cannot use up the link, and the person sees
/// where the account will go before anything is connected.
pub(crate) async fn confirm(State(state): State<AppState>, Path(handle): Path<String>) -> Response {
    let described = match connect::describe(&state, &handle).await {
        Ok(d) => d,
        Err(error) => return result_page(&state, StatusCode::BAD_REQUEST, Err(&error)),
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Connect {app} · Latchkey</title></head><body><main><h1>Connect {app}</h1>\
         <p>Your {app} account will be connected to the workspace <strong>{workspace}</strong> as an account of \
         <strong>{member}</strong>. Continue only if you started this.</p>\
         <form method=\"post\"><button type=\"submit\">Continue to {app}</button></form></main></body></html>\n",
        app = escape(&described.app_name),
        workspace = escape(&described.workspace_name),
        member = escape(&described.member_email),
    );
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    page_headers(&mut response);
    response
}

/// `POST /oauth/authorize/{handle}` — the confirmation: binds the flow to this browser and
/// redirects to the provider.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Response {
    match connect::authorize(&state, &handle).await {
        Ok(redirect) => binding_redirect(&state, redirect),
        Err(error) => result_page(&state, StatusCode::BAD_REQUEST, Err(&error)),
    }
}

/// A 303 to the provider that sets the browser-binding cookie.
pub(crate) fn binding_redirect(state: &AppState, redirect: connect::ProviderRedirect) -> Response {
    let secure = if state.config.public_base_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    // Lax, not Strict: the cookie must come back on the provider's top-level redirect.
    let cookie = format!(
        "{COOKIE}={}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        redirect.browser_secret,
        FLOW_TTL_MS / 1000
    );
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, redirect.location)],
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    page_headers(&mut response);
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    oauth_token: Option<String>,
    oauth_verifier: Option<String>,
    denied: Option<String>,
}

/// `GET /oauth/callback` — the redirect URI registered with every provider.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let params = CallbackParams {
        code: query.code,
        state: query.state,
        iss: query.iss,
        error: query.error,
        oauth_token: query.oauth_token,
        oauth_verifier: query.oauth_verifier,
        denied: query.denied,
    };
    let browser = crate::web::cookie(&headers, COOKIE);
    let outcome = connect::complete(&state, params, browser.as_deref()).await;
    let mut response = match &outcome {
        Ok(account_id) => result_page(&state, StatusCode::OK, Ok(account_id)),
        Err(error) => result_page(&state, StatusCode::BAD_REQUEST, Err(error)),
    };
    // The binding cookie has served its purpose.
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /oauth/complete.js` — posts the outcome to the opener (API.md §8 message shapes) and
/// closes the popup; without an opener the page itself tells the person.
pub(crate) async fn complete_js() -> Response {
    const SCRIPT: &str = r#"(function () {
  var d = document.body.dataset;
  var message = d.status === "success"
    ? { type: "success", authProvisionId: d.accountId }
    : { type: "error", error: d.message || d.error };
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage(message, d.origin);
    window.close();
  }
})();
"#;
    let mut response = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
