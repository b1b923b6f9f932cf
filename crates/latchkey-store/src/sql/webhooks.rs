//! Webhook settings and the delivery queue.

use async_trait::async_trait;

use super::{affected, SqlStore};
use crate::{backend::Backend, models::*, store::WebhookStore, StoreError};

const SETTINGS_COLUMNS: &str =
    "workspace_id, secret_ciphertext, key_id, health_url, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, workspace_id, url, event, payload, status, attempts, \
    next_attempt_at, last_status, last_error, created_at, delivered_at";

#[derive(sqlx::FromRow)]
struct SettingsRow {
    workspace_id: String,
    secret_ciphertext: Vec<u8>,
    key_id: i64,
    health_url: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<SettingsRow> for WebhookSettings {
    fn from(r: SettingsRow) -> Self {
        Self {
            workspace_id: r.workspace_id,
            secret_ciphertext: r.secret_ciphertext,
            key_id: r.key_id,
            health_url: r.health_url,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    workspace_id: String,
    url: String,
    event: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl From<DeliveryRow> for WebhookDelivery {
    fn from(r: DeliveryRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            url: r.url,
            event: r.event,
            payload: r.payload,
            status: DeliveryStatus::parse(&r.status),
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_status: r.last_status,
            last_error: r.last_error,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        }
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn get_webhook_settings(
        &self,
        workspace_id: &str,
    ) -> Result<Option<WebhookSettings>, StoreError> {
        Ok(sqlx::query_as::<_, SettingsRow>(&format!(
            "SELECT {SETTINGS_COLUMNS} FROM webhook_settings WHERE workspace_id = $1"
        ))
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn ensure_webhook_settings(
        &self,
        s: &WebhookSettings,
    ) -> Result<WebhookSettings, StoreError> {
        sqlx::query(&format!(
            "INSERT INTO webhook_settings ({SETTINGS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (workspace_id) DO NOTHING"
        ))
        .bind(&s.workspace_id)
        .bind(s.secret_ciphertext.clone())
        .bind(s.key_id)
        .bind(&s.health_url)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&self.pool)
        .await?;
        self.get_webhook_settings(&s.workspace_id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn update_webhook_settings(&self, s: &WebhookSettings) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE webhook_settings SET secret_ciphertext = $2, key_id = $3, health_url = $4, \
             updated_at = $5 WHERE workspace_id = $1",
        )
        .bind(&s.workspace_id)
        .bind(s.secret_ciphertext.clone())
        .bind(s.key_id)
        .bind(&s.health_url)
        .bind(s.updated_at)
        .execute(&self.pool)
        .await?;
        affected(&result)
    }

    async fn insert_webhook_delivery(&self, d: &WebhookDelivery) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&d.id)
        .bind(&d.workspace_id)
        .bind(&d.url)
        .bind(&d.event)
        .bind(&d.payload)
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(d.next_attempt_at)
        .bind(d.last_status)
        .bind(&d.last_error)
        .bind(d.created_at)
        .bind(d.delivered_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_due_webhooks(
        &self,
        now: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        // As for refreshes: the conditions are repeated outside the subquery so that a row
        // another instance claimed meanwhile is re-checked and skipped (PostgreSQL re-evaluates
        // them on the latest row version).
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let due = "status = 'pending' AND next_attempt_at <= $1 \
                   AND (lease_until IS NULL OR lease_until < $1)";
        Ok(sqlx::query_as::<_, DeliveryRow>(&format!(
            "UPDATE webhook_deliveries SET lease_until = $2 \
             WHERE {due} AND id IN (SELECT id FROM webhook_deliveries WHERE {due} \
             ORDER BY next_attempt_at LIMIT {}{skip_locked}) \
             RETURNING {DELIVERY_COLUMNS}",
            limit.clamp(1, 500)
        ))
        .bind(now)
        .bind(until)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn finish_webhook_attempt(
        &self,
        id: &str,
        a: &DeliveryAttempt,
    ) -> Result<(), StoreError> {
        let delivered_at = (a.status == DeliveryStatus::Delivered).then_some(a.now);
        let result = sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, \
             next_attempt_at = $3, lease_until = NULL, last_status = $4, last_error = $5, \
             delivered_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(a.status.as_str())
        .bind(a.next_attempt_at)
        .bind(a.http_status)
        .bind(&a.error)
        .bind(delivered_at)
        .execute(&self.pool)
        .await?;
        affected(&result)
    }

    async fn list_webhook_deliveries(
        &self,
        workspace_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        Ok(sqlx::query_as::<_, DeliveryRow>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 500)
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }
}
