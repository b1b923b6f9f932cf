//! [`SqlStore`]: the [`Store`] implementation for SQLite and PostgreSQL.

mod cursor;
mod rows;

use async_trait::async_trait;
use sqlx::{AnyPool, Row};

use self::rows::{
    AccountRow, ApiClientRow, AppRequestRow, CustomAppRow, MemberRow, WorkspaceRow, ACCOUNT_COLUMNS,
};
use crate::{
    backend::{Backend, DatabaseUrl},
    models::{
        AccessToken, Account, AccountQuery, ApiClient, AppRequest, CustomApp, Member, NewApiKey,
        NewMember, Page, Principal, Workspace,
    },
    Store, StoreError,
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

fn affected(result: &sqlx::any::AnyQueryResult) -> Result<(), StoreError> {
    if result.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl Store for SqlStore {
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
        let row = sqlx::query_as::<_, (String, String, String)>(
            "SELECT t.workspace_id, t.client_id, t.scopes FROM access_tokens t \
             JOIN api_clients c ON c.id = t.client_id \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND c.revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(workspace_id, client_id, scopes)| Principal::Client {
                workspace_id,
                client_id,
                scopes: rows::split_scopes(&scopes),
            }),
        )
    }

    async fn purge_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM access_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

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

    async fn insert_account(&self, a: &Account) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&a.id)
        .bind(&a.workspace_id)
        .bind(&a.app_slug)
        .bind(&a.name)
        .bind(&a.owner_id)
        .bind(a.sharing.as_str())
        .bind(a.credentials_ciphertext.clone())
        .bind(a.key_id)
        .bind(i64::from(a.healthy))
        .bind(i64::from(a.dead))
        .bind(&a.error)
        .bind(a.authorized_scopes.join(" "))
        .bind(a.expires_at)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(a.version)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "account"))?;
        Ok(())
    }

    async fn get_account(
        &self,
        workspace_id: &str,
        account_id: &str,
    ) -> Result<Option<Account>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into))
    }

    async fn list_accounts(&self, q: &AccountQuery) -> Result<Page<Account>, StoreError> {
        // Conditions are appended with numbered parameters; the same values are bound in the
        // same order for the count and the page query.
        let mut filter = String::from("workspace_id = $1");
        let mut params: Vec<String> = vec![q.workspace_id.clone()];
        if let Some(user) = &q.visible_to {
            params.push(user.clone());
            filter.push_str(&format!(
                " AND (owner_id = ${n} OR sharing = 'workspace')",
                n = params.len()
            ));
        }
        if let Some(app) = &q.app_slug {
            params.push(app.clone());
            filter.push_str(&format!(" AND app_slug = ${}", params.len()));
        }
        if let Some(search) = q.search.as_deref().filter(|s| !s.is_empty()) {
            let escaped = search
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(format!("%{escaped}%"));
            filter.push_str(&format!(
                " AND (LOWER(name) LIKE ${n} ESCAPE '\\' OR LOWER(app_slug) LIKE ${n} ESCAPE '\\')",
                n = params.len()
            ));
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM accounts WHERE {filter}");
        let mut count = sqlx::query(&count_sql);
        for p in &params {
            count = count.bind(p.as_str());
        }
        let total_count: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;

        let mut page_filter = filter;
        let mut after = None;
        if let Some(cursor) = &q.after {
            // An unreadable cursor is treated as the end of the listing rather than an error,
            // since it cannot have come from us.
            let Some(decoded) = cursor::decode(cursor) else {
                return Ok(Page {
                    items: vec![],
                    total_count,
                    start_cursor: None,
                    end_cursor: None,
                });
            };
            let n = params.len();
            page_filter.push_str(&format!(
                " AND (created_at < ${a} OR (created_at = ${a} AND id < ${b}))",
                a = n + 1,
                b = n + 2
            ));
            after = Some(decoded);
        }
        let limit = i64::from(q.limit.clamp(1, 100));
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {page_filter} ORDER BY created_at DESC, id DESC LIMIT {}",
            limit + 1
        );
        let mut query = sqlx::query_as::<_, AccountRow>(&sql);
        for p in &params {
            query = query.bind(p.as_str());
        }
        if let Some((created_at, id)) = &after {
            query = query.bind(*created_at).bind(id.as_str());
        }
        let mut items: Vec<Account> = query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let has_more = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(100));
        let start_cursor = items.first().map(|a| cursor::encode(a.created_at, &a.id));
        let end_cursor = if has_more {
            items.last().map(|a| cursor::encode(a.created_at, &a.id))
        } else {
            None
        };
        Ok(Page {
            items,
            total_count,
            start_cursor,
            end_cursor,
        })
    }

    async fn rename_account(
        &self,
        workspace_id: &str,
        account_id: &str,
        name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE accounts SET name = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        affected(&result)
    }

    async fn delete_account(&self, workspace_id: &str, account_id: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM accounts WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        affected(&result)
    }

    async fn accounts_not_on_key(
        &self,
        key_id: i64,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE key_id <> $1 ORDER BY id LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn count_accounts_not_on_key(&self, key_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE key_id <> $1")
                .bind(key_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    async fn reseal_account(
        &self,
        workspace_id: &str,
        account_id: &str,
        expected_version: i64,
        ciphertext: &[u8],
        key_id: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE accounts SET credentials_ciphertext = $4, key_id = $5, version = version + 1 \
             WHERE workspace_id = $1 AND id = $2 AND version = $3",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(expected_version)
        .bind(ciphertext.to_vec())
        .bind(key_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
