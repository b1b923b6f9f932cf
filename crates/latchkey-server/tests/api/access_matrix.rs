//! The F5 access matrix, generated from `crates/latchkey-domain/access-matrix.tsv` and driven
//! through the HTTP API on every backend: for accounts that are private, shared with the whole
//! workspace, shared with chosen members (with and without the viewer) and legacy, and for the
//! account's owner, an admin and a member as viewers, every operation the API exposes answers
//! as the table says — 2xx when allowed, 403 when the viewer may see the account, 404 when not.
//!
//! Step operations go through a workflow whose step the account's owner bound to the account:
//! adding it to a new step, editing that step, and testing it.

use std::collections::BTreeMap;

use latchkey_domain::{
    access::{matrix_cells, Operation},
    ids,
    role::Role,
};
use latchkey_server::{config::env_slug, vault::Credentials};
use latchkey_store::{Account, Sharing};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{Member, TestApp};

/// How an account is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Private,
    Workspace,
    MembersWithViewer,
    MembersWithoutViewer,
    Legacy,
}

const KINDS: [Kind; 5] = [
    Kind::Private,
    Kind::Workspace,
    Kind::MembersWithViewer,
    Kind::MembersWithoutViewer,
    Kind::Legacy,
];

/// Who is looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum As {
    AccountOwner,
    Admin,
    Member,
}

struct People {
    /// The workspace owner (an admin by role; never the account owner here).
    boss: Member,
    /// Owns the accounts (a plain member: ownership, not role, is what counts).
    owner: Member,
    admin: Member,
    member: Member,
}

impl People {
    fn viewer(&self, who: As) -> &Member {
        match who {
            As::AccountOwner => &self.owner,
            As::Admin => &self.admin,
            As::Member => &self.member,
        }
    }
}

/// What the table says for `who` on an account of `kind`.
fn expected(kind: Kind, who: As, op: Operation) -> bool {
    if who == As::AccountOwner && kind != Kind::Legacy {
        return true;
    }
    let shared = matches!(
        kind,
        Kind::Workspace | Kind::MembersWithViewer | Kind::Legacy
    );
    let admin = matches!(who, As::Admin | As::AccountOwner);
    matrix_cells()
        .into_iter()
        .find(|c| c.operation == op && c.shared == shared && c.admin == admin)
        .expect("every cell is in the table")
        .allowed
}

/// Stores an OAuth account of the built-in `github` app (so it can be reconnected) owned by
/// `people.owner`, or with no owner for legacy, and shares it as `kind` says.
async fn account(t: &TestApp, people: &People, kind: Kind) -> String {
    let ws = &people.owner.workspace_id;
    let id = ids::generate(ids::ACCOUNT);
    let credentials = Credentials::from_map(BTreeMap::from([(
        "oauth_access_token".to_owned(),
        format!("gho_{id}"),
    )]));
    let (ciphertext, key_id) = t.app.vault.seal(ws, &id, &credentials).await;
    let now = latchkey_server::clock::now_ms();
    let legacy = kind == Kind::Legacy;
    t.app
        .store
        .insert_account(&Account {
            id: id.clone(),
            workspace_id: ws.clone(),
            app_slug: "github".into(),
            name: format!("{kind:?}"),
            owner_id: (!legacy).then(|| people.owner.user_id.clone()),
            sharing: if legacy {
                Sharing::Workspace
            } else {
                Sharing::Private
            },
            credentials_ciphertext: ciphertext,
            key_id,
            healthy: true,
            dead: false,
            error: None,
            authorized_scopes: vec!["repo".into()],
            expires_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
            oauth_client: Some("default".into()),
            last_refreshed_at: None,
            next_refresh_at: None,
            refresh_failures: 0,
            shared_with: vec![],
            connect: None,
        })
        .await
        .unwrap();
    let body = match kind {
        Kind::Private | Kind::Legacy => None,
        Kind::Workspace => Some(json!({"mode": "workspace"})),
        Kind::MembersWithViewer => Some(
            json!({"mode": "members", "member_ids": [people.admin.user_id, people.member.user_id]}),
        ),
        Kind::MembersWithoutViewer => {
            Some(json!({"mode": "members", "member_ids": [people.boss.user_id]}))
        }
    };
    if let Some(body) = body {
        let (status, answer, _) = t
            .request(
                Method::PUT,
                &format!("/v1/accounts/{id}/access"),
                Some(&people.owner.key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["data"]["mode"], body["mode"]);
    }
    id
}

/// A workflow with one step bound to the account, made by someone who may use it.
async fn workflow_using(t: &TestApp, maker: &Member, id: &str) -> (String, String) {
    let (status, wf) = t
        .post("/v1/workflows", &maker.key, json!({"name": "uses it"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wf}");
    let wf_id = wf["data"]["id"].as_str().unwrap().to_owned();
    let (status, step) = t
        .post(
            &format!("/v1/workflows/{wf_id}/steps"),
            &maker.key,
            json!({"name": "s", "type": "http", "props": {"url": "/user", "auth": {"type": "app", "prop": "gh"}}, "accounts": {"gh": id}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{step}");
    (wf_id, step["data"]["id"].as_str().unwrap().to_owned())
}

/// Performs `op` as `viewer` through the API; returns the status.
async fn perform(
    t: &TestApp,
    viewer: &Member,
    id: &str,
    (wf, step): (&str, &str),
    op: Operation,
) -> StatusCode {
    let key = Some(viewer.key.as_str());
    let (status, _, _) = match op {
        Operation::View => {
            t.request(Method::GET, &format!("/v1/accounts/{id}"), key, None)
                .await
        }
        Operation::ReadCredentials => {
            t.request(
                Method::GET,
                &format!("/v1/accounts/{id}?include_credentials=1"),
                key,
                None,
            )
            .await
        }
        Operation::ManageAccess => {
            // Set it to what it is: allowed or not is the question, not the change.
            let (_, current, _) = t
                .request(Method::GET, &format!("/v1/accounts/{id}/access"), key, None)
                .await;
            let body = if current["data"].is_object() {
                current["data"].clone()
            } else {
                json!({"mode": "private"})
            };
            t.request(
                Method::PUT,
                &format!("/v1/accounts/{id}/access"),
                key,
                Some(body),
            )
            .await
        }
        Operation::Reconnect => {
            t.request(
                Method::POST,
                "/v1/accounts/connect",
                key,
                Some(json!({"app": "github", "account_id": id})),
            )
            .await
        }
        Operation::Rename => {
            t.request(
                Method::PATCH,
                &format!("/v1/accounts/{id}"),
                key,
                Some(json!({"name": "Renamed"})),
            )
            .await
        }
        Operation::Delete => {
            t.request(Method::DELETE, &format!("/v1/accounts/{id}"), key, None)
                .await
        }
        Operation::AddToStep => {
            t.request(
                Method::POST,
                &format!("/v1/workflows/{wf}/steps"),
                key,
                Some(json!({"name": "added", "type": "http", "accounts": {"gh": id}})),
            )
            .await
        }
        Operation::ModifyStep => {
            t.request(
                Method::PATCH,
                &format!("/v1/workflows/{wf}/steps/{step}"),
                key,
                Some(
                    json!({"props": {"url": "/user/repos", "auth": {"type": "app", "prop": "gh"}}}),
                ),
            )
            .await
        }
        Operation::TestStep => {
            // The run itself fails (no network to GitHub here); being allowed to start it is
            // the question.
            t.request(
                Method::POST,
                &format!("/v1/workflows/{wf}/steps/{step}/test"),
                key,
                None,
            )
            .await
        }
    };
    status
}

async fn listed(t: &TestApp, viewer: &Member) -> Vec<String> {
    let (status, body) = t.get("/v1/accounts?limit=100", &viewer.key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_cell_of_the_access_matrix_holds_through_the_api() {
    for db in latchkey_test_db::TestDb::all().await {
        let t = TestApp::spawn_with(db, |config, _| {
            // Reconnecting only builds an authorize URL: no provider is contacted.
            config.oauth_clients_from_env.insert(
                env_slug("github"),
                latchkey_server::config::OAuthClientConfig {
                    client_id: "gh-client".into(),
                    client_secret: SecretString::from("gh-secret".to_owned()),
                    workspaces: vec![],
                },
            );
        })
        .await;
        let boss = t.workspace("acme").await;
        let people = People {
            owner: t.member(&boss, "holder@acme.test", Role::Member).await,
            admin: t.member(&boss, "admin@acme.test", Role::Admin).await,
            member: t.member(&boss, "member@acme.test", Role::Member).await,
            boss,
        };
        let operations = [
            Operation::View,
            Operation::AddToStep,
            Operation::ModifyStep,
            Operation::TestStep,
            Operation::ReadCredentials,
            Operation::ManageAccess,
            Operation::Reconnect,
            Operation::Rename,
            Operation::Delete,
        ];
        let mut cells = 0;
        for kind in KINDS {
            for who in [As::AccountOwner, As::Admin, As::Member] {
                if kind == Kind::Legacy && who == As::AccountOwner {
                    continue; // nobody owns a legacy account
                }
                let viewer = people.viewer(who);
                // A fresh account per viewer: a delete must not hide later cells.
                let id = account(&t, &people, kind).await;
                let maker = if kind == Kind::Legacy {
                    &people.boss
                } else {
                    &people.owner
                };
                let (wf, step) = workflow_using(&t, maker, &id).await;
                let visible = expected(kind, who, Operation::View);
                assert_eq!(
                    listed(&t, viewer).await.contains(&id),
                    visible,
                    "{}: listing, {kind:?} as {who:?}",
                    t.label
                );
                for op in operations {
                    let allowed = expected(kind, who, op);
                    let status = perform(&t, viewer, &id, (&wf, &step), op).await;
                    let want = if !allowed {
                        // A step the viewer may not edit is visible in its workflow: 403.
                        if visible || op == Operation::ModifyStep {
                            StatusCode::FORBIDDEN
                        } else {
                            StatusCode::NOT_FOUND
                        }
                    } else if op == Operation::ManageAccess && kind == Kind::Legacy {
                        // Allowed, but a legacy account needs a reconnect (and an owner) first.
                        StatusCode::CONFLICT
                    } else if op == Operation::Delete || op == Operation::AddToStep {
                        if op == Operation::Delete {
                            StatusCode::NO_CONTENT
                        } else {
                            StatusCode::CREATED
                        }
                    } else {
                        StatusCode::OK
                    };
                    assert_eq!(
                        status,
                        want,
                        "{}: {} on a {kind:?} account as {who:?}",
                        t.label,
                        op.name()
                    );
                    cells += 1;
                }
            }
        }
        assert_eq!(cells, (KINDS.len() * 3 - 1) * operations.len());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn access_is_validated_and_ids_of_other_workspaces_are_not_found() {
    let t = TestApp::spawn(latchkey_test_db::TestDb::sqlite()).await;
    let owner = t.workspace("acme").await;
    let member = t.member(&owner, "bob@acme.test", Role::Member).await;
    let stranger = t.workspace("globex").await;
    t.add_demo_app(&owner).await;
    let id = t
        .connect(&owner, "mine", super::helpers::PROVIDER_KEY)
        .await;
    let path = format!("/v1/accounts/{id}/access");
    let (status, body) = t.get(&path, &owner.key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"data": {"mode": "private", "member_ids": []}}));

    let cases = [
        (json!({"mode": "everyone"}), "mode"),
        (json!({"mode": "members"}), "member_ids"),
        (
            json!({"mode": "members", "member_ids": [owner.user_id]}),
            "member_ids",
        ),
        (
            json!({"mode": "members", "member_ids": [stranger.user_id]}),
            "member_ids[0]",
        ),
        (
            json!({"mode": "workspace", "member_ids": [member.user_id]}),
            "member_ids",
        ),
        (json!({"mode": "private", "extra": 1}), ""),
    ];
    for (body, field) in cases {
        let (status, answer, _) = t
            .request(Method::PUT, &path, Some(&owner.key), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        if !field.is_empty() {
            assert_eq!(answer["field"], field, "{body} → {answer}");
        }
    }
    let (status, answer, _) = t
        .request(
            Method::PUT,
            &path,
            Some(&owner.key),
            Some(json!({"mode": "members", "member_ids": [member.user_id, member.user_id, owner.user_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["data"],
        json!({"mode": "members", "member_ids": [member.user_id]}),
        "duplicates and the owner are dropped"
    );
    let (status, read) = t
        .get(
            &format!("/v1/accounts/{id}?include_credentials=1"),
            &member.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "shared with bob: {read}");

    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"mode": "private"}))),
    ] {
        let (status, answer, _) = t.request(method, &path, Some(&stranger.key), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    }
    t.cleanup().await;
}
