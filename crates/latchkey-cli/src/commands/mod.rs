//! One module per command group.

pub(crate) mod accounts;
pub(crate) mod apps;
pub(crate) mod audit;
pub(crate) mod exec;
pub(crate) mod keys;
pub(crate) mod migrate;
pub(crate) mod projects;
pub(crate) mod provision;
pub(crate) mod serve;

use std::sync::Arc;

use latchkey_server::{
    app::{connect_store, open_app, KeyPolicy},
    config::{Config, Overrides},
    telemetry, App,
};
use latchkey_store::{SqlStore, Store};

use crate::Global;

/// Loads the configuration with the global flags applied.
pub(crate) fn config(
    global: &Global,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<Config> {
    let overrides = Overrides {
        listen,
        data_dir: global.data_dir.clone(),
    };
    let config = Config::load(global.config.clone(), &overrides)?;
    telemetry::init(config.log_format);
    Ok(config)
}

/// Opens the database only (no key needed).
pub(crate) async fn store(global: &Global) -> anyhow::Result<(Config, SqlStore)> {
    let config = config(global, None)?;
    let store = connect_store(&config).await?;
    Ok((config, store))
}

/// Opens the database and the vault (commands that touch credentials).
pub(crate) async fn app(global: &Global, policy: KeyPolicy) -> anyhow::Result<Arc<App>> {
    let (config, store) = store(global).await?;
    let store: Arc<dyn Store> = Arc::new(store);
    open_app(config, store, policy).await
}
