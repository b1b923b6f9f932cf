//! Sealed values outside `accounts`, for key rotation: OAuth client secrets, environment
//! variables and webhook signing secrets.

use super::SqlStore;
use crate::{models::SealedRecord, StoreError};

impl SqlStore {
    /// Sealed values not yet on `key_id`.
    pub(crate) async fn sealed_not_on(&self, key_id: i64) -> Result<Vec<SealedRecord>, StoreError> {
        let clients: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT workspace_id, id, client_secret_ciphertext FROM oauth_clients WHERE key_id <> $1",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        let vars: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT workspace_id, name, value_ciphertext FROM env_vars WHERE key_id <> $1",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        let webhook_secrets: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT workspace_id, workspace_id, secret_ciphertext FROM webhook_settings WHERE key_id <> $1",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        let webhook_secrets =
            webhook_secrets
                .into_iter()
                .map(|(workspace_id, row_id, ciphertext)| SealedRecord {
                    table: "webhook_settings",
                    workspace_id,
                    row_id,
                    field: "secret",
                    ciphertext,
                });
        let clients = clients
            .into_iter()
            .map(|(workspace_id, row_id, ciphertext)| SealedRecord {
                table: "oauth_clients",
                workspace_id,
                row_id,
                field: "client_secret",
                ciphertext,
            });
        let vars = vars
            .into_iter()
            .map(|(workspace_id, row_id, ciphertext)| SealedRecord {
                table: "env_vars",
                workspace_id,
                row_id,
                field: "value",
                ciphertext,
            });
        Ok(clients.chain(vars).chain(webhook_secrets).collect())
    }

    /// Replaces a sealed value if it is still `old.ciphertext` (a concurrent change wins).
    pub(crate) async fn reseal(
        &self,
        old: &SealedRecord,
        ciphertext: &[u8],
        key_id: i64,
    ) -> Result<bool, StoreError> {
        let sql = match old.table {
            "oauth_clients" => {
                "UPDATE oauth_clients SET client_secret_ciphertext = $4, key_id = $5 \
                 WHERE workspace_id = $1 AND id = $2 AND client_secret_ciphertext = $3"
            }
            "webhook_settings" => {
                "UPDATE webhook_settings SET secret_ciphertext = $4, key_id = $5 \
                 WHERE workspace_id = $1 AND workspace_id = $2 AND secret_ciphertext = $3"
            }
            _ => {
                "UPDATE env_vars SET value_ciphertext = $4, key_id = $5 \
                 WHERE workspace_id = $1 AND name = $2 AND value_ciphertext = $3"
            }
        };
        let result = sqlx::query(sql)
            .bind(&old.workspace_id)
            .bind(&old.row_id)
            .bind(old.ciphertext.clone())
            .bind(ciphertext.to_vec())
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
