//! Connecting: the flow walked headless, denial, replay, issuer checks, OAuth 1.0a, delete with revocation.

use std::time::Duration;

use latchkey_server::config::env_slug;
use latchkey_test_db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::helpers::TestApp;

#[tokio::test]
async fn connect_refresh_with_rotation_and_delete_with_revocation() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[("PEER_ACCESS_TOKEN_TTL", "4")]).await;
    let owner = t.workspace("acme").await;

    // The start link shows who the account will belong to, and opening it changes nothing.
    let (_, started) = t
        .post("/v1/accounts/connect", &owner.key, json!({"app": "peer"}))
        .await;
    let link = started["data"]["authorize_url"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let page = browser().get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let text = page.text().await.unwrap();
        assert!(
            text.contains("acme")
                && text.contains("owner@acme.test")
                && text.contains("method=\"post\""),
            "{text}"
        );
    }

    let (status, page, callback) = connect(&t, &owner, json!({"app": "peer"})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let query: std::collections::BTreeMap<_, _> = callback.query_pairs().into_owned().collect();
    assert_eq!(
        query.get("iss").map(String::as_str),
        Some(peer.issuer.as_str()),
        "the peer sends iss (RFC 9207)"
    );
    let id = account_id_from(&page);
    let account = credentials(&t, &owner, &id).await;
    assert_eq!(account["healthy"], true);
    assert_eq!(account["owner"]["id"], owner.user_id.as_str());
    assert_eq!(account["authorized_scopes"], json!(["api:read"]));
    assert!(account["expires_at"].is_string());
    assert!(
        account["last_refreshed_at"].is_string() && account["next_refresh_at"].is_string(),
        "{account}"
    );
    let first = account["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(account["credentials"]["oauth_client_id"], CLIENT_ID);
    assert!(
        account["credentials"].get("oauth_refresh_token").is_none(),
        "never returned for the operator's client"
    );
    assert_eq!(api_me(&peer.issuer, &first).await, StatusCode::OK);

    // The same callback again: the state is single use.
    let browser = browser();
    let replay = browser.get(callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // The token lives 4 s: the margin is capped at half that, so a read after 2.5 s refreshes.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let refreshed = credentials(&t, &owner, &id).await;
    let second = refreshed["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second, "a fresh token");
    assert_eq!(api_me(&peer.issuer, &second).await, StatusCode::OK);
    assert_eq!(peer.stats().await["refresh_requests"], 1);
    let again = credentials(&t, &owner, &id).await;
    assert_eq!(
        again["credentials"]["oauth_access_token"].as_str(),
        Some(second.as_str()),
        "no refresh while fresh"
    );
    assert_eq!(peer.stats().await["refresh_requests"], 1);

    // Rotation worked: after another expiry the rotated refresh token is accepted too.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let third = credentials(&t, &owner, &id).await["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(third, second);
    assert_eq!(peer.stats().await["invalid_grant"], 0);
    assert_eq!(introspect(&peer.issuer, &third).await["active"], true);

    let (status, _, headers) = t
        .request(
            Method::DELETE,
            &format!("/v1/accounts/{id}"),
            Some(&owner.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["latchkey-revocation"], "revoked");
    assert_eq!(
        api_me(&peer.issuer, &third).await,
        StatusCode::UNAUTHORIZED,
        "revoking the grant kills its tokens"
    );
    assert_eq!(
        introspect(&peer.issuer, &third).await["active"],
        false,
        "the provider's introspection (RFC 7662) reports the token inactive"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn denial_bad_state_missing_client_and_revoked_grants_are_clear() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[("PEER_DENY", "1")]).await;
    let owner = t.workspace("acme").await;
    let (status, page, _) = connect(&t, &owner, json!({"app": "peer"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Access was denied at Peer"), "{page}");
    assert!(page.contains(r#"data-error="access_denied""#));
    let (_, list) = t.get("/v1/accounts", &owner.key).await;
    assert_eq!(list["page_info"]["total_count"], 0, "nothing connected");

    let response = browser()
        .get(format!("{}/oauth/callback?code=x&state=forged", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("expired or was already completed"));

    // An app whose OAuth client nobody configured says so, naming the settings.
    let (status, body) = t
        .post("/v1/accounts/connect", &owner.key, json!({"app": "github"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("LATCHKEY_OAUTH_GITHUB_CLIENT_ID"),
        "{body}"
    );
    let (status, body) = t
        .post("/v1/accounts/connect", &owner.key, json!({"app": "openai"}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("app"))
    );
    // The operator's client for the slug `evil` is not handed to a workspace's own app of that
    // name: its token URL could be anyone's.
    add_custom_peer_app(
        &t,
        &owner,
        "evil",
        &peer.issuer,
        &format!("{}/token", peer.issuer),
    )
    .await;
    let (status, body) = t
        .post("/v1/accounts/connect", &owner.key, json!({"app": "evil"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no OAuth client configured"),
        "{body}"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn a_callback_with_a_wrong_or_missing_issuer_connects_nothing() {
    let (t, _peer) = app_with_peer(TestDb::sqlite(), &[]).await;
    let owner = t.workspace("acme").await;
    let cases = [
        (Some("https://attacker.test"), "unexpected issuer"),
        (None, "missing the issuer"),
    ];
    for (iss, message) in cases {
        let (browser, mut callback) = walk_to_callback(&t, &owner).await;
        let pairs: Vec<(String, String)> = callback
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "iss")
            .collect();
        {
            let mut query = callback.query_pairs_mut();
            query.clear();
            for (k, v) in &pairs {
                query.append_pair(k, v);
            }
            if let Some(iss) = iss {
                query.append_pair("iss", iss);
            }
        }
        let response = browser.get(callback).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let page = response.text().await.unwrap();
        assert!(page.contains(message), "{page}");
        assert!(page.contains(r#"data-error="invalid_issuer""#), "{page}");
    }
    let (_, list) = t.get("/v1/accounts", &owner.key).await;
    assert_eq!(list["page_info"]["total_count"], 0, "nothing connected");
    t.cleanup().await;
}

#[tokio::test]
async fn oauth1_accounts_connect_through_the_three_legged_flow() {
    use latchkey_oauth::oauth1::Signer;
    use latchkey_test_db::oauth1_peer::{OAuth1Peer, CONSUMER_KEY, CONSUMER_SECRET};

    for deny in [false, true] {
        let mut peer = None;
        let t = TestApp::spawn_with(TestDb::sqlite(), |config, base| {
            let env: &[(&str, &str)] = if deny { &[("PEER_DENY", "1")] } else { &[] };
            let started = OAuth1Peer::start(&format!("{base}/oauth/callback"), env);
            let apps = config.data_dir.join("apps");
            std::fs::create_dir_all(&apps).unwrap();
            let b = &started.base;
            std::fs::write(
                apps.join("legacy.toml"),
                format!(
                    "name_slug = \"legacy\"\nname = \"Legacy\"\nauth_type = \"oauth\"\n[oauth]\ngrant = \"oauth1\"\n\
                     request_token_url = \"{b}/oauth/request_token\"\nauthorization_url = \"{b}/oauth/authorize\"\n\
                     token_url = \"{b}/oauth/access_token\"\n[request]\nbase_url = \"{b}/api\"\nallowed_domains = [\"127.0.0.1\"]\n"
                ),
            )
            .unwrap();
            config.oauth_clients_from_env.insert(env_slug("legacy"), operator_client(CONSUMER_KEY, CONSUMER_SECRET));
            peer = Some(started);
        })
        .await;
        let peer = peer.unwrap();
        let owner = t.workspace("acme").await;
        let base = &peer.base;
        let (status, page, _) = connect(&t, &owner, json!({"app": "legacy"})).await;
        if deny {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(page.contains("Access was denied at Legacy"), "{page}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{page}");
        let id = account_id_from(&page);
        let account = credentials(&t, &owner, &id).await;
        let token = account["credentials"]["oauth_access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let secret = SecretString::from(
            account["credentials"]["oauth_token_secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        assert_eq!(account["credentials"]["oauth_uid"], "test-user");
        assert!(
            account["expires_at"].is_null(),
            "OAuth 1 tokens do not expire"
        );
        // The stored credentials sign requests the provider accepts.
        let consumer_secret = SecretString::from(CONSUMER_SECRET.to_owned());
        let signer = Signer {
            consumer_key: CONSUMER_KEY,
            consumer_secret: &consumer_secret,
            token: Some((&token, &secret)),
        };
        let url = url::Url::parse(&format!("{base}/api/me?x=1")).unwrap();
        let header = signer.authorization(
            "GET",
            &url,
            &[],
            &[],
            &latchkey_oauth::random_token(),
            (latchkey_server::clock::now_ms() / 1000) as u64,
        );
        let response = reqwest::Client::new()
            .get(url)
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        t.cleanup().await;
    }
}
