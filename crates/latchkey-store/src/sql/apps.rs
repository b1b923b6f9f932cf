//! Custom apps and app requests.

use async_trait::async_trait;

use super::{
    rows::{AppRequestRow, CustomAppRow},
    SqlStore,
};
use crate::{models::*, store::AppStore, StoreError};

#[async_trait]
impl AppStore for SqlStore {
    async fn insert_custom_app(&self, app: &CustomApp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO custom_apps (id, workspace_id, name_slug, definition, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&app.id)
            .bind(&app.workspace_id)
            .bind(&app.name_slug)
            .bind(&app.definition_json)
            .bind(app.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::from_sqlx(e, "app"))?;
        Ok(())
    }

    async fn list_custom_apps(&self, workspace_id: &str) -> Result<Vec<CustomApp>, StoreError> {
        Ok(sqlx::query_as::<_, CustomAppRow>(
            "SELECT id, workspace_id, name_slug, definition, created_at FROM custom_apps WHERE workspace_id = $1 ORDER BY name_slug",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn insert_app_request(&self, request: &AppRequest) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO app_requests (id, workspace_id, requested_by, name, url, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&request.id)
        .bind(&request.workspace_id)
        .bind(&request.requested_by)
        .bind(&request.name)
        .bind(&request.url)
        .bind(&request.note)
        .bind(request.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_app_requests(&self, workspace_id: &str) -> Result<Vec<AppRequest>, StoreError> {
        Ok(sqlx::query_as::<_, AppRequestRow>(
            "SELECT id, workspace_id, requested_by, name, url, note, created_at FROM app_requests \
             WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }
}
