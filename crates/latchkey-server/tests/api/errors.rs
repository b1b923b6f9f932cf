//! The one error shape, for framework-level failures too.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::on_every_backend;

#[tokio::test]
async fn every_failure_answers_in_the_json_error_shape() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let send_raw = |body: &'static str, content_type: &'static str| {
            t.http
                .post(format!("{}/v1/accounts", t.base))
                .bearer_auth(&owner.key)
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let response = send_raw("{not json", "application/json").await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_request");
        let response = send_raw("{}", "text/plain").await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let huge = "x".repeat(100 * 1024);
        let (status, body) = t
            .post(
                "/v1/accounts",
                &owner.key,
                json!({"app": "demo", "name": huge}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
        );

        let (status, body, _) = t
            .request(Method::GET, "/v1/no/such/route", Some(&owner.key), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let (status, body, _) = t
            .request(Method::PUT, "/v1/accounts", Some(&owner.key), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
        );
        let (status, body) = t.get("/v1/accounts?limit=%FF%FE", &owner.key).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        t
    })
    .await;
}
