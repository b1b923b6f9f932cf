//! The authenticated proxy (PRODUCT.md F13, API.md §6): sends a caller's request to an account's
//! API with the account's credentials injected, without the caller ever seeing them.
//!
//! Order of a proxied request: rate limit → target decoded and resolved against the app's base
//! URL and allowed domains → fresh credentials → audit record (fails closed) → one outbound
//! request through the egress policy (no redirects; SSRF checks in the resolver) → on `401` from
//! an OAuth API, one forced refresh and one retry → the response streamed back, size-capped.
//! The request body is buffered (capped) so that the retry can resend it.

mod headers;
pub mod rate_limit;
pub mod target;

use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use latchkey_store::Account;

pub use self::rate_limit::RateLimiter;
use crate::{
    audit::{Actor, Auditor},
    catalog::CatalogApp,
    clock,
    error::ApiError,
    outbound,
    service::{accounts as account_service, oauth, ServiceError},
    App,
};

/// Largest request body the proxy accepts (buffered for the retry).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Largest response body the proxy relays (streamed; the stream ends with an error past it).
pub const MAX_RESPONSE_BYTES: u64 = 100 * 1024 * 1024;
/// How long the upstream may take to answer (API.md §6) before the caller gets `504`.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Marks a response relayed from an upstream API (never reshaped into Latchkey's error form).
#[derive(Debug, Clone, Copy)]
pub struct Relayed;

/// One request to forward.
pub struct ProxyRequest {
    /// Method (GET, POST, PUT, PATCH, DELETE).
    pub method: Method,
    /// The raw, still percent-encoded `{url}` path segment.
    pub raw_target: String,
    /// The caller's headers (only `x-pd-proxy-*` and `content-type` are used).
    pub headers: HeaderMap,
    /// The caller's body.
    pub body: Bytes,
}

/// Whose request it is, for the audit log and the rate limit.
pub struct ProxyContext<'a> {
    /// The caller.
    pub actor: Actor,
    /// Rate limit key (a project or a workspace).
    pub limit_key: &'a str,
}

fn rate_headers(response: &mut Response, decision: Option<rate_limit::Decision>) {
    let Some(d) = decision else { return };
    let h = response.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_at));
}

/// Forwards `request` through `account` (already authorized by the caller's rules).
pub async fn forward(
    ctx: &App,
    account: Account,
    who: ProxyContext<'_>,
    request: ProxyRequest,
) -> Response {
    let decision = ctx.proxy_limits.check(
        who.limit_key,
        ctx.config.proxy_rate_limit,
        clock::now_ms() / 1000,
    );
    let mut response = match decision {
        Some(d) if !d.allowed => {
            let mut r =
                ApiError::with_status(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Throttled")
                    .into_response();
            let wait = (d.reset_at - clock::now_ms() / 1000).max(1);
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(wait));
            r
        }
        _ => match forward_inner(ctx, account, &who, request).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        },
    };
    rate_headers(&mut response, decision);
    response
}

fn bad_gateway(message: impl Into<String>) -> ApiError {
    ApiError::with_status(StatusCode::BAD_GATEWAY, "upstream_error", message)
}

async fn forward_inner(
    ctx: &App,
    account: Account,
    who: &ProxyContext<'_>,
    request: ProxyRequest,
) -> Result<Response, ApiError> {
    if !matches!(
        request.method,
        Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::HEAD
    ) {
        return Err(ApiError::with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the proxy forwards GET, POST, PUT, PATCH and DELETE",
        ));
    }
    let target =
        target::decode_segment(&request.raw_target).map_err(|e| ApiError::invalid("url", e))?;
    let app = ctx
        .catalog
        .resolve(&*ctx.store, &account.workspace_id, &account.app_slug)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "account_id",
                "the account's app is no longer in the catalog",
            )
        })?;
    let Some(template) = app.definition.request.clone() else {
        return Err(ApiError::invalid(
            "account_id",
            "the account's app does not support the proxy",
        ));
    };
    let account = oauth::refresh::ensure_fresh(ctx, Some(&app), account).await?;
    let credentials = account_service::open_credentials(ctx, &account).await?;
    let base = outbound::render_base_url(&template, &credentials)
        .map_err(|e| ApiError::invalid("account_id", e))?;
    let url = target::resolve(&target, &base, &template.allowed_domains)
        .map_err(|e| ApiError::invalid("url", e))?;

    // SECURITY.md decision 5: no audit record, no proxied request.
    let event = Auditor::event(
        &account.workspace_id,
        &who.actor,
        "proxy.request",
        Some(&account.id),
        "allowed",
        Some(serde_json::json!({"method": request.method.as_str(), "host": url.host_str()})),
    );
    if let Err(e) = ctx.audit.record(&[event]).await {
        tracing::error!(error = %e, "audit log unavailable: proxy request refused");
        return Err(ServiceError::Unavailable(
            "the audit log cannot be written, so nothing is proxied; try again".into(),
        )
        .into());
    }

    let first = send(ctx, &template, &credentials, &url, &request).await?;
    let response = if first.status() == reqwest::StatusCode::UNAUTHORIZED && is_refreshable(&app) {
        // The token may have been revoked or rotated early: one forced refresh, one retry.
        let refreshed = oauth::refresh::refresh_account(
            ctx,
            &account.workspace_id,
            &account.id,
            oauth::refresh::Mode::Force,
        )
        .await?;
        if refreshed.version == account.version {
            first
        } else {
            let credentials = account_service::open_credentials(ctx, &refreshed).await?;
            send(ctx, &template, &credentials, &url, &request).await?
        }
    } else {
        first
    };
    tracing::info!(account.id = %account.id, status = response.status().as_u16(), "proxied");
    Ok(relay(response))
}

fn is_refreshable(app: &CatalogApp) -> bool {
    app.definition.oauth.is_some()
}

async fn send(
    ctx: &App,
    template: &latchkey_domain::app::RequestTemplate,
    credentials: &crate::vault::Credentials,
    url: &url::Url,
    request: &ProxyRequest,
) -> Result<reqwest::Response, ApiError> {
    let mut headers = headers::upstream_request_headers(&request.headers, credentials)
        .map_err(ApiError::bad_request)?;
    let injection = outbound::injection(template, credentials)
        .map_err(|e| ApiError::invalid("account_id", e))?;
    // The template comes last: a caller's header never replaces the injected credential.
    for (name, value) in injection.headers {
        headers.insert(name, value);
    }
    let mut builder = ctx
        .outbound
        .request(request.method.clone(), url.clone())
        .map_err(|e| ApiError::with_status(StatusCode::FORBIDDEN, "egress_denied", e.to_string()))?
        .headers(headers);
    if !injection.query.is_empty() {
        builder = builder.query(&injection.query);
    }
    if matches!(request.method, Method::POST | Method::PUT | Method::PATCH)
        || !request.body.is_empty()
    {
        builder = builder.body(request.body.clone());
    }
    match tokio::time::timeout(UPSTREAM_TIMEOUT, builder.send()).await {
        Err(_) => Err(ApiError::with_status(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the upstream API did not answer within 30 seconds",
        )),
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) if e.is_timeout() => Err(ApiError::with_status(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the upstream API did not answer in time",
        )),
        Ok(Err(e)) => Err(classify_send_error(&e)),
    }
}

/// A refused destination is the caller's problem (403); anything else is the upstream's (502).
fn classify_send_error(e: &reqwest::Error) -> ApiError {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if let Some(egress) = err.downcast_ref::<outbound::EgressError>() {
            return ApiError::with_status(
                StatusCode::FORBIDDEN,
                "egress_denied",
                egress.to_string(),
            );
        }
        source = err.source();
    }
    bad_gateway("could not reach the upstream API")
}

/// The upstream response, streamed, with its size capped.
fn relay(upstream: reqwest::Response) -> Response {
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if upstream
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES)
    {
        return bad_gateway("the upstream response is too large").into_response();
    }
    let headers = headers::downstream_response_headers(upstream.headers());
    let mut seen: u64 = 0;
    let stream = upstream.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > MAX_RESPONSE_BYTES {
            return Err(std::io::Error::other("the upstream response is too large"));
        }
        Ok(chunk)
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    // The upstream's own answer: the API's error shaping must leave it as it came.
    response.extensions_mut().insert(Relayed);
    response
}
