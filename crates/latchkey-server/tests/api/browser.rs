//! The hosted connect page in a real browser: headless Chromium (Debian's `/usr/bin/chromium`)
//! driven by `playwright-core` (`tests/browser/connect_page.mjs`). A product page on its own
//! origin opens the connect page in a popup; an end user connects a key-based account (after a
//! wrong key) and an OAuth account (through the `oidc-provider` peer in a second popup), and the
//! product page receives `{type: "success", authProvisionId}` for each. Screenshots land in
//! `target/screenshots/connect/`.

use std::{path::PathBuf, time::Duration};

use axum::{response::Html, routing::get, Router};
use latchkey_test_db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    connect::Product,
    helpers::{TestApp, PROVIDER_KEY},
    oauth::app_with_peer,
};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The product's page: opens the connect URL from its query string in a popup on a click and
/// records every message it receives.
const OPENER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Product</title><link rel="icon" href="data:,"></head>
<body><h1>Product</h1><button id="open" type="button">Connect an account</button>
<script>
  window.__messages = [];
  window.addEventListener("message", function (event) {
    window.__messages.push({ origin: event.origin, data: event.data });
  });
  document.getElementById("open").addEventListener("click", function () {
    var url = new URLSearchParams(window.location.search).get("connect");
    window.open(url, "latchkey_connect", "popup,width=480,height=640");
  });
</script></body></html>
"#;

/// Runs a script of `tests/browser` with Debian's Chromium and `env`, under a time limit;
/// asserts it succeeded and returns the JSON of its `RESULT …` line.
pub(crate) async fn run_browser_script(script: &str, env: &[(&str, String)], label: &str) -> Value {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    let started = std::time::Instant::now();
    let run = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(&suite)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CHROMIUM", CHROMIUM)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .unwrap_or_else(|_| panic!("[{label}] {script} hung"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "[{label}] {script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    eprintln!(
        "[{label}] {script}: {:.1} s\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("[{label}] no RESULT line:\n{stdout}"))
}

/// The browser suites need Debian's Chromium and `playwright-core`.
pub(crate) fn require_browser() {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    assert!(
        std::path::Path::new(CHROMIUM).exists()
            && suite.join("node_modules/playwright-core").exists(),
        "the browser tests need Debian's {CHROMIUM} and `npm ci --prefix tests/browser`; \
         scripts/test.sh installs both"
    );
}

/// Serves the product page on a port of its own: another origin than Latchkey's.
async fn serve_opener() -> String {
    let router = Router::new().route("/", get(|| async { Html(OPENER) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The hosted page for `app` with a new connect token for `user` that only `origin` may use, as
/// the browser SDK opens it.
async fn connect_url(
    t: &TestApp,
    product: &Product,
    user: &str,
    origin: &str,
    app: &str,
) -> String {
    let (status, body) = t
        .connect_call(
            Method::POST,
            &format!("/v1/connect/{}/tokens", product.project),
            &product.token,
            Some("development"),
            Some(json!({"external_user_id": user, "allowed_origins": [origin], "expires_in": 600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap();
    format!("{}/_static/connect.html?token={token}&app={app}", t.base)
}

/// The account through the server-side Connect API.
async fn account(t: &TestApp, product: &Product, id: &str) -> Value {
    let (status, body) = t
        .connect_call(
            Method::GET,
            &format!("/v1/connect/{}/accounts/{id}", product.project),
            &product.token,
            Some("development"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "[{}] {id}: {body}", t.label);
    body
}

#[tokio::test]
async fn the_connect_page_connects_key_and_oauth_accounts_in_a_real_browser() {
    require_browser();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let screenshots = root.join("target/screenshots/connect");
    std::fs::create_dir_all(&screenshots).unwrap();
    let opener = serve_opener().await;

    for db in TestDb::all().await {
        let (t, _peer) = app_with_peer(db, &[]).await;
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let product = t.product(&owner).await;
        let keys_url = connect_url(&t, &product, "user-keys", &opener, "demo_api").await;
        let oauth_url = connect_url(&t, &product, "user-oauth", &opener, "peer").await;

        let result = run_browser_script(
            "connect_page.mjs",
            &[
                ("OPENER_URL", format!("{opener}/")),
                ("CONNECT_URL_KEYS", keys_url),
                ("CONNECT_URL_OAUTH", oauth_url),
                ("PROVIDER_KEY", PROVIDER_KEY.to_owned()),
                (
                    "SCREENSHOT_DIR",
                    screenshots.join(t.label).display().to_string(),
                ),
            ],
            t.label,
        )
        .await;

        // Both accounts exist, belong to their token's end user, and are healthy.
        for (flow, user, app) in [
            ("keys", "user-keys", "demo_api"),
            ("oauth", "user-oauth", "peer"),
        ] {
            let id = result[flow].as_str().unwrap();
            let body = account(&t, &product, id).await;
            assert_eq!(body["id"], id, "[{}] {flow}: {body}", t.label);
            assert_eq!(body["external_id"], user, "[{}] {flow}: {body}", t.label);
            assert_eq!(
                body["app"]["name_slug"], app,
                "[{}] {flow}: {body}",
                t.label
            );
            assert_eq!(body["healthy"], true, "[{}] {flow}: {body}", t.label);
        }
        // The wrong key before the right one created nothing (this route answers a bare array).
        let (_, listed) = t
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{}/users/user-keys/accounts", product.project),
                &product.token,
                Some("development"),
                None,
            )
            .await;
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(1),
            "[{}] {listed}",
            t.label
        );
        t.cleanup().await;
    }
}

/// What Chromium sends when the hosted page submits its key form: a same-origin POST still
/// carries `Origin` (Latchkey's own), which is never among the product's allowed origins.
#[tokio::test]
async fn the_hosted_page_uses_its_token_from_latchkeys_own_origin() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(db).await;
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let product = t.product(&owner).await;
        let ctok = t.connect_token(&product, "development", "user-1").await;
        let create = json!({"app_slug": "demo_api", "cfmap_json": json!({"api_key": PROVIDER_KEY}).to_string(), "connect_token": ctok});
        let send = |origin: &str| {
            t.http
                .post(format!("{}/v1/connect/accounts", t.base))
                .bearer_auth(&ctok)
                .header("origin", origin)
                .json(&create)
                .send()
        };
        // Another origin is still refused, and gets no CORS headers.
        let other = send("https://elsewhere.test").await.unwrap();
        assert_eq!(other.status(), StatusCode::FORBIDDEN, "[{}]", t.label);
        assert!(other.headers().get("access-control-allow-origin").is_none());
        // Latchkey's own origin is the hosted page itself.
        let own = send(&t.base).await.unwrap();
        let status = own.status();
        let body: Value = own.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "[{}] {body}", t.label);
        assert!(body["id"].as_str().unwrap().starts_with("apn_"), "{body}");
        t.cleanup().await;
    }
}
