//! `latchkey serve`

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use latchkey_server::{
    app::{connect_store, open_app, KeyPolicy},
    build_router, clock,
    config::Config,
    App,
};
use latchkey_store::Store;
use tokio::net::TcpListener;

use crate::Global;

pub(crate) async fn run(global: &Global, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let config = super::config(global, listen)?;
    for var in Config::unknown_env_vars() {
        tracing::warn!(variable = %var, "unknown LATCHKEY_ variable ignored (typo?)");
    }
    let store = Arc::new(connect_store(&config).await?);
    let dyn_store: Arc<dyn Store> = store.clone();
    let listen = config.listen;
    let app = open_app(config, dyn_store, KeyPolicy::GenerateOnFirstStart).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("could not listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(
        address = %address,
        backend = ?store.backend(),
        apps = app.catalog.global_apps().len(),
        "latchkey listening on http://{address}"
    );
    if let Some(link) = latchkey_server::web::setup::setup_link(&app).await? {
        // Printed, not only logged: this is how a new install is set up from a browser.
        println!("No workspace yet. Open this one-time link to create the first one:\n  {link}\n(or run `latchkey init --email you@example.com --password-file pw.txt`)");
        tracing::warn!("no workspace yet: open the one-time setup link printed above");
    }
    let maintenance = tokio::spawn(maintenance(app.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(refresh_scheduler(app.clone(), stopped));
    let webhook_worker =
        latchkey_server::service::webhooks::spawn_worker(app.clone(), Duration::from_secs(1));
    axum::serve(listener, build_router(app.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    maintenance.abort();
    // Deliveries are rows first: one cut short is retried by whichever instance runs next.
    webhook_worker.abort();
    // Start no new refreshes, and let the pass in flight finish: cutting a refresh between the
    // provider's answer and the commit would lose a rotated token (T-37). Token requests time
    // out well within this grace.
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(25), scheduler)
        .await
        .is_err()
    {
        tracing::error!("refreshes still running after 25 s; exiting anyway");
    }
    store.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Periodic chores: drop expired access tokens; pick up data keys added by `keys rotate`.
async fn maintenance(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = app.vault.reload().await {
            tracing::warn!(error = %e, "could not reload the keyring");
        }
        if let Err(e) = app.store.purge_sessions(clock::now_ms()).await {
            tracing::warn!(error = %e, "could not remove expired sessions");
        }
        if let Err(e) = app.store.purge_connect_tokens(clock::now_ms()).await {
            tracing::warn!(error = %e, "could not remove expired connect tokens");
        }
        if let Err(e) = app.store.purge_flows(clock::now_ms()).await {
            tracing::warn!(error = %e, "could not remove expired connect flows");
        }
        match app.store.purge_expired_tokens(clock::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(count = n, "expired access tokens removed"),
            Err(e) => tracing::warn!(error = %e, "could not remove expired access tokens"),
        }
    }
}

/// Refreshes tokens ahead of expiry: every few seconds, whatever is due (jitter is applied when
/// refreshes are planned, so due times are already spread).
async fn refresh_scheduler(app: Arc<App>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        // A full batch means more is due (a storm of accounts expiring together): keep going
        // until the backlog is drained instead of waiting for the next tick.
        // Bounded, so rows that keep failing cannot spin the loop.
        for _ in 0..50 {
            match latchkey_server::service::oauth::refresh::run_due(app.clone(), BATCH).await {
                Ok(n) if n == BATCH as usize && !*stopped.borrow() => {}
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "refresh scheduler pass failed");
                    break;
                }
            }
        }
    }
}

/// Accounts taken per scheduler pass (a pass keeps `refresh_concurrency` refreshes running
/// until nothing is due or this many were taken).
const BATCH: u32 = 1000;

/// Resolves on SIGTERM or Ctrl-C; in-flight requests then finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
