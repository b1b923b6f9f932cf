//! OAuth accounts against a real, OpenID-certified authorization server (`oidc-provider`, in
//! `tests/peers/oidc`): the connect flow walked headless, refresh with rotation, single-flight
//! under concurrency, denial, replay, revocation. Shared helpers live here.

mod clients;
mod connect;
mod end_users;
mod refresh;

use std::sync::Arc;

use latchkey_server::config::{env_slug, OAuthClientConfig};
use latchkey_test_db::TestDb;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{Member, TestApp};

pub(crate) use latchkey_test_db::oidc_peer::{
    browser, follow_to_callback, OidcPeer as Peer, CLIENT_ID, CLIENT_SECRET,
};

/// A test app with the operator app `peer` (the authorization server and its protected API, an
/// app file in the data dir) whose default OAuth client is registered at a fresh peer.
pub(crate) async fn app_with_peer(db: TestDb, env: &[(&str, &str)]) -> (TestApp, Arc<Peer>) {
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

pub(crate) fn operator_client(id: &str, secret: &str) -> OAuthClientConfig {
    OAuthClientConfig {
        client_id: id.into(),
        client_secret: SecretString::from(secret.to_owned()),
        workspaces: vec![],
    }
}

/// Adds a workspace custom app `slug` pointing at the peer, with its token endpoint at
/// `token_url` (fault injection goes in front of the peer).
pub(crate) async fn add_custom_peer_app(
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
pub(crate) async fn add_workspace_client(t: &TestApp, admin: &Member, app: &str) -> String {
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
pub(crate) async fn connect(
    t: &TestApp,
    member: &Member,
    body: Value,
) -> (StatusCode, String, url::Url) {
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

pub(crate) fn account_id_from(page: &str) -> String {
    let start =
        page.find("data-account-id=\"").expect("a success page") + "data-account-id=\"".len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

pub(crate) async fn credentials(t: &TestApp, member: &Member, id: &str) -> Value {
    let (status, body) = t
        .get(
            &format!("/v1/accounts/{id}?include_credentials=1"),
            &member.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

pub(crate) async fn api_me(issuer: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{issuer}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// RFC 7662 introspection at the peer, as the registered client.
pub(crate) async fn introspect(issuer: &str, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{issuer}/token/introspection"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Walks a connect flow up to the callback and returns the browser and the callback URL.
pub(crate) async fn walk_to_callback(t: &TestApp, member: &Member) -> (reqwest::Client, url::Url) {
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
