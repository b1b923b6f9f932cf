//! OAuth accounts against a real, OpenID-certified authorization server (`oidc-provider`, in
//! `tests/peers/oidc`): the connect flow walked headless, refresh with rotation, single-flight
//! under concurrency, denial, replay, revocation.

use std::{sync::Arc, time::Duration};

use latchkey_server::config::{env_slug, OAuthClientConfig};
use latchkey_test_db::{
    token_relay::{RelayMode, TokenRelay},
    TestDb,
};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{Member, TestApp};

use latchkey_test_db::oidc_peer::{
    browser, follow_to_callback, OidcPeer as Peer, CLIENT_ID, CLIENT_SECRET,
};

/// A test app with the operator app `peer` (the authorization server and its protected API, an
/// app file in the data dir) whose default OAuth client is registered at a fresh peer.
async fn app_with_peer(db: TestDb, env: &[(&str, &str)]) -> (TestApp, Arc<Peer>) {
    let mut peer = None;
    let app = TestApp::spawn_with(db, |config, base| {
        let started = Peer::start(&format!("{base}/oauth/callback"), env);
        started.write_app_file(&config.data_dir);
        for slug in ["peer", "evil"] {
            config
                .oauth_clients_from_env
                .insert(env_slug(slug), operator_client(CLIENT_ID, CLIENT_SECRET));
        }
        peer = Some(started);
    })
    .await;
    (app, Arc::new(peer.unwrap()))
}

fn operator_client(id: &str, secret: &str) -> OAuthClientConfig {
    OAuthClientConfig {
        client_id: id.into(),
        client_secret: SecretString::from(secret.to_owned()),
        workspaces: vec![],
    }
}

/// Adds a workspace custom app `slug` pointing at the peer, with its token endpoint at
/// `token_url` (fault injection goes in front of the peer).
async fn add_custom_peer_app(
    t: &TestApp,
    admin: &Member,
    slug: &str,
    issuer: &str,
    token_url: &str,
) {
    let (status, body) = t
        .post(
            "/v1/apps",
            &admin.key,
            json!({
                "name_slug": slug,
                "name": "Peer (custom)",
                "auth_type": "oauth",
                "oauth": {
                    "grant": "authorization_code",
                    "authorization_url": format!("{issuer}/auth"),
                    "token_url": token_url,
                    "issuer": issuer,
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

/// A workspace OAuth client (`oa_…`) for `app` with the peer's client credentials.
async fn add_workspace_client(t: &TestApp, admin: &Member, app: &str) -> String {
    let (status, created) = t
        .post(
            "/v1/oauth_apps",
            &admin.key,
            json!({"app": app, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["data"]["id"].as_str().unwrap().to_owned()
}

/// Runs the whole connect flow in a fresh browser; returns the callback page's status and body.
async fn connect(t: &TestApp, member: &Member, body: Value) -> (StatusCode, String, url::Url) {
    let (status, started) = t.post("/v1/accounts/connect", &member.key, body).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let start = started["data"]["authorize_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        start.starts_with(&format!("{}/oauth/authorize/", t.base)),
        "{start}"
    );
    let browser = browser();
    let callback =
        follow_to_callback(&browser, &start, &format!("{}/oauth/callback", t.base)).await;
    let response = browser.get(callback.clone()).send().await.unwrap();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let status = response.status();
    (status, response.text().await.unwrap(), callback)
}

fn account_id_from(page: &str) -> String {
    let start =
        page.find("data-account-id=\"").expect("a success page") + "data-account-id=\"".len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

async fn credentials(t: &TestApp, member: &Member, id: &str) -> Value {
    let (status, body) = t
        .get(
            &format!("/v1/accounts/{id}?include_credentials=1"),
            &member.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn api_me(issuer: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{issuer}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

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
    t.cleanup().await;
}

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
async fn a_grant_revoked_at_the_provider_makes_the_account_unhealthy() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[("PEER_ACCESS_TOKEN_TTL", "2")]).await;
    let owner = t.workspace("acme").await;
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
async fn client_credentials_accounts_get_and_renew_their_token() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[("PEER_ACCESS_TOKEN_TTL", "3")]).await;
    let owner = t.workspace("acme").await;
    let issuer = &peer.issuer;
    let (status, body) = t
        .post(
            "/v1/apps",
            &owner.key,
            json!({
                "name_slug": "peer_machine", "name": "Peer machine", "auth_type": "oauth",
                "oauth": {"grant": "client_credentials", "token_url": format!("{issuer}/token"), "default_scopes": ["api:read"]},
                "custom_fields": [
                    {"name": "client_id", "label": "Client ID", "type": "string"},
                    {"name": "client_secret", "label": "Client secret", "type": "password"}
                ],
                "request": {"base_url": format!("{issuer}/api"), "allowed_domains": ["127.0.0.1"],
                            "headers": {"Authorization": "Bearer {{oauth_access_token}}"}}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, created) = t
        .post("/v1/accounts", &owner.key, json!({"app": "peer_machine", "cfmap": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["check"]["status"], "passed");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let first = credentials(&t, &owner, &id).await;
    let token = first["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        first["credentials"]["client_secret"], CLIENT_SECRET,
        "the workspace's own client: full credential set"
    );
    assert_eq!(api_me(issuer, &token).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let renewed = credentials(&t, &owner, &id).await["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(renewed, token, "a new token before the old one expires");
    assert_eq!(api_me(issuer, &renewed).await, StatusCode::OK);

    let (status, created) = t
        .post("/v1/accounts", &owner.key, json!({"app": "peer_machine", "cfmap": {"client_id": CLIENT_ID, "client_secret": "wrong"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["check"]["status"], "failed");
    assert_eq!(created["data"]["healthy"], false);
    t.cleanup().await;
}

#[tokio::test]
async fn workspace_oauth_clients_bring_their_own_scopes_and_full_credentials() {
    let (t, _peer) = app_with_peer(TestDb::sqlite(), &[]).await;
    let owner = t.workspace("acme").await;
    let member = t
        .member(&owner, "bob@acme.test", latchkey_domain::role::Role::Member)
        .await;
    let body = json!({"app": "peer", "name": "Our client", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": ["api:read", "api:write"]});
    let (status, _) = t.post("/v1/oauth_apps", &member.key, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins create clients");
    let (status, created) = t.post("/v1/oauth_apps", &owner.key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let client = &created["data"];
    let oa = client["id"].as_str().unwrap().to_owned();
    assert!(oa.starts_with("oa_"));
    assert_eq!(
        client["redirect_uri"],
        format!("{}/oauth/callback", t.base).as_str()
    );
    assert!(
        !created.to_string().contains(CLIENT_SECRET),
        "the secret is write-only"
    );
    let (_, listed) = t.get("/v1/oauth_apps", &member.key).await;
    assert!(!listed.to_string().contains(CLIENT_SECRET));
    assert_eq!(listed["data"][0]["id"], oa.as_str());

    // Any member may connect with it.
    let (status, page, _) = connect(&t, &member, json!({"app": "peer", "oauth_app_id": oa})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let id = account_id_from(&page);
    let account = credentials(&t, &member, &id).await;
    assert_eq!(
        account["authorized_scopes"],
        json!(["api:read", "api:write"])
    );
    assert!(
        account["credentials"]["oauth_refresh_token"].is_string(),
        "own client: the full credential set"
    );

    let (status, updated, _) = t
        .request(
            Method::PUT,
            &format!("/v1/oauth_apps/{oa}"),
            Some(&owner.key),
            Some(json!({"scopes": ["api:read"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    // The new scopes apply on reconnect, which keeps the account's client.
    let (status, page, _) = connect(&t, &member, json!({"app": "peer", "account_id": id})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let account = credentials(&t, &member, &id).await;
    assert_eq!(account["authorized_scopes"], json!(["api:read"]));

    let (status, body) = t
        .post(
            "/v1/accounts/connect",
            &member.key,
            json!({"app": "peer", "oauth_app_id": "oa_nope"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("oauth_app_id"))
    );
    let (status, _) = t.delete(&format!("/v1/oauth_apps/{oa}"), &member.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.delete(&format!("/v1/oauth_apps/{oa}"), &owner.key).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.get(&format!("/v1/oauth_apps/{oa}"), &owner.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
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

/// Walks a connect flow up to the callback and returns the browser and the callback URL.
async fn walk_to_callback(t: &TestApp, member: &Member) -> (reqwest::Client, url::Url) {
    let (status, started) = t
        .post("/v1/accounts/connect", &member.key, json!({"app": "peer"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let browser = browser();
    let callback = follow_to_callback(
        &browser,
        started["data"]["authorize_url"].as_str().unwrap(),
        &format!("{}/oauth/callback", t.base),
    )
    .await;
    (browser, callback)
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
async fn a_client_the_provider_rejects_is_flagged_until_an_admin_fixes_it() {
    // The operator configured the right client id with the wrong secret.
    let mut peer = None;
    let t = TestApp::spawn_with(TestDb::sqlite(), |config, base| {
        let started = Peer::start(
            &format!("{base}/oauth/callback"),
            &[("PEER_ACCESS_TOKEN_TTL", "4")],
        );
        started.write_app_file(&config.data_dir);
        config
            .oauth_clients_from_env
            .insert(env_slug("peer"), operator_client(CLIENT_ID, "wrong-secret"));
        peer = Some(started);
    })
    .await;
    let owner = t.workspace("acme").await;
    let default_status = |body: &Value| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["app"] == "peer")
            .cloned()
            .expect("the operator's client of peer is listed")
    };
    let (status, defaults) = t.get("/v1/oauth_apps/defaults", &owner.key).await;
    assert_eq!(status, StatusCode::OK, "{defaults}");
    let peer_default = default_status(&defaults);
    assert_eq!(peer_default["status"], "active");
    assert_eq!(peer_default["client_id"], CLIENT_ID);
    assert_eq!(peer_default["source"], "config");
    assert!(!defaults.to_string().contains("wrong-secret"));

    let (status, page, _) = connect(&t, &owner, json!({"app": "peer"})).await;
    assert_ne!(status, StatusCode::OK);
    assert!(page.contains(r#"data-error="invalid_client""#), "{page}");
    let (_, defaults) = t.get("/v1/oauth_apps/defaults", &owner.key).await;
    let peer_default = default_status(&defaults);
    assert_eq!(peer_default["status"], "rejected", "{defaults}");
    assert_eq!(peer_default["rejected_error"], "invalid_client");

    // A workspace client that works, until an admin saves a wrong secret: the next refresh is
    // refused, the client is flagged, and saving the right secret clears it.
    let oa = add_workspace_client(&t, &owner, "peer").await;
    let (status, page, _) = connect(&t, &owner, json!({"app": "peer", "oauth_app_id": oa})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let id = account_id_from(&page);
    let put_secret = |secret: &'static str| {
        let (t, owner, oa) = (&t, &owner, oa.clone());
        async move {
            let (status, body, _) = t
                .request(
                    Method::PUT,
                    &format!("/v1/oauth_apps/{oa}"),
                    Some(&owner.key),
                    Some(json!({"client_secret": secret})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["data"].clone()
        }
    };
    assert_eq!(put_secret("wrong-secret").await["status"], "active");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let mut flagged = Value::Null;
    for _ in 0..50 {
        let _ = t
            .get(
                &format!("/v1/accounts/{id}?include_credentials=1"),
                &owner.key,
            )
            .await;
        let (_, client) = t.get(&format!("/v1/oauth_apps/{oa}"), &owner.key).await;
        if client["data"]["status"] == "rejected" {
            flagged = client["data"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(flagged["rejected_error"], "invalid_client", "{flagged}");
    assert!(flagged["rejected_at"].is_string());
    let (_, account) = t.get(&format!("/v1/accounts/{id}"), &owner.key).await;
    assert_eq!(account["data"]["healthy"], false);
    assert!(account["data"]["error"]
        .as_str()
        .unwrap()
        .contains("rejected the OAuth client"));
    let fixed = put_secret(CLIENT_SECRET).await;
    assert_eq!(fixed["status"], "active");
    assert_eq!(fixed["rejected_error"], Value::Null);
    t.cleanup().await;
}

#[tokio::test]
async fn the_scheduler_refreshes_due_accounts_once_even_when_passes_overlap() {
    use latchkey_server::service::oauth::refresh::run_due;

    for db in TestDb::all().await {
        let (t, peer) = app_with_peer(db, &[("PEER_ACCESS_TOKEN_TTL", "4")]).await;
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
        // Planned at most half the 4-second lifetime before expiry.
        tokio::time::sleep(Duration::from_millis(2300)).await;
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
