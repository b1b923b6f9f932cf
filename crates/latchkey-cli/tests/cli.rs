//! The `latchkey` binary end to end: provisioning contracts, restarts, key checks, and several
//! servers on one PostgreSQL.

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use latchkey_test_db::TestDb;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// A command with a clean environment: only what the test passes, so the developer's
/// `LATCHKEY_*` variables never leak in.
fn latchkey(data_dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LATCHKEY_DATA_DIR", data_dir)
        .env("LATCHKEY_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    latchkey(data_dir, env)
        .args(args)
        .output()
        .expect("run latchkey")
}

fn run_json(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Value {
    let out = run(data_dir, env, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn keys_of(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_on(data_dir, env, free_port()).await
    }

    async fn start_on(data_dir: &Path, env: &[(&str, &str)], port: u16) -> Self {
        let child = latchkey(data_dir, env)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wrapped at once so that Drop reaps the process on every path, panics included.
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(format!("{}/readyz", server.base)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then wait: the server must shut down cleanly by itself.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("server ignored SIGTERM");
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn password_file(dir: &Path) -> String {
    let path = dir.join("pw.txt");
    std::fs::write(&path, "correct horse battery\n").unwrap();
    path.display().to_string()
}

#[test]
fn provisioning_commands_print_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = run_json(
        &data,
        &[],
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            &pw,
            "--workspace",
            "Acme",
            "--json",
        ],
    );
    assert_eq!(keys_of(&init), ["api_key", "user_id", "workspace_id"]);
    assert!(init["workspace_id"].as_str().unwrap().starts_with("o_"));
    assert!(init["user_id"].as_str().unwrap().starts_with("u_"));
    assert!(init["api_key"].as_str().unwrap().starts_with("lk_key_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the generated key is private");
    }

    let second = run_json(
        &data,
        &[],
        &[
            "workspaces",
            "create",
            "--name",
            "Globex",
            "--owner-email",
            "hank@globex.test",
            "--password-file",
            &pw,
            "--json",
        ],
    );
    assert_eq!(keys_of(&second), ["api_key", "user_id", "workspace_id"]);
    assert_ne!(second["workspace_id"], init["workspace_id"]);

    // By name and by id.
    let member = run_json(
        &data,
        &[],
        &[
            "members",
            "add",
            "--workspace",
            "Acme",
            "--email",
            "bob@example.com",
            "--role",
            "member",
            "--json",
        ],
    );
    assert_eq!(keys_of(&member), ["api_key", "user_id"]);
    let ws = init["workspace_id"].as_str().unwrap();
    let admin = run_json(
        &data,
        &[],
        &[
            "members",
            "add",
            "--workspace",
            ws,
            "--email",
            "eve@example.com",
            "--role",
            "admin",
            "--json",
        ],
    );
    assert_ne!(admin["api_key"], member["api_key"]);

    let client = run_json(
        &data,
        &[],
        &[
            "api-clients",
            "create",
            "--workspace",
            ws,
            "--scopes",
            "accounts:read,apps:read",
            "--json",
        ],
    );
    assert!(client["client_id"].as_str().unwrap().starts_with("lkc_"));
    assert!(client["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("lk_cs_"));
    let client_id = client["client_id"].as_str().unwrap();
    let revoke = [
        "api-clients",
        "revoke",
        "--workspace",
        ws,
        "--client-id",
        client_id,
        "--json",
    ];
    assert_eq!(run_json(&data, &[], &revoke)["revoked"], client_id);
    assert!(
        !run(&data, &[], &revoke).status.success(),
        "revoking twice is an error"
    );

    let accounts = run_json(
        &data,
        &[],
        &["accounts", "list", "--workspace", "Acme", "--json"],
    );
    assert_eq!(accounts["data"], json!([]));
    let apps = run_json(&data, &[], &["apps", "validate", "--json"]);
    assert_eq!(apps["valid"], true);
    assert!(apps["count"].as_u64().unwrap() >= 40);
    let migrate = run_json(&data, &[], &["migrate", "--json"]);
    assert_eq!(migrate["backend"], "sqlite");

    // Failures exit non-zero with a message.
    let out = run(
        &data,
        &[],
        &[
            "members",
            "add",
            "--workspace",
            "Nope",
            "--email",
            "x@y.test",
            "--role",
            "member",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("workspace not found"));
    let out = run(
        &data,
        &[],
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            &pw,
            "--workspace",
            "Acme",
        ],
    );
    assert!(
        !out.status.success(),
        "a second workspace with the same name is a conflict"
    );
    let bad_apps = dir.path().join("bad-apps");
    std::fs::create_dir(&bad_apps).unwrap();
    std::fs::write(
        bad_apps.join("broken.toml"),
        "name_slug = \"broken\"\nname = \"Broken\"\nauth_type = \"keys\"\n",
    )
    .unwrap();
    let out = run(
        &data,
        &[],
        &["apps", "validate", bad_apps.to_str().unwrap(), "--json"],
    );
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert!(report["errors"][0]
        .as_str()
        .unwrap()
        .contains("broken.toml"));
}

#[tokio::test]
async fn restarts_keep_data_and_a_different_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = run_json(
        &data,
        &[],
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            &pw,
            "--json",
        ],
    );
    let key = init["api_key"].as_str().unwrap().to_owned();

    let server = Server::start(&data, &[]).await;
    let (status, created) = server
        .call(reqwest::Method::POST, "/v1/accounts", &key, Some(json!({"app": "openai", "name": "Work", "cfmap": {"api_key": "sk-restart-1"}, "skip_check": true})))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    server.stop();

    let server = Server::start(&data, &[]).await;
    let (status, body) = server
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{id}?include_credentials=1"),
            &key,
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"]["credentials"]["api_key"].as_str()),
        (200, Some("sk-restart-1"))
    );
    server.stop();

    // Rotate keys offline, then the server still reads everything.
    let rotated = run_json(&data, &[], &["keys", "rotate", "--json"]);
    assert_eq!(
        (rotated["key_id"].as_i64(), rotated["reencrypted"].as_i64()),
        (Some(2), Some(1))
    );

    let other_key = run_json(&data, &[], &["keys", "generate", "--json"]);
    let other_key = other_key["master_key"].as_str().unwrap();
    let out = latchkey(&data, &[("LATCHKEY_MASTER_KEY", other_key)])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong master key must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("master key does not match"), "{stderr}");
    let out = latchkey(&data, &[("LATCHKEY_MASTER_KEY", "too-short")])
        .args(["serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LATCHKEY_MASTER_KEY is invalid"));

    // Without any key, an initialised database is never given a fresh one.
    std::fs::rename(data.join("master.key"), dir.path().join("moved.key")).unwrap();
    let out = latchkey(&data, &[])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no master key"));
    assert!(!data.join("master.key").exists());
    let moved = dir.path().join("moved.key");
    let server = Server::start(
        &data,
        &[("LATCHKEY_MASTER_KEY_FILE", moved.to_str().unwrap())],
    )
    .await;
    let (status, _) = server
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{id}?include_credentials=1"),
            &key,
            None,
        )
        .await;
    assert_eq!(status, 200);
    server.stop();
}

#[tokio::test]
async fn two_servers_on_one_postgres_serve_the_same_accounts() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("LATCHKEY_TEST_POSTGRES_URL not set: skipping the multi-instance test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path());
    let master = run_json(dir.path(), &[], &["keys", "generate", "--json"])["master_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let env = [
        ("LATCHKEY_DATABASE_URL", db.url.expose()),
        ("LATCHKEY_MASTER_KEY", master.as_str()),
    ];
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    let init = run_json(
        &a_dir,
        &env,
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            &pw,
            "--json",
        ],
    );
    let key = init["api_key"].as_str().unwrap().to_owned();
    let (a, b) = (
        Server::start(&a_dir, &env).await,
        Server::start(&b_dir, &env).await,
    );

    let (status, created) = a
        .call(reqwest::Method::POST, "/v1/accounts", &key, Some(json!({"app": "stripe", "name": "Billing", "cfmap": {"api_key": "sk_test_shared"}, "skip_check": true})))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = b
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{id}?include_credentials=true"),
            &key,
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"]["credentials"]["api_key"].as_str()),
        (200, Some("sk_test_shared"))
    );
    let (status, _) = b
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/accounts/{id}"),
            &key,
            Some(json!({"name": "Billing EU"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = a
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{id}"),
            &key,
            None,
        )
        .await;
    assert_eq!(body["data"]["name"], "Billing EU");

    // Rotate while both run: each picks up the new data key when it meets it.
    let rotated = run_json(&a_dir, &env, &["keys", "rotate", "--json"]);
    assert_eq!(rotated["reencrypted"], 1);
    for server in [&a, &b] {
        let (status, body) = server
            .call(
                reqwest::Method::GET,
                &format!("/v1/accounts/{id}?include_credentials=1"),
                &key,
                None,
            )
            .await;
        assert_eq!(
            (status, body["data"]["credentials"]["api_key"].as_str()),
            (200, Some("sk_test_shared"))
        );
    }
    let (status, _) = b
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/accounts/{id}"),
            &key,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let path = format!("/v1/accounts/{id}");
    let (status, _) = b.call(reqwest::Method::GET, &path, &key, None).await;
    assert_eq!(status, 404, "the deleting instance forgets at once");
    // The other instance may answer from its read cache for at most the cache TTL (2 s).
    let deadline = Instant::now() + Duration::from_millis(3000);
    loop {
        let (status, _) = a.call(reqwest::Method::GET, &path, &key, None).await;
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a deleted account must disappear within the cache TTL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.stop();
    b.stop();
    db.cleanup().await;
}

/// Three servers on one PostgreSQL, 100 concurrent credential reads of an expired OAuth account
/// spread over them: exactly one refresh reaches the provider. The peer rotates refresh tokens
/// and revokes the whole grant if a rotated-out one is ever presented, so any race would show
/// as a dead account.
#[tokio::test]
async fn three_instances_refresh_an_expired_account_exactly_once() {
    use latchkey_test_db::oidc_peer::{
        browser, follow_to_callback, OidcPeer, CLIENT_ID, CLIENT_SECRET,
    };

    let Some(db) = TestDb::postgres().await else {
        eprintln!("LATCHKEY_TEST_POSTGRES_URL not set: skipping the multi-instance refresh test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path());
    let master = run_json(dir.path(), &[], &["keys", "generate", "--json"])["master_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let ports = [free_port(), free_port(), free_port()];
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let peer = OidcPeer::start(
        &format!("{public}/oauth/callback"),
        &[("PEER_ACCESS_TOKEN_TTL", "3")],
    );
    let env = [
        ("LATCHKEY_DATABASE_URL", db.url.expose()),
        ("LATCHKEY_MASTER_KEY", master.as_str()),
        ("LATCHKEY_OAUTH_PEER_CLIENT_ID", CLIENT_ID),
        ("LATCHKEY_OAUTH_PEER_CLIENT_SECRET", CLIENT_SECRET),
        ("LATCHKEY_EGRESS_ALLOW", "127.0.0.0/8"),
        ("LATCHKEY_PUBLIC_URL", public.as_str()),
    ];
    let init = run_json(
        &dir.path().join("a"),
        &env,
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            &pw,
            "--json",
        ],
    );
    let key = init["api_key"].as_str().unwrap().to_owned();
    // The peer is an operator app (a file in each instance's data dir): operator clients are
    // only ever handed to global apps.
    let mut servers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let data_dir = dir.path().join(format!("d{i}"));
        peer.write_app_file(&data_dir);
        servers.push(Server::start_on(&data_dir, &env, *port).await);
    }
    let (status, body) = servers[0]
        .call(
            reqwest::Method::POST,
            "/v1/accounts/connect",
            &key,
            Some(json!({"app": "peer"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let browser = browser();
    let start = body["data"]["authorize_url"].as_str().unwrap();
    let callback = follow_to_callback(&browser, start, &format!("{public}/oauth/callback")).await;
    let page = browser
        .get(callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let id = page
        .split("data-account-id=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Let the 3-second token come within its margin (half its lifetime).
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let path = format!("/v1/accounts/{id}?include_credentials=1");
    let reads = (0..100).map(|i| {
        let server = &servers[i % 3];
        let (path, key) = (&path, &key);
        async move { server.call(reqwest::Method::GET, path, key, None).await }
    });
    let results = latchkey_test_db::join_all(reads.collect()).await;
    let mut tokens = std::collections::BTreeSet::new();
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        tokens.insert(
            body["data"]["credentials"]["oauth_access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let stats = peer.stats().await;
    assert_eq!(
        stats["refresh_requests"], 1,
        "exactly one refresh across three instances: {stats}"
    );
    assert_eq!(stats["invalid_grant"], 0);
    assert_eq!(tokens.len(), 1, "every reader got the refreshed token");
    let (_, account) = servers[2]
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{id}"),
            &key,
            None,
        )
        .await;
    assert_eq!(account["data"]["healthy"], true);
    for server in servers {
        server.stop();
    }
    db.cleanup().await;
}
