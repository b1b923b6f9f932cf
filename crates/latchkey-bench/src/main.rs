//! `latchkey-bench`: benchmarks run by `scripts/bench.sh` that need an orchestrator rather than
//! wrk. Each prints a table of ratios against a baseline measured in the same run, with
//! PASS/FAIL lines for the targets, and writes the numbers as JSON.

mod instances;
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::RefreshStorm(args) => refresh_storm::run(args).await,
        Command::Pages(args) => pages::run(args).await,
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
