//! The two backends: choosing one from the URL, and what differs between them.

use std::{str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    AnyPool, Executor,
};

use crate::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default; one instance).
    Sqlite,
    /// PostgreSQL (several instances side by side).
    Postgres,
}

/// A database URL whose `Debug` and `Display` hide the password.
#[derive(Clone)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses the URL and picks the backend from its scheme. Anything but `sqlite:` and
    /// `postgres:`/`postgresql:` is refused, so a typo never creates a stray SQLite file.
    ///
    /// # Errors
    /// A message naming the accepted schemes.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let backend = if raw.starts_with("sqlite:") {
            Backend::Sqlite
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err("the database URL must start with sqlite:// or postgres://".to_owned());
        };
        Ok(Self {
            raw: raw.to_owned(),
            backend,
        })
    }

    /// The SQLite database file `path`, created if missing.
    #[must_use]
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self {
            raw: format!("sqlite://{}?mode=rwc", path.display()),
            backend: Backend::Sqlite,
        }
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The full URL, password included: only for connecting.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with any password replaced by `***`, for logs.
    #[must_use]
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.raw) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            _ => self.raw.clone(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl Backend {
    /// Opens a pool with the backend's settings. SQLite: WAL (readers never block the writer),
    /// `synchronous=NORMAL` (durable at each checkpoint; WAL makes commits atomic), foreign keys
    /// on, and a busy timeout so concurrent writers wait instead of failing.
    pub(crate) async fn connect(
        self,
        url: &DatabaseUrl,
        max_connections: u32,
    ) -> Result<AnyPool, StoreError> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url.expose())
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection before handing it out: one extra round trip per
            // query, which on PostgreSQL cost as much as the queries themselves in the refresh
            // storm. A connection that died is found by the query that uses it instead (one
            // error, then the pool replaces it), and none lives longer than `max_lifetime`.
            .test_before_acquire(false)
            .max_lifetime(Duration::from_secs(30 * 60))
            .idle_timeout(Duration::from_secs(10 * 60));
        let pool = match self {
            Backend::Sqlite => pool.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => pool,
        };
        Ok(pool.connect_with(options).await?)
    }

    /// Brings the schema up to date.
    pub(crate) async fn migrate(self, pool: &AnyPool) -> Result<(), StoreError> {
        let migrator = match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(pool)
            .await
            .map_err(|e| StoreError::Database(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_backend_from_the_scheme_and_hides_passwords() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://x.db").unwrap().backend(),
            Backend::Sqlite
        );
        let pg = DatabaseUrl::parse("postgres://u:hunter2@h/db").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert!(!format!("{pg:?}").contains("hunter2"));
        assert!(DatabaseUrl::parse("sqlit://x.db").is_err());
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }
}
