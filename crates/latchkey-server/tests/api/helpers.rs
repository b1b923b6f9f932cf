//! `TestApp`: spawns the server on port 0 against a fresh database, with typed request helpers
//! and a tiny "provider" API for credential checks.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{http::HeaderMap, routing::get, Router};
use latchkey_crypto::MasterKey;
use latchkey_domain::role::Role;
use latchkey_server::{
    app::connect_store,
    build_router,
    config::{Config, LogFormat},
    service::provisioning,
    App,
};
use latchkey_store::Store;
use latchkey_test_db::TestDb;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

pub const PROVIDER_KEY: &str = "good-key-123";

pub struct TestApp {
    pub base: String,
    pub app: Arc<App>,
    pub http: reqwest::Client,
    pub label: &'static str,
    pub db: TestDb,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
    pub provider: String,
}

/// A member of a test workspace.
#[derive(Clone, Debug)]
pub struct Member {
    pub workspace_id: String,
    pub user_id: String,
    pub key: String,
}

pub fn config(data_dir: PathBuf, db: &TestDb) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        database_url: Some(db.url.expose().to_owned()),
        master_key: None,
        master_key_file: None,
        log_format: LogFormat::Text,
        public_url: None,
        max_body_bytes: 64 * 1024,
        access_token_ttl_seconds: 3600,
        db_max_connections: 5,
        outbound_timeout_seconds: 5,
        refresh_concurrency: 4,
        cache_ttl_ms: 2000,
        proxy_rate_limit: 1000,
        webhook_retry_unit_us: 1_000_000,
        // The fake provider and the OAuth peer listen on loopback.
        egress_allow: "127.0.0.0/8".into(),
        egress_proxy: None,
        egress_bind: None,
        oauth_clients: Default::default(),
        oauth_clients_from_env: Default::default(),
    }
}

pub const TEST_MASTER_KEY: [u8; 32] = [42; 32];

/// A fake provider API: `GET /me` answers 200 only with `Authorization: Bearer good-key-123`;
/// `/echo…` (any method) answers what it received as JSON; `/redirect` answers 302 to
/// `/echo`; `/slow` answers after 8 s.
async fn spawn_provider() -> String {
    async fn echo(
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::Json<Value> {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or(""))))
            .collect();
        axum::Json(json!({
            "method": method.as_str(),
            "path": uri.path(),
            "query": uri.query().unwrap_or(""),
            "headers": headers,
            "body": serde_json::from_slice::<Value>(&body).ok(),
        }))
    }
    let router = Router::new()
        .route(
            "/me",
            get(|headers: HeaderMap| async move {
                let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
                    == Some(&format!("Bearer {PROVIDER_KEY}"));
                if ok {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        )
        .route("/echo", axum::routing::any(echo))
        .route("/echo/{*rest}", axum::routing::any(echo))
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [("location", "/echo?redirected=1")]) }),
        )
        .route(
            "/strict",
            get(|headers: HeaderMap| async move {
                // The first bearer token seen is treated as revoked early: what a provider does
                // when it invalidates a token before its announced expiry.
                static FIRST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let bearer = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                if bearer.is_empty() || *FIRST.get_or_init(|| bearer.clone()) == bearer {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(8)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, |_, _| {}).await
    }

    /// Spawns with a configuration adjusted by `customize(config, base_url)`; the listener is
    /// bound first so the public URL (and so the OAuth redirect URI) is known.
    pub async fn spawn_with(db: TestDb, customize: impl FnOnce(&mut Config, &str)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_path_buf();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = config(data_dir.clone(), &db);
        config.public_url = Some(base.clone());
        customize(&mut config, &base);
        let store: Arc<dyn Store> = Arc::new(connect_store(&config).await.unwrap());
        let app = App::build(config, store, MasterKey::from_bytes(&TEST_MASTER_KEY))
            .await
            .unwrap();
        let router = build_router(app.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let provider = spawn_provider().await;
        let label = db.label;
        Self {
            base,
            app,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            label,
            db,
            data_dir,
            _dir: dir,
            provider,
        }
    }

    pub async fn cleanup(self) {
        self.db.cleanup().await;
    }

    /// A workspace with its owner.
    pub async fn workspace(&self, name: &str) -> Member {
        let pw = SecretString::from("password123".to_owned());
        let issued = provisioning::create_workspace(
            &*self.app.store,
            name,
            &format!("owner@{name}.test"),
            Some(&pw),
        )
        .await
        .unwrap();
        Member {
            workspace_id: issued.workspace_id,
            user_id: issued.user_id,
            key: issued.api_key.expose_secret().to_owned(),
        }
    }

    /// Another member of the owner's workspace.
    pub async fn member(&self, of: &Member, email: &str, role: Role) -> Member {
        let issued = provisioning::add_member(&*self.app.store, &of.workspace_id, email, role)
            .await
            .unwrap();
        Member {
            workspace_id: issued.workspace_id,
            user_id: issued.user_id,
            key: issued.api_key.expose_secret().to_owned(),
        }
    }

    /// An access token of a new API client of the member's workspace with `scopes`.
    pub async fn client_token(&self, of: &Member, scopes: &str) -> String {
        let (client, secret) =
            provisioning::create_api_client(&*self.app.store, &of.workspace_id, "test", scopes)
                .await
                .unwrap();
        let token =
            provisioning::issue_access_token(&*self.app.store, &client.id, &secret, None, 3600)
                .await
                .unwrap();
        token.access_token.expose_secret().to_owned()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value, headers)
    }

    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.request(Method::GET, path, Some(key), None).await;
        (s, v)
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self
            .request(Method::POST, path, Some(key), Some(body))
            .await;
        (s, v)
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self
            .request(Method::PATCH, path, Some(key), Some(body))
            .await;
        (s, v)
    }

    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.request(Method::DELETE, path, Some(key), None).await;
        (s, v)
    }

    /// Adds the custom app `demo_api` (key in a bearer header, test request `GET /me` against
    /// the fake provider) to the member's workspace.
    pub async fn add_demo_app(&self, admin: &Member) -> Value {
        let (status, body) = self
            .post(
                "/v1/apps",
                &admin.key,
                json!({
                    "name_slug": "demo_api",
                    "name": "Demo API",
                    "auth_type": "keys",
                    "description": "A test provider.",
                    "categories": ["Developer Tools"],
                    "custom_fields": [{"name": "api_key", "label": "API key", "type": "password"}],
                    "request": {
                        "base_url": self.provider,
                        "allowed_domains": ["127.0.0.1"],
                        "headers": {"Authorization": "Bearer {{api_key}}"}
                    },
                    "test": {"method": "GET", "path": "/me", "expect_status": 200}
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"].clone()
    }

    /// Connects a `demo_api` account; returns its id.
    pub async fn connect(&self, member: &Member, name: &str, key: &str) -> String {
        let (status, body) = self
            .post(
                "/v1/accounts",
                &member.key,
                json!({"app": "demo_api", "name": name, "cfmap": {"api_key": key}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }
}

/// Runs `test` once per configured backend, each on a fresh database and app.
pub async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = TestApp>,
{
    for db in TestDb::all().await {
        let app = TestApp::spawn(db).await;
        let app = test(app).await;
        app.cleanup().await;
    }
}
