//! The audit log through the API: what is recorded (never a value), who may read it, the
//! chain verifies, and credentials are withheld when the log cannot be written.

use latchkey_domain::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{on_every_backend, PROVIDER_KEY};

fn actions(body: &Value) -> Vec<(String, String)> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn reads_access_changes_and_deletes_are_audited_without_values() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        let member = t.member(&owner, "bob@acme.test", Role::Member).await;
        t.add_demo_app(&owner).await;
        let id = t.connect(&owner, "mine", PROVIDER_KEY).await;
        let read = format!("/v1/accounts/{id}?include_credentials=1");
        let (status, _) = t.get(&read, &owner.key).await;
        assert_eq!(status, StatusCode::OK);
        // Bob may not see it at all (404, not audited as a read of something he knows of)...
        let (status, _) = t.get(&read, &member.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // ...then it is shared with the workspace but Bob is an API-client-less member: fine.
        let (status, _, _) = t
            .request(
                Method::PUT,
                &format!("/v1/accounts/{id}/access"),
                Some(&owner.key),
                Some(json!({"mode": "workspace"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = t.get(&read, &member.key).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = t.delete(&format!("/v1/accounts/{id}"), &owner.key).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let (status, log) = t.get("/v1/audit?limit=100", &owner.key).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        let expected: Vec<(String, String)> = [
            ("account.delete", "allowed"),
            ("credentials.read", "allowed"),
            ("access.change", "allowed"),
            ("credentials.read", "allowed"),
            ("account.connect", "allowed"),
        ]
        .iter()
        .map(|(a, o)| ((*a).to_owned(), (*o).to_owned()))
        .collect();
        assert_eq!(actions(&log), expected, "{}: {log}", t.label);
        let latest = &log["data"][0];
        assert_eq!(latest["account_id"], id.as_str());
        assert_eq!(
            latest["actor"],
            json!({"type": "member", "id": owner.user_id})
        );
        assert!(latest["at"].is_string() && latest["seq"].is_i64());
        assert_eq!(log["data"][1]["actor"]["id"], member.user_id.as_str());
        assert!(
            !log.to_string().contains(PROVIDER_KEY),
            "no credential value in the log"
        );

        // Filters and pages.
        let (_, reads) = t
            .get("/v1/audit?action=credentials.read&limit=1", &owner.key)
            .await;
        assert_eq!(reads["data"].as_array().unwrap().len(), 1);
        let cursor = reads["page_info"]["end_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, next) = t
            .get(
                &format!("/v1/audit?action=credentials.read&limit=1&before={cursor}"),
                &owner.key,
            )
            .await;
        assert_eq!(next["data"][0]["actor"]["id"], owner.user_id.as_str());
        assert_eq!(next["page_info"]["end_cursor"], Value::Null);
        let (status, _) = t.get("/v1/audit", &member.key).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "admins only");
        let (status, _) = t.get("/v1/audit?before=zz", &owner.key).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let verification = t.app.audit.verify(&*t.app.store).await.unwrap();
        assert_eq!(verification.broken, None);
        assert_eq!(verification.events, 5);
        t
    })
    .await;
}

#[tokio::test]
async fn credentials_are_withheld_when_the_audit_log_cannot_be_written() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let id = t.connect(&owner, "mine", PROVIDER_KEY).await;
        t.db.execute("DROP TABLE audit_head").await;
        let (status, body) = t
            .get(
                &format!("/v1/accounts/{id}?include_credentials=1"),
                &owner.key,
            )
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "unavailable");
        assert!(!body.to_string().contains(PROVIDER_KEY));
        // Metadata without credentials is still served.
        let (status, _) = t.get(&format!("/v1/accounts/{id}"), &owner.key).await;
        assert_eq!(status, StatusCode::OK);
        t
    })
    .await;
}

#[tokio::test]
async fn concurrent_appends_are_group_committed_into_one_intact_chain() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        let before = app.app.audit.verify(&*app.app.store).await.unwrap().events;
        let actor = latchkey_server::audit::Actor::system("test");
        let mut tasks = Vec::new();
        for n in 0..64 {
            let ctx = app.app.clone();
            let workspace = owner.workspace_id.clone();
            let actor = actor.clone();
            tasks.push(tokio::spawn(async move {
                let events: Vec<_> = (0..1 + n % 3)
                    .map(|_| {
                        latchkey_server::audit::Auditor::event(
                            &workspace,
                            &actor,
                            "test.concurrent",
                            None,
                            "allowed",
                            None,
                        )
                    })
                    .collect();
                ctx.audit.record(&events).await.unwrap();
                events.len()
            }));
        }
        let mut written = 0;
        for task in tasks {
            written += task.await.unwrap();
        }
        let verification = app.app.audit.verify(&*app.app.store).await.unwrap();
        assert_eq!(verification.broken, None, "[{}]", app.label);
        assert_eq!(
            verification.events,
            before + i64::try_from(written).unwrap()
        );
        app
    })
    .await;
}
