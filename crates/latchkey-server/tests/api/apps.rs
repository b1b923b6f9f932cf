//! `/v1/apps` and `/v1/app_requests`.

use latchkey_domain::role::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::on_every_backend;

#[tokio::test]
async fn catalog_lists_searches_and_paginates() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let (status, body) = t.get("/v1/apps?limit=100", &owner.key).await;
        assert_eq!(status, StatusCode::OK, "{}", t.label);
        let total = body["page_info"]["total_count"].as_u64().unwrap();
        assert!(total >= 40);
        let (_, body) = t.get("/v1/apps?q=git", &owner.key).await;
        let slugs: Vec<_> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name_slug"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            slugs.contains(&"github".to_owned()) && slugs.contains(&"gitlab".to_owned()),
            "{slugs:?}"
        );

        let mut seen = 0;
        let mut url = "/v1/apps?limit=25".to_owned();
        loop {
            let (_, body) = t.get(&url, &owner.key).await;
            seen += body["data"].as_array().unwrap().len() as u64;
            match body["page_info"]["end_cursor"].as_str() {
                Some(c) => url = format!("/v1/apps?limit=25&after={c}"),
                None => break,
            }
        }
        assert_eq!(seen, total);

        let (status, body) = t.get("/v1/apps/slack", &owner.key).await;
        assert_eq!(status, StatusCode::OK);
        let app = &body["data"];
        assert_eq!(app["auth_type"], "oauth");
        assert!(app["id"].as_str().unwrap().starts_with("app_"));
        assert!(
            app["custom_fields_json"].is_string(),
            "a JSON string, as in the compatible API"
        );
        assert!(app["connect"]["allowed_domains"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "slack.com"));
        let (status, by_id) = t
            .get(
                &format!("/v1/apps/{}", app["id"].as_str().unwrap()),
                &owner.key,
            )
            .await;
        assert_eq!(
            (status, &by_id["data"]["name_slug"]),
            (StatusCode::OK, &json!("slack"))
        );
        let (status, body) = t.get("/v1/apps/nope", &owner.key).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let (_, body) = t.get("/v1/apps?category=AI&limit=100", &owner.key).await;
        assert!(body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["categories"].as_array().unwrap().contains(&json!("AI"))));
        t
    })
    .await;
}

#[tokio::test]
async fn admins_add_custom_apps_to_their_workspace_only() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let member = t.member(&owner, "bob@acme.test", Role::Member).await;
        let other = t.workspace("globex").await;
        let app = t.add_demo_app(&owner).await;
        assert_eq!(app["custom"], true);
        let (_, list) = t.get("/v1/apps?q=demo", &member.key).await;
        assert_eq!(list["data"][0]["name_slug"], "demo_api", "custom apps appear in every listing");
        let (status, _) = t.get("/v1/apps/demo_api", &other.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let definition = json!({"name_slug": "other_api", "name": "Other", "auth_type": "keys",
            "custom_fields": [{"name": "token", "label": "Token", "type": "password"}],
            "request": {"base_url": "https://api.other.test", "allowed_domains": ["api.other.test"], "headers": {"X-Token": "{{token}}"}}});
        let (status, _) = t.post("/v1/apps", &member.key, definition.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let client = t.client_token(&owner, "*").await;
        let (status, body) = t.post("/v1/apps", &client, definition.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "API clients are never admins: {body}");
        let (status, _) = t.get("/v1/app_requests", &client).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = t.post("/v1/apps", &owner.key, definition.clone()).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = t.post("/v1/apps", &owner.key, definition.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let mut builtin = definition.clone();
        builtin["name_slug"] = json!("github");
        let (status, _) = t.post("/v1/apps", &owner.key, builtin).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let mut bad = definition.clone();
        bad["name_slug"] = json!("third_api");
        bad["request"]["headers"]["X-Token"] = json!("{{nope}}");
        let (status, body) = t.post("/v1/apps", &owner.key, bad).await;
        assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("request.headers.X-Token")));
        let mut typo = definition;
        typo["name_slug"] = json!("fourth_api");
        typo["auth_tipe"] = json!("keys");
        let (status, _) = t.post("/v1/apps", &owner.key, typo).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        t
    })
    .await;
}

#[tokio::test]
async fn members_request_apps_and_admins_see_the_requests() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let member = t.member(&owner, "bob@acme.test", Role::Member).await;
        let (status, body) = t
            .post(
                "/v1/app_requests",
                &member.key,
                json!({"name": "Acme CRM", "url": "https://crm.acme.test", "note": "sales"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body["data"]["id"].as_str().unwrap().starts_with("areq_"));
        let (status, body) = t
            .post(
                "/v1/app_requests",
                &member.key,
                json!({"name": "X", "url": "javascript:alert(1)"}),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("url"))
        );
        let (status, _) = t.get("/v1/app_requests", &member.key).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = t.get("/v1/app_requests", &owner.key).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"][0]["name"], "Acme CRM");
        assert_eq!(body["data"][0]["requested_by"], member.user_id.as_str());
        t
    })
    .await;
}
