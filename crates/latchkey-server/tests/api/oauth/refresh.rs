//! Keeping tokens fresh: single flight, outages, revoked grants, abandoned leases, the scheduler.

use std::time::Duration;

use latchkey_test_db::{
    token_relay::{RelayMode, TokenRelay},
    TestDb,
};
use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn concurrent_reads_of_an_expired_account_refresh_exactly_once() {
    for db in TestDb::all().await {
        let (t, peer) = app_with_peer(db, &[("PEER_ACCESS_TOKEN_TTL", "2")]).await;
        let owner = t.workspace("acme").await;
        let (_, page, _) = connect(&t, &owner, json!({"app": "peer"})).await;
        let id = account_id_from(&page);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let reads = (0..40).map(|_| {
            let (t, owner, id) = (&t, &owner, &id);
            async move {
                credentials(t, owner, id).await["credentials"]["oauth_access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        });
        let tokens = latchkey_test_db::join_all(reads.collect()).await;
        assert_eq!(
            peer.stats().await["refresh_requests"],
            1,
            "{}: one refresh for 40 readers",
            t.label
        );
        let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
        assert_eq!(distinct.len(), 1, "every reader got the refreshed token");
        assert_eq!(api_me(&peer.issuer, &tokens[0]).await, StatusCode::OK);
        let (_, account) = t.get(&format!("/v1/accounts/{id}"), &owner.key).await;
        assert_eq!(account["data"]["healthy"], true);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_grant_revoked_at_the_provider_makes_the_account_unhealthy() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[("PEER_ACCESS_TOKEN_TTL", "2")]).await;
    let owner = t.workspace("acme").await;
    // The workspace subscribes to health changes.
    let (hook, received) = crate::webhooks::spawn_receiver(0).await;
    let (status, _, _) = t
        .request(
            reqwest::Method::PUT,
            "/v1/webhooks",
            Some(&owner.key),
            Some(json!({"health_url": hook})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let worker =
        latchkey_server::service::webhooks::spawn_worker(t.app.clone(), Duration::from_millis(20));
    let (_, page, _) = connect(&t, &owner, json!({"app": "peer"})).await;
    let id = account_id_from(&page);
    let token = credentials(&t, &owner, &id).await["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The user revokes access at the provider (revoking the access token ends the grant).
    let revoked = reqwest::Client::new()
        .post(format!("{}/token/revocation", peer.issuer))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let account = credentials(&t, &owner, &id).await;
    assert_eq!(account["healthy"], false);
    assert!(
        account["error"].as_str().unwrap().contains("invalid_grant"),
        "{account}"
    );
    let events = t
        .app
        .store
        .list_account_events(&owner.workspace_id, &id)
        .await
        .unwrap();
    assert_eq!(events[0].0, "ACCOUNT_UNHEALTHY");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while received.accepted.load(std::sync::atomic::Ordering::SeqCst) == 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, body) = received.received.lock().unwrap()[0].clone();
    let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "ACCOUNT_UNHEALTHY");
    assert_eq!(payload["account"]["id"], id.as_str());
    assert!(!body.contains(&token), "no credentials in health webhooks");
    worker.abort();

    // Reconnecting in place: same id, healthy again.
    let (status, page, _) = connect(&t, &owner, json!({"app": "peer", "account_id": id})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(account_id_from(&page), id);
    let (_, account) = t.get(&format!("/v1/accounts/{id}"), &owner.key).await;
    assert_eq!(
        (
            account["data"]["healthy"].as_bool(),
            account["data"]["error"].as_str()
        ),
        (Some(true), None)
    );
    t.cleanup().await;
}

#[tokio::test]
async fn a_refresh_abandoned_by_a_crashed_instance_is_taken_over() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[("PEER_ACCESS_TOKEN_TTL", "4")]).await;
    let owner = t.workspace("acme").await;
    let (_, page, _) = connect(&t, &owner, json!({"app": "peer"})).await;
    let id = account_id_from(&page);
    let before = credentials(&t, &owner, &id).await["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another instance took the refresh lease and died before calling the provider.
    let now = latchkey_server::clock::now_ms();
    assert!(t
        .app
        .store
        .acquire_refresh_lease(
            &owner.workspace_id,
            &id,
            "crashed-instance",
            now,
            now + 2_500
        )
        .await
        .unwrap()
        .is_some());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The token is now inside its margin; the read waits for the dead lease to lapse, then
    // refreshes itself.
    let after = credentials(&t, &owner, &id).await;
    let token = after["credentials"]["oauth_access_token"].as_str().unwrap();
    assert_ne!(token, before);
    assert_eq!(after["healthy"], true);
    assert_eq!(peer.stats().await["refresh_requests"], 1);
    assert_eq!(api_me(&peer.issuer, token).await, StatusCode::OK);
    t.cleanup().await;
}

#[tokio::test]
async fn a_provider_outage_is_retried_and_the_account_recovers() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[("PEER_ACCESS_TOKEN_TTL", "4")]).await;
    let owner = t.workspace("acme").await;
    let relay = TokenRelay::start(format!("{}/token", peer.issuer)).await;
    add_custom_peer_app(&t, &owner, "peer_flaky", &peer.issuer, &relay.url).await;
    let client = add_workspace_client(&t, &owner, "peer_flaky").await;
    let (_, page, _) = connect(
        &t,
        &owner,
        json!({"app": "peer_flaky", "oauth_app_id": client}),
    )
    .await;
    let id = account_id_from(&page);
    let first = credentials(&t, &owner, &id).await["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    relay.set(RelayMode::Down);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let during = credentials(&t, &owner, &id).await;
    assert_eq!(
        during["credentials"]["oauth_access_token"].as_str(),
        Some(first.as_str()),
        "the current token is still handed out"
    );
    assert_eq!(
        during["healthy"], true,
        "an outage before expiry does not make the account unhealthy"
    );
    assert!(
        during["error"].as_str().unwrap().contains("unavailable"),
        "{during}"
    );
    let row = t
        .app
        .store
        .get_account(&owner.workspace_id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.refresh_failures, 1);
    assert!(
        row.next_refresh_at.unwrap() > latchkey_server::clock::now_ms(),
        "retried later, with backoff"
    );

    relay.set(RelayMode::Pass);
    // A read during the backoff does not call the provider again…
    credentials(&t, &owner, &id).await;
    let row = t
        .app
        .store
        .get_account(&owner.workspace_id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.refresh_failures, 1, "backoff is honoured by readers");
    // …an explicit retry does, and the account recovers.
    use latchkey_server::service::oauth::refresh::{refresh_account, Mode};
    refresh_account(&t.app, &owner.workspace_id, &id, Mode::Force)
        .await
        .unwrap();
    let after = credentials(&t, &owner, &id).await;
    assert_ne!(
        after["credentials"]["oauth_access_token"].as_str(),
        Some(first.as_str())
    );
    assert_eq!(
        (after["healthy"].as_bool(), after["error"].as_str()),
        (Some(true), None)
    );
    assert_eq!(
        t.app
            .store
            .get_account(&owner.workspace_id, &id)
            .await
            .unwrap()
            .unwrap()
            .refresh_failures,
        0
    );
    t.cleanup().await;
}

#[tokio::test]
async fn the_scheduler_refreshes_due_accounts_once_even_when_passes_overlap() {
    use latchkey_server::service::oauth::refresh::run_due;

    for db in TestDb::all().await {
        let (t, peer) = app_with_peer(db, &[("PEER_ACCESS_TOKEN_TTL", "10")]).await;
        let owner = t.workspace("acme").await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            let (status, page, _) = connect(&t, &owner, json!({"app": "peer"})).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            ids.push(account_id_from(&page));
        }
        let mut before = Vec::new();
        for id in &ids {
            before.push(
                credentials(&t, &owner, id).await["credentials"]["oauth_access_token"].clone(),
            );
        }
        assert_eq!(
            run_due(t.app.clone(), 100).await.unwrap(),
            0,
            "{}: nothing is due yet",
            t.label
        );
        // Planned at most half the 10-second lifetime before expiry (roomy: connecting three
        // accounts on a loaded machine must not already make the first one due).
        tokio::time::sleep(Duration::from_millis(5300)).await;
        let passes = latchkey_test_db::join_all(vec![
            run_due(t.app.clone(), 100),
            run_due(t.app.clone(), 100),
        ])
        .await;
        let taken: usize = passes.into_iter().map(Result::unwrap).sum();
        assert_eq!(taken, 3, "{}: each due account taken by one pass", t.label);
        assert_eq!(peer.stats().await["refresh_requests"], 3);
        assert_eq!(peer.stats().await["invalid_grant"], 0);
        for (id, old) in ids.iter().zip(before) {
            let account = credentials(&t, &owner, id).await;
            assert_ne!(account["credentials"]["oauth_access_token"], old);
            assert_eq!(account["healthy"], true);
            assert!(account["next_refresh_at"].is_string());
        }
        assert_eq!(run_due(t.app.clone(), 100).await.unwrap(), 0);
        t.cleanup().await;
    }
}
