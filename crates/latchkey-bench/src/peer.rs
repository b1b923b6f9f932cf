//! The OAuth peer's benchmark hooks: minting grants without a browser, counters, and the raw
//! throughput of its token endpoint (the baseline of the refresh storm).

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use latchkey_test_db::oidc_peer::{OidcPeer, CLIENT_ID, CLIENT_SECRET};
use serde_json::Value;
use tokio::sync::Mutex;

/// Mints `n` refresh tokens, each in its own grant.
pub async fn mint(peer: &OidcPeer, n: usize) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::new();
    let mut tokens = Vec::with_capacity(n);
    while tokens.len() < n {
        let batch = (n - tokens.len()).min(2000);
        let body: Value = http
            .post(format!("{}/test/mint?n={batch}", peer.issuer))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let minted = body["refresh_tokens"]
            .as_array()
            .context("the peer minted nothing")?;
        tokens.extend(minted.iter().filter_map(|t| t.as_str().map(str::to_owned)));
    }
    Ok(tokens)
}

/// The peer's counters (`/test/stats`).
pub async fn stats(peer: &OidcPeer) -> anyhow::Result<Value> {
    Ok(reqwest::get(format!("{}/test/stats", peer.issuer))
        .await?
        .json()
        .await?)
}

/// Zeroes the counters.
pub async fn reset(peer: &OidcPeer) -> anyhow::Result<()> {
    reqwest::Client::new()
        .post(format!("{}/test/reset", peer.issuer))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Redeems every token once at `concurrency`, directly: how fast the peer itself answers
/// refresh grants. Returns the elapsed time; fails if any answer is not 200.
pub async fn raw_refreshes(
    peer: &OidcPeer,
    tokens: Vec<String>,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let queue = Arc::new(Mutex::new(VecDeque::from(tokens)));
    let http = reqwest::Client::new();
    let url = format!("{}/token", peer.issuer);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (queue, http, url) = (queue.clone(), http.clone(), url.clone());
        workers.spawn(async move {
            loop {
                let Some(token) = queue.lock().await.pop_front() else {
                    return Ok::<(), anyhow::Error>(());
                };
                let response = http
                    .post(&url)
                    .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                    .send()
                    .await?;
                let status = response.status();
                let body = response.bytes().await?;
                anyhow::ensure!(
                    status.is_success(),
                    "the peer refused a refresh: {status} {}",
                    String::from_utf8_lossy(&body)
                );
            }
        });
    }
    while let Some(result) = workers.join_next().await {
        result??;
    }
    Ok(started.elapsed())
}
