//! Workspaces, users and members.

use async_trait::async_trait;
use sqlx::Row;

use super::{
    rows::{MemberRow, WorkspaceRow},
    SqlStore,
};
use crate::{models::*, store::WorkspaceStore, StoreError};

#[async_trait]
impl WorkspaceStore for SqlStore {
    async fn create_workspace(
        &self,
        workspace: &Workspace,
        owner: &NewMember,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&workspace.id)
            .bind(&workspace.name)
            .bind(workspace.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_sqlx(e, "workspace"))?;
        let user_id = Self::upsert_user(&mut tx, owner).await?;
        Self::insert_membership(&mut tx, &workspace.id, &user_id, owner).await?;
        tx.commit().await?;
        Ok(user_id)
    }

    async fn find_workspace(&self, id_or_name: &str) -> Result<Option<Workspace>, StoreError> {
        Ok(sqlx::query_as::<_, WorkspaceRow>("SELECT id, name, created_at FROM workspaces WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1")
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await?
            .map(Into::into))
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        Ok(sqlx::query_as::<_, WorkspaceRow>(
            "SELECT id, name, created_at FROM workspaces ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn count_workspaces(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM workspaces")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    async fn add_member(
        &self,
        workspace_id: &str,
        member: &NewMember,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        let user_id = Self::upsert_user(&mut tx, member).await?;
        Self::insert_membership(&mut tx, workspace_id, &user_id, member).await?;
        tx.commit().await?;
        Ok(user_id)
    }

    async fn list_members(&self, workspace_id: &str) -> Result<Vec<Member>, StoreError> {
        Ok(sqlx::query_as::<_, MemberRow>(
            "SELECT m.workspace_id, m.user_id, u.email, m.role, m.created_at FROM members m \
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY m.created_at, u.email",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn get_member(
        &self,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<Member>, StoreError> {
        Ok(sqlx::query_as::<_, MemberRow>(
            "SELECT m.workspace_id, m.user_id, u.email, m.role, m.created_at FROM members m \
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.user_id = $2",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn insert_api_key(
        &self,
        workspace_id: &str,
        user_id: &str,
        key: &NewApiKey,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_keys (id, workspace_id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&key.id)
            .bind(workspace_id)
            .bind(user_id)
            .bind(&key.token_hash)
            .bind(key.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::from_sqlx(e, "api key"))?;
        Ok(())
    }
}
