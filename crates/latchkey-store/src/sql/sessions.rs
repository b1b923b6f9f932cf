//! Web UI sign-in and sessions.

use async_trait::async_trait;

use super::SqlStore;
use crate::{models::*, store::SessionStore, StoreError};

const COLUMNS: &str = "id_hash, workspace_id, user_id, csrf_hash, created_at, expires_at";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    workspace_id: String,
    user_id: String,
    csrf_hash: String,
    created_at: i64,
    expires_at: i64,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Self {
            id_hash: r.id_hash,
            workspace_id: r.workspace_id,
            user_id: r.user_id,
            csrf_hash: r.csrf_hash,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn find_login(&self, email: &str) -> Result<Option<Login>, StoreError> {
        let user: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
        let Some((user_id, password_hash)) = user else {
            return Ok(None);
        };
        let workspaces: Vec<(String,)> = sqlx::query_as(
            "SELECT workspace_id FROM members WHERE user_id = $1 ORDER BY created_at, workspace_id",
        )
        .bind(&user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(Login {
            user_id,
            password_hash,
            workspace_ids: workspaces.into_iter().map(|(w,)| w).collect(),
        }))
    }

    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&s.id_hash)
        .bind(&s.workspace_id)
        .bind(&s.user_id)
        .bind(&s.csrf_hash)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
        Ok(sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE id_hash = $1 AND expires_at > $2"
        ))
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
