//! Connect configuration: the workspace's OAuth clients as `oauth_apps`, and app overrides that
//! preset non-sensitive fields (API.md §3 #17–#20).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{on_every_backend, PROVIDER_KEY};

#[tokio::test]
async fn oauth_apps_and_app_overrides() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        let product = app.product(&owner).await;
        let p = product.project.clone();
        let call = |method: Method, path: String, body: Option<serde_json::Value>| {
            let app = &app;
            let token = product.token.clone();
            async move { app.connect_call(method, &path, &token, Some("production"), body).await }
        };
        // An app with a preset-able field next to the secret one.
        let (status, body) = app
            .post(
                "/v1/apps",
                &owner.key,
                json!({
                    "name_slug": "regional_api", "name": "Regional API", "auth_type": "keys",
                    "custom_fields": [
                        {"name": "region", "label": "Region", "type": "string"},
                        {"name": "api_key", "label": "API key", "type": "password"}
                    ],
                    "request": {"base_url": app.provider, "allowed_domains": ["127.0.0.1"], "headers": {"Authorization": "Bearer {{api_key}}"}},
                    "test": {"method": "GET", "path": "/me", "expect_status": 200}
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // oauth_apps: only for OAuth apps; the secret is never returned.
        let (status, body) = call(Method::POST, format!("/v1/connect/{p}/oauth_apps"), Some(json!({"app": "regional_api", "client_id": "c", "client_secret": "s"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, created) = call(Method::POST, format!("/v1/connect/{p}/oauth_apps"), Some(json!({"app": "github", "client_id": "gh-client", "client_secret": "gh-secret", "name": "Ours"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let oa = created["id"].as_str().unwrap().to_owned();
        assert!(oa.starts_with("oa_"));
        assert_eq!(created["name_slug"], "github");
        assert_eq!(created["client_id"], "gh-client");
        assert!(created["redirect_uri"].as_str().unwrap().ends_with("/oauth/callback"));
        assert!(!created.to_string().contains("gh-secret"));
        let (_, listed) = call(Method::GET, format!("/v1/connect/{p}/oauth_apps?app=github"), None).await;
        assert_eq!(listed["data"][0]["id"], oa.as_str());
        assert_eq!(listed["page_info"]["end_cursor"], serde_json::Value::Null);
        let (status, updated) = call(Method::PUT, format!("/v1/connect/{p}/oauth_apps/{oa}"), Some(json!({"scopes": ["repo"]}))).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["scopes"], json!(["repo"]));

        // App overrides: password fields cannot be preset; others fill the connect form.
        let (status, body) = call(Method::POST, format!("/v1/connect/{p}/app_overrides"), Some(json!({"app": "regional_api", "name": "EU", "cfmap": {"api_key": "nope"}}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, created) = call(Method::POST, format!("/v1/connect/{p}/app_overrides"), Some(json!({"app": "regional_api", "name": "EU", "cfmap": {"region": "eu"}}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let ao = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["app"]["name_slug"], "regional_api");
        assert_eq!(created["cfmap"]["region"], "eu");
        let (status, _) = call(Method::POST, format!("/v1/connect/{p}/app_overrides"), Some(json!({"app": "regional_api", "name": "EU"}))).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let ctok = app.connect_token(&product, "production", "u1").await;
        let (_, v) = app.get(&format!("/v1/connect/tokens/{ctok}/validate?app_override_id={ao}"), "x").await;
        assert_eq!(v["success"], true, "{v}");
        assert_eq!(v["app"]["name_slug"], "regional_api", "the override names the app");
        assert_eq!(v["app_override_field_names"], json!(["region"]));
        let (status, account) = app
            .connect_call(
                Method::POST,
                "/v1/connect/accounts",
                &ctok,
                None,
                Some(json!({"app_slug": "regional_api", "cfmap_json": json!({"api_key": PROVIDER_KEY, "region": "us"}).to_string(), "connect_token": ctok, "app_override_id": ao})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{account}");
        let id = account["id"].as_str().unwrap();
        let (_, read) = call(Method::GET, format!("/v1/connect/{p}/accounts/{id}?include_credentials=true"), None).await;
        assert_eq!(read["credentials"]["region"], "eu", "the preset wins");

        let (status, _) = call(Method::DELETE, format!("/v1/connect/{p}/app_overrides/{ao}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = call(Method::GET, format!("/v1/connect/{p}/app_overrides/{ao}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(Method::DELETE, format!("/v1/connect/{p}/oauth_apps/{oa}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // A connect token cannot manage either.
        let ctok = app.connect_token(&product, "production", "u2").await;
        let (status, _) = app.connect_call(Method::GET, &format!("/v1/connect/{p}/oauth_apps"), &ctok, None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        app
    })
    .await;
}
