//! OAuth clients: client-credentials accounts, workspace clients, clients the provider rejects.

use std::time::Duration;

use latchkey_server::config::env_slug;
use latchkey_test_db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::helpers::TestApp;

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
