//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::on_every_backend;

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    on_every_backend(|t| async move {
        let (status, body, _) = t.request(Method::GET, "/healthz", None, None).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
        let (status, body, _) = t.request(Method::GET, "/readyz", None, None).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ready")), "{}", t.label);

        let owner = t.workspace("acme").await;
        let _ = t.get("/v1/accounts", &owner.key).await;
        let metrics = t.http.get(format!("{}/metrics", t.base)).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("latchkey_http_requests_total{method=\"GET\",route=\"/v1/accounts\",status=\"200\"} 1"), "{metrics}");
        assert!(metrics.contains("latchkey_http_request_duration_seconds_bucket"));

        let (status, doc, _) = t.request(Method::GET, "/openapi.json", None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for (path, methods) in [
            ("/v1/oauth/token", &["post"][..]),
            ("/v1/accounts", &["get", "post"]),
            ("/v1/accounts/{id}", &["get", "patch", "delete"]),
            ("/v1/apps", &["get", "post"]),
            ("/v1/apps/{id}", &["get"]),
            ("/v1/app_requests", &["get", "post"]),
            ("/v1/accounts/connect", &["post"]),
            ("/v1/oauth_apps", &["get", "post"]),
            ("/v1/oauth_apps/{id}", &["get", "put", "delete"]),
            ("/oauth/authorize/{handle}", &["get", "post"]),
            ("/oauth/callback", &["get"]),
            ("/v1/connect/{project_id}/tokens", &["post"]),
            ("/v1/connect/{project_id}/accounts", &["get", "post"]),
            ("/v1/connect/{project_id}/accounts/{account_id}", &["get", "delete"]),
            ("/v1/connect/{project_id}/users/{external_user_id}/accounts", &["get"]),
            ("/v1/connect/{project_id}/proxy/{url}", &["get", "post", "put", "patch", "delete"]),
            ("/v1/accounts/{account_id}/proxy/{url}", &["get", "post", "put", "patch", "delete"]),
            ("/v1/connect/apps", &["get"]),
            ("/v1/connect/app_categories", &["get"]),
            ("/v1/connect/{project_id}/oauth_apps", &["get", "post"]),
            ("/v1/connect/{project_id}/app_overrides", &["get", "post"]),
            ("/v1/webhooks", &["get", "put"]),
        ] {
            let entry: &Value = paths.get(path).unwrap_or_else(|| panic!("{path} missing from openapi.json"));
            for m in methods {
                assert!(entry.get(*m).is_some(), "{m} {path} missing from openapi.json");
            }
        }
        t
    })
    .await;
}
