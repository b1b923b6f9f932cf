//! Restarts, master key checks, and two servers on one PostgreSQL.

use std::time::{Duration, Instant};

use latchkey_test_db::TestDb;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn restarts_keep_data_and_a_different_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = init_ada(&data, &[], &pw);
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
    let init = init_ada(&a_dir, &env, &pw);
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
