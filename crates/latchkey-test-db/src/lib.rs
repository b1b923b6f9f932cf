#![doc = include_str!("../README.md")]

pub mod mock_peer;
pub mod oauth1_peer;
pub mod oidc_peer;
pub mod peer_process;
pub mod token_relay;

use latchkey_store::DatabaseUrl;
use rand::{distributions::Alphanumeric, Rng};
use sqlx::{Connection, Executor, PgConnection};

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "LATCHKEY_TEST_POSTGRES_URL";

/// A database that exists for one test.
pub struct TestDb {
    /// URL to hand to the code under test.
    pub url: DatabaseUrl,
    /// Human-readable backend name for assertion messages.
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A temporary SQLite file.
    ///
    /// # Panics
    /// If no temporary directory can be created.
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = DatabaseUrl::sqlite_file(&dir.path().join("test.db"));
        Self {
            url,
            label: "sqlite",
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A new PostgreSQL database, if [`POSTGRES_ENV`] is set.
    ///
    /// # Panics
    /// If the variable is set but the server cannot be reached: a configured backend that
    /// silently does not run would hide failures.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|v| !v.is_empty())?;
        let suffix: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(12)
            .map(|c| char::from(c).to_ascii_lowercase())
            .collect();
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!("latchkey_t_{millis}_{suffix}");
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
        drop_stale(&mut conn, millis).await;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let mut url = url::Url::parse(&admin_url).expect("valid PostgreSQL URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            url: DatabaseUrl::parse(url.as_str()).expect("postgres URL"),
            label: "postgres",
            _dir: None,
            postgres: Some((admin_url, name)),
        })
    }

    /// SQLite, plus PostgreSQL when configured: run a test against each.
    pub async fn all() -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        dbs.extend(Self::postgres().await);
        dbs
    }

    /// Runs raw SQL against the database, behind the code under test's back (tampering,
    /// breaking things on purpose).
    ///
    /// # Panics
    /// If the statement fails.
    pub async fn execute(&self, sql: &str) {
        execute_sql(self.url.expose(), sql).await;
    }

    /// Drops the PostgreSQL database (the SQLite file goes with its temporary directory).
    pub async fn cleanup(self) {
        if let Some((admin_url, name)) = &self.postgres {
            if let Ok(mut conn) = PgConnection::connect(admin_url).await {
                let _ = conn
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// Runs raw SQL against the database at `url` (`sqlite://…` or `postgres://…`).
///
/// # Panics
/// If the connection or the statement fails.
pub async fn execute_sql(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("connect to the test database");
    conn.execute(sql).await.expect("statement runs");
}

/// Drops test databases left by failed runs more than an hour ago.
async fn drop_stale(conn: &mut PgConnection, now_secs: u64) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'latchkey_t_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let created = name
            .strip_prefix("latchkey_t_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| c + 3600 < now_secs) {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

/// Runs futures concurrently on the current task and collects their outputs in order (what
/// `futures::future::join_all` does, without the dependency).
pub async fn join_all<T, F: std::future::Future<Output = T>>(futures: Vec<F>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (i, future) in futures.iter_mut().enumerate() {
            if results[i].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(
                results
                    .iter_mut()
                    .map(|r| r.take().expect("ready"))
                    .collect(),
            )
        }
    })
    .await
}
