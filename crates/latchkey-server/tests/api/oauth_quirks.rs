//! Providers that bend RFC 6749, reproduced by `oauth2-mock-server` (`tests/peers/mock`): a
//! token response without `expires_in`, a refresh response without a new refresh token, and
//! scopes joined with commas. Each quirk is a client id the peer recognises.

use std::time::Duration;

use latchkey_test_db::{
    mock_peer::MockPeer,
    oidc_peer::{browser, follow_to_callback},
    TestDb,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Member, TestApp};

/// Adds the workspace app `quirky` (the mock peer) and a workspace OAuth client whose id picks
/// the quirk; connects an account with it and returns the account (with credentials).
async fn connect_with_quirk(t: &TestApp, owner: &Member, peer: &MockPeer, quirk: &str) -> Value {
    let issuer = &peer.issuer;
    let (status, _) = t.get("/v1/apps/quirky", &owner.key).await;
    if status == StatusCode::NOT_FOUND {
        let (status, body) = t
            .post(
                "/v1/apps",
                &owner.key,
                json!({
                    "name_slug": "quirky",
                    "name": "Quirky",
                    "auth_type": "oauth",
                    "oauth": {
                        "grant": "authorization_code",
                        "authorization_url": format!("{issuer}/authorize"),
                        "token_url": format!("{issuer}/token"),
                        "default_scopes": ["api:read"]
                    },
                    "request": {
                        "base_url": format!("{issuer}/api"),
                        "allowed_domains": ["127.0.0.1"],
                        "headers": {"Authorization": "Bearer {{oauth_access_token}}"}
                    }
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, client) = t
        .post(
            "/v1/oauth_apps",
            &owner.key,
            json!({"app": "quirky", "client_id": quirk, "client_secret": "not-checked"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let (status, started) = t
        .post(
            "/v1/accounts/connect",
            &owner.key,
            json!({"app": "quirky", "oauth_app_id": client["data"]["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let browser = browser();
    let callback = follow_to_callback(
        &browser,
        started["data"]["authorize_url"].as_str().unwrap(),
        &format!("{}/oauth/callback", t.base),
    )
    .await;
    let page = browser.get(callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let start = page.find("data-account-id=\"").expect("a success page") + 17;
    let id = &page[start..start + page[start..].find('"').unwrap()];
    read(t, owner, id).await
}

async fn read(t: &TestApp, owner: &Member, id: &str) -> Value {
    let (status, body) = t
        .get(
            &format!("/v1/accounts/{id}?include_credentials=1"),
            &owner.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn a_token_without_expires_in_is_kept_and_not_refreshed_on_every_read() {
    let peer = MockPeer::start();
    let t = TestApp::spawn(TestDb::sqlite()).await;
    let owner = t.workspace("acme").await;
    let account = connect_with_quirk(&t, &owner, &peer, "quirk-no-expires-in").await;
    assert_eq!(account["healthy"], true);
    assert_eq!(account["expires_at"], Value::Null, "{account}");
    let token = account["credentials"]["oauth_access_token"].clone();
    assert!(token.is_string());
    for _ in 0..3 {
        let again = read(&t, &owner, account["id"].as_str().unwrap()).await;
        assert_eq!(again["credentials"]["oauth_access_token"], token);
    }
    assert_eq!(
        peer.token_requests("quirk-no-expires-in", "refresh_token")
            .await,
        0
    );
    t.cleanup().await;
}

#[tokio::test]
async fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let peer = MockPeer::start();
    let t = TestApp::spawn(TestDb::sqlite()).await;
    let owner = t.workspace("acme").await;
    let quirk = "quirk-keeps-refresh-token";
    let account = connect_with_quirk(&t, &owner, &peer, quirk).await;
    let id = account["id"].as_str().unwrap();
    let refresh_token = account["credentials"]["oauth_refresh_token"].clone();
    assert!(refresh_token.is_string(), "{account}");
    // The token lives two seconds; past half its lifetime a read refreshes it.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let refreshed = read(&t, &owner, id).await;
    assert_eq!(peer.token_requests(quirk, "refresh_token").await, 1);
    assert_ne!(
        refreshed["credentials"]["oauth_access_token"],
        account["credentials"]["oauth_access_token"]
    );
    assert_eq!(
        refreshed["credentials"]["oauth_refresh_token"],
        refresh_token
    );
    assert_eq!(refreshed["healthy"], true);
    // And the kept refresh token still works the next time.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let again = read(&t, &owner, id).await;
    assert_eq!(peer.token_requests(quirk, "refresh_token").await, 2);
    assert_eq!(again["credentials"]["oauth_refresh_token"], refresh_token);
    t.cleanup().await;
}

#[tokio::test]
async fn comma_separated_scopes_are_recorded_as_a_list() {
    let peer = MockPeer::start();
    let t = TestApp::spawn(TestDb::sqlite()).await;
    let owner = t.workspace("acme").await;
    let account = connect_with_quirk(&t, &owner, &peer, "quirk-comma-scopes").await;
    assert_eq!(
        account["authorized_scopes"],
        json!(["api:read", "api:write"]),
        "{account}"
    );
    t.cleanup().await;
}
