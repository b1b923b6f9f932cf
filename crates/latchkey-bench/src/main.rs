//! `latchkey-bench`: benchmarks run by `scripts/bench.sh` that need an orchestrator rather than
//! wrk. Each prints a table of ratios against a baseline measured in the same run, with
//! PASS/FAIL lines for the targets, and writes the numbers as JSON.

mod instances;
mod listing;
mod pages;
mod peer;
mod refresh_storm;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "latchkey-bench", about = "Latchkey benchmarks beyond wrk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N OAuth accounts due at once, refreshed by the scheduler of one or more instances,
    /// against the peer's own token endpoint throughput.
    RefreshStorm(refresh_storm::Args),
    /// The web UI's pages with a big workspace (10,000 accounts), against `/healthz`.
    Pages(pages::Args),
    /// Account listing and search with a million accounts, against `/healthz`.
    Listing(listing::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::RefreshStorm(args) => refresh_storm::run(args).await,
        Command::Pages(args) => pages::run(args).await,
        Command::Listing(args) => listing::run(args).await,
    }
}

/// What a benchmark runs against: the PostgreSQL server for its databases, the binary.
#[derive(clap::Args)]
pub struct Target {
    /// PostgreSQL server for throw-away databases.
    #[arg(
        long,
        env = "BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pg_url: String,
    /// The `latchkey` binary (default: the workspace's release build).
    #[arg(long, env = "LATCHKEY_BIN")]
    latchkey_bin: Option<PathBuf>,
}

impl Target {
    /// The binary, which must exist.
    fn bin(&self) -> anyhow::Result<PathBuf> {
        let bin = self
            .latchkey_bin
            .clone()
            .unwrap_or_else(default_latchkey_bin);
        anyhow::ensure!(
            bin.exists(),
            "{} not found: build it with cargo build --release -p latchkey-cli",
            bin.display()
        );
        Ok(bin)
    }
}

/// The release binary next to this crate's target directory, unless given.
fn default_latchkey_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")),
        PathBuf::from,
    );
    target.join("release").join("latchkey")
}

/// Sends `requests` requests one after another (a tenth more first, discarded as warm-up)
/// and returns their latencies in milliseconds, sorted. Any non-2xx answer is an error: the
/// numbers of a broken scenario mean nothing.
async fn sequential_latencies(
    requests: usize,
    what: &str,
    mut request: impl FnMut() -> reqwest::RequestBuilder,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(requests);
    for i in 0..requests + requests / 10 {
        let started = std::time::Instant::now();
        let response = request().send().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(status.is_success(), "{what} answered {status}");
        if i >= requests / 10 {
            out.push(elapsed);
        }
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// The `q` quantile of sorted values (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
