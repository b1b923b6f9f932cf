//! Web UI pages with a big workspace: `accounts` accounts (10,000 by default) connected through
//! the API, a workflow whose step selector lists them, an audit log with an event per account;
//! then every main page fetched one request at a time, signed in as the owner (who sees every
//! account) and as a member. Baseline: `/healthz` on the same server in the same run, so the
//! ratio shows what rendering a page costs over a request that does nothing. Target: each
//! page's p99 under 50 ms (loopback, so this is server time plus a little).

use std::{
    io::Write as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use serde_json::{json, Value};

use crate::instances::{Installation, Instance, OWNER_PASSWORD};

/// Settings of the page benchmark.
#[derive(clap::Args)]
pub struct Args {
    /// Accounts in the workspace.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Measured requests per page (after a tenth as many discarded ones).
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Backends to run on.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    #[command(flatten)]
    target: crate::Target,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results/pages.json")]
    out: PathBuf,
    /// Target: each page's p99, milliseconds.
    #[arg(long, default_value_t = 50.0)]
    p99_target_ms: f64,
}

/// Latencies of one page.
struct Measured {
    backend: String,
    page: String,
    p50_ms: f64,
    p99_ms: f64,
    baseline_p99_ms: f64,
}

/// Runs the benchmark and prints the table.
///
/// # Errors
/// When a backend cannot be set up or a page does not answer 200.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let bin = args.target.bin()?;
    let mut rows = Vec::new();
    let mut processes = Vec::new();
    for backend in &args.backends {
        match on_backend(&args, &bin, backend).await? {
            Some(mut run) => {
                rows.append(&mut run.rows);
                processes.push(run.process);
            }
            None => eprintln!("  {backend}: skipped (PostgreSQL unavailable)"),
        }
    }
    report(&args, &rows, &processes)
}

async fn on_backend(
    args: &Args,
    bin: &std::path::Path,
    backend: &str,
) -> anyhow::Result<Option<Run>> {
    let Some(db) = crate::instances::database(&args.target.pg_url, backend).await? else {
        return Ok(None);
    };
    let install = Installation::new(bin, &db, &[("LATCHKEY_EGRESS_ALLOW", "127.0.0.0/8")])?;
    let (latchkey, data_dir, init) = (&install.latchkey, &install.data_dir, &install.init);
    let key = init["api_key"].as_str().context("no API key")?.to_owned();
    let server = latchkey.serve(data_dir)?;
    server.ready().await?;
    let idle_rss = server.rss_mib().unwrap_or(0.0);
    let started = Instant::now();
    let seeded = seed(&server, &key, args.accounts).await?;
    eprintln!(
        "pages [{backend}]: {} accounts connected through the API in {:.1} s",
        args.accounts,
        started.elapsed().as_secs_f64()
    );

    let owner = sign_in(&server, "owner@bench.test", OWNER_PASSWORD).await?;
    let pages = [
        "/accounts".to_owned(),
        "/accounts?q=account-4242".to_owned(),
        format!("/accounts?after={}", seeded.second_page),
        format!("/accounts/{}", seeded.account),
        "/connect".to_owned(),
        format!("/workflows/{}", seeded.workflow),
        "/members".to_owned(),
        "/audit".to_owned(),
    ];
    let baseline = latencies(&owner, &server, "/healthz", args.requests).await?;
    let baseline_p99 = crate::percentile(&baseline, 0.99);
    let mut rows = Vec::new();
    for page in &pages {
        let l = latencies(&owner, &server, page, args.requests).await?;
        rows.push(Measured {
            backend: backend.to_owned(),
            page: page.clone(),
            p50_ms: crate::percentile(&l, 0.50),
            p99_ms: crate::percentile(&l, 0.99),
            baseline_p99_ms: baseline_p99,
        });
    }
    let loaded_rss = server.rss_mib().unwrap_or(0.0);
    drop(server);
    // Cold start: a new process on the now big database, from spawn to ready.
    let started = Instant::now();
    let again = latchkey.serve(data_dir)?;
    again.ready().await?;
    let cold_start_ms = ms(started.elapsed());
    drop(again);
    db.cleanup().await;
    Ok(Some(Run {
        rows,
        process: Process {
            backend: backend.to_owned(),
            cold_start_ms,
            idle_rss_mib: idle_rss,
            loaded_rss_mib: loaded_rss,
        },
    }))
}

/// The process's own costs on one backend.
struct Process {
    backend: String,
    cold_start_ms: f64,
    idle_rss_mib: f64,
    loaded_rss_mib: f64,
}

/// Everything measured on one backend.
struct Run {
    rows: Vec<Measured>,
    process: Process,
}

/// What the pages are about.
struct Seeded {
    account: String,
    workflow: String,
    second_page: String,
}

/// Connects `n` accounts of a key-based custom app (checks skipped: nothing listens) with 16
/// requests in flight, and a workflow with one step on the newest.
async fn seed(server: &Instance, key: &str, n: usize) -> anyhow::Result<Seeded> {
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{}{path}", server.base))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let app = call(
        reqwest::Method::POST,
        "/v1/apps",
        json!({
            "name_slug": "bench_api", "name": "Bench API", "auth_type": "keys",
            "categories": ["Developer Tools"],
            "custom_fields": [{"name": "api_key", "label": "API key", "type": "password"}],
            "request": {"base_url": "http://127.0.0.1:9", "allowed_domains": ["127.0.0.1"],
                        "headers": {"Authorization": "Bearer {{api_key}}"}}
        }),
    )
    .await?;
    anyhow::ensure!(
        app.status().is_success(),
        "creating the app: {}",
        app.status()
    );
    let mut last = String::new();
    let mut done = 0;
    while done < n {
        let batch: Vec<_> = (done..(done + 16).min(n))
            .map(|i| {
                call(
                    reqwest::Method::POST,
                    "/v1/accounts",
                    json!({"app": "bench_api", "name": format!("account-{i}"),
                           "cfmap": {"api_key": format!("key-{i:08}")}, "skip_check": true}),
                )
            })
            .collect();
        for response in latchkey_test_db::join_all(batch).await {
            let response = response?;
            anyhow::ensure!(
                response.status().is_success(),
                "connecting: {}",
                response.status()
            );
            let body: Value = response.json().await?;
            last = body["data"]["id"].as_str().unwrap_or_default().to_owned();
            done += 1;
        }
    }
    let workflow: Value = call(
        reqwest::Method::POST,
        "/v1/workflows",
        json!({"name": "Bench"}),
    )
    .await?
    .json()
    .await?;
    let workflow = workflow["data"]["id"]
        .as_str()
        .context("no workflow id")?
        .to_owned();
    let step = call(
        reqwest::Method::POST,
        &format!("/v1/workflows/{workflow}/steps"),
        json!({"name": "call", "type": "http", "props": {"method": "GET", "url": "/"},
               "accounts": {"app": last}}),
    )
    .await?;
    anyhow::ensure!(
        step.status().is_success(),
        "adding a step: {}",
        step.status()
    );
    let listed: Value = http
        .get(format!("{}/v1/accounts?limit=50", server.base))
        .bearer_auth(key)
        .send()
        .await?
        .json()
        .await?;
    let second_page = listed["page_info"]["end_cursor"]
        .as_str()
        .context("no second page")?
        .to_owned();
    Ok(Seeded {
        account: last,
        workflow,
        second_page,
    })
}

/// A browser-like client signed in through `/login`.
async fn sign_in(
    server: &Instance,
    email: &str,
    password: &str,
) -> anyhow::Result<reqwest::Client> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .post(format!("{}/login", server.base))
        .form(&[("email", email), ("password", password)])
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == reqwest::StatusCode::SEE_OTHER,
        "signing in: {}",
        response.status()
    );
    Ok(client)
}

async fn latencies(
    client: &reqwest::Client,
    server: &Instance,
    path: &str,
    requests: usize,
) -> anyhow::Result<Vec<f64>> {
    let url = format!("{}{path}", server.base);
    crate::sequential_latencies(requests, path, || client.get(&url)).await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Targets of the process: cold start and resident memory.
const COLD_START_TARGET_MS: f64 = 1000.0;
const RSS_TARGET_MIB: f64 = 150.0;

fn report(args: &Args, rows: &[Measured], processes: &[Process]) -> anyhow::Result<()> {
    println!(
        "\nWeb pages, {} accounts in the workspace, {} sequential requests per page, signed in as the owner",
        args.accounts, args.requests
    );
    println!(
        "{:<9} {:<34} {:>9} {:>9} {:>12} {:>8}",
        "backend", "page", "p50 ms", "p99 ms", "p99/healthz", "target"
    );
    let mut json_rows = Vec::new();
    for r in rows {
        let pass = r.p99_ms <= args.p99_target_ms;
        let page: String = r.page.chars().take(34).collect();
        println!(
            "{:<9} {:<34} {:>9.2} {:>9.2} {:>11.1}x {:>8}",
            r.backend,
            page,
            r.p50_ms,
            r.p99_ms,
            r.p99_ms / r.baseline_p99_ms.max(0.001),
            if pass { "PASS" } else { "FAIL" }
        );
        json_rows.push(json!({
            "backend": r.backend, "page": r.page, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
            "healthz_p99_ms": r.baseline_p99_ms, "target_p99_ms": args.p99_target_ms, "pass": pass,
        }));
    }
    let all = rows.iter().all(|r| r.p99_ms <= args.p99_target_ms);
    println!(
        "{}: every page's p99 <= {} ms with {} accounts",
        if all { "PASS" } else { "FAIL" },
        args.p99_target_ms,
        args.accounts
    );
    println!(
        "\n{:<9} {:>14} {:>14} {:>16} {:>8}",
        "backend", "cold start ms", "idle RSS MiB", "loaded RSS MiB", "target"
    );
    let mut json_processes = Vec::new();
    for p in processes {
        let pass = p.cold_start_ms <= COLD_START_TARGET_MS
            && p.idle_rss_mib <= RSS_TARGET_MIB
            && p.loaded_rss_mib <= RSS_TARGET_MIB;
        println!(
            "{:<9} {:>14.0} {:>14.1} {:>16.1} {:>8}",
            p.backend,
            p.cold_start_ms,
            p.idle_rss_mib,
            p.loaded_rss_mib,
            if pass { "PASS" } else { "FAIL" }
        );
        json_processes.push(json!({
            "backend": p.backend, "cold_start_ms": p.cold_start_ms,
            "idle_rss_mib": p.idle_rss_mib, "loaded_rss_mib": p.loaded_rss_mib, "pass": pass,
        }));
    }
    println!(
        "targets: cold start <= {COLD_START_TARGET_MS} ms (spawn to /readyz on the loaded database), RSS <= {RSS_TARGET_MIB} MiB (loaded: after connecting every account and every page run)"
    );
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::File::create(&args.out)?;
    writeln!(
        file,
        "{}",
        serde_json::to_string_pretty(
            &json!({"accounts": args.accounts, "requests": args.requests, "rows": json_rows})
        )?
    )?;
    Ok(())
}
