//! Workspaces' own OAuth clients.

use async_trait::async_trait;

use super::{affected, rows::split_scopes, SqlStore};
use crate::{models::OAuthClient, store::OAuthClientStore, StoreError};

const COLUMNS: &str = "id, workspace_id, app_slug, name, client_id, client_secret_ciphertext, key_id, scopes, created_at, updated_at, rejected_at, rejected_error";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    workspace_id: String,
    app_slug: String,
    name: String,
    client_id: String,
    client_secret_ciphertext: Vec<u8>,
    key_id: i64,
    scopes: Option<String>,
    created_at: i64,
    updated_at: i64,
    rejected_at: Option<i64>,
    rejected_error: Option<String>,
}

impl From<Row> for OAuthClient {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            app_slug: r.app_slug,
            name: r.name,
            client_id: r.client_id,
            client_secret_ciphertext: r.client_secret_ciphertext,
            key_id: r.key_id,
            scopes: r.scopes.as_deref().map(split_scopes),
            created_at: r.created_at,
            updated_at: r.updated_at,
            rejected_at: r.rejected_at,
            rejected_error: r.rejected_error,
        }
    }
}

#[async_trait]
impl OAuthClientStore for SqlStore {
    async fn insert_oauth_client(&self, c: &OAuthClient) -> Result<(), StoreError> {
        sqlx::query(&format!("INSERT INTO oauth_clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"))
            .bind(&c.id)
            .bind(&c.workspace_id)
            .bind(&c.app_slug)
            .bind(&c.name)
            .bind(&c.client_id)
            .bind(c.client_secret_ciphertext.clone())
            .bind(c.key_id)
            .bind(c.scopes.as_ref().map(|s| s.join(" ")))
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.rejected_at)
            .bind(c.rejected_error.as_deref())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get_oauth_client(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<OAuthClient>, StoreError> {
        Ok(sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM oauth_clients WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn list_oauth_clients(
        &self,
        workspace_id: &str,
        app_slug: Option<&str>,
    ) -> Result<Vec<OAuthClient>, StoreError> {
        Ok(sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM oauth_clients WHERE workspace_id = $1 AND ($2 IS NULL OR app_slug = $2) ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .bind(app_slug)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn update_oauth_client(&self, c: &OAuthClient) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE oauth_clients SET name = $3, client_id = $4, client_secret_ciphertext = $5, key_id = $6, \
             scopes = $7, updated_at = $8, rejected_at = $9, rejected_error = $10 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(&c.workspace_id)
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.client_id)
        .bind(c.client_secret_ciphertext.clone())
        .bind(c.key_id)
        .bind(c.scopes.as_ref().map(|s| s.join(" ")))
        .bind(c.updated_at)
        .bind(c.rejected_at)
        .bind(c.rejected_error.as_deref())
        .execute(&self.pool)
        .await?;
        affected(&result)
    }

    async fn set_oauth_client_rejection(
        &self,
        workspace_id: &str,
        id: &str,
        rejection: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE oauth_clients SET rejected_error = $3, rejected_at = $4 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(rejection.map(|(error, _)| error))
        .bind(rejection.map(|(_, at)| at))
        .execute(&self.pool)
        .await?;
        affected(&result)
    }

    async fn delete_oauth_client(&self, workspace_id: &str, id: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM oauth_clients WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        affected(&result)
    }
}
