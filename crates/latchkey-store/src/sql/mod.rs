//! [`SqlStore`]: the [`crate::Store`] implementation for SQLite and PostgreSQL.

mod accounts;
mod apps;
mod audit;
mod auth;
mod connect;
pub(crate) mod cursor;
mod meta;
mod oauth;
mod oauth_clients;
mod rows;
mod sealed;
mod sessions;
mod webhooks;
mod workflows;
mod workspaces;

use sqlx::{AnyPool, Row};

use crate::{
    backend::{Backend, DatabaseUrl},
    models::NewMember,
    StoreError,
};

/// The SQL store. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Connects and brings the schema up to date (migrations are idempotent and safe to run
    /// from several instances at once: sqlx takes a lock on PostgreSQL).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the database is unreachable or a migration fails.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, StoreError> {
        let backend = url.backend();
        let pool = backend.connect(url, max_connections).await?;
        backend.migrate(&pool).await?;
        tracing::debug!(database = %url.redacted(), "database ready");
        Ok(Self { pool, backend })
    }

    /// Which backend this store talks to.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn upsert_user<'c>(
        tx: &mut sqlx::Transaction<'c, sqlx::Any>,
        member: &NewMember,
    ) -> Result<String, StoreError> {
        let row = sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (email) DO UPDATE SET password_hash = COALESCE(users.password_hash, excluded.password_hash) \
             RETURNING id",
        )
        .bind(&member.user_id)
        .bind(&member.email)
        .bind(&member.password_hash)
        .bind(member.api_key.created_at)
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get::<String, _>("id")?)
    }

    async fn insert_membership<'c>(
        tx: &mut sqlx::Transaction<'c, sqlx::Any>,
        workspace_id: &str,
        user_id: &str,
        member: &NewMember,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(member.role.as_str())
        .bind(member.api_key.created_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "member"))?;
        sqlx::query("INSERT INTO api_keys (id, workspace_id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&member.api_key.id)
            .bind(workspace_id)
            .bind(user_id)
            .bind(&member.api_key.token_hash)
            .bind(member.api_key.created_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

pub(crate) fn affected(result: &sqlx::any::AnyQueryResult) -> Result<(), StoreError> {
    if result.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
