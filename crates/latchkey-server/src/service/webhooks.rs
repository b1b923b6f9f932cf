//! Outgoing webhooks (PRODUCT.md F12): connection results to a connect token's `webhook_uri`,
//! and account health changes to a workspace's subscribed URL.
//!
//! Every event is a row in `webhook_deliveries` first (so a crash loses nothing), then a worker
//! POSTs it, signed with the workspace's secret: `x-latchkey-signature: t=<unix>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<body>")>`. A receiver that does not answer 2xx is retried on a fixed
//! schedule of 10 retries over about a day; the row is the delivery log. Payloads never contain
//! credentials (nor the connect token itself: `connect_session_id` names the token instead).

use std::sync::Arc;

use hmac::{Hmac, Mac};
use latchkey_crypto::RecordRef;
use latchkey_domain::ids;
use latchkey_store::{DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookSettings};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{Caller, ServiceError};
use crate::{clock, App};

/// Seconds between attempts: the first retry after 10 s, the last about 24 h after the event.
pub const RETRY_SCHEDULE_SECONDS: [u64; 10] = [
    10, 60, 300, 1_800, 3_600, 7_200, 14_400, 28_800, 28_800, 21_600,
];

/// How long a worker holds a claimed delivery (well past the outbound timeout).
const CLAIM_MS: i64 = 60_000;

fn record(workspace_id: &str) -> RecordRef<'_> {
    RecordRef {
        table: "webhook_settings",
        workspace_id,
        row_id: workspace_id,
        field: "secret",
    }
}

/// The workspace's settings, created with a fresh signing secret on first use.
async fn settings(ctx: &App, workspace_id: &str) -> Result<WebhookSettings, ServiceError> {
    if let Some(found) = ctx.store.get_webhook_settings(workspace_id).await? {
        return Ok(found);
    }
    let secret = latchkey_crypto::generate_secret("whsec_");
    let now = clock::now_ms();
    let fresh = WebhookSettings {
        workspace_id: workspace_id.to_owned(),
        secret_ciphertext: ctx
            .vault
            .seal_record(record(workspace_id), secret.expose_secret().as_bytes())
            .await,
        key_id: ctx.vault.current_key_id().await,
        health_url: None,
        created_at: now,
        updated_at: now,
    };
    Ok(ctx.store.ensure_webhook_settings(&fresh).await?)
}

async fn open_secret(ctx: &App, s: &WebhookSettings) -> Result<SecretString, ServiceError> {
    let plain = ctx
        .vault
        .open_record(record(&s.workspace_id), &s.secret_ciphertext)
        .await?;
    let text = String::from_utf8(plain.to_vec())
        .map_err(|_| ServiceError::Internal("webhook secret is not text".into()))?;
    Ok(SecretString::from(text))
}

/// What admins see of the settings (the signing secret is revealable, like a dashboard's).
#[derive(Debug)]
pub struct SettingsView {
    /// Where health changes go.
    pub health_url: Option<String>,
    /// The signing secret.
    pub signing_secret: SecretString,
}

async fn view(ctx: &App, s: &WebhookSettings) -> Result<SettingsView, ServiceError> {
    Ok(SettingsView {
        health_url: s.health_url.clone(),
        signing_secret: open_secret(ctx, s).await?,
    })
}

/// The settings (admins).
///
/// # Errors
/// 403 for non-admins.
pub async fn get(ctx: &App, caller: &Caller) -> Result<SettingsView, ServiceError> {
    caller.require_admin()?;
    let s = settings(ctx, caller.workspace_id()).await?;
    view(ctx, &s).await
}

/// Subscribes the workspace's account health changes to `url` (`None` unsubscribes).
///
/// # Errors
/// 400 for a URL that is not http(s), 403.
pub async fn set_health_url(
    ctx: &App,
    caller: &Caller,
    url: Option<String>,
) -> Result<SettingsView, ServiceError> {
    caller.require_admin()?;
    let url = match url.filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => match url::Url::parse(&u) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https")
                    && parsed.host_str().is_some()
                    && u.len() <= 2048 =>
            {
                Some(u)
            }
            _ => {
                return Err(latchkey_domain::ValidationError::new(
                    "health_url",
                    "must be an absolute http(s) URL",
                )
                .into())
            }
        },
    };
    let mut s = settings(ctx, caller.workspace_id()).await?;
    s.health_url = url;
    s.updated_at = clock::now_ms();
    ctx.store.update_webhook_settings(&s).await?;
    caller
        .audit(ctx, "webhooks.update", None, "allowed", None)
        .await;
    view(ctx, &s).await
}

/// Replaces the signing secret.
///
/// # Errors
/// 403.
pub async fn rotate_secret(ctx: &App, caller: &Caller) -> Result<SettingsView, ServiceError> {
    caller.require_admin()?;
    let mut s = settings(ctx, caller.workspace_id()).await?;
    let secret = latchkey_crypto::generate_secret("whsec_");
    s.secret_ciphertext = ctx
        .vault
        .seal_record(record(&s.workspace_id), secret.expose_secret().as_bytes())
        .await;
    s.key_id = ctx.vault.current_key_id().await;
    s.updated_at = clock::now_ms();
    ctx.store.update_webhook_settings(&s).await?;
    caller
        .audit(ctx, "webhooks.rotate_secret", None, "allowed", None)
        .await;
    view(ctx, &s).await
}

/// The delivery log, newest first (admins).
///
/// # Errors
/// 403.
pub async fn deliveries(
    ctx: &App,
    caller: &Caller,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, ServiceError> {
    caller.require_admin()?;
    Ok(ctx
        .store
        .list_webhook_deliveries(caller.workspace_id(), limit)
        .await?)
}

/// Queues an event for `url`. Failures are logged: the event that caused it already happened.
pub async fn enqueue(ctx: &App, workspace_id: &str, url: &str, event: &str, payload: &Value) {
    let now = clock::now_ms();
    let delivery = WebhookDelivery {
        id: ids::generate("whd_"),
        workspace_id: workspace_id.to_owned(),
        url: url.to_owned(),
        event: event.to_owned(),
        payload: payload.to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_status: None,
        last_error: None,
        created_at: now,
        delivered_at: None,
    };
    if let Err(e) = ctx.store.insert_webhook_delivery(&delivery).await {
        tracing::error!(error = %e, event, "could not queue a webhook");
    }
}

/// Queues a health change of an account for the workspace's subscription, if it has one.
pub async fn health_changed(
    ctx: &App,
    account: &latchkey_store::Account,
    kind: &str,
    detail: Option<&str>,
) {
    let Ok(Some(s)) = ctx.store.get_webhook_settings(&account.workspace_id).await else {
        return;
    };
    let Some(url) = s.health_url else { return };
    let payload = json!({
        "event": kind,
        "occurred_at": clock::iso(clock::now_ms()),
        "account": {
            "id": account.id,
            "name": account.name,
            "app": account.app_slug,
            "healthy": kind == "ACCOUNT_HEALTHY",
            "dead": kind == "ACCOUNT_DEAD",
            "error": detail,
            "external_id": account.connect.as_ref().map(|c| c.external_id.as_str()),
            "project_id": account.connect.as_ref().map(|c| c.project_id.as_str()),
        },
    });
    enqueue(ctx, &account.workspace_id, &url, kind, &payload).await;
}

/// `t=<unix>,v1=<hex>` for `body` at `timestamp`.
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn next_attempt(ctx: &App, attempts_made: i64, now: i64) -> Option<i64> {
    let index = usize::try_from(attempts_made).ok()?.checked_sub(1)?;
    let seconds = *RETRY_SCHEDULE_SECONDS.get(index)?;
    let unit_us = ctx.config.webhook_retry_unit_us;
    Some(
        now + i64::try_from(seconds * unit_us / 1000)
            .unwrap_or(i64::MAX / 2)
            .max(1),
    )
}

async fn attempt(ctx: &App, delivery: &WebhookDelivery) -> Result<u16, String> {
    let s = settings(ctx, &delivery.workspace_id)
        .await
        .map_err(|e| e.to_string())?;
    let secret = open_secret(ctx, &s).await.map_err(|e| e.to_string())?;
    let url = url::Url::parse(&delivery.url).map_err(|_| "the URL is invalid".to_owned())?;
    let timestamp = clock::now_ms() / 1000;
    let response = ctx
        .outbound
        .request(reqwest::Method::POST, url)
        .map_err(|e| e.to_string())?
        .header("content-type", "application/json")
        .header("x-latchkey-event", &delivery.event)
        .header("x-latchkey-delivery", &delivery.id)
        .header(
            "x-latchkey-signature",
            signature(secret.expose_secret(), timestamp, &delivery.payload),
        )
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the receiver did not answer in time".to_owned()
            } else {
                "could not reach the receiver".to_owned()
            }
        })?;
    Ok(response.status().as_u16())
}

/// Delivers whatever is due; returns how many attempts were made.
///
/// # Errors
/// On database failure.
pub async fn run_due(ctx: &App) -> Result<usize, ServiceError> {
    let now = clock::now_ms();
    let due = ctx
        .store
        .claim_due_webhooks(now, now + CLAIM_MS, 50)
        .await?;
    let count = due.len();
    let results = futures_util::future::join_all(due.iter().map(|d| attempt(ctx, d))).await;
    for (delivery, result) in due.iter().zip(results) {
        let now = clock::now_ms();
        let made = delivery.attempts + 1;
        let (http_status, error) = match result {
            Ok(status) if (200..300).contains(&status) => (Some(i64::from(status)), None),
            Ok(status) => (
                Some(i64::from(status)),
                Some(format!("the receiver answered {status}")),
            ),
            Err(message) => (None, Some(message)),
        };
        let outcome = if error.is_none() {
            DeliveryAttempt {
                status: DeliveryStatus::Delivered,
                http_status,
                error,
                next_attempt_at: now,
                now,
            }
        } else {
            match next_attempt(ctx, made, now) {
                Some(at) => DeliveryAttempt {
                    status: DeliveryStatus::Pending,
                    http_status,
                    error,
                    next_attempt_at: at,
                    now,
                },
                None => DeliveryAttempt {
                    status: DeliveryStatus::Failed,
                    http_status,
                    error,
                    next_attempt_at: now,
                    now,
                },
            }
        };
        tracing::info!(delivery.id = %delivery.id, event = %delivery.event, attempt = made, status = outcome.status.as_str(), "webhook attempt");
        ctx.store
            .finish_webhook_attempt(&delivery.id, &outcome)
            .await?;
    }
    Ok(count)
}

/// Runs [`run_due`] every `interval` until the process ends.
pub fn spawn_worker(app: Arc<App>, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_due(&app).await {
                tracing::warn!(error = %e, "webhook worker pass failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_stripe_style_hmacs_of_timestamp_and_body() {
        let sig = signature("whsec_test", 1_700_000_000, r#"{"event":"X"}"#);
        assert!(sig.starts_with("t=1700000000,v1="));
        assert_eq!(sig.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(
            sig,
            signature("whsec_other", 1_700_000_000, r#"{"event":"X"}"#)
        );
        assert_ne!(
            sig,
            signature("whsec_test", 1_700_000_001, r#"{"event":"X"}"#)
        );
    }

    #[test]
    fn the_schedule_spans_about_a_day_with_at_least_eight_attempts() {
        let total: u64 = RETRY_SCHEDULE_SECONDS.iter().sum();
        assert!((20 * 3600..=30 * 3600).contains(&total), "{total}");
        assert!(RETRY_SCHEDULE_SECONDS.len() + 1 >= 8);
    }
}
