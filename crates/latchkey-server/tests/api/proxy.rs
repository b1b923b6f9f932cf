//! The authenticated proxy (API.md §6, SECURITY.md T-23…T-29) and the official
//! `@pipedream/sdk` driving the whole Connect API (API.md §10.4).

use std::path::PathBuf;

use latchkey_server::service::provisioning;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::helpers::{on_every_backend, TestApp, PROVIDER_KEY};

fn b64(target: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(target)
}

impl TestApp {
    /// A proxied request through a workspace account.
    async fn proxy(
        &self,
        key: &str,
        account: &str,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .request(
                method,
                format!("{}/v1/accounts/{account}/proxy/{}", self.base, b64(target)),
            )
            .bearer_auth(key);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }
}

#[tokio::test]
async fn the_official_sdk_drives_every_connect_call() {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/sdk");
    assert!(
        suite.join("node_modules/@pipedream/sdk").exists(),
        "the SDK peer is not installed: run `npm ci --prefix {}` (scripts/test.sh does)",
        suite.display()
    );
    on_every_backend(|app| {
        let suite = suite.clone();
        async move {
            let owner = app.workspace("acme").await;
            app.add_demo_app(&owner).await;
            let product = app.product(&owner).await;
            let (client, secret) =
                provisioning::create_api_client(&*app.app.store, &owner.workspace_id, "sdk", "*")
                    .await
                    .unwrap();
            let output = tokio::process::Command::new("node")
                .arg("suite.mjs")
                .current_dir(&suite)
                .env("LATCHKEY_BASE_URL", &app.base)
                .env("LATCHKEY_CLIENT_ID", &client.id)
                .env("LATCHKEY_CLIENT_SECRET", secret.expose_secret())
                .env("LATCHKEY_PROJECT_ID", &product.project)
                .env("LATCHKEY_APP", "demo_api")
                .env("LATCHKEY_PROVIDER_URL", &app.provider)
                .env("LATCHKEY_PROVIDER_KEY", PROVIDER_KEY)
                .output()
                .await
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success() && stdout.contains("SDK-SUITE-PASSED"),
                "[{}] SDK suite failed\nstdout:\n{stdout}\nstderr:\n{stderr}",
                app.label
            );
            app
        }
    })
    .await;
}

#[tokio::test]
async fn the_workspace_proxy_injects_credentials_under_the_access_rules() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let admin = app
            .member(
                &owner,
                "admin@acme.test",
                latchkey_domain::role::Role::Admin,
            )
            .await;
        let member = app
            .member(
                &owner,
                "member@acme.test",
                latchkey_domain::role::Role::Member,
            )
            .await;
        let account = app.connect(&member, "mine", PROVIDER_KEY).await;
        let target = format!("{}/echo/items?x=1", app.provider);

        let (status, echo, _) = app
            .proxy(
                &member.key,
                &account,
                Method::GET,
                &target,
                &[
                    ("x-pd-proxy-x-custom", "v"),
                    ("x-pd-proxy-authorization", "Bearer stolen"),
                    ("cookie", "a=b"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{echo}");
        assert_eq!(
            echo["headers"]["authorization"],
            format!("Bearer {PROVIDER_KEY}"),
            "the template wins over the caller"
        );
        assert_eq!(echo["headers"]["x-custom"], "v");
        assert_eq!(echo["path"], "/echo/items");
        assert_eq!(echo["query"], "x=1");
        for leaked in ["cookie", "x-pd-proxy-x-custom"] {
            assert!(
                echo["headers"].get(leaked).is_none(),
                "{leaked} reached the upstream"
            );
        }
        assert!(
            !echo["headers"]
                .as_object()
                .unwrap()
                .values()
                .any(|v| v.as_str().unwrap_or("").contains("lk_key_")),
            "the caller's Latchkey key never goes upstream"
        );

        // Relative paths resolve under the base URL; a POST body goes through.
        let (status, echo, _) = app
            .proxy(
                &member.key,
                &account,
                Method::POST,
                "/echo/new",
                &[("content-type", "application/json")],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{echo}");
        assert_eq!(echo["method"], "POST");

        // Upstream errors come back exactly as the upstream sent them.
        let (status, body, _) = app
            .proxy(&member.key, &account, Method::GET, "/missing", &[])
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            Value::String(String::new()),
            "not reshaped into Latchkey's error form"
        );

        // Decision 1: an admin manages the account but may not use it; others do not see it.
        let (status, _, _) = app
            .proxy(&admin.key, &account, Method::GET, &target, &[])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = app
            .proxy(&owner.key, &account, Method::GET, &target, &[])
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "the workspace owner is an admin too"
        );
        let other = app
            .member(
                &owner,
                "other@acme.test",
                latchkey_domain::role::Role::Member,
            )
            .await;
        let (status, _, _) = app
            .proxy(&other.key, &account, Method::GET, &target, &[])
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Redirects come back as they came (the test client must not follow them either).
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = no_redirects
            .get(format!(
                "{}/v1/accounts/{account}/proxy/{}",
                app.base,
                b64("/redirect")
            ))
            .bearer_auth(&member.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()["location"], "/echo?redirected=1");

        // Every proxied request is in the audit log.
        let (_, audit) = app.get("/v1/audit?action=proxy.request", &owner.key).await;
        let events = audit["data"].as_array().unwrap();
        assert!(
            events.iter().filter(|e| e["outcome"] == "allowed").count() >= 3,
            "{audit}"
        );
        assert!(events.iter().any(|e| e["outcome"] == "denied"), "{audit}");
        app
    })
    .await;
}

#[tokio::test]
async fn targets_that_leave_the_app_are_refused_by_any_trick() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let account = app.connect(&owner, "mine", PROVIDER_KEY).await;
        let port = app.provider.rsplit(':').next().unwrap().to_owned();
        for target in [
            "//evil.test/x".to_owned(),
            "/..//evil.test".to_owned(),
            "/echo/../../admin".to_owned(),
            "/%2e%2e/admin".to_owned(),
            "/echo%2F..%2F..%2Fadmin".to_owned(),
            "@evil.test/x".to_owned(),
            "/\\evil.test".to_owned(),
            "https://evil.test/".to_owned(),
            format!("http://127.0.0.1.evil.test:{port}/echo"),
            format!("http://localhost:{port}/echo"),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            format!("http://[::ffff:127.0.0.1]:{port}/echo"),
            format!("http://user:pw@127.0.0.1:{port}/echo"),
            "file:///etc/passwd".to_owned(),
        ] {
            let (status, body, _) = app
                .proxy(&owner.key, &account, Method::GET, &target, &[])
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{target}: {body}");
        }
        // Not Base64 at all.
        let response = app
            .http
            .get(format!("{}/v1/accounts/{account}/proxy/!!!", app.base))
            .bearer_auth(&owner.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        app
    })
    .await;
}

#[tokio::test]
async fn the_egress_policy_stops_internal_destinations_timeouts_are_504_and_limits_429() {
    for db in latchkey_test_db::TestDb::all().await {
        // Strict egress (the default): the app may name 127.0.0.1, the policy still refuses it.
        let app = TestApp::spawn_with(db, |config, _| {
            config.egress_allow = String::new();
            config.proxy_rate_limit = 3;
        })
        .await;
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let (status, body) = app
            .post("/v1/accounts", &owner.key, json!({"app": "demo_api", "name": "x", "cfmap": {"api_key": PROVIDER_KEY}, "skip_check": true}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let account = body["data"]["id"].as_str().unwrap().to_owned();
        let (status, body, headers) = app
            .proxy(&owner.key, &account, Method::GET, "/echo", &[])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "egress_denied");
        assert_eq!(headers["x-ratelimit-limit"], "3");
        let _ = app
            .proxy(&owner.key, &account, Method::GET, "/echo", &[])
            .await;
        let _ = app
            .proxy(&owner.key, &account, Method::GET, "/echo", &[])
            .await;
        let (status, body, headers) = app
            .proxy(&owner.key, &account, Method::GET, "/echo", &[])
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"], "Throttled");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert!(
            headers["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        app.cleanup().await;
    }
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let account = app.connect(&owner, "mine", PROVIDER_KEY).await;
        // The test config's outbound timeout is 5 s; /slow answers after 8 s.
        let (status, body, _) = app
            .proxy(&owner.key, &account, Method::GET, "/slow", &[])
            .await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
        app
    })
    .await;
}

#[tokio::test]
async fn a_401_from_an_oauth_api_refreshes_once_and_retries() {
    let peer = latchkey_test_db::mock_peer::MockPeer::start();
    // SQLite only: the provider's "first token is revoked" memory is per process.
    let app = TestApp::spawn(latchkey_test_db::TestDb::sqlite()).await;
    let owner = app.workspace("acme").await;
    let (status, body) = app
        .post(
            "/v1/apps",
            &owner.key,
            json!({
                "name_slug": "cc_api", "name": "Client credentials API", "auth_type": "oauth",
                "oauth": {"grant": "client_credentials", "token_url": format!("{}/token", peer.issuer), "default_scopes": ["api:read"]},
                "custom_fields": [
                    {"name": "client_id", "label": "Client ID", "type": "string"},
                    {"name": "client_secret", "label": "Client secret", "type": "password"}
                ],
                "request": {"base_url": app.provider, "allowed_domains": ["127.0.0.1"], "headers": {"Authorization": "Bearer {{oauth_access_token}}"}}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post("/v1/accounts", &owner.key, json!({"app": "cc_api", "name": "cc", "cfmap": {"client_id": "plain", "client_secret": "s"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let account = body["data"]["id"].as_str().unwrap().to_owned();
    let before = peer.token_requests("plain", "client_credentials").await;

    // The provider rejects the first token; the proxy refreshes once and the retry succeeds.
    let (status, body, _) = app
        .proxy(&owner.key, &account, Method::GET, "/strict", &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        peer.token_requests("plain", "client_credentials").await,
        before + 1,
        "exactly one refresh"
    );
    // Later requests use the new token directly.
    let (status, _, _) = app
        .proxy(&owner.key, &account, Method::GET, "/strict", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        peer.token_requests("plain", "client_credentials").await,
        before + 1
    );
    app.cleanup().await;
}
