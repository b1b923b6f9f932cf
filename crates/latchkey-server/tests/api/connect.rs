//! Connect API (API.md §3): projects, environments, connect tokens, end users' accounts.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{on_every_backend, Member, TestApp, PROVIDER_KEY};

/// A server-side Connect client: an API client's access token and a project.
pub struct Product {
    pub token: String,
    pub project: String,
}

impl TestApp {
    pub async fn product(&self, owner: &Member) -> Product {
        let token = self.client_token(owner, "*").await;
        let (status, body) = self
            .post(
                "/v1/connect/projects",
                &owner.key,
                json!({"name": "Product", "support_email": "help@product.test"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Product {
            token,
            project: body["data"]["id"].as_str().unwrap().to_owned(),
        }
    }

    /// A Connect request in an environment (`None`: no header).
    pub async fn connect_call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        environment: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(bearer);
        if let Some(env) = environment {
            req = req.header("x-pd-environment", env);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn connect_token(&self, product: &Product, env: &str, user: &str) -> String {
        let (status, body) = self
            .connect_call(
                Method::POST,
                &format!("/v1/connect/{}/tokens", product.project),
                &product.token,
                Some(env),
                Some(json!({"external_user_id": user, "allowed_origins": ["https://app.product.test"], "expires_in": 600})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Connects a `demo_api` account for `user` through a fresh token; returns its id.
    pub async fn connect_end_user(
        &self,
        product: &Product,
        env: &str,
        user: &str,
        key: &str,
    ) -> String {
        let ctok = self.connect_token(product, env, user).await;
        let (status, body) = self
            .connect_call(
                Method::POST,
                &format!("/v1/connect/{}/accounts?external_user_id={}", product.project, urlencoding(user)),
                &product.token,
                Some(env),
                Some(json!({"app_slug": "demo_api", "cfmap_json": json!({"api_key": key}).to_string(), "connect_token": ctok})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn tokens_connect_once_and_environments_stay_apart() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let product = app.product(&owner).await;
        let p = product.project.clone();

        // x-pd-environment is required on project routes.
        let (status, body) = app
            .connect_call(Method::GET, &format!("/v1/connect/{p}/accounts"), &product.token, None, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["field"], "x-pd-environment");
        let (status, _) = app
            .connect_call(Method::GET, &format!("/v1/connect/{p}/accounts"), &product.token, Some("staging"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // A token: ctok_ + 32 hex, a connect link, expiry within 4 h.
        let (status, body) = app
            .connect_call(
                Method::POST,
                &format!("/v1/connect/{p}/tokens"),
                &product.token,
                Some("production"),
                Some(json!({"external_user_id": "user 1/x", "allowed_origins": ["https://app.product.test"], "success_redirect_uri": "https://ok.test", "webhook_uri": "https://hooks.product.test/connect"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let ctok = body["token"].as_str().unwrap().to_owned();
        assert!(latchkey_domain::connect::is_connect_token(&ctok), "{ctok}");
        assert!(body["connect_link_url"].as_str().unwrap().starts_with(&format!("{}/_static/connect.html?token={ctok}", app.base)));
        for bad in [json!({"external_user_id": ""}), json!({"external_user_id": "u", "expires_in": 14401}), json!({"external_user_id": "u", "allowed_origins": ["nope"]}), json!({"external_user_id": "x".repeat(251)})] {
            let (status, body) = app
                .connect_call(Method::POST, &format!("/v1/connect/{p}/tokens"), &product.token, Some("production"), Some(bad))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }

        // Validation, as the hosted page does it.
        let (status, body) = app.get(&format!("/v1/connect/tokens/{ctok}/validate?app_id=demo_api"), "unused").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["success"], true, "{body}");
        assert_eq!(body["project_id"], p);
        assert_eq!(body["project_environment"], "production");
        assert_eq!(body["app"]["name_slug"], "demo_api");
        assert_eq!(body["success_redirect_uri"], "https://ok.test");

        // The browser connects a key-based account with the token (no project in the path).
        let create = |token: &str| {
            json!({"app_slug": "demo_api", "cfmap_json": json!({"api_key": PROVIDER_KEY}).to_string(), "connect_token": token, "name": "Mine"})
        };
        let (status, account) = app
            .connect_call(Method::POST, "/v1/connect/accounts", &ctok, None, Some(create(&ctok)))
            .await;
        assert_eq!(status, StatusCode::OK, "{account}");
        let account_id = account["id"].as_str().unwrap().to_owned();
        assert_eq!(account["external_id"], "user 1/x");
        assert_eq!(account["healthy"], true, "the check passed: {account}");
        assert!(account.get("credentials").is_none() && account.get("owner").is_none());

        // Spent: it cannot connect again.
        let (status, body) = app
            .connect_call(Method::POST, &format!("/v1/connect/{p}/accounts"), &product.token, Some("production"), Some(create(&ctok)))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (_, body) = app.get(&format!("/v1/connect/tokens/{ctok}/validate"), "unused").await;
        assert_eq!(body["success"], false);

        // The token still reads its own user's accounts, never credentials.
        let (status, body) = app.connect_call(Method::GET, "/v1/connect/accounts", &ctok, None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"].as_array().unwrap().len(), 1);
        let (status, _) = app
            .connect_call(Method::GET, &format!("/v1/connect/accounts/{account_id}?include_credentials=true"), &ctok, None, None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app.connect_call(Method::GET, "/v1/connect/accounts?external_user_id=someone-else", &ctok, None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // The server reads it, with credentials, as a bare object.
        let (status, body) = app
            .connect_call(Method::GET, &format!("/v1/connect/{p}/accounts/{account_id}?include_credentials=true"), &product.token, Some("production"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], account_id.as_str());
        assert_eq!(body["credentials"]["api_key"], PROVIDER_KEY);
        assert!(body.get("data").is_none(), "bare, not wrapped");

        // Development sees none of production, and the workspace API none of Connect.
        let (_, body) = app
            .connect_call(Method::GET, &format!("/v1/connect/{p}/accounts"), &product.token, Some("development"), None)
            .await;
        assert_eq!(body["data"], json!([]), "{body}");
        let (status, _) = app
            .connect_call(Method::GET, &format!("/v1/connect/{p}/accounts/{account_id}"), &product.token, Some("development"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, body) = app.get("/v1/accounts", &owner.key).await;
        assert_eq!(body["data"], json!([]));
        let (status, _) = app.get(&format!("/v1/accounts/{account_id}"), &owner.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Another workspace cannot name the project.
        let stranger = app.workspace("stranger").await;
        let stranger_token = app.client_token(&stranger, "*").await;
        let (status, _) = app
            .connect_call(Method::GET, &format!("/v1/connect/{p}/accounts"), &stranger_token, Some("production"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        app
    })
    .await;
}

#[tokio::test]
async fn listings_page_to_the_end_and_deletes_cascade() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let product = app.product(&owner).await;
        let p = product.project.clone();
        let env = "development";
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(
                app.connect_end_user(&product, env, "user 1/x", PROVIDER_KEY)
                    .await,
            );
        }
        ids.push(
            app.connect_end_user(&product, env, "other", PROVIDER_KEY)
                .await,
        );

        // Pages of 3: the last page has end_cursor null.
        let (_, first) = app
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/accounts?limit=3"),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(first["page_info"]["total_count"], 4);
        let cursor = first["page_info"]["end_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, last) = app
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/accounts?limit=3&after={cursor}"),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(last["data"].as_array().unwrap().len(), 1);
        assert_eq!(last["page_info"]["end_cursor"], Value::Null);

        // Per user, as a bare array, with the id percent-decoded once.
        let (status, body) = app
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/users/user%201%2Fx/accounts?app=demo_api"),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body.as_array().unwrap().len(), 3);
        let (_, users) = app
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/users"),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(users["page_info"]["total_count"], 2, "{users}");
        assert!(users["data"][0]["id"].as_str().unwrap().starts_with("exu_"));

        // Deleting the user deletes their accounts; the other user's stays.
        let (status, _) = app
            .connect_call(
                Method::DELETE,
                &format!("/v1/connect/{p}/users/user%201%2Fx"),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/accounts/{}", ids[0]),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, body) = app
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/accounts"),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(body["page_info"]["total_count"], 1);

        // Delete by app, then a single delete of nothing left is a 404.
        let (status, _) = app
            .connect_call(
                Method::DELETE,
                &format!("/v1/connect/{p}/apps/demo_api/accounts"),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app
            .connect_call(
                Method::DELETE,
                &format!("/v1/connect/{p}/accounts/{}", ids[3]),
                &product.token,
                Some(env),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The catalog through Connect: wrapped app, bare categories.
        let (status, body) = app
            .connect_call(
                Method::GET,
                "/v1/connect/apps?q=demo&limit=5&sort_key=name&sort_direction=asc",
                &product.token,
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"][0]["name_slug"], "demo_api");
        let (_, body) = app
            .connect_call(
                Method::GET,
                "/v1/connect/apps/demo_api",
                &product.token,
                None,
                None,
            )
            .await;
        assert_eq!(body["data"]["name_slug"], "demo_api");
        let (_, cats) = app
            .connect_call(
                Method::GET,
                "/v1/connect/app_categories",
                &product.token,
                None,
                None,
            )
            .await;
        let dev_tools = cats
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "Developer Tools")
            .expect("category")
            .clone();
        assert!(dev_tools["id"].as_str().unwrap().starts_with("appcat_"));
        let (_, body) = app
            .connect_call(
                Method::GET,
                &format!(
                    "/v1/connect/apps?category_ids={}",
                    dev_tools["id"].as_str().unwrap()
                ),
                &product.token,
                None,
                None,
            )
            .await;
        assert!(body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["categories"]
                .as_array()
                .unwrap()
                .contains(&json!("Developer Tools"))));
        app
    })
    .await;
}

#[tokio::test]
async fn connect_tokens_work_only_from_their_allowed_origins() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let product = app.product(&owner).await;
        let ctok = app.connect_token(&product, "production", "u1").await;
        let url = format!("{}/v1/connect/accounts", app.base);

        let preflight = app
            .http
            .request(Method::OPTIONS, &url)
            .header("origin", "https://app.product.test")
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "authorization, x-pd-environment",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "https://app.product.test"
        );

        let allowed = app
            .http
            .get(&url)
            .bearer_auth(&ctok)
            .header("origin", "https://app.product.test")
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), StatusCode::OK);
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "https://app.product.test"
        );

        let refused = app
            .http
            .get(&url)
            .bearer_auth(&ctok)
            .header("origin", "https://evil.test")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused
            .headers()
            .get("access-control-allow-origin")
            .is_none());

        // Server credentials never get CORS headers, whatever the origin.
        let server = app
            .http
            .get(format!(
                "{}/v1/connect/{}/accounts",
                app.base, product.project
            ))
            .bearer_auth(&product.token)
            .header("x-pd-environment", "production")
            .header("origin", "https://app.product.test")
            .send()
            .await
            .unwrap();
        assert_eq!(server.status(), StatusCode::OK);
        assert!(server
            .headers()
            .get("access-control-allow-origin")
            .is_none());
        app
    })
    .await;
}
