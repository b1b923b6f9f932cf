//! `/v1/webhooks` — the workspace's webhook settings and delivery log (admins).

use axum::{
    extract::State,
    response::{IntoResponse, Response},
    Json,
};
use latchkey_store::WebhookDelivery;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::limit;
use crate::{
    clock,
    error::{ApiResult, AppJson, AppQuery},
    service::{webhooks, Caller},
    AppState,
};

fn settings(view: &webhooks::SettingsView) -> Value {
    json!({"data": {
        "health_url": view.health_url,
        "signing_secret": view.signing_secret.expose_secret(),
        "signature_header": "x-latchkey-signature",
        "retry_schedule_seconds": webhooks::RETRY_SCHEDULE_SECONDS,
    }})
}

/// `GET /v1/webhooks`
pub(crate) async fn get(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    Ok(Json(settings(&webhooks::get(&state, &caller).await?)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutBody {
    health_url: Option<String>,
}

/// `PUT /v1/webhooks {health_url}` — subscribe (or, with null, unsubscribe) account health.
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<PutBody>,
) -> ApiResult<Response> {
    let view = webhooks::set_health_url(&state, &caller, body.health_url).await?;
    Ok(Json(settings(&view)).into_response())
}

/// `POST /v1/webhooks/signing_secret` — a new signing secret.
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    Ok(Json(settings(&webhooks::rotate_secret(&state, &caller).await?)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeliveriesQuery {
    limit: Option<String>,
}

fn delivery(d: &WebhookDelivery) -> Value {
    json!({
        "id": d.id,
        "event": d.event,
        "url": d.url,
        "status": d.status.as_str(),
        "attempts": d.attempts,
        "next_attempt_at": (d.status == latchkey_store::DeliveryStatus::Pending).then(|| clock::iso(d.next_attempt_at)),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": clock::iso(d.created_at),
        "delivered_at": d.delivered_at.map(clock::iso),
    })
}

/// `GET /v1/webhooks/deliveries` — the delivery log, newest first.
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<DeliveriesQuery>,
) -> ApiResult<Response> {
    let all = webhooks::deliveries(&state, &caller, limit(query.limit.as_deref())?).await?;
    Ok(Json(json!({"data": all.iter().map(delivery).collect::<Vec<_>>()})).into_response())
}
