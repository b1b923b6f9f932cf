//! Workflows and steps end to end against the OAuth peer's protected API: a member tests a step
//! that uses an admin's private account — the run succeeds on the server — without any way to
//! read, copy or re-bind the credential, and cannot edit the step.

use latchkey_domain::role::Role;
use latchkey_test_db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    helpers::{Member, TestApp},
    oauth::{account_id_from, app_with_peer, connect, credentials},
};

/// Connects a `peer` account for `member`; returns its id and current access token.
async fn connect_peer(t: &TestApp, member: &Member) -> (String, String) {
    let (status, page, _) = connect(t, member, json!({"app": "peer"})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let id = account_id_from(&page);
    let token = credentials(t, member, &id).await["credentials"]["oauth_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token)
}

#[tokio::test]
async fn a_member_tests_a_step_using_an_admins_private_account_without_seeing_it() {
    for db in TestDb::all().await {
        let (t, _peer) = app_with_peer(db, &[]).await;
        let admin = t.workspace("acme").await;
        let bob = t.member(&admin, "bob@acme.test", Role::Member).await;
        let (private, token) = connect_peer(&t, &admin).await;

        let (status, wf) = t
            .post("/v1/workflows", &admin.key, json!({"name": "Who am I"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{wf}");
        assert_eq!(wf["data"]["builder"], "v2");
        let wf_id = wf["data"]["id"].as_str().unwrap().to_owned();
        let props = json!({
            "method": "GET",
            "url": "/me",
            "auth": {"type": "app", "prop": "peer"},
            "headers": {"Authorization": "Bearer attacker-chosen", "X-Step": "1"},
            "dynamic": {"peer": {"channel": "C123"}}
        });
        let (status, step) = t
            .post(
                &format!("/v1/workflows/{wf_id}/steps"),
                &admin.key,
                json!({"name": "me", "type": "http", "props": props, "accounts": {"peer": private}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{step}");
        let step_id = step["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(step["data"]["editable"], true);
        let used_by = |listing: &Value, account: &str| -> Value {
            listing["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["id"] == account)
                .map(|a| a["workflows"].clone())
                .unwrap_or(Value::Null)
        };
        let (_, listing) = t.get("/v1/accounts", &admin.key).await;
        assert_eq!(
            used_by(&listing, &private),
            json!([{"id": wf_id, "name": "Who am I"}]),
            "the Accounts list shows the workflows using each account"
        );

        // Bob sees the step, read-only, with the reason.
        let (status, seen) = t.get(&format!("/v1/workflows/{wf_id}"), &bob.key).await;
        assert_eq!(status, StatusCode::OK, "{seen}");
        let seen_step = &seen["data"]["steps"][0];
        assert_eq!(seen_step["editable"], false, "{seen}");
        assert!(seen_step["read_only_reason"]
            .as_str()
            .unwrap()
            .contains("test it"));
        assert_eq!(seen_step["props"]["url"], "/me", "props stay visible");

        // He tests it: the run uses the admin's token on the server and succeeds.
        let (status, run) = t
            .post(
                &format!("/v1/workflows/{wf_id}/steps/{step_id}/test"),
                &bob.key,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{run}");
        let run = &run["data"];
        assert_eq!(run["status"], "success", "{run}");
        let result = &run["exports"]["me"]["$return_value"];
        assert_eq!(result["status"], 200, "the injected credential won: {run}");
        assert_eq!(result["data"]["sub"], "test-user");
        assert!(
            !run.to_string().contains(&token),
            "no credential in the run"
        );

        // No endpoint hands him the credential or the account.
        for path in [
            format!("/v1/accounts/{private}?include_credentials=1"),
            format!("/v1/accounts/{private}"),
            format!("/v1/accounts/{private}/access"),
        ] {
            let (status, body) = t.get(&path, &bob.key).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        }
        let (_, listed) = t.get("/v1/accounts?include_credentials=1", &bob.key).await;
        assert!(!listed.to_string().contains(&private) && !listed.to_string().contains(&token));
        let (status, _) = t.get("/v1/audit", &bob.key).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Editing the step, or binding the account to a new one, is refused.
        let (status, refused, _) = t
            .request(
                Method::PATCH,
                &format!("/v1/workflows/{wf_id}/steps/{step_id}"),
                Some(&bob.key),
                Some(json!({"props": {"method": "GET", "url": "/other", "auth": {"type": "app", "prop": "peer"}}})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert!(
            refused["error"].as_str().unwrap().contains("read-only"),
            "{refused}"
        );
        let (status, _) = t
            .post(
                &format!("/v1/workflows/{wf_id}/steps"),
                &bob.key,
                json!({"name": "copy", "type": "http", "props": props, "accounts": {"peer": private}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "he cannot even name the account"
        );

        // He may switch the step to his own account, which clears the props chosen with the
        // old one; the step is then his to edit.
        let (_, page, _) = connect(&t, &bob, json!({"app": "peer"})).await;
        let his = account_id_from(&page);
        let (status, switched, _) = t
            .request(
                Method::PATCH,
                &format!("/v1/workflows/{wf_id}/steps/{step_id}"),
                Some(&bob.key),
                Some(json!({"accounts": {"peer": his}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{switched}");
        assert_eq!(switched["data"]["accounts"]["peer"]["id"], his.as_str());
        assert_eq!(switched["data"]["props"]["dynamic"], json!({}));
        assert_eq!(switched["data"]["editable"], true);
        let (_, listing) = t.get("/v1/accounts", &admin.key).await;
        assert_eq!(used_by(&listing, &private), json!([]));

        // A whole run, with a trigger event.
        let (status, run) = t
            .post(
                &format!("/v1/workflows/{wf_id}/runs"),
                &bob.key,
                json!({"hello": "world"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        assert_eq!(run["data"]["exports"]["trigger"]["event"]["hello"], "world");
        assert_eq!(run["data"]["status"], "success", "{run}");

        // Bob reads the runs (his tests included): exports, logs and errors, never the token.
        let (status, runs) = t
            .get(&format!("/v1/workflows/{wf_id}/runs"), &bob.key)
            .await;
        assert_eq!(status, StatusCode::OK, "{runs}");
        assert_eq!(runs["data"].as_array().unwrap().len(), 2);
        assert_eq!(runs["data"][1]["step_id"], step_id.as_str());
        assert!(!runs.to_string().contains(&token));

        // Ids of other workspaces are not found.
        let stranger = t.workspace("globex").await;
        let (status, _) = t
            .get(&format!("/v1/workflows/{wf_id}"), &stranger.key)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn legacy_workflows_only_take_accounts_shared_with_everyone_and_input_is_checked() {
    let (t, _peer) = app_with_peer(TestDb::sqlite(), &[]).await;
    let admin = t.workspace("acme").await;
    let (_, page, _) = connect(&t, &admin, json!({"app": "peer"})).await;
    let private = account_id_from(&page);
    let (_, wf) = t
        .post(
            "/v1/workflows",
            &admin.key,
            json!({"name": "Old", "builder": "v1"}),
        )
        .await;
    let wf_id = wf["data"]["id"].as_str().unwrap().to_owned();
    let step = |accounts: Value| json!({"name": "s", "type": "http", "props": {"url": "/me", "auth": {"type": "app", "prop": "peer"}}, "accounts": accounts});
    let (status, body) = t
        .post(
            &format!("/v1/workflows/{wf_id}/steps"),
            &admin.key,
            step(json!({"peer": private})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "accounts.peer");
    t.request(
        Method::PUT,
        &format!("/v1/accounts/{private}/access"),
        Some(&admin.key),
        Some(json!({"mode": "workspace"})),
    )
    .await;
    let (status, body) = t
        .post(
            &format!("/v1/workflows/{wf_id}/steps"),
            &admin.key,
            step(json!({"peer": private})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let cases: [(Value, &str); 4] = [
        (json!({"name": "two words", "type": "http"}), "name"),
        (json!({"name": "x", "type": "ftp"}), "type"),
        (json!({"name": "x", "type": "http", "props": [1]}), "props"),
        (
            json!({"name": "x", "type": "http", "accounts": {"p": "nope"}}),
            "accounts.p",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = t
            .post(
                &format!("/v1/workflows/{wf_id}/steps"),
                &admin.key,
                body.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_eq!(answer["field"], field, "{body} → {answer}");
    }
    let (status, answer) = t
        .post(
            &format!("/v1/workflows/{wf_id}/steps"),
            &admin.key,
            json!({"name": "s", "type": "http"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "step names are unique: {answer}"
    );
    let (status, _) = t
        .post(
            "/v1/workflows",
            &admin.key,
            json!({"name": "", "builder": "v3"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    t.cleanup().await;
}

#[tokio::test]
async fn code_steps_in_node_python_and_bash_use_credentials_that_never_show() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[]).await;
    let admin = t.workspace("acme").await;
    let (account, token) = connect_peer(&t, &admin).await;
    let (_, wf) = t
        .post("/v1/workflows", &admin.key, json!({"name": "Code"}))
        .await;
    let wf_id = wf["data"]["id"].as_str().unwrap().to_owned();
    // Written the way people write steps for this kind of platform, unchanged.
    let node = format!(
        r#"export default defineComponent({{
  props: {{ peer: {{ type: "app", app: "peer" }} }},
  async run({{ steps, $ }}) {{
    const token = this.peer.$auth.oauth_access_token;
    console.log("token is", token, Buffer.from(token).toString("base64"));
    const me = await fetch("{issuer}/api/me", {{ headers: {{ Authorization: `Bearer ${{token}}` }} }});
    $.export("status", me.status);
    $.export("leak", token);
    return (await me.json()).sub;
  }},
}});"#,
        issuer = peer.issuer
    );
    let python = r#"
import base64

def handler(pd):
    token = pd.inputs["peer"]["$auth"]["oauth_access_token"]
    print("python sees", token, base64.urlsafe_b64encode(token.encode()).decode().rstrip("="))
    pd.export("who", pd.steps["js"]["$return_value"])
    return len(token)
"#;
    let bash = r#"read -r input; echo "$input"; echo '{"ok": true}' > "$LK_EXPORTS_FILE""#;
    for (name, language, code) in [
        ("js", "nodejs", node.as_str()),
        ("py", "python", python),
        ("sh", "bash", bash),
    ] {
        let (status, step) = t
            .post(
                &format!("/v1/workflows/{wf_id}/steps"),
                &admin.key,
                json!({"name": name, "type": "code", "props": {"language": language, "code": code}, "accounts": {"peer": account}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{step}");
    }
    let (status, run) = t
        .post(
            &format!("/v1/workflows/{wf_id}/runs"),
            &admin.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = &run["data"];
    assert_eq!(run["status"], "success", "{run}");
    let exports = &run["exports"];
    assert_eq!(exports["js"]["status"], 200, "{run}");
    assert_eq!(exports["js"]["$return_value"], "test-user");
    assert_eq!(exports["js"]["leak"], "[redacted]");
    assert_eq!(
        exports["py"]["who"], "test-user",
        "steps.<name> reaches later steps"
    );
    assert_eq!(exports["py"]["$return_value"], token.len());
    assert_eq!(exports["sh"]["ok"], true);
    let text = run.to_string();
    assert!(
        !text.contains(&token),
        "no token anywhere in the run: {text}"
    );
    let logs = run["logs"].as_array().unwrap();
    assert!(
        logs.iter().any(|l| l
            .as_str()
            .unwrap()
            .contains("token is [redacted] [redacted]")),
        "plain and base64 forms redacted: {logs:?}"
    );
    assert!(logs.iter().any(|l| l
        .as_str()
        .unwrap()
        .contains("python sees [redacted] [redacted]")));

    // Failures and limits are reported, not fatal.
    let (_, wf) = t
        .post("/v1/workflows", &admin.key, json!({"name": "Broken"}))
        .await;
    let broken = wf["data"]["id"].as_str().unwrap().to_owned();
    for (name, props) in [
        (
            "boom",
            json!({"language": "python", "code": "def handler(pd):\n    raise ValueError('nope')\n"}),
        ),
        (
            "slow",
            json!({"language": "bash", "code": "sleep 5", "timeout_seconds": 1}),
        ),
    ] {
        let (_, step) = t
            .post(
                &format!("/v1/workflows/{broken}/steps"),
                &admin.key,
                json!({"name": name, "type": "code", "props": props}),
            )
            .await;
        let step_id = step["data"]["id"].as_str().unwrap().to_owned();
        let (_, run) = t
            .post(
                &format!("/v1/workflows/{broken}/steps/{step_id}/test"),
                &admin.key,
                json!({}),
            )
            .await;
        assert_eq!(run["data"]["status"], "error", "{run}");
        let error = run["data"]["error"].as_str().unwrap();
        assert!(
            error.contains("nope") || error.contains("timed out after 1 s"),
            "{error}"
        );
    }
    t.cleanup().await;
}

#[tokio::test]
async fn environment_variables_reach_steps_and_secret_ones_never_come_back() {
    let (t, peer) = app_with_peer(TestDb::sqlite(), &[]).await;
    let admin = t.workspace("acme").await;
    let bob = t.member(&admin, "bob@acme.test", Role::Member).await;
    let (_, token) = connect_peer(&t, &admin).await;
    let put = |name: &str, body: Value, key: &str| {
        let (t, path, key) = (&t, format!("/v1/env/{name}"), key.to_owned());
        async move { t.request(Method::PUT, &path, Some(&key), Some(body)).await }
    };
    // The token itself as a workspace secret (a service that is not in the catalog).
    let (status, body, _) = put(
        "PEER_TOKEN",
        json!({"value": token, "secret": true}),
        &admin.key,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["value"], Value::Null, "write-only");
    let (status, _, _) = put("REGION", json!({"value": "eu-west-1"}), &admin.key).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = put("OTHER", json!({"value": "x"}), &bob.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins manage variables");
    let (status, body, _) = put("lower", json!({"value": "x"}), &admin.key).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("name"))
    );
    let (status, _, _) = put(
        "PEER_TOKEN",
        json!({"value": "y", "secret": false}),
        &admin.key,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a secret stays secret");
    let (status, listed) = t.get("/v1/env", &bob.key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed["data"],
        json!([
            {"name": "PEER_TOKEN", "secret": true, "value": null, "updated_at": listed["data"][0]["updated_at"]},
            {"name": "REGION", "secret": false, "value": "eu-west-1", "updated_at": listed["data"][1]["updated_at"]},
        ])
    );
    assert!(!listed.to_string().contains(&token));

    let (_, wf) = t
        .post("/v1/workflows", &bob.key, json!({"name": "Env"}))
        .await;
    let wf_id = wf["data"]["id"].as_str().unwrap().to_owned();
    let steps = [
        json!({"name": "call", "type": "http", "props": {
            "url": format!("{}/api/me", peer.issuer),
            "headers": {"Authorization": "Bearer {{env.PEER_TOKEN}}"}}}),
        json!({"name": "node", "type": "code", "props": {"language": "nodejs", "code":
            "export default defineComponent({ async run() { console.log(process.env.PEER_TOKEN); return process.env.REGION; } });"}}),
    ];
    for step in steps {
        let (status, body) = t
            .post(&format!("/v1/workflows/{wf_id}/steps"), &bob.key, step)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, run) = t
        .post(&format!("/v1/workflows/{wf_id}/runs"), &bob.key, json!({}))
        .await;
    let run = &run["data"];
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["exports"]["call"]["$return_value"]["status"], 200);
    assert_eq!(
        run["exports"]["call"]["$return_value"]["data"]["sub"],
        "test-user"
    );
    // Every variable's value is redacted from runs, like credentials.
    assert_eq!(run["exports"]["node"]["$return_value"], "[redacted]");
    assert!(!run.to_string().contains(&token), "{run}");
    let (status, _) = t.delete("/v1/env/REGION", &admin.key).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.delete("/v1/env/REGION", &admin.key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.cleanup().await;
}

#[tokio::test]
async fn a_hook_runs_a_step_with_external_credentials_that_are_never_stored() {
    let (t, _peer) = app_with_peer(TestDb::sqlite(), &[]).await;
    let admin = t.workspace("acme").await;
    // The token comes from somewhere else (a secret store read by the caller): connect once to
    // get a real one, then use it only through the trigger.
    let (_, token) = connect_peer(&t, &admin).await;
    let (status, wf) = t
        .post("/v1/workflows", &admin.key, json!({"name": "Hooked"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let wf_id = wf["data"]["id"].as_str().unwrap().to_owned();
    let hook_url = wf["data"]["hook_url"].as_str().unwrap().to_owned();
    let secret = wf["data"]["hook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lk_hook_") && hook_url.ends_with(&format!("/hooks/{wf_id}")));
    let (_, again) = t.get(&format!("/v1/workflows/{wf_id}"), &admin.key).await;
    assert!(again["data"].get("hook_secret").is_none(), "shown once");
    let (status, step) = t
        .post(
            &format!("/v1/workflows/{wf_id}/steps"),
            &admin.key,
            json!({"name": "me", "type": "http", "props": {
                "url": "/me",
                "auth": {"type": "app", "prop": "peer"},
                "external_auth": {"peer": {"app": "peer", "fields": {"oauth_access_token": "steps.trigger.event.token"}}}
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{step}");

    let hook = |secret: String, nostore: bool| {
        let (url, token) = (hook_url.clone(), token.clone());
        async move {
            let mut request = reqwest::Client::new()
                .post(url)
                .bearer_auth(secret)
                .json(&json!({"token": token, "note": "hello there"}));
            if nostore {
                request = request.header("x-latchkey-nostore", "1");
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, _) = hook("lk_hook_wrong".into(), false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for nostore in [false, true] {
        let (status, run) = hook(secret.clone(), nostore).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        let run = &run["data"];
        assert_eq!(run["status"], "success", "{run}");
        assert_eq!(
            run["exports"]["me"]["$return_value"]["data"]["sub"],
            "test-user"
        );
        assert!(!run.to_string().contains(&token), "{run}");
        let stored = t
            .app
            .store
            .latest_runs(&admin.workspace_id, &wf_id, 1)
            .await
            .unwrap()
            .remove(0);
        assert!(!stored.exports.contains(&token) && !stored.logs.contains(&token));
        assert_eq!(stored.started_by, "hook");
        if nostore {
            assert!(
                !stored.exports.contains("hello there"),
                "the payload is not stored"
            );
            assert!(stored.exports.contains("\"stored\":false"));
        } else {
            assert!(stored.exports.contains("hello there"));
        }
    }
    // A new secret replaces the old one.
    let (status, rotated) = t
        .post(
            &format!("/v1/workflows/{wf_id}/hook_secret"),
            &admin.key,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hook(secret, false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hook(
        rotated["data"]["hook_secret"].as_str().unwrap().into(),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    t.cleanup().await;
}
