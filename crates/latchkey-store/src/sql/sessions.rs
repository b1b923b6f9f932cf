//! Web UI sign-in and sessions.

use async_trait::async_trait;

use latchkey_domain::role::Role;

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
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let invites = sqlx::query("DELETE FROM invites WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(sessions + invites)
    }

    async fn insert_invite(&self, invite: &Invite) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM invites WHERE workspace_id = $1 AND user_id = $2")
            .bind(&invite.workspace_id)
            .bind(&invite.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO invites (token_hash, workspace_id, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&invite.token_hash)
        .bind(&invite.workspace_id)
        .bind(&invite.user_id)
        .bind(invite.created_at)
        .bind(invite.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_invite(&self, token_hash: &str, now: i64) -> Result<Option<Invite>, StoreError> {
        // DELETE … RETURNING: two tabs opening the same link cannot both use it.
        let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
            "DELETE FROM invites WHERE token_hash = $1 AND expires_at > $2 \
             RETURNING token_hash, workspace_id, user_id, created_at, expires_at",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(token_hash, workspace_id, user_id, created_at, expires_at)| Invite {
                token_hash,
                workspace_id,
                user_id,
                created_at,
                expires_at,
            },
        ))
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_member_role(
        &self,
        workspace_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE members SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
                .bind(role.as_str())
                .bind(workspace_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
