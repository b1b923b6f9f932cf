//! Account listing and search with a million accounts in one workspace. A bulk loader copies
//! one account connected through the API into `accounts` rows with SQL (a generated series:
//! seconds for a million rows, where the API would take an hour), each with its own id, name
//! and creation time; a tenth are shared with the whole workspace, the rest owned by the owner.
//! Listings never decrypt, so the copies' ciphertext (bound to the original's id) is never
//! opened. Then `GET /v1/accounts` is timed one request at a time: the first page, the second
//! (cursor), a search by nickname, an app filter, and a member's listing (owned or shared),
//! against `/healthz` of the same server. Target: p99 <= 20 ms each.

use std::{path::PathBuf, time::Instant};

use anyhow::Context as _;
use serde_json::{json, Value};

use crate::instances::{Installation, Instance};

/// Settings of the listing benchmark.
#[derive(clap::Args)]
pub struct Args {
    /// Accounts in the workspace.
    #[arg(long, default_value_t = 1_000_000)]
    accounts: u64,
    /// Measured requests per case.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Backends to run on.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    #[command(flatten)]
    target: crate::Target,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results/listing.json")]
    out: PathBuf,
    /// Target: each case's p99, milliseconds.
    #[arg(long, default_value_t = 20.0)]
    p99_target_ms: f64,
}

/// One timed case.
struct Case {
    backend: String,
    name: &'static str,
    p50_ms: f64,
    p99_ms: f64,
    baseline_p99_ms: f64,
}

/// Runs the benchmark and prints the table.
///
/// # Errors
/// When a backend cannot be set up or a listing does not answer 200.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let bin = args.target.bin()?;
    let mut cases = Vec::new();
    for backend in &args.backends {
        match on_backend(&args, &bin, backend).await? {
            Some(mut measured) => cases.append(&mut measured),
            None => eprintln!("  {backend}: skipped (PostgreSQL unavailable)"),
        }
    }
    report(&args, &cases)
}

async fn on_backend(
    args: &Args,
    bin: &std::path::Path,
    backend: &str,
) -> anyhow::Result<Option<Vec<Case>>> {
    let Some(db) = crate::instances::database(&args.target.pg_url, backend).await? else {
        return Ok(None);
    };
    let install = Installation::new(bin, &db, &[])?;
    let (latchkey, data_dir, init) = (&install.latchkey, &install.data_dir, &install.init);
    let workspace = init["workspace_id"]
        .as_str()
        .context("no workspace")?
        .to_owned();
    let owner_key = init["api_key"].as_str().context("no API key")?.to_owned();
    let member = latchkey.run_json(
        data_dir,
        &[
            "members",
            "add",
            "--workspace",
            &workspace,
            "--email",
            "member@bench.test",
            "--role",
            "member",
            "--json",
        ],
    )?;
    let member_key = member["api_key"]
        .as_str()
        .context("no member key")?
        .to_owned();

    let server = latchkey.serve(data_dir)?;
    server.ready().await?;
    let template = connect_template(&server, &owner_key).await?;
    drop(server);

    let started = Instant::now();
    let sql = bulk_load_sql(backend, &template, args.accounts);
    latchkey_test_db::execute_sql(db.url.expose(), &sql).await;
    if backend == "postgres" {
        // What autovacuum does after a bulk insert, now rather than in a minute: statistics,
        // and the trigram index's pending list merged (GIN defers inserts into a list every
        // search would otherwise read linearly).
        latchkey_test_db::execute_sql(db.url.expose(), "VACUUM ANALYZE accounts").await;
    }
    eprintln!(
        "listing [{backend}]: {} accounts loaded in {:.1} s",
        args.accounts,
        started.elapsed().as_secs_f64()
    );

    let server = latchkey.serve(data_dir)?;
    server.ready().await?;
    let http = reqwest::Client::new();
    let first: Value = http
        .get(format!("{}/v1/accounts?limit=50", server.base))
        .bearer_auth(&owner_key)
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(
        first["page_info"]["total_count"].as_u64() == Some(args.accounts),
        "the listing counts {} accounts",
        first["page_info"]["total_count"]
    );
    let cursor = first["page_info"]["end_cursor"]
        .as_str()
        .context("no cursor")?
        .to_owned();
    let cases: [(&'static str, String, &str); 5] = [
        (
            "first page (owner)",
            "/v1/accounts?limit=50".into(),
            &owner_key,
        ),
        (
            "second page (owner)",
            format!("/v1/accounts?limit=50&after={cursor}"),
            &owner_key,
        ),
        (
            "search by nickname",
            "/v1/accounts?limit=50&q=account-424242".into(),
            &owner_key,
        ),
        (
            "app filter",
            "/v1/accounts?limit=50&app=bench_api".into(),
            &owner_key,
        ),
        (
            "member's listing",
            "/v1/accounts?limit=50".into(),
            &member_key,
        ),
    ];
    let baseline = timed(&http, &server, "/healthz", &owner_key, args.requests).await?;
    let baseline_p99 = crate::percentile(&baseline, 0.99);
    let mut out = Vec::new();
    for (name, path, key) in cases {
        let l = timed(&http, &server, &path, key, args.requests).await?;
        out.push(Case {
            backend: backend.to_owned(),
            name,
            p50_ms: crate::percentile(&l, 0.5),
            p99_ms: crate::percentile(&l, 0.99),
            baseline_p99_ms: baseline_p99,
        });
    }
    drop(server);
    db.cleanup().await;
    Ok(Some(out))
}

/// The row every generated account copies: a key-based account connected through the API.
async fn connect_template(server: &Instance, key: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let app = http
        .post(format!("{}/v1/apps", server.base))
        .bearer_auth(key)
        .json(&json!({
            "name_slug": "bench_api", "name": "Bench API", "auth_type": "keys",
            "custom_fields": [{"name": "api_key", "label": "API key", "type": "password"}],
            "request": {"base_url": "http://127.0.0.1:9", "allowed_domains": ["127.0.0.1"],
                        "headers": {"Authorization": "Bearer {{api_key}}"}}
        }))
        .send()
        .await?;
    anyhow::ensure!(
        app.status().is_success(),
        "creating the app: {}",
        app.status()
    );
    let account: Value = http
        .post(format!("{}/v1/accounts", server.base))
        .bearer_auth(key)
        .json(&json!({"app": "bench_api", "name": "template",
                      "cfmap": {"api_key": "key-template"}, "skip_check": true}))
        .send()
        .await?
        .json()
        .await?;
    Ok(account["data"]["id"]
        .as_str()
        .context("no account id")?
        .to_owned())
}

/// One statement inserting `n` copies of the template row (`n` replaces the template itself,
/// which is deleted, so the workspace holds exactly `n`).
fn bulk_load_sql(backend: &str, template: &str, n: u64) -> String {
    // Every column of `accounts`; ids and names from the series, one in ten shared with the
    // whole workspace, creation times one millisecond apart.
    let select = "'apn_bulk' || CAST(g AS TEXT), workspace_id, app_slug, 'account-' || CAST(g AS TEXT), \
        owner_id, CASE WHEN g % 10 = 0 THEN 'workspace' ELSE 'private' END, credentials_ciphertext, key_id, \
        healthy, dead, error, authorized_scopes, expires_at, created_at - g, updated_at - g, version, \
        oauth_client, last_refreshed_at, next_refresh_at, refresh_failures, refresh_lease, \
        refresh_lease_until, project_id, environment, external_user_id, external_id";
    let columns =
        "id, workspace_id, app_slug, name, owner_id, sharing, credentials_ciphertext, key_id, \
        healthy, dead, error, authorized_scopes, expires_at, created_at, updated_at, version, \
        oauth_client, last_refreshed_at, next_refresh_at, refresh_failures, refresh_lease, \
        refresh_lease_until, project_id, environment, external_user_id, external_id";
    let series = match backend {
        "postgres" => format!("generate_series(1, {n}) AS s(g)"),
        _ => format!(
            "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT g FROM s)"
        ),
    };
    format!(
        "INSERT INTO accounts ({columns}) SELECT {select} FROM accounts, {series} WHERE id = '{template}'; \
         DELETE FROM accounts WHERE id = '{template}';"
    )
}

async fn timed(
    http: &reqwest::Client,
    server: &Instance,
    path: &str,
    key: &str,
    requests: usize,
) -> anyhow::Result<Vec<f64>> {
    let url = format!("{}{path}", server.base);
    crate::sequential_latencies(requests, path, || http.get(&url).bearer_auth(key)).await
}

fn report(args: &Args, cases: &[Case]) -> anyhow::Result<()> {
    println!(
        "\nAccount listing, {} accounts in one workspace, {} sequential requests per case",
        args.accounts, args.requests
    );
    println!(
        "{:<9} {:<22} {:>9} {:>9} {:>12} {:>8}",
        "backend", "case", "p50 ms", "p99 ms", "p99/healthz", "target"
    );
    let mut rows = Vec::new();
    for c in cases {
        let pass = c.p99_ms <= args.p99_target_ms;
        println!(
            "{:<9} {:<22} {:>9.2} {:>9.2} {:>11.1}x {:>8}",
            c.backend,
            c.name,
            c.p50_ms,
            c.p99_ms,
            c.p99_ms / c.baseline_p99_ms.max(0.001),
            if pass { "PASS" } else { "FAIL" }
        );
        rows.push(
            json!({"backend": c.backend, "case": c.name, "p50_ms": c.p50_ms,
            "p99_ms": c.p99_ms, "healthz_p99_ms": c.baseline_p99_ms, "pass": pass}),
        );
    }
    println!(
        "{}: every listing's p99 <= {} ms with {} accounts",
        if cases.iter().all(|c| c.p99_ms <= args.p99_target_ms) {
            "PASS"
        } else {
            "FAIL"
        },
        args.p99_target_ms,
        args.accounts
    );
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &args.out,
        serde_json::to_string_pretty(&json!({"accounts": args.accounts, "rows": rows}))?,
    )?;
    Ok(())
}
