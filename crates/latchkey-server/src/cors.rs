//! CORS for the Connect API (API.md §1.3): only connect tokens are meant for browsers, and a
//! token works only from the origins it was created for (`allowed_origins`).
//!
//! Preflights cannot carry the token, so they are answered for any origin; the real request is
//! then refused (403) unless its `Origin` is one of the token's, and only allowed origins ever
//! get `Access-Control-Allow-Origin` back, so no other page can read an answer. Server
//! credentials from a browser get no CORS headers at all.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, service::connect::tokens, AppState};

/// The connect token a browser request carries: the bearer, or the one in the validate path.
fn connect_token(request: &Request) -> Option<String> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    bearer.filter(|t| t.starts_with("ctok_")).or_else(|| {
        request
            .uri()
            .path()
            .strip_prefix("/v1/connect/tokens/")
            .and_then(|rest| rest.split('/').next())
            .filter(|t| t.starts_with("ctok_"))
            .map(str::to_owned)
    })
}

fn allow(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

fn preflight(request: &Request, origin: &HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    allow(h, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
    );
    let requested = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(
            "authorization, content-type, x-pd-environment",
        ));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// The middleware, for every `/v1/connect/…` request.
pub(crate) async fn connect_cors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/v1/connect/") {
        return next.run(request).await;
    }
    let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
        return next.run(request).await;
    };
    // Latchkey's own origin is the hosted connect page, whose token is meant for it: browsers
    // send `Origin` on its same-origin POSTs too, and no CORS applies to them.
    let own = url::Url::parse(&state.config.public_base_url())
        .ok()
        .map(|u| u.origin().ascii_serialization());
    if own.is_some_and(|own| origin.as_bytes() == own.as_bytes()) {
        return next.run(request).await;
    }
    if request.method() == Method::OPTIONS {
        return preflight(&request, &origin);
    }
    let Some(token) = connect_token(&request) else {
        return next.run(request).await;
    };
    let allowed = match tokens::resolve(&state, &token).await {
        Ok(Some((_, _, grant))) => origin
            .to_str()
            .is_ok_and(|o| grant.settings.allowed_origins.iter().any(|a| a == o)),
        // Unknown or expired: the handler answers 401; a database failure: it answers too.
        Ok(None) | Err(_) => return next.run(request).await,
    };
    if !allowed {
        return ApiError::forbidden("this origin is not among the connect token's allowed_origins")
            .into_response();
    }
    let mut response = next.run(request).await;
    allow(response.headers_mut(), &origin);
    response
}
