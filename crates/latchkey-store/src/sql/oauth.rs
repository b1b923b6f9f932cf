//! OAuth flows, reconnects, the refresh lease, and account events.

use async_trait::async_trait;

use super::{
    affected,
    rows::{split_scopes, AccountRow, ACCOUNT_COLUMNS},
    SqlStore,
};
use crate::backend::Backend;
use crate::{
    models::{Account, OAuthFlow, OAuthUpdate, RefreshFailure},
    store::OAuthStore,
    StoreError,
};

const FLOW_COLUMNS: &str = "id, handle_hash, state_hash, workspace_id, user_id, app_slug, account_id, \
    oauth_client, redirect_uri, scopes, verifier_ciphertext, browser_hash, created_at, expires_at, used_at, \
    connect_token_hash";

#[derive(sqlx::FromRow)]
struct FlowRow {
    id: String,
    handle_hash: String,
    state_hash: String,
    workspace_id: String,
    user_id: String,
    app_slug: String,
    account_id: Option<String>,
    oauth_client: String,
    redirect_uri: String,
    scopes: String,
    verifier_ciphertext: Vec<u8>,
    browser_hash: Option<String>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    connect_token_hash: Option<String>,
}

impl From<FlowRow> for OAuthFlow {
    fn from(r: FlowRow) -> Self {
        Self {
            id: r.id,
            handle_hash: r.handle_hash,
            state_hash: r.state_hash,
            workspace_id: r.workspace_id,
            user_id: r.user_id,
            app_slug: r.app_slug,
            account_id: r.account_id,
            oauth_client: r.oauth_client,
            redirect_uri: r.redirect_uri,
            scopes: split_scopes(&r.scopes),
            verifier_ciphertext: r.verifier_ciphertext,
            browser_hash: r.browser_hash,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
            connect_token_hash: r.connect_token_hash,
        }
    }
}

#[async_trait]
impl OAuthStore for SqlStore {
    async fn insert_flow(&self, f: &OAuthFlow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO oauth_flows ({FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&f.id)
        .bind(&f.handle_hash)
        .bind(&f.state_hash)
        .bind(&f.workspace_id)
        .bind(&f.user_id)
        .bind(&f.app_slug)
        .bind(&f.account_id)
        .bind(&f.oauth_client)
        .bind(&f.redirect_uri)
        .bind(f.scopes.join(" "))
        .bind(f.verifier_ciphertext.clone())
        .bind(&f.browser_hash)
        .bind(f.created_at)
        .bind(f.expires_at)
        .bind(f.used_at)
        .bind(&f.connect_token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_flow_by_handle(
        &self,
        handle_hash: &str,
        now: i64,
    ) -> Result<Option<OAuthFlow>, StoreError> {
        Ok(sqlx::query_as::<_, FlowRow>(&format!(
            "SELECT {FLOW_COLUMNS} FROM oauth_flows WHERE handle_hash = $1 AND expires_at > $2 AND used_at IS NULL"
        ))
        .bind(handle_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn bind_flow_browser(
        &self,
        flow_id: &str,
        browser_hash: &str,
        state_hash: &str,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE oauth_flows SET browser_hash = $2, state_hash = $3 WHERE id = $1 AND browser_hash IS NULL",
        )
        .bind(flow_id)
        .bind(browser_hash)
        .bind(state_hash)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn consume_flow(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<OAuthFlow>, StoreError> {
        // The conditional UPDATE is the single-use guarantee: of two callbacks racing with the
        // same state, exactly one changes the row.
        let result = sqlx::query("UPDATE oauth_flows SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2")
            .bind(state_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() != 1 {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, FlowRow>(&format!(
            "SELECT {FLOW_COLUMNS} FROM oauth_flows WHERE state_hash = $1"
        ))
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn purge_flows(&self, now: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM oauth_flows WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn reconnect_account(
        &self,
        workspace_id: &str,
        account_id: &str,
        owner_id: &str,
        oauth_client: &str,
        u: &OAuthUpdate,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE accounts SET credentials_ciphertext = $3, key_id = $4, authorized_scopes = $5, expires_at = $6, \
             next_refresh_at = $7, last_refreshed_at = $8, updated_at = $8, \
             owner_id = CASE WHEN project_id IS NULL THEN COALESCE(owner_id, $9) ELSE owner_id END, oauth_client = NULLIF($10, ''), \
             healthy = 1, dead = 0, error = NULL, refresh_failures = 0, refresh_lease = NULL, \
             refresh_lease_until = NULL, version = version + 1 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(u.credentials_ciphertext.clone())
        .bind(u.key_id)
        .bind(u.authorized_scopes.join(" "))
        .bind(u.expires_at)
        .bind(u.next_refresh_at)
        .bind(u.now)
        .bind(owner_id)
        .bind(oauth_client)
        .execute(&self.pool)
        .await?;
        affected(&result)
    }

    async fn acquire_refresh_lease(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Account>, StoreError> {
        // One statement takes the lease and reads the row (SQLite 3.35+ and PostgreSQL both
        // have RETURNING): a refresh costs one round trip less, and what the holder reads is
        // exactly the row it locked.
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "UPDATE accounts SET refresh_lease = $3, refresh_lease_until = $5 \
             WHERE workspace_id = $1 AND id = $2 AND (refresh_lease_until IS NULL OR refresh_lease_until < $4) \
             RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(workspace_id)
        .bind(account_id)
        .bind(lease)
        .bind(now)
        .bind(until)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn complete_refresh(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
        u: &OAuthUpdate,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE accounts SET credentials_ciphertext = $4, key_id = $5, authorized_scopes = $6, expires_at = $7, \
             next_refresh_at = $8, last_refreshed_at = $9, updated_at = $9, healthy = 1, error = NULL, \
             refresh_failures = 0, refresh_lease = NULL, refresh_lease_until = NULL, version = version + 1 \
             WHERE workspace_id = $1 AND id = $2 AND refresh_lease = $3",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(lease)
        .bind(u.credentials_ciphertext.clone())
        .bind(u.key_id)
        .bind(u.authorized_scopes.join(" "))
        .bind(u.expires_at)
        .bind(u.next_refresh_at)
        .bind(u.now)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn fail_refresh(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
        f: &RefreshFailure,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE accounts SET healthy = $4, dead = $5, error = $6, next_refresh_at = $7, \
             refresh_failures = refresh_failures + 1, refresh_lease = NULL, refresh_lease_until = NULL, \
             version = version + 1 \
             WHERE workspace_id = $1 AND id = $2 AND refresh_lease = $3",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(lease)
        .bind(i64::from(f.healthy))
        .bind(i64::from(f.dead))
        .bind(&f.error)
        .bind(f.next_refresh_at)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn release_refresh_lease(
        &self,
        workspace_id: &str,
        account_id: &str,
        lease: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET refresh_lease = NULL, refresh_lease_until = NULL \
             WHERE workspace_id = $1 AND id = $2 AND refresh_lease = $3",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(lease)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_due_for_refresh(
        &self,
        now: i64,
        until: i64,
        lease: &str,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        // PostgreSQL: rows another instance is claiming right now are skipped, not waited for.
        // SQLite has one writer at a time, so the statement is atomic as it is.
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let due = "next_refresh_at <= $1 AND dead = 0 \
                   AND (refresh_lease_until IS NULL OR refresh_lease_until < $1)";
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "UPDATE accounts SET refresh_lease = $2, refresh_lease_until = $3 \
             WHERE {due} AND id IN (SELECT id FROM accounts WHERE {due} \
             ORDER BY next_refresh_at LIMIT {}{skip_locked}) \
             RETURNING {ACCOUNT_COLUMNS}",
            limit.clamp(1, 1000)
        ))
        .bind(now)
        .bind(lease)
        .bind(until)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn insert_account_event(
        &self,
        workspace_id: &str,
        account_id: &str,
        kind: &str,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO account_events (id, workspace_id, account_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(latchkey_domain::ids::generate("evt_"))
            .bind(workspace_id)
            .bind(account_id)
            .bind(kind)
            .bind(detail)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_account_events(
        &self,
        workspace_id: &str,
        account_id: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT kind, detail FROM account_events WHERE workspace_id = $1 AND account_id = $2 ORDER BY created_at, id",
        )
        .bind(workspace_id)
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
