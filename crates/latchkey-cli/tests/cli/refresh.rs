//! Refresh across server processes: several instances, and an instance killed mid-refresh.

use std::time::{Duration, Instant};

use latchkey_test_db::TestDb;
use serde_json::json;

use crate::support::*;

/// Connects the operator app `peer` through `server` in a fresh headless browser; returns the
/// account id.
async fn connect_peer(server: &Server, key: &str, public: &str) -> String {
    use latchkey_test_db::oidc_peer::{browser, follow_to_callback};

    let (status, body) = server
        .call(
            reqwest::Method::POST,
            "/v1/accounts/connect",
            key,
            Some(json!({"app": "peer"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let browser = browser();
    let start = body["data"]["authorize_url"].as_str().unwrap();
    let callback = follow_to_callback(&browser, start, &format!("{public}/oauth/callback")).await;
    let page = browser.get(callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    page.split("data-account-id=\"")
        .nth(1)
        .expect("a success page")
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// Three servers on one PostgreSQL, 100 concurrent credential reads of an expired OAuth account
/// spread over them: exactly one refresh reaches the provider. The peer rotates refresh tokens
/// and revokes the whole grant if a rotated-out one is ever presented, so any race would show
/// as a dead account.
#[tokio::test]
async fn three_instances_refresh_an_expired_account_exactly_once() {
    use latchkey_test_db::oidc_peer::{OidcPeer, CLIENT_ID, CLIENT_SECRET};

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
    let init = init_ada(&dir.path().join("a"), &env, &pw);
    let key = init["api_key"].as_str().unwrap().to_owned();
    // The peer is an operator app (a file in each instance's data dir): operator clients are
    // only ever handed to global apps.
    let mut servers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let data_dir = dir.path().join(format!("d{i}"));
        peer.write_app_file(&data_dir);
        servers.push(Server::start_on(&data_dir, &env, *port).await);
    }
    let id = connect_peer(&servers[0], &key, &public).await;

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

/// A server killed (SIGKILL) while its refresh request is in flight: the refresh lease it held
/// lapses, and the restarted server refreshes the account as if nothing had happened.
#[tokio::test]
async fn a_server_killed_mid_refresh_leaves_an_account_that_still_refreshes() {
    use latchkey_test_db::{
        oidc_peer::{OidcPeer, CLIENT_ID, CLIENT_SECRET},
        token_relay::{RelayMode, TokenRelay},
    };

    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path());
    let master = run_json(dir.path(), &[], &["keys", "generate", "--json"])["master_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let peer = OidcPeer::start(
        &format!("{public}/oauth/callback"),
        &[("PEER_ACCESS_TOKEN_TTL", "4")],
    );
    // Token requests reach the peer through a relay that can hold them unanswered.
    let relay = TokenRelay::start(format!("{}/token", peer.issuer)).await;
    let data_dir = dir.path().join("data");
    peer.write_app_file(&data_dir);
    let app_file = data_dir.join("apps").join("peer.toml");
    let definition = std::fs::read_to_string(&app_file).unwrap().replace(
        &format!("token_url = \"{}/token\"", peer.issuer),
        &format!("token_url = \"{}\"", relay.url),
    );
    assert!(definition.contains(&relay.url));
    std::fs::write(&app_file, definition).unwrap();
    let env = [
        ("LATCHKEY_MASTER_KEY", master.as_str()),
        ("LATCHKEY_OAUTH_PEER_CLIENT_ID", CLIENT_ID),
        ("LATCHKEY_OAUTH_PEER_CLIENT_SECRET", CLIENT_SECRET),
        ("LATCHKEY_EGRESS_ALLOW", "127.0.0.0/8"),
        ("LATCHKEY_PUBLIC_URL", public.as_str()),
        ("LATCHKEY_OUTBOUND_TIMEOUT_SECONDS", "2"),
    ];
    let init = init_ada(&data_dir, &env, &pw);
    let key = init["api_key"].as_str().unwrap().to_owned();
    let server = Server::start_on(&data_dir, &env, port).await;
    let id = connect_peer(&server, &key, &public).await;
    let path = format!("/v1/accounts/{id}?include_credentials=1");
    let (_, before) = server.call(reqwest::Method::GET, &path, &key, None).await;
    let before = before["data"]["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The token comes within its margin; the next refresh request hangs at the relay, and the
    // server dies while waiting for it.
    relay.set(RelayMode::Hold);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let hanging = {
        let (base, path, key) = (server.base.clone(), path.clone(), key.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(key)
                .send()
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.held() == 0 {
        assert!(Instant::now() < deadline, "no refresh reached the provider");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    assert!(
        hanging.await.unwrap().is_err(),
        "the reader's connection died with the server"
    );
    assert_eq!(peer.stats().await["refresh_requests"], 0);

    // Restarted: the dead holder's lease lapses and the account refreshes.
    relay.set(RelayMode::Pass);
    let server = Server::start_on(&data_dir, &env, port).await;
    let (status, after) = server.call(reqwest::Method::GET, &path, &key, None).await;
    assert_eq!(status, 200, "{after}");
    let token = after["data"]["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap();
    assert_ne!(token, before, "a fresh token");
    assert_eq!(after["data"]["healthy"], true, "{after}");
    let stats = peer.stats().await;
    assert_eq!(stats["refresh_requests"], 1, "{stats}");
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    let me = reqwest::Client::new()
        .get(format!("{}/api/me", peer.issuer))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    server.stop();
}
