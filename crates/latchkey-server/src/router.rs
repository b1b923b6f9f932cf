//! Routes and the middleware stack.

use std::{
    any::Any,
    sync::atomic::{AtomicU64, Ordering},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{header, HeaderName, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{any, delete, get, post},
    Router,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    controllers::{
        accounts, apps, audit, connect, connect_page, env_vars, oauth_apps, oauth_pages,
        oauth_token, ops, proxy, sharing, webhooks, workflows,
    },
    error::{ApiError, InternalErrorDetail},
    metrics::{RequestLabels, RouteLabels},
    App, AppState,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface.
pub fn build_router(app: Arc<App>) -> Router {
    let state = AppState(app);
    let v1 = Router::new()
        .route("/oauth/token", post(oauth_token::issue_token))
        .route(
            "/accounts",
            get(accounts::list_accounts).post(accounts::create_account),
        )
        .route("/accounts/connect", post(accounts::connect_account))
        .route(
            "/oauth_apps",
            get(oauth_apps::list).post(oauth_apps::create),
        )
        .route("/oauth_apps/defaults", get(oauth_apps::defaults))
        .route(
            "/oauth_apps/{id}",
            get(oauth_apps::get)
                .put(oauth_apps::update)
                .delete(oauth_apps::delete),
        )
        .route(
            "/accounts/{id}",
            get(accounts::get_account)
                .patch(accounts::update_account)
                .delete(accounts::delete_account),
        )
        .route("/audit", get(audit::list_audit))
        .route("/env", get(env_vars::list))
        .route(
            "/env/{name}",
            axum::routing::put(env_vars::put).delete(env_vars::delete),
        )
        .route("/workflows", get(workflows::list).post(workflows::create))
        .route("/workflows/{id}", get(workflows::get))
        .route("/workflows/{id}/steps", post(workflows::add_step))
        .route(
            "/workflows/{id}/steps/{step_id}",
            axum::routing::patch(workflows::patch_step),
        )
        .route(
            "/workflows/{id}/steps/{step_id}/test",
            post(workflows::test_step),
        )
        .route(
            "/workflows/{id}/runs",
            get(workflows::list_runs).post(workflows::run_workflow),
        )
        .route(
            "/workflows/{id}/hook_secret",
            post(workflows::rotate_hook_secret),
        )
        .route(
            "/accounts/{id}/access",
            get(sharing::get_access).put(sharing::put_access),
        )
        .route(
            "/connect/projects",
            get(connect::projects::list).post(connect::projects::create),
        )
        .route("/connect/apps", get(connect::apps::list))
        .route("/connect/apps/{app_id}", get(connect::apps::get))
        .route(
            "/connect/app_categories",
            get(connect::apps::list_categories),
        )
        .route(
            "/connect/app_categories/{id}",
            get(connect::apps::get_category),
        )
        .route(
            "/connect/tokens/{token}/validate",
            get(connect::tokens::validate),
        )
        .route(
            "/connect/{project_id}/tokens",
            post(connect::tokens::create),
        )
        .merge(connect_account_routes("/connect/{project_id}"))
        // The browser SDK's routes: the project comes from the connect token.
        .merge(connect_account_routes("/connect"))
        .route(
            "/connect/{project_id}/apps/{app_id}/accounts",
            delete(connect::accounts::delete_by_app),
        )
        .route(
            "/connect/{project_id}/accounts/app/{app_id}",
            delete(connect::accounts::delete_by_app),
        )
        .route(
            "/connect/{project_id}/oauth_apps",
            get(connect::oauth_apps::list).post(connect::oauth_apps::create),
        )
        .route(
            "/connect/{project_id}/oauth_apps/{id}",
            get(connect::oauth_apps::get)
                .put(connect::oauth_apps::update)
                .delete(connect::oauth_apps::delete),
        )
        .route(
            "/connect/{project_id}/app_overrides",
            get(connect::overrides::list).post(connect::overrides::create),
        )
        .route(
            "/connect/{project_id}/app_overrides/{id}",
            get(connect::overrides::get)
                .put(connect::overrides::update)
                .delete(connect::overrides::delete),
        )
        .route("/connect/{project_id}/users", get(connect::users::list))
        .route(
            "/connect/{project_id}/users/{external_user_id}",
            delete(connect::users::delete),
        )
        .merge(
            Router::new()
                .route(
                    "/connect/{project_id}/proxy/{*url}",
                    any(proxy::connect_proxy),
                )
                .route(
                    "/accounts/{account_id}/proxy/{*url}",
                    any(proxy::account_proxy),
                )
                .layer(DefaultBodyLimit::max(crate::proxy::MAX_REQUEST_BYTES)),
        )
        .route("/webhooks", get(webhooks::get).put(webhooks::put))
        .route("/webhooks/signing_secret", post(webhooks::rotate_secret))
        .route("/webhooks/deliveries", get(webhooks::deliveries))
        .route("/apps", get(apps::list_apps).post(apps::create_app))
        .route("/apps/{id}", get(apps::get_app))
        .route(
            "/app_requests",
            get(apps::list_app_requests).post(apps::create_app_request),
        )
        // Credentials and tokens pass through /v1: nothing here may be cached anywhere.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    let max_body = state.config.max_body_bytes;
    Router::new()
        .nest("/v1", v1)
        .route(
            "/oauth/authorize/{handle}",
            get(oauth_pages::confirm).post(oauth_pages::authorize),
        )
        .route("/oauth/callback", get(oauth_pages::callback))
        .route("/oauth/connect/start", post(connect_page::start))
        .route("/_static/connect.html", get(connect_page::page))
        .route("/_static/connect.js", get(connect_page::script))
        .route("/_static/connect.css", get(connect_page::style))
        .route("/oauth/complete.js", get(oauth_pages::complete_js))
        .route("/hooks/{workflow_id}", post(workflows::hook))
        .route("/", get(|| async { axum::response::Redirect::to("/accounts") }))
        .merge(crate::web::routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::cors::connect_cors,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, SequentialRequestIds::new()))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request| {
                        // Only the method, the route template and the request id: never the
                        // query string, headers or body, which may carry secrets.
                        let route = request
                            .extensions()
                            .get::<MatchedPath>()
                            .map_or("unmatched", MatchedPath::as_str);
                        let request_id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!("request", method = %request.method(), route, request_id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(60)))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(middleware::map_response(deny_framing)),
        )
        .with_state(state)
}

/// The Connect account routes under `prefix` (with or without a project id).
fn connect_account_routes(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{prefix}/accounts"),
            get(connect::accounts::list).post(connect::accounts::create),
        )
        .route(
            &format!("{prefix}/accounts/{{account_id}}"),
            get(connect::accounts::get).delete(connect::accounts::delete),
        )
        .route(
            &format!("{prefix}/users/{{external_user_id}}/accounts"),
            get(connect::accounts::list_of_user),
        )
}

/// Marks a response that may be framed (the connect page, by its token's allowed origins,
/// which its CSP `frame-ancestors` lists). Every other response gets `X-Frame-Options: DENY`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FramingAllowed;

async fn deny_framing(mut response: Response) -> Response {
    if response.extensions().get::<FramingAllowed>().is_none() {
        response
            .headers_mut()
            .entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
    }
    response
}

/// Request ids: a random per-process prefix and a counter. Unique across instances without a
/// random-number syscall per request (a UUID per request showed up in profiles).
#[derive(Clone)]
struct SequentialRequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl SequentialRequestIds {
    fn new() -> Self {
        let prefix = latchkey_domain::ids::generate("");
        Self {
            prefix: Arc::from(&prefix[..12]),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    // The panic payload may contain anything; it is not logged or returned.
    tracing::error!("a request handler panicked");
    ApiError::internal("handler panicked").into_response()
}

/// Gives framework errors the JSON shape, records metrics, and logs each 5xx detail exactly
/// once. (One middleware rather than several: each layer costs on every request.)
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = json_shape(next.run(request).await);
    if let Some(InternalErrorDetail(detail)) = response.extensions().get::<InternalErrorDetail>() {
        tracing::error!(route = %route, error = %detail, "request failed");
    }
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route: route.clone(),
            status: response.status().as_u16(),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Gives error responses the framework produces itself (405, 408, plain-text rejections) the
/// API's JSON shape.
fn json_shape(response: Response) -> Response {
    let status = response.status();
    // Framework rejections come without a body type or as plain text; JSON errors and HTML
    // pages (the OAuth result pages) are already what they should be.
    let from_framework = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    let relayed = response
        .extensions()
        .get::<crate::proxy::Relayed>()
        .is_some();
    if status.as_u16() < 400 || !from_framework || relayed {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route")
        }
        StatusCode::SERVICE_UNAVAILABLE => ("timeout", "the request took too long"),
        StatusCode::BAD_REQUEST => ("invalid_request", "the request is malformed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body is too large"),
        _ => ("error", "request failed"),
    };
    let mut out = ApiError::with_status(status, code, message).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            out.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    out
}
