//! Meta values (the key check) and the data keys.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use crate::{store::MetaStore, StoreError};

#[async_trait]
impl MetaStore for SqlStore {
    async fn sealed_records_not_on_key(
        &self,
        key_id: i64,
    ) -> Result<Vec<crate::models::SealedRecord>, StoreError> {
        self.sealed_not_on(key_id).await
    }

    async fn reseal_record(
        &self,
        old: &crate::models::SealedRecord,
        ciphertext: &[u8],
        key_id: i64,
    ) -> Result<bool, StoreError> {
        self.reseal(old, ciphertext, key_id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<Vec<u8>, _>("value")).transpose()?)
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn list_data_keys(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows = sqlx::query("SELECT id, wrapped_key FROM data_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("wrapped_key")?)))
            .collect()
    }

    async fn insert_data_key(&self, id: i64, wrapped: &[u8], now: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO data_keys (id, wrapped_key, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(wrapped.to_vec())
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::from_sqlx(e, "data key"))?;
        Ok(())
    }

    async fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM meta WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn max_data_key_id(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM data_keys")
            .fetch_one(&self.pool)
            .await?;
        Ok(sqlx::Row::try_get(&row, "n")?)
    }
}
