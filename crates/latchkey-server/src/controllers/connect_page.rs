//! The hosted connect page (API.md §8): `/_static/connect.html` (the path the browser SDK's
//! iframe and Connect Link use) with its script and style, and `POST /oauth/connect/start`, which
//! starts an end user's OAuth connection from it.
//!
//! The page may be framed only by the connect token's allowed origins (CSP `frame-ancestors`;
//! no `X-Frame-Options`, which cannot express a list), loads nothing from elsewhere, and holds
//! no secret but the token its URL already carries.

use axum::{
    extract::{Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Form,
};
use serde::Deserialize;

use super::oauth_pages::{binding_redirect, escape, result_page};
use crate::{
    router::FramingAllowed,
    service::connect::{oauth, tokens},
    AppState,
};

const SCRIPT: &str = include_str!("../../assets/connect.js");
const STYLE: &str = include_str!("../../assets/connect.css");

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    token: Option<String>,
}

/// `GET /_static/connect.html`
pub(crate) async fn page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Response {
    let origins = match query.token.as_deref() {
        Some(token) => tokens::resolve(&state, token)
            .await
            .ok()
            .flatten()
            .map(|(_, _, grant)| grant.settings.allowed_origins)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Connect an account</title><link rel=\"stylesheet\" href=\"/_static/connect.css\">\
         <script src=\"/_static/connect.js\" defer></script></head>\
         <body><main id=\"connect\" data-origins=\"{}\" aria-live=\"polite\"><p>Loading…</p></main></body></html>\n",
        escape(&origins.join(" "))
    );
    let ancestors = if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' https: data:; base-uri 'none'; frame-ancestors {ancestors}"
    );
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    if !origins.is_empty() {
        response.extensions_mut().insert(FramingAllowed);
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /_static/connect.js`
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /_static/connect.css`
pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The connect page's form. Not `Debug`: it carries the token.
#[derive(Deserialize)]
pub(crate) struct StartForm {
    token: String,
    app: String,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    oauth_app_id: Option<String>,
    #[serde(default)]
    app_override_id: Option<String>,
}

/// `POST /oauth/connect/start` — binds a new flow to this browser and redirects to the provider.
pub(crate) async fn start(State(state): State<AppState>, Form(form): Form<StartForm>) -> Response {
    let params = oauth::StartParams {
        app: form.app,
        account_id: form.account_id,
        oauth_app_id: form.oauth_app_id,
        app_override_id: form.app_override_id,
    };
    match oauth::start(&state, &form.token, params).await {
        Ok(redirect) => binding_redirect(&state, redirect),
        Err(error) => result_page(&state, StatusCode::BAD_REQUEST, Err(&error)),
    }
}
