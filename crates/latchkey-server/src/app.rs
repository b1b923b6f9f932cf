//! `App`: everything a request handler needs, built once at start.

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use axum::extract::FromRef;
use latchkey_crypto::MasterKey;
use latchkey_store::{SqlStore, Store};

use crate::{
    cache::Caches, catalog::Catalog, config::Config, metrics::Metrics, outbound::Outbound,
    vault::Vault, vault::VaultError,
};

/// The application: configuration, storage, vault, catalog and the outbound HTTP client.
pub struct App {
    /// Configuration.
    pub config: Config,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Keyring.
    pub vault: Vault,
    /// Built-in and operator apps.
    pub catalog: Catalog,
    /// The outbound clients and egress policy.
    pub outbound: Outbound,
    /// Read caches of the hot path.
    pub caches: Caches,
    /// The audit log's writer.
    pub audit: crate::audit::Auditor,
    pub(crate) metrics: Metrics,
    /// The proxy's per-project request counters.
    pub(crate) proxy_limits: crate::proxy::RateLimiter,
    me: std::sync::Weak<App>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Shared handle to [`App`], the axum state.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl FromRef<AppState> for Arc<App> {
    fn from_ref(state: &AppState) -> Self {
        state.0.clone()
    }
}

/// Whether a missing master key may be generated (first start of `serve` or `init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Generate `<data dir>/master.key` if the database has never been initialised.
    GenerateOnFirstStart,
    /// Require an existing key.
    RequireExisting,
}

/// Connects to the configured database (creating the data dir for SQLite).
///
/// # Errors
/// If the data dir cannot be created or the database is unreachable.
pub async fn connect_store(config: &Config) -> anyhow::Result<SqlStore> {
    create_private_dir(&config.data_dir)?;
    let url = config.database()?;
    SqlStore::connect(&url, config.db_max_connections)
        .await
        .with_context(|| format!("could not open the database {}", url.redacted()))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("could not create the data directory {}", dir.display()))
}

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Configuration (environment, key file, or the data directory's existing `master.key`).
    Configured,
    /// Generated just now at this path (first start).
    Generated(std::path::PathBuf),
}

/// Finds the master key: `LATCHKEY_MASTER_KEY`, else `LATCHKEY_MASTER_KEY_FILE`, else
/// `<data dir>/master.key`; on the very first start (no key check stored yet) and when allowed,
/// generates that file with mode 0600 and says so loudly.
///
/// # Errors
/// When no key is found and none may be generated, or a key is malformed.
pub async fn resolve_master_key(
    config: &Config,
    store: &dyn Store,
    policy: KeyPolicy,
) -> anyhow::Result<(MasterKey, KeySource)> {
    if config.master_key.is_some() && config.master_key_file.is_some() {
        anyhow::bail!("set only one of LATCHKEY_MASTER_KEY and LATCHKEY_MASTER_KEY_FILE");
    }
    if let Some(key) = &config.master_key {
        let key = MasterKey::from_base64(key).context("LATCHKEY_MASTER_KEY is invalid")?;
        return Ok((key, KeySource::Configured));
    }
    if let Some(file) = &config.master_key_file {
        let key = MasterKey::from_file(file).context("LATCHKEY_MASTER_KEY_FILE is invalid")?;
        return Ok((key, KeySource::Configured));
    }
    let default_file = config.data_dir.join("master.key");
    if default_file.exists() {
        let key = MasterKey::from_file(&default_file)
            .context("the data directory's master.key is invalid")?;
        return Ok((key, KeySource::Configured));
    }
    let initialised = Vault::is_initialised(store).await?;
    if initialised || policy == KeyPolicy::RequireExisting {
        anyhow::bail!(
            "no master key: set LATCHKEY_MASTER_KEY (base64 of 32 bytes) or LATCHKEY_MASTER_KEY_FILE{}",
            if initialised { " to the key this database was created with" } else { "" }
        );
    }
    let key = MasterKey::generate_file(&default_file)?;
    let banner = "*".repeat(78);
    // Once for people (always on the terminal), once for log collectors.
    eprintln!(
        "\n{banner}\n  NEW MASTER KEY GENERATED: {}\n  Every stored credential is encrypted with it. Back it up now and keep it\n  apart from the database: without it, nothing stored can ever be decrypted.\n  For production, set LATCHKEY_MASTER_KEY or LATCHKEY_MASTER_KEY_FILE instead.\n{banner}\n",
        default_file.display()
    );
    tracing::warn!(path = %default_file.display(), "new master key generated; back it up");
    Ok((key, KeySource::Generated(default_file)))
}

/// Finds the master key and builds the app. If the key was generated just now but another
/// instance initialised the database first (two first starts racing on PostgreSQL), the stray
/// key file is removed again so the next start does not trip over it.
///
/// # Errors
/// As [`resolve_master_key`] and [`App::build`].
pub async fn open_app(
    config: Config,
    store: Arc<dyn Store>,
    policy: KeyPolicy,
) -> anyhow::Result<Arc<App>> {
    let (master, source) = resolve_master_key(&config, &*store, policy).await?;
    match App::build(config, store, master).await {
        Ok(app) => Ok(app),
        Err(e) => {
            // Only when the database belongs to another key: after any other failure the
            // database may already be sealed with the new key, which must then be kept.
            let lost_race = matches!(
                e.downcast_ref::<VaultError>(),
                Some(VaultError::WrongMasterKey)
            );
            if let (KeySource::Generated(path), true) = (source, lost_race) {
                let _ = std::fs::remove_file(path);
            }
            Err(e)
        }
    }
}

impl App {
    /// Builds the app on an open store with a master key: opens the vault (refusing a key that
    /// does not match the database) and loads the catalog.
    ///
    /// # Errors
    /// Wrong master key, invalid operator app files, database failure.
    pub async fn build(
        config: Config,
        store: Arc<dyn Store>,
        master: MasterKey,
    ) -> anyhow::Result<Arc<Self>> {
        let audit = crate::audit::Auditor::new(master.audit_chain_key(), store.clone());
        let vault = Vault::open(store.clone(), master).await?;
        let mut catalog = Catalog::load(Some(&config.data_dir.join("apps")))?;
        catalog.cache_workspace_apps(Duration::from_millis(config.cache_ttl_ms));
        let outbound = Outbound::new(&config.egress()).map_err(anyhow::Error::msg)?;
        let caches = Caches::new(Duration::from_millis(config.cache_ttl_ms));
        Ok(Arc::new_cyclic(|me| Self {
            config,
            store,
            vault,
            catalog,
            outbound,
            caches,
            audit,
            metrics: Metrics::new(),
            proxy_limits: crate::proxy::RateLimiter::default(),
            me: me.clone(),
        }))
    }

    /// A shared handle to this app, for work that must outlive the request that started it
    /// (a refresh must never be cut between the provider's answer and the commit).
    #[must_use]
    pub fn shared(&self) -> Option<Arc<App>> {
        self.me.upgrade()
    }
}
