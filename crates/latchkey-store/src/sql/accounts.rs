//! Connected accounts.

use async_trait::async_trait;
use sqlx::Row;

use super::{
    affected, cursor,
    rows::{AccountRow, ACCOUNT_COLUMNS},
    SqlStore,
};
use crate::{backend::Backend, models::*, store::AccountStore, StoreError};

#[async_trait]
impl AccountStore for SqlStore {
    async fn insert_account(&self, a: &Account) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::insert_account_in(&mut tx, a).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_account(
        &self,
        workspace_id: &str,
        account_id: &str,
    ) -> Result<Option<Account>, StoreError> {
        let account: Option<Account> = sqlx::query_as::<_, AccountRow>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Into::into);
        let mut found: Vec<Account> = account.into_iter().collect();
        self.load_shares(&mut found).await?;
        Ok(found.pop())
    }

    async fn set_account_access(
        &self,
        workspace_id: &str,
        account_id: &str,
        sharing: Sharing,
        member_ids: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "UPDATE accounts SET sharing = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(sharing.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        affected(&result)?;
        sqlx::query("DELETE FROM account_shares WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        for user_id in member_ids {
            sqlx::query(
                "INSERT INTO account_shares (account_id, workspace_id, user_id, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(account_id)
            .bind(workspace_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_accounts(&self, q: &AccountQuery) -> Result<Page<Account>, StoreError> {
        // Conditions are appended with numbered parameters; the same values are bound in the
        // same order for the count and the page query.
        let mut filter = String::from("workspace_id = $1");
        // What the listing reads from: the table, or for a SQLite search the matches joined to it.
        let mut from = String::from("accounts");
        let mut params: Vec<String> = vec![q.workspace_id.clone()];
        if let Some(user) = &q.visible_to {
            params.push(user.clone());
            filter.push_str(&format!(
                " AND (owner_id = ${n} OR sharing = 'workspace' OR (sharing = 'members' AND EXISTS \
                 (SELECT 1 FROM account_shares s WHERE s.account_id = accounts.id AND s.user_id = ${n})))",
                n = params.len()
            ));
        }
        match &q.connect {
            None => filter.push_str(" AND project_id IS NULL"),
            Some(c) => {
                params.push(c.project_id.clone());
                filter.push_str(&format!(" AND project_id = ${}", params.len()));
                params.push(c.environment.as_str().to_owned());
                filter.push_str(&format!(" AND environment = ${}", params.len()));
                if let Some(user) = &c.external_user_id {
                    params.push(user.clone());
                    filter.push_str(&format!(" AND external_user_id = ${}", params.len()));
                }
                if let Some(client) = &c.oauth_client {
                    params.push(client.clone());
                    filter.push_str(&format!(" AND oauth_client = ${}", params.len()));
                }
            }
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
            let n = params.len();
            if q.connect.is_some() {
                // Connect listings are one project's (or one end user's): a scan is fine.
                filter.push_str(&format!(
                    " AND (LOWER(name) LIKE ${n} ESCAPE '\\' OR LOWER(app_slug) LIKE ${n} ESCAPE '\\' \
                     OR owner_id IN (SELECT id FROM users WHERE LOWER(email) LIKE ${n} ESCAPE '\\'))"
                ));
            } else {
                // Workspace listings can hold millions: each branch of the match is an indexed
                // lookup (see migration 16), unioned, instead of one scan with an OR. The apps
                // and owners that match are looked up first (a few rows), so a branch that
                // matches nothing is left out and the planner never guesses at its size.
                let apps: Vec<(String,)> = sqlx::query_as(
                    "SELECT app_slug FROM account_tallies WHERE workspace_id = $1 \
                     AND LOWER(app_slug) LIKE $2 ESCAPE '\\' GROUP BY app_slug",
                )
                .bind(&q.workspace_id)
                .bind(&params[n - 1])
                .fetch_all(&self.pool)
                .await?;
                let owners: Vec<(String,)> = sqlx::query_as(
                    "SELECT u.id FROM users u JOIN members m ON m.user_id = u.id \
                     WHERE m.workspace_id = $1 AND LOWER(u.email) LIKE $2 ESCAPE '\\'",
                )
                .bind(&q.workspace_id)
                .bind(&params[n - 1])
                .fetch_all(&self.pool)
                .await?;
                // PostgreSQL serves this from its trigram index; SQLite scans the names.
                let name_match = format!("LOWER(name) LIKE ${n} ESCAPE '\\'");
                let mut union =
                    format!("SELECT id FROM accounts WHERE workspace_id = $1 AND {name_match}");
                for (column, values) in [("app_slug", apps), ("owner_id", owners)] {
                    if values.is_empty() {
                        continue;
                    }
                    let mut list = Vec::new();
                    for (value,) in values {
                        params.push(value);
                        list.push(format!("${}", params.len()));
                    }
                    union.push_str(&format!(
                        " UNION SELECT id FROM accounts WHERE workspace_id = $1 AND {column} IN ({})",
                        list.join(", ")
                    ));
                }
                filter.push_str(&match self.backend {
                    // `= ANY(ARRAY(…))`: an init plan the planner sees as small, so the matches
                    // are fetched by id instead of hashed against a scan of the workspace.
                    Backend::Postgres => format!(" AND id = ANY(ARRAY({union}))"),
                    // A CROSS JOIN is never reordered by SQLite: the matches drive, each row
                    // is fetched by id, instead of walking the workspace's index and testing
                    // every row against the set (which SQLite picks without statistics).
                    Backend::Sqlite => {
                        from = format!(
                            "(SELECT id AS match_id FROM ({union})) AS matches \
                             CROSS JOIN accounts ON accounts.id = matches.match_id"
                        );
                        String::new()
                    }
                });
            }
        }
        let total_count = match (&q.connect, q.search.as_deref().filter(|s| !s.is_empty())) {
            // Workspace accounts without a search: the trigger-kept tallies (exact).
            (None, None) => self.tallied_count(q).await?,
            _ => {
                let count_sql = format!("SELECT COUNT(*) AS n FROM {from} WHERE {filter}");
                let mut count = sqlx::query(&count_sql);
                for p in &params {
                    count = count.bind(p.as_str());
                }
                count.fetch_one(&self.pool).await?.try_get("n")?
            }
        };

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
            "SELECT {ACCOUNT_COLUMNS} FROM {from} WHERE {page_filter} ORDER BY created_at DESC, id DESC LIMIT {}",
            limit + 1
        );
        let mut query = sqlx::query_as::<_, AccountRow>(&sql);
        for p in &params {
            query = query.bind(p.as_str());
        }
        if let Some((created_at, id)) = &after {
            query = query.bind(*created_at).bind(id.as_str());
        }
        let items: Vec<Account> = query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let mut page = cursor::page(items, limit, total_count, |a| (a.created_at, &a.id));
        self.load_shares(&mut page.items).await?;
        Ok(page)
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
        after_id: &str,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE key_id <> $1 AND id > $2 ORDER BY id LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(key_id)
        .bind(after_id)
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

impl SqlStore {
    /// Inserts an account inside a transaction.
    pub(crate) async fn insert_account_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        a: &Account,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
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
        .bind(&a.oauth_client)
        .bind(a.last_refreshed_at)
        .bind(a.next_refresh_at)
        .bind(a.refresh_failures)
        .bind(a.connect.as_ref().map(|c| c.project_id.as_str()))
        .bind(a.connect.as_ref().map(|c| c.environment.as_str()))
        .bind(a.connect.as_ref().map(|c| c.external_user_id.as_str()))
        .bind(a.connect.as_ref().map(|c| c.external_id.as_str()))
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "account"))?;
        Ok(())
    }

    /// How many workspace accounts a listing without a search holds, from `account_tallies`
    /// (kept by triggers) rather than a `COUNT(*)` over every row: a few rows summed, plus the
    /// viewer's own shares for a member.
    async fn tallied_count(&self, q: &AccountQuery) -> Result<i64, StoreError> {
        let mut sql = String::from(
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM account_tallies WHERE workspace_id = $1",
        );
        let mut params: Vec<&str> = vec![&q.workspace_id];
        if let Some(app) = &q.app_slug {
            params.push(app);
            sql.push_str(&format!(" AND app_slug = ${}", params.len()));
        }
        if let Some(user) = &q.visible_to {
            params.push(user);
            sql.push_str(&format!(
                " AND (owner_id = ${n} OR sharing = 'workspace')",
                n = params.len()
            ));
        }
        let mut query = sqlx::query_as::<_, (i64,)>(&sql);
        for p in &params {
            query = query.bind(*p);
        }
        let (mut total,) = query.fetch_one(&self.pool).await?;
        if let Some(user) = &q.visible_to {
            // Accounts shared with this member by name (someone else's, mode `members`).
            let mut sql = String::from(
                "SELECT COUNT(*) FROM account_shares s JOIN accounts a ON a.id = s.account_id \
                 WHERE s.user_id = $1 AND s.workspace_id = $2 AND a.sharing = 'members' \
                 AND a.project_id IS NULL AND (a.owner_id IS NULL OR a.owner_id <> $1)",
            );
            if q.app_slug.is_some() {
                sql.push_str(" AND a.app_slug = $3");
            }
            let mut query = sqlx::query_as::<_, (i64,)>(&sql)
                .bind(user)
                .bind(&q.workspace_id);
            if let Some(app) = &q.app_slug {
                query = query.bind(app);
            }
            total += query.fetch_one(&self.pool).await?.0;
        }
        Ok(total)
    }

    /// Fills `shared_with` of the accounts shared with chosen members, in one query.
    async fn load_shares(&self, accounts: &mut [Account]) -> Result<(), StoreError> {
        let ids: Vec<&str> = accounts
            .iter()
            .filter(|a| a.sharing == Sharing::Members)
            .map(|a| a.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT account_id, user_id FROM account_shares WHERE account_id IN ({}) ORDER BY created_at, user_id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, String)>(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        for (account_id, user_id) in query.fetch_all(&self.pool).await? {
            if let Some(account) = accounts.iter_mut().find(|a| a.id == account_id) {
                account.shared_with.push(user_id);
            }
        }
        Ok(())
    }
}
