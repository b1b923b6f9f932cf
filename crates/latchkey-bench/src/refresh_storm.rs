//! The refresh storm: `accounts` OAuth accounts whose tokens all expire together, imported as
//! legacy accounts and refreshed by the scheduler of one or more instances, against the real
//! authorization server (`oidc-provider`, rotating refresh tokens, revoking a grant whose
//! rotated-out token is presented again). Baseline: the same number of refresh grants sent
//! straight to the peer at the same concurrency, in the same run.
//!
//! Counted per scenario: duplicate refreshes (token requests beyond one per account, and
//! reuse-detected `invalid_grant`s), late refreshes (accounts refreshed after their token had
//! expired, or not at all), and unhealthy accounts.

use std::{
    io::Write as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use latchkey_test_db::oidc_peer::{OidcPeer, CLIENT_ID, CLIENT_SECRET};
use serde_json::{json, Value};

use crate::{instances::Installation, peer};

/// Settings of the storm.
#[derive(clap::Args)]
pub struct Args {
    /// Accounts expiring together.
    #[arg(long, default_value_t = 5000)]
    accounts: usize,
    /// Concurrent refreshes: the baseline's connections, and each instance's
    /// `refresh_concurrency`.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds from the import until every token expires.
    #[arg(long, default_value_t = 120)]
    expires_in: i64,
    /// Scenarios as `backend:instances` (several instances need PostgreSQL).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sqlite:1,postgres:1,postgres:3"
    )]
    scenarios: Vec<String>,
    #[command(flatten)]
    target: crate::Target,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results/refresh.json")]
    out: PathBuf,
    /// Target: Latchkey's refreshes/s over the peer's.
    #[arg(long, default_value_t = 0.8)]
    ratio_target: f64,
}

/// One measured scenario.
struct Outcome {
    label: String,
    seconds: f64,
    duplicates: i64,
    late: usize,
    unhealthy: usize,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 in UTC with milliseconds, as the API prints it (so strings compare in time order).
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs the storm and prints the table.
///
/// # Errors
/// When a scenario cannot be set up or the peer misbehaves.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let bin = args.target.bin()?;
    let peer = OidcPeer::start(
        "http://127.0.0.1:9/oauth/callback",
        &[("PEER_ACCESS_TOKEN_TTL", "3600")],
    );
    eprintln!(
        "refresh storm: {} accounts, concurrency {}, peer {}",
        args.accounts, args.concurrency, peer.issuer
    );

    // Warm the peer's JIT first: a cold node process answers its first thousand grants slower,
    // which would flatter every ratio.
    let warm_up = peer::mint(&peer, args.accounts.min(2000)).await?;
    peer::raw_refreshes(&peer, warm_up, args.concurrency).await?;
    let raw_before = direct(&peer, &args).await?;
    let mut outcomes = Vec::new();
    for scenario in &args.scenarios {
        let (backend, instances) = scenario
            .split_once(':')
            .and_then(|(b, n)| Some((b, n.parse::<usize>().ok()?)))
            .with_context(|| format!("scenario {scenario:?} is not backend:instances"))?;
        match storm(&args, &bin, &peer, backend, instances).await? {
            Some(outcome) => outcomes.push(outcome),
            None => eprintln!("  {scenario}: skipped (PostgreSQL unavailable)"),
        }
    }
    // The peer's speed drifts as its memory fills; the faster of the two measurements is the
    // baseline, which can only make the ratios stricter.
    let raw = raw_before.min(direct(&peer, &args).await?);
    let raw_rps = args.accounts as f64 / raw.as_secs_f64();
    report(&args, raw, raw_rps, &outcomes)
}

/// The baseline: every refresh grant sent straight to the peer.
async fn direct(peer: &OidcPeer, args: &Args) -> anyhow::Result<Duration> {
    let tokens = peer::mint(peer, args.accounts).await?;
    let elapsed = peer::raw_refreshes(peer, tokens, args.concurrency).await?;
    eprintln!(
        "  peer direct: {:.2} s, {:.0} refreshes/s",
        elapsed.as_secs_f64(),
        args.accounts as f64 / elapsed.as_secs_f64()
    );
    Ok(elapsed)
}

async fn storm(
    args: &Args,
    bin: &std::path::Path,
    peer: &OidcPeer,
    backend: &str,
    instances: usize,
) -> anyhow::Result<Option<Outcome>> {
    let Some(db) = crate::instances::database(&args.target.pg_url, backend).await? else {
        return Ok(None);
    };
    let concurrency = args.concurrency.to_string();
    let connections = (args.concurrency * 2).max(16).to_string();
    let install = Installation::new(
        bin,
        &db,
        &[
            ("LATCHKEY_OAUTH_PEER_CLIENT_ID", CLIENT_ID),
            ("LATCHKEY_OAUTH_PEER_CLIENT_SECRET", CLIENT_SECRET),
            ("LATCHKEY_EGRESS_ALLOW", "127.0.0.0/8"),
            ("LATCHKEY_REFRESH_CONCURRENCY", &concurrency),
            ("LATCHKEY_DB_MAX_CONNECTIONS", &connections),
        ],
    )?;
    let (latchkey, dir) = (&install.latchkey, install.scratch());
    // The first instance serves the installation's data directory; the others their own.
    let data_dirs: Vec<PathBuf> = std::iter::once(install.data_dir.clone())
        .chain((1..instances).map(|i| dir.join(format!("i{i}"))))
        .collect();
    for data_dir in &data_dirs {
        peer.write_app_file(data_dir);
    }

    // Every token expires at the same moment.
    let tokens = peer::mint(peer, args.accounts).await?;
    let expires_at = now_ms() + args.expires_in * 1000;
    let expiry = iso(expires_at);
    let file = dir.join("accounts.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
    for (i, token) in tokens.iter().enumerate() {
        let record = json!({
            "app": "peer",
            "name": format!("storm {i}"),
            "credentials": {"oauth_access_token": format!("expiring-{i}"), "oauth_refresh_token": token},
            "expires_at": expiry,
            "authorized_scopes": ["api:read"],
        });
        writeln!(out, "{record}")?;
    }
    out.flush()?;
    drop(out);
    let import_started = Instant::now();
    latchkey.run_json(
        &data_dirs[0],
        &[
            "accounts",
            "import",
            "--file",
            file.to_str().unwrap_or_default(),
            "--json",
        ],
    )?;
    eprintln!(
        "  {backend} x{instances}: imported {} accounts in {:.1} s",
        args.accounts,
        import_started.elapsed().as_secs_f64()
    );
    peer::reset(peer).await?;

    let started = Instant::now();
    let servers = data_dirs
        .iter()
        .map(|d| latchkey.serve(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for server in &servers {
        server.ready().await?;
    }
    let deadline =
        started + Duration::from_secs(u64::try_from(args.expires_in).unwrap_or(120) + 60);
    let last = loop {
        let stats = peer::stats(peer).await?;
        let done = stats["refresh_requests"].as_u64().unwrap_or(0);
        if done >= args.accounts as u64 {
            break Instant::now();
        }
        if Instant::now() > deadline {
            eprintln!(
                "  {backend} x{instances}: only {done} of {} refreshed before the deadline",
                args.accounts
            );
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // Let stragglers (duplicates, if any) show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = peer::stats(peer).await?;
    drop(servers);
    let listed = latchkey.run_json(&data_dirs[0], &["accounts", "list", "--json"])?;
    let accounts = listed["data"].as_array().cloned().unwrap_or_default();
    let late = accounts
        .iter()
        .filter(|a| {
            a["last_refreshed_at"]
                .as_str()
                .is_none_or(|t| t > expiry.as_str())
        })
        .count();
    let unhealthy = accounts
        .iter()
        .filter(|a| a["healthy"] != Value::Bool(true))
        .count();
    let requests = stats["refresh_requests"].as_i64().unwrap_or(0);
    let invalid = stats["invalid_grant"].as_i64().unwrap_or(0);
    let duplicates = (requests - args.accounts as i64).max(0) + invalid;
    // From launching the instances (their start-up included) to the last refresh seen.
    let window = last.duration_since(started);
    db.cleanup().await;
    Ok(Some(Outcome {
        label: format!("{backend} x{instances}"),
        seconds: window.as_secs_f64().max(0.001),
        duplicates,
        late,
        unhealthy,
    }))
}

fn report(args: &Args, raw: Duration, raw_rps: f64, outcomes: &[Outcome]) -> anyhow::Result<()> {
    println!("Refresh storm: {} OAuth accounts due together, refreshed against oidc-provider (rotating refresh tokens)", args.accounts);
    println!(
        "  baseline: the same number of refresh grants sent straight to the peer, {} at a time",
        args.concurrency
    );
    println!(
        "  latchkey: the scheduler of each instance, refresh_concurrency {}",
        args.concurrency
    );
    println!();
    println!(
        "{:<14} {:>8} {:>12} {:>8} {:>11} {:>6} {:>10}",
        "scenario", "seconds", "refreshes/s", "vs peer", "duplicates", "late", "unhealthy"
    );
    println!(
        "{:<14} {:>8.2} {:>12.0} {:>8.2} {:>11} {:>6} {:>10}",
        "peer direct",
        raw.as_secs_f64(),
        raw_rps,
        1.0,
        "-",
        "-",
        "-"
    );
    let mut results = Vec::new();
    let mut failures = 0;
    for o in outcomes {
        let rps = args.accounts as f64 / o.seconds;
        let ratio = rps / raw_rps;
        println!(
            "{:<14} {:>8.2} {:>12.0} {:>8.2} {:>11} {:>6} {:>10}",
            o.label, o.seconds, rps, ratio, o.duplicates, o.late, o.unhealthy
        );
        let pass =
            o.duplicates == 0 && o.late == 0 && o.unhealthy == 0 && ratio >= args.ratio_target;
        failures += usize::from(!pass);
        results.push(json!({
            "scenario": o.label, "seconds": o.seconds, "refreshes_per_second": rps, "ratio": ratio,
            "duplicates": o.duplicates, "late": o.late, "unhealthy": o.unhealthy, "pass": pass,
        }));
    }
    println!();
    for (o, r) in outcomes.iter().zip(&results) {
        println!(
            "{} {}: 0 duplicates, 0 late, 0 unhealthy, >= {:.1}x the peer's refreshes/s",
            if r["pass"] == Value::Bool(true) {
                "PASS"
            } else {
                "FAIL"
            },
            o.label,
            args.ratio_target
        );
    }
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &args.out,
        serde_json::to_vec_pretty(&json!({
            "accounts": args.accounts, "concurrency": args.concurrency,
            "peer": {"seconds": raw.as_secs_f64(), "refreshes_per_second": raw_rps},
            "scenarios": results, "failed_targets": failures,
        }))?,
    )?;
    println!("\nwritten to {}", args.out.display());
    Ok(())
}
