//! API keys, API clients and access tokens.

use async_trait::async_trait;

use super::{
    affected,
    rows::{self, ApiClientRow},
    SqlStore,
};
use crate::{models::*, store::AuthStore, StoreError};

#[async_trait]
impl AuthStore for SqlStore {
    async fn find_api_key(&self, token_hash: &str) -> Result<Option<Principal>, StoreError> {
        let row = sqlx::query_as::<_, (String, String, String)>(
            "SELECT k.workspace_id, k.user_id, m.role FROM api_keys k \
             JOIN members m ON m.workspace_id = k.workspace_id AND m.user_id = k.user_id \
             WHERE k.token_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(workspace_id, user_id, role)| Principal::Member {
            workspace_id,
            user_id,
            role: latchkey_domain::role::Role::parse(&role)
                .unwrap_or(latchkey_domain::role::Role::Member),
        }))
    }

    async fn insert_api_client(&self, client: &ApiClient) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_clients (id, workspace_id, name, secret_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&client.id)
        .bind(&client.workspace_id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(client.scopes.join(" "))
        .bind(client.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "api client"))?;
        Ok(())
    }

    async fn find_api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError> {
        Ok(sqlx::query_as::<_, ApiClientRow>(
            "SELECT id, workspace_id, name, secret_hash, scopes, created_at, revoked_at FROM api_clients WHERE id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn list_api_clients(&self, workspace_id: &str) -> Result<Vec<ApiClient>, StoreError> {
        Ok(sqlx::query_as::<_, ApiClientRow>(
            "SELECT id, workspace_id, name, secret_hash, scopes, created_at, revoked_at FROM api_clients \
             WHERE workspace_id = $1 ORDER BY created_at, id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn revoke_api_client(
        &self,
        workspace_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("UPDATE api_clients SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(workspace_id)
            .bind(client_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        affected(&result)?;
        sqlx::query("DELETE FROM access_tokens WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_access_token(&self, token: &AccessToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, client_id, workspace_id, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.token_hash)
        .bind(&token.client_id)
        .bind(&token.workspace_id)
        .bind(token.scopes.join(" "))
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Principal>, StoreError> {
        let row = sqlx::query_as::<_, (String, String, String, i64)>(
            "SELECT t.workspace_id, t.client_id, t.scopes, t.expires_at FROM access_tokens t \
             JOIN api_clients c ON c.id = t.client_id \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND c.revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(workspace_id, client_id, scopes, expires_at)| Principal::Client {
                workspace_id,
                client_id,
                scopes: rows::split_scopes(&scopes),
                expires_at,
            },
        ))
    }

    async fn purge_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM access_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
