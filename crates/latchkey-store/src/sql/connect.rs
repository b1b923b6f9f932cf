//! Connect: projects, end users and connect tokens.

use async_trait::async_trait;
use latchkey_domain::connect::Environment;
use sqlx::Row;

use super::{
    affected, cursor,
    rows::{ConnectTokenRow, ExternalUserRow, OverrideRow, ProjectRow},
    SqlStore,
};
use crate::{models::*, store::ConnectStore, StoreError};

const PROJECT_COLUMNS: &str = "id, workspace_id, name, support_email, created_at";
const USER_COLUMNS: &str = "id, project_id, environment, external_id, created_at, updated_at";
const OVERRIDE_COLUMNS: &str =
    "id, project_id, name, app_slug, oauth_app_id, cfmap, created_at, updated_at";
const TOKEN_COLUMNS: &str =
    "token_hash, project_id, environment, external_id, settings, created_at, expires_at, used_at";

/// Spends a token inside `tx`: conditional on it being unspent and unexpired.
async fn spend(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    let result = sqlx::query(
        "UPDATE connect_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if result.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("a connection made with this token"))
    }
}

#[async_trait]
impl ConnectStore for SqlStore {
    async fn insert_project(&self, p: &Project) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&p.id)
        .bind(&p.workspace_id)
        .bind(&p.name)
        .bind(&p.support_email)
        .bind(p.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "project"))?;
        Ok(())
    }

    async fn get_project(
        &self,
        workspace_id: &str,
        project_id: &str,
    ) -> Result<Option<Project>, StoreError> {
        Ok(sqlx::query_as::<_, ProjectRow>(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn get_project_by_id(&self, project_id: &str) -> Result<Option<Project>, StoreError> {
        Ok(sqlx::query_as::<_, ProjectRow>(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn list_projects(&self, workspace_id: &str) -> Result<Vec<Project>, StoreError> {
        Ok(sqlx::query_as::<_, ProjectRow>(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn upsert_external_user(
        &self,
        project_id: &str,
        environment: Environment,
        external_id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<ExternalUser, StoreError> {
        // The no-op update makes RETURNING answer for an existing row too (both backends).
        Ok(sqlx::query_as::<_, ExternalUserRow>(&format!(
            "INSERT INTO external_users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (project_id, environment, external_id) \
             DO UPDATE SET updated_at = external_users.updated_at RETURNING {USER_COLUMNS}"
        ))
        .bind(new_id)
        .bind(project_id)
        .bind(environment.as_str())
        .bind(external_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await?
        .into())
    }

    async fn find_external_user(
        &self,
        project_id: &str,
        environment: Environment,
        external_id: &str,
    ) -> Result<Option<ExternalUser>, StoreError> {
        Ok(sqlx::query_as::<_, ExternalUserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM external_users \
             WHERE project_id = $1 AND environment = $2 AND external_id = $3"
        ))
        .bind(project_id)
        .bind(environment.as_str())
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn list_external_users(
        &self,
        project_id: &str,
        environment: Environment,
        search: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ExternalUser>, StoreError> {
        let mut filter = String::from("project_id = $1 AND environment = $2");
        let mut params = vec![project_id.to_owned(), environment.as_str().to_owned()];
        if let Some(search) = search.filter(|s| !s.is_empty()) {
            let escaped = search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(format!("%{escaped}%"));
            filter.push_str(&format!(
                " AND external_id LIKE ${} ESCAPE '\\'",
                params.len()
            ));
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM external_users WHERE {filter}");
        let mut count = sqlx::query(&count_sql);
        for p in &params {
            count = count.bind(p.as_str());
        }
        let total_count: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let mut page_filter = filter;
        let decoded = match after {
            Some(c) => match cursor::decode(c) {
                Some(d) => Some(d),
                None => return Ok(Page::empty(total_count)),
            },
            None => None,
        };
        if decoded.is_some() {
            let n = params.len();
            page_filter.push_str(&format!(
                " AND (created_at < ${a} OR (created_at = ${a} AND id < ${b}))",
                a = n + 1,
                b = n + 2
            ));
        }
        let limit = i64::from(limit.clamp(1, 100));
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM external_users WHERE {page_filter} \
             ORDER BY created_at DESC, id DESC LIMIT {}",
            limit + 1
        );
        let mut query = sqlx::query_as::<_, ExternalUserRow>(&sql);
        for p in &params {
            query = query.bind(p.as_str());
        }
        if let Some((created_at, id)) = &decoded {
            query = query.bind(*created_at).bind(id.as_str());
        }
        let items: Vec<ExternalUser> = query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(cursor::page(items, limit, total_count, |u| {
            (u.created_at, &u.id)
        }))
    }

    async fn delete_external_user(&self, external_user_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Explicitly, not only by the foreign key's cascade: the shares of those accounts go too.
        sqlx::query("DELETE FROM accounts WHERE external_user_id = $1")
            .bind(external_user_id)
            .execute(&mut *tx)
            .await?;
        let result = sqlx::query("DELETE FROM external_users WHERE id = $1")
            .bind(external_user_id)
            .execute(&mut *tx)
            .await?;
        affected(&result)?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_connect_token(&self, t: &ConnectToken) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO connect_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&t.token_hash)
        .bind(&t.project_id)
        .bind(t.environment.as_str())
        .bind(&t.external_id)
        .bind(&t.settings_json)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.used_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "connect token"))?;
        Ok(())
    }

    async fn get_connect_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConnectToken>, StoreError> {
        Ok(sqlx::query_as::<_, ConnectTokenRow>(&format!(
            "SELECT {TOKEN_COLUMNS} FROM connect_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn insert_account_with_token(
        &self,
        account: &Account,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        spend(&mut tx, token_hash, now).await?;
        Self::insert_account_in(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn spend_connect_token(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        spend(&mut tx, token_hash, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_app_override(&self, o: &AppOverride) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO app_overrides ({OVERRIDE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&o.id)
        .bind(&o.project_id)
        .bind(&o.name)
        .bind(&o.app_slug)
        .bind(&o.oauth_app_id)
        .bind(&o.cfmap_json)
        .bind(o.created_at)
        .bind(o.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "app override"))?;
        Ok(())
    }

    async fn get_app_override(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Option<AppOverride>, StoreError> {
        Ok(sqlx::query_as::<_, OverrideRow>(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM app_overrides WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn list_app_overrides(
        &self,
        project_id: &str,
        app_slug: Option<&str>,
    ) -> Result<Vec<AppOverride>, StoreError> {
        Ok(sqlx::query_as::<_, OverrideRow>(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM app_overrides WHERE project_id = $1 \
             AND ($2 IS NULL OR app_slug = $2) ORDER BY created_at, id"
        ))
        .bind(project_id)
        .bind(app_slug)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn update_app_override(&self, o: &AppOverride) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE app_overrides SET name = $3, oauth_app_id = $4, cfmap = $5, updated_at = $6 \
             WHERE project_id = $1 AND id = $2",
        )
        .bind(&o.project_id)
        .bind(&o.id)
        .bind(&o.name)
        .bind(&o.oauth_app_id)
        .bind(&o.cfmap_json)
        .bind(o.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "app override"))?;
        affected(&result)
    }

    async fn delete_app_override(&self, project_id: &str, id: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM app_overrides WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        affected(&result)
    }

    async fn purge_connect_tokens(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM connect_tokens WHERE expires_at < $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
