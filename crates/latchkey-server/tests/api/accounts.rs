//! `/v1/accounts`: connect, check, list, read, rename, delete, and who may do what.

use latchkey_domain::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{on_every_backend, PROVIDER_KEY};

#[tokio::test]
async fn connect_checks_credentials_and_reports_the_result() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let (status, body) = t
            .post(
                "/v1/accounts",
                &owner.key,
                json!({"app": "demo_api", "name": "Prod", "cfmap": {"api_key": PROVIDER_KEY}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", t.label);
        assert_eq!(body["check"]["status"], "passed");
        assert_eq!(body["check"]["http_status"], 200);
        let account = &body["data"];
        assert!(account["id"].as_str().unwrap().starts_with("apn_"));
        assert_eq!(account["healthy"], true);
        assert_eq!(account["owner"]["id"], owner.user_id.as_str());
        assert_eq!(account["owner"]["email"], "owner@acme.test");
        assert_eq!(account["app"]["name_slug"], "demo_api");
        assert!(
            account.get("credentials").is_none(),
            "never without include_credentials"
        );

        // A wrong key is reported, and the account is still saved, marked unhealthy.
        let (status, body) = t
            .post(
                "/v1/accounts",
                &owner.key,
                json!({"app": "demo_api", "cfmap": {"api_key": "wrong"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["check"]["status"], "failed");
        assert_eq!(body["check"]["http_status"], 401);
        assert_eq!(body["data"]["healthy"], false);
        assert_eq!(
            body["data"]["name"], "Demo API",
            "defaults to the app's name"
        );
        assert!(body["data"]["error"].as_str().unwrap().contains("401"));

        let (status, body) = t
            .post(
                "/v1/accounts",
                &owner.key,
                json!({"app": "demo_api", "cfmap": {"api_key": "x"}, "skip_check": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["check"]["status"], "skipped");
        t
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let cases = [
            (json!({"app": "demo_api", "cfmap": {}}), "cfmap.api_key"),
            (
                json!({"app": "demo_api", "cfmap": {"api_key": "k", "extra": "v"}}),
                "cfmap.extra",
            ),
            (json!({"app": "no_such_app", "cfmap": {}}), "app"),
            (json!({"app": "github", "cfmap": {}}), "app"),
            (
                json!({"app": "demo_api", "name": "", "cfmap": {"api_key": "k"}}),
                "name",
            ),
            (
                json!({"app": "demo_api", "cfmap": {"api_key": ["not", "a", "string"]}}),
                "cfmap.api_key",
            ),
        ];
        for (body, field) in cases {
            let (status, response) = t.post("/v1/accounts", &owner.key, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {response}");
            assert_eq!(response["field"], field, "{body} -> {response}");
            assert_eq!(response["code"], "invalid_request");
        }
        let (status, response) = t
            .post(
                "/v1/accounts",
                &owner.key,
                json!({"app": "demo_api", "cfmap": {}, "bogus": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(response["error"].as_str().unwrap().contains("bogus"));
        t
    })
    .await;
}

#[tokio::test]
async fn credentials_only_for_the_owner_and_with_no_store() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let admin = t.member(&owner, "admin@acme.test", Role::Admin).await;
        let member = t.member(&owner, "bob@acme.test", Role::Member).await;
        t.add_demo_app(&owner).await;
        let id = t.connect(&owner, "Prod", "secret-value-1").await;

        for flag in ["1", "true"] {
            let (status, body, headers) = t
                .request(
                    Method::GET,
                    &format!("/v1/accounts/{id}?include_credentials={flag}"),
                    Some(&owner.key),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{}", t.label);
            assert_eq!(body["data"]["credentials"]["api_key"], "secret-value-1");
            assert!(body["data"].get("expires_at").is_some());
            assert_eq!(headers["cache-control"], "no-store");
        }
        let (status, body) = t
            .get(
                &format!("/v1/accounts/{id}?include_credentials=0"),
                &owner.key,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["data"].get("credentials").is_none());
        let (status, _) = t
            .get(
                &format!("/v1/accounts/{id}?include_credentials=yes"),
                &owner.key,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // An admin sees the private account but may not read its credentials (decision 1).
        let (status, body) = t.get(&format!("/v1/accounts/{id}"), &admin.key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = t
            .get(
                &format!("/v1/accounts/{id}?include_credentials=1"),
                &admin.key,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(!body.to_string().contains("secret-value-1"));
        // A member does not even learn that it exists.
        let (status, _) = t.get(&format!("/v1/accounts/{id}"), &member.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, list) = t
            .get("/v1/accounts?include_credentials=1", &admin.key)
            .await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert!(
            list["data"][0]["credentials"].is_null(),
            "listing never leaks what get refuses"
        );
        let (_, list) = t.get("/v1/accounts", &member.key).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 0);
        t
    })
    .await;
}

#[tokio::test]
async fn listing_paginates_with_a_null_end_cursor_and_filters() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        for i in 0..7 {
            let (status, _) = t
                .post("/v1/accounts", &owner.key, json!({"app": "demo_api", "name": format!("Acct {i}"), "cfmap": {"api_key": "k"}, "skip_check": true}))
                .await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let mut seen = Vec::new();
        let mut url = "/v1/accounts?limit=3".to_owned();
        loop {
            let (status, body) = t.get(&url, &owner.key).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["page_info"]["total_count"], 7);
            let data = body["data"].as_array().unwrap();
            assert_eq!(body["page_info"]["count"], data.len());
            seen.extend(data.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
            match body["page_info"]["end_cursor"].as_str() {
                Some(cursor) => url = format!("/v1/accounts?limit=3&after={cursor}"),
                None => {
                    assert!(body["page_info"]["end_cursor"].is_null(), "last page has end_cursor: null");
                    break;
                }
            }
        }
        assert_eq!(seen.len(), 7);
        let (_, body) = t.get("/v1/accounts?q=acct%205", &owner.key).await;
        assert_eq!(body["data"].as_array().unwrap().len(), 1);
        let (_, body) = t.get("/v1/accounts?app=openai", &owner.key).await;
        assert_eq!(body["page_info"]["total_count"], 0);
        let (status, body) = t.get("/v1/accounts?limit=0", &owner.key).await;
        assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
        let (status, _) = t.get("/v1/accounts?limit=101", &owner.key).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = t.get("/v1/accounts?after=not-a-cursor", &owner.key).await;
        assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("after")));
        t
    })
    .await;
}

#[tokio::test]
async fn rename_and_delete_follow_the_access_rules() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let admin = t.member(&owner, "admin@acme.test", Role::Admin).await;
        let member = t.member(&owner, "bob@acme.test", Role::Member).await;
        t.add_demo_app(&owner).await;
        let id = t.connect(&owner, "Prod", "k1").await;

        let (status, body) = t
            .patch(
                &format!("/v1/accounts/{id}"),
                &owner.key,
                json!({"name": "  Renamed "}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["name"], "Renamed");
        let (status, _) = t
            .patch(
                &format!("/v1/accounts/{id}"),
                &member.key,
                json!({"name": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = t
            .patch(
                &format!("/v1/accounts/{id}"),
                &admin.key,
                json!({"name": "By admin"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = t
            .patch(
                &format!("/v1/accounts/{id}"),
                &owner.key,
                json!({"name": ""}),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("name"))
        );

        let (status, _) = t.delete(&format!("/v1/accounts/{id}"), &member.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = t.delete(&format!("/v1/accounts/{id}"), &owner.key).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert!(body.is_null());
        let (status, _) = t.get(&format!("/v1/accounts/{id}"), &owner.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = t.delete(&format!("/v1/accounts/{id}"), &owner.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let id = t.connect(&owner, "Second", "k2").await;
        let (status, _) = t.delete(&format!("/v1/accounts/{id}"), &admin.key).await;
        assert_eq!(
            status,
            StatusCode::NO_CONTENT,
            "admins may delete private accounts"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn ids_from_another_workspace_answer_404_everywhere() {
    on_every_backend(|t| async move {
        let acme = t.workspace("acme").await;
        let globex = t.workspace("globex").await;
        t.add_demo_app(&acme).await;
        let id = t.connect(&acme, "Prod", "k1").await;
        let paths = [
            (Method::GET, format!("/v1/accounts/{id}")),
            (
                Method::GET,
                format!("/v1/accounts/{id}?include_credentials=1"),
            ),
            (Method::PATCH, format!("/v1/accounts/{id}")),
            (Method::DELETE, format!("/v1/accounts/{id}")),
            (Method::GET, "/v1/apps/demo_api".to_owned()),
        ];
        for (method, path) in paths {
            let body = (method == Method::PATCH).then(|| json!({"name": "stolen"}));
            let (status, response, _) = t
                .request(method.clone(), &path, Some(&globex.key), body)
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {response}");
            assert_eq!(response["code"], "not_found");
        }
        let (status, body) = t
            .post(
                "/v1/accounts",
                &globex.key,
                json!({"app": "demo_api", "cfmap": {"api_key": "k"}}),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("app")),
            "custom apps are per workspace"
        );
        let (status, _) = t.get("/v1/accounts/apn_malformed-id!", &acme.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        t
    })
    .await;
}
