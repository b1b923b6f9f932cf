//! Authentication: member API keys and `POST /v1/oauth/token` (client credentials).

use latchkey_server::service::provisioning;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::helpers::{on_every_backend, TestApp};

async fn client(t: &TestApp, workspace_id: &str, scopes: &str) -> (String, String) {
    let (client, secret) =
        provisioning::create_api_client(&*t.app.store, workspace_id, "ci", scopes)
            .await
            .unwrap();
    (client.id, secret.expose_secret().to_owned())
}

async fn token_form(t: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = t
        .http
        .post(format!("{}/v1/oauth/token", t.base))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn client_credentials_with_json_and_form_bodies() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let (id, secret) = client(&t, &owner.workspace_id, "").await;
        // Exactly what @pipedream/sdk 3.x sends.
        let (status, body, headers) = t
            .request(Method::POST, "/v1/oauth/token", None, Some(json!({"client_id": id, "client_secret": secret, "grant_type": "client_credentials"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", t.label);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert!(body["created_at"].as_i64().unwrap() > 1_700_000_000);
        assert_eq!(headers["cache-control"], "no-store");
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("lk_at_"));
        let (status, _) = t.get("/v1/accounts", &token).await;
        assert_eq!(status, StatusCode::OK);

        // The legacy SDK's form body, with extra fields it sends.
        let (status, body) = token_form(&t, &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret), ("project_id", "proj_x"), ("environment", "production")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // HTTP Basic client authentication (RFC 6749 §2.3.1).
        let response = t
            .http
            .post(format!("{}/v1/oauth/token", t.base))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        t
    })
    .await;
}

#[tokio::test]
async fn bad_unknown_and_revoked_clients_get_the_same_401() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let (id, secret) = client(&t, &owner.workspace_id, "*").await;
        let (status, body) = token_form(
            &t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let token = body["access_token"].as_str().unwrap().to_owned();

        let wrong = token_form(
            &t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "lk_cs_wrong"),
            ],
        )
        .await;
        let unknown = token_form(
            &t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "lkc_nobody"),
                ("client_secret", &secret),
            ],
        )
        .await;
        let missing = token_form(&t, &[("grant_type", "client_credentials")]).await;
        t.app
            .store
            .revoke_api_client(&owner.workspace_id, &id, 1)
            .await
            .unwrap();
        let revoked = token_form(
            &t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
        for (status, body) in [&wrong, &unknown, &missing, &revoked] {
            assert_eq!(*status, StatusCode::UNAUTHORIZED);
            assert_eq!(body, &wrong.1, "indistinguishable");
            assert_eq!(body["error"], "invalid_client");
        }
        let (status, _) = t.get("/v1/accounts", &token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "revoking the client kills its tokens"
        );

        let (status, body) =
            token_form(&t, &[("grant_type", "password"), ("client_id", &id)]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
        );
        let (status, _, _) = t
            .request(
                Method::POST,
                "/v1/oauth/token",
                None,
                Some(json!("not an object")),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        t
    })
    .await;
}

#[tokio::test]
async fn scopes_limit_what_a_token_may_do() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let (id, secret) = client(&t, &owner.workspace_id, "apps:read accounts:read").await;
        let (status, body) = token_form(
            &t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "apps:read"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["scope"], "apps:read");
        let token = body["access_token"].as_str().unwrap().to_owned();
        let (status, _) = t.get("/v1/apps", &token).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = t.get("/v1/accounts", &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = token_form(
            &t,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "accounts:write"),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope"))
        );
        t
    })
    .await;
}

#[tokio::test]
async fn missing_malformed_and_unknown_bearers_get_the_same_401() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let (status, reference, headers) = t.request(Method::GET, "/v1/accounts", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["www-authenticate"], "Bearer");
        for key in [
            "lk_key_doesnotexist",
            "lk_at_doesnotexist",
            "garbage",
            &owner.key[..owner.key.len() - 1],
        ] {
            let (status, body) = t.get("/v1/accounts", key).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{key}");
            assert_eq!(body, reference);
        }
        let response = t
            .http
            .get(format!("{}/v1/accounts", t.base))
            .basic_auth("a", Some("b"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        t
    })
    .await;
}
