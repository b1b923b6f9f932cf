//! Configuration: defaults, then a TOML file, then `LATCHKEY_*` environment variables, then
//! command-line flags (each source overrides the one before).
//!
//! | setting | env | default |
//! |---|---|---|
//! | `listen` | `LATCHKEY_LISTEN` | `127.0.0.1:8080` |
//! | `data_dir` | `LATCHKEY_DATA_DIR` | `./latchkey-data` |
//! | `database_url` | `LATCHKEY_DATABASE_URL` | `sqlite://<data dir>/latchkey.db` |
//! | `master_key` | `LATCHKEY_MASTER_KEY` | none (base64 of 32 bytes) |
//! | `master_key_file` | `LATCHKEY_MASTER_KEY_FILE` | none; else `<data dir>/master.key` |
//! | `log_format` | `LATCHKEY_LOG_FORMAT` | `text` (or `json`) |
//! | `public_url` | `LATCHKEY_PUBLIC_URL` | `http://<listen>` |
//! | `max_body_bytes` | `LATCHKEY_MAX_BODY_BYTES` | `1048576` |
//! | `access_token_ttl_seconds` | `LATCHKEY_ACCESS_TOKEN_TTL_SECONDS` | `3600` |
//! | `db_max_connections` | `LATCHKEY_DB_MAX_CONNECTIONS` | `16` |
//! | `outbound_timeout_seconds` | `LATCHKEY_OUTBOUND_TIMEOUT_SECONDS` | `30` |
//! | `refresh_concurrency` | `LATCHKEY_REFRESH_CONCURRENCY` | `8` (scheduled refreshes at once; below the pool size) |
//! | `egress_allow` | `LATCHKEY_EGRESS_ALLOW` | empty: public destinations only (CIDR list) |
//! | `egress_proxy` | `LATCHKEY_EGRESS_PROXY` | none (HTTP CONNECT proxy for all outbound traffic) |
//! | `egress_bind` | `LATCHKEY_EGRESS_BIND` | none (local source address) |
//! | `cache_ttl_ms` | `LATCHKEY_CACHE_TTL_MS` | `2000` (0 disables the read caches) |
//! | `webhook_retry_unit_us` | `LATCHKEY_WEBHOOK_RETRY_UNIT_US` | `1000000` (the webhook retry schedule's second; smaller only in tests) |
//! | `proxy_rate_limit` | `LATCHKEY_PROXY_RATE_LIMIT` | `1000` proxied requests per 5 minutes per project or workspace (0: unlimited) |
//!
//! The file is `--config`, or `LATCHKEY_CONFIG`, or `<data dir>/latchkey.toml` if it exists.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use latchkey_store::DatabaseUrl;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The whole configuration. `Debug` hides the master key and any database password.
#[derive(Deserialize)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the SQLite database, generated key and operator apps live.
    pub data_dir: PathBuf,
    /// Explicit database URL (`sqlite://…` or `postgres://…`).
    pub database_url: Option<String>,
    /// Master key, base64.
    pub master_key: Option<SecretString>,
    /// File holding the base64 master key.
    pub master_key_file: Option<PathBuf>,
    /// Log format.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Public base URL of this server (used in links; never taken from request headers).
    pub public_url: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Lifetime of access tokens issued at `/v1/oauth/token`.
    pub access_token_ttl_seconds: u64,
    /// Database pool size.
    pub db_max_connections: u32,
    /// Total timeout of outbound requests (credential checks).
    pub outbound_timeout_seconds: u64,
    /// Scheduled refreshes running at once per instance (kept below the pool size, T-22).
    pub refresh_concurrency: u32,
    /// Lifetime of read-cache entries (see `cache.rs`); 0 disables the caches.
    pub cache_ttl_ms: u64,
    /// One "second" of the webhook retry schedule, in microseconds (tests shrink it).
    #[serde(default = "default_webhook_retry_unit_us")]
    pub webhook_retry_unit_us: u64,
    /// Proxied requests allowed per 5-minute window per project (or workspace); 0: no limit.
    #[serde(default = "default_proxy_rate_limit")]
    pub proxy_rate_limit: u32,
    /// CIDR ranges outbound requests may reach besides public addresses (comma-separated).
    #[serde(default)]
    pub egress_allow: String,
    /// HTTP CONNECT proxy for all outbound traffic.
    #[serde(default)]
    pub egress_proxy: Option<String>,
    /// Local address outbound connections are made from.
    #[serde(default)]
    pub egress_bind: Option<std::net::IpAddr>,
    /// The operator's default OAuth client per app slug (`[oauth_clients.<slug>]` in the file;
    /// `LATCHKEY_OAUTH_<SLUG>_CLIENT_ID` / `_CLIENT_SECRET` in the environment, read by
    /// [`crate::service::oauth::clients`]).
    #[serde(default)]
    pub oauth_clients: std::collections::BTreeMap<String, OAuthClientConfig>,
    /// Clients from `LATCHKEY_OAUTH_<SLUG>_CLIENT_ID/_SECRET`, keyed by the upper-cased slug.
    #[serde(skip)]
    pub oauth_clients_from_env: std::collections::BTreeMap<String, OAuthClientConfig>,
}

fn default_proxy_rate_limit() -> u32 {
    1000
}

fn default_webhook_retry_unit_us() -> u64 {
    1_000_000
}

/// `my-app.v2` → `MY_APP_V2`: how a slug appears in `LATCHKEY_OAUTH_<SLUG>_CLIENT_ID`.
#[must_use]
pub fn env_slug(slug: &str) -> String {
    slug.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Collects `LATCHKEY_OAUTH_<SLUG>_CLIENT_ID` / `_CLIENT_SECRET` pairs (both must be set).
fn oauth_clients_from_env(
    vars: impl Iterator<Item = (String, String)>,
) -> std::collections::BTreeMap<String, OAuthClientConfig> {
    let mut ids = std::collections::BTreeMap::new();
    let mut secrets = std::collections::BTreeMap::new();
    let mut workspaces = std::collections::BTreeMap::new();
    for (key, value) in vars {
        let Some(rest) = key.strip_prefix("LATCHKEY_OAUTH_") else {
            continue;
        };
        if let Some(slug) = rest.strip_suffix("_CLIENT_ID") {
            ids.insert(slug.to_owned(), value);
        } else if let Some(slug) = rest.strip_suffix("_CLIENT_SECRET") {
            secrets.insert(slug.to_owned(), SecretString::from(value));
        } else if let Some(slug) = rest.strip_suffix("_WORKSPACES") {
            let list = value
                .split(',')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>();
            workspaces.insert(slug.to_owned(), list);
        }
    }
    ids.into_iter()
        .filter_map(|(slug, client_id)| {
            let client_secret = secrets.remove(&slug)?;
            let workspaces = workspaces.remove(&slug).unwrap_or_default();
            Some((
                slug,
                OAuthClientConfig {
                    client_id,
                    client_secret,
                    workspaces,
                },
            ))
        })
        .collect()
}

/// One configured OAuth client.
#[derive(Deserialize)]
pub struct OAuthClientConfig {
    /// The client id registered with the provider.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
    /// Workspaces whose custom app of this slug may use the client (built-in and operator
    /// apps always may). `LATCHKEY_OAUTH_<SLUG>_WORKSPACES`, comma-separated, in the environment.
    #[serde(default)]
    pub workspaces: Vec<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = self
            .database()
            .map(|url| url.redacted())
            .unwrap_or_else(|_| "(invalid)".into());
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &database)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "[redacted]"),
            )
            .field("master_key_file", &self.master_key_file)
            .field("log_format", &self.log_format)
            .field("public_url", &self.public_url)
            .field("egress_allow", &self.egress_allow)
            .finish_non_exhaustive()
    }
}

/// Values set on the command line, layered over everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--listen`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Serialize)]
struct Defaults {
    listen: SocketAddr,
    data_dir: PathBuf,
    max_body_bytes: usize,
    access_token_ttl_seconds: u64,
    db_max_connections: u32,
    outbound_timeout_seconds: u64,
    refresh_concurrency: u32,
    cache_ttl_ms: u64,
}

/// Environment keys that are configuration; anything else under `LATCHKEY_` is reported.
const KNOWN_ENV: &[&str] = &[
    "LISTEN",
    "DATA_DIR",
    "DATABASE_URL",
    "MASTER_KEY",
    "MASTER_KEY_FILE",
    "LOG_FORMAT",
    "PUBLIC_URL",
    "MAX_BODY_BYTES",
    "ACCESS_TOKEN_TTL_SECONDS",
    "DB_MAX_CONNECTIONS",
    "OUTBOUND_TIMEOUT_SECONDS",
    "REFRESH_CONCURRENCY",
    "EGRESS_ALLOW",
    "EGRESS_PROXY",
    "EGRESS_BIND",
    "CACHE_TTL_MS",
    "PROXY_RATE_LIMIT",
    "WEBHOOK_RETRY_UNIT_US",
    "CONFIG",
    "LOG",
    // `latchkey exec`, a client of the server.
    "URL",
    "API_KEY",
];

impl Config {
    /// Loads the configuration from every source.
    ///
    /// # Errors
    /// A message naming the bad setting.
    pub fn load(config_file: Option<PathBuf>, overrides: &Overrides) -> anyhow::Result<Self> {
        let defaults = Defaults {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./latchkey-data"),
            max_body_bytes: 1024 * 1024,
            access_token_ttl_seconds: 3600,
            db_max_connections: 16,
            outbound_timeout_seconds: 30,
            refresh_concurrency: 8,
            cache_ttl_ms: 2000,
        };
        // The data dir decides where the default config file is, so resolve it first.
        let env = Env::prefixed("LATCHKEY_").ignore(&["CONFIG", "LOG"]);
        let early: Figment = Figment::from(Serialized::defaults(&defaults))
            .merge(env.clone())
            .merge(Serialized::defaults(overrides));
        let data_dir: PathBuf = early.extract_inner("data_dir")?;
        let file = config_file
            .or_else(|| std::env::var_os("LATCHKEY_CONFIG").map(PathBuf::from))
            .or_else(|| Some(data_dir.join("latchkey.toml")).filter(|p| p.exists()));
        let mut figment = Figment::from(Serialized::defaults(&defaults));
        if let Some(file) = &file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        let config: Config = figment
            .merge(env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let mut config = config;
        config.oauth_clients_from_env = oauth_clients_from_env(std::env::vars());
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_body_bytes >= 1024,
            "max_body_bytes must be at least 1024"
        );
        anyhow::ensure!(
            (60..=86_400).contains(&self.access_token_ttl_seconds),
            "access_token_ttl_seconds must be between 60 and 86400"
        );
        anyhow::ensure!(
            (1..=30).contains(&self.outbound_timeout_seconds),
            "outbound_timeout_seconds must be between 1 and 30"
        );
        anyhow::ensure!(
            self.db_max_connections >= 1,
            "db_max_connections must be at least 1"
        );
        anyhow::ensure!(
            self.refresh_concurrency >= 1
                && (self.db_max_connections == 1
                    || self.refresh_concurrency < self.db_max_connections),
            "refresh_concurrency must be at least 1 and below db_max_connections"
        );
        if let Some(url) = &self.database_url {
            DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url)
                .map_err(|_| anyhow::anyhow!("public_url must be an absolute URL"))?;
            anyhow::ensure!(
                matches!(parsed.scheme(), "http" | "https"),
                "public_url must be http(s)"
            );
        }
        Ok(())
    }

    /// `LATCHKEY_*` variables that are not settings (likely typos), for a startup warning.
    #[must_use]
    pub fn unknown_env_vars() -> Vec<String> {
        std::env::vars()
            .filter_map(|(k, _)| k.strip_prefix("LATCHKEY_").map(str::to_owned))
            .filter(|k| {
                !KNOWN_ENV.contains(&k.as_str())
                    && !k.starts_with("TEST_")
                    && !k.starts_with("OAUTH_")
            })
            .map(|k| format!("LATCHKEY_{k}"))
            .collect()
    }

    /// The database to use: `database_url`, or the SQLite file in the data dir.
    ///
    /// # Errors
    /// If the URL's scheme is not supported.
    pub fn database(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url).map_err(anyhow::Error::msg),
            None => Ok(DatabaseUrl::sqlite_file(&self.data_dir.join("latchkey.db"))),
        }
    }

    /// The operator's default OAuth client for an app slug: the config file first, then the
    /// environment (which also covers custom apps added later).
    #[must_use]
    pub fn default_oauth_client(&self, slug: &str) -> Option<&OAuthClientConfig> {
        self.oauth_clients
            .get(slug)
            .or_else(|| self.oauth_clients_from_env.get(&env_slug(slug)))
    }

    /// The egress settings of the outbound clients.
    #[must_use]
    pub fn egress(&self) -> crate::outbound::EgressSettings {
        crate::outbound::EgressSettings {
            allow: self.egress_allow.clone(),
            proxy: self.egress_proxy.clone(),
            bind: self.egress_bind,
            timeout: std::time::Duration::from_secs(self.outbound_timeout_seconds),
        }
    }

    /// How long a refresh lease lasts: well past the token request's timeout, so a live holder
    /// never loses it mid-request, yet short enough that a crashed holder's accounts are
    /// picked up again soon (45 s with the default 30 s timeout).
    #[must_use]
    pub fn refresh_lease_ms(&self) -> i64 {
        let timeout = i64::try_from(self.outbound_timeout_seconds).unwrap_or(30) * 1000;
        (timeout * 3 / 2).max(timeout + 5_000)
    }

    /// The public base URL without a trailing slash.
    #[must_use]
    pub fn public_base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config {
            listen: "127.0.0.1:1".parse().unwrap(),
            data_dir: PathBuf::from("/tmp/x"),
            database_url: Some("postgres://app:hunter2@db.internal/latchkey".into()),
            master_key: Some(SecretString::from("c2VjcmV0LW1hc3Rlci1rZXk=".to_owned())),
            master_key_file: None,
            log_format: LogFormat::Json,
            public_url: None,
            max_body_bytes: 1024,
            access_token_ttl_seconds: 60,
            db_max_connections: 1,
            outbound_timeout_seconds: 1,
            refresh_concurrency: 1,
            cache_ttl_ms: 0,
            proxy_rate_limit: 0,
            webhook_retry_unit_us: 1_000_000,
            egress_allow: String::new(),
            egress_proxy: None,
            egress_bind: None,
            oauth_clients: Default::default(),
            oauth_clients_from_env: Default::default(),
        };
        let env = oauth_clients_from_env(
            [
                (
                    "LATCHKEY_OAUTH_GOOGLE_SHEETS_CLIENT_ID".to_owned(),
                    "gid".to_owned(),
                ),
                (
                    "LATCHKEY_OAUTH_GOOGLE_SHEETS_CLIENT_SECRET".to_owned(),
                    "gsecret".to_owned(),
                ),
                (
                    "LATCHKEY_OAUTH_SLACK_CLIENT_ID".to_owned(),
                    "no secret: ignored".to_owned(),
                ),
            ]
            .into_iter(),
        );
        let config = Config {
            oauth_clients_from_env: env,
            ..config
        };
        assert_eq!(
            config
                .default_oauth_client("google_sheets")
                .unwrap()
                .client_id,
            "gid"
        );
        assert!(config.default_oauth_client("slack").is_none());
        assert_eq!(env_slug("my-app.v2"), "MY_APP_V2");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("c2VjcmV0"),
            "{debug}"
        );
        assert!(debug.contains("db.internal"));
    }
}
