//! Provisioning commands and their JSON contract.

use serde_json::{json, Value};

use crate::support::*;

#[test]
fn provisioning_commands_print_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = run_json(
        &data,
        &[],
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            &pw,
            "--workspace",
            "Acme",
            "--json",
        ],
    );
    assert_eq!(keys_of(&init), ["api_key", "user_id", "workspace_id"]);
    assert!(init["workspace_id"].as_str().unwrap().starts_with("o_"));
    assert!(init["user_id"].as_str().unwrap().starts_with("u_"));
    assert!(init["api_key"].as_str().unwrap().starts_with("lk_key_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the generated key is private");
    }

    let second = run_json(
        &data,
        &[],
        &[
            "workspaces",
            "create",
            "--name",
            "Globex",
            "--owner-email",
            "hank@globex.test",
            "--password-file",
            &pw,
            "--json",
        ],
    );
    assert_eq!(keys_of(&second), ["api_key", "user_id", "workspace_id"]);
    assert_ne!(second["workspace_id"], init["workspace_id"]);

    // By name and by id.
    let member = run_json(
        &data,
        &[],
        &[
            "members",
            "add",
            "--workspace",
            "Acme",
            "--email",
            "bob@example.com",
            "--role",
            "member",
            "--json",
        ],
    );
    assert_eq!(keys_of(&member), ["api_key", "user_id"]);
    let ws = init["workspace_id"].as_str().unwrap();
    let admin = run_json(
        &data,
        &[],
        &[
            "members",
            "add",
            "--workspace",
            ws,
            "--email",
            "eve@example.com",
            "--role",
            "admin",
            "--json",
        ],
    );
    assert_ne!(admin["api_key"], member["api_key"]);

    let client = run_json(
        &data,
        &[],
        &[
            "api-clients",
            "create",
            "--workspace",
            ws,
            "--scopes",
            "accounts:read,apps:read",
            "--json",
        ],
    );
    assert!(client["client_id"].as_str().unwrap().starts_with("lkc_"));
    assert!(client["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("lk_cs_"));
    let client_id = client["client_id"].as_str().unwrap();
    let revoke = [
        "api-clients",
        "revoke",
        "--workspace",
        ws,
        "--client-id",
        client_id,
        "--json",
    ];
    assert_eq!(run_json(&data, &[], &revoke)["revoked"], client_id);
    assert!(
        !run(&data, &[], &revoke).status.success(),
        "revoking twice is an error"
    );

    let accounts = run_json(
        &data,
        &[],
        &["accounts", "list", "--workspace", "Acme", "--json"],
    );
    assert_eq!(accounts["data"], json!([]));
    let apps = run_json(&data, &[], &["apps", "validate", "--json"]);
    assert_eq!(apps["valid"], true);
    assert!(apps["count"].as_u64().unwrap() >= 40);
    let migrate = run_json(&data, &[], &["migrate", "--json"]);
    assert_eq!(migrate["backend"], "sqlite");

    // Failures exit non-zero with a message.
    let out = run(
        &data,
        &[],
        &[
            "members",
            "add",
            "--workspace",
            "Nope",
            "--email",
            "x@y.test",
            "--role",
            "member",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("workspace not found"));
    let out = run(
        &data,
        &[],
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            &pw,
            "--workspace",
            "Acme",
        ],
    );
    assert!(
        !out.status.success(),
        "a second workspace with the same name is a conflict"
    );
    let bad_apps = dir.path().join("bad-apps");
    std::fs::create_dir(&bad_apps).unwrap();
    std::fs::write(
        bad_apps.join("broken.toml"),
        "name_slug = \"broken\"\nname = \"Broken\"\nauth_type = \"keys\"\n",
    )
    .unwrap();
    let out = run(
        &data,
        &[],
        &["apps", "validate", bad_apps.to_str().unwrap(), "--json"],
    );
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert!(report["errors"][0]
        .as_str()
        .unwrap()
        .contains("broken.toml"));
}

#[tokio::test]
async fn imported_legacy_accounts_are_shared_and_their_credentials_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = init_ada(&data, &[], &pw);
    let key = init["api_key"].as_str().unwrap();
    let file = dir.path().join("import.jsonl");
    // A bad line (an unknown app) imports nothing, and the error never echoes a secret.
    std::fs::write(
        &file,
        concat!(
            r#"{"app": "openai", "name": "Old key", "credentials": {"api_key": "sk-imported-1"}}"#,
            "\n",
            r#"{"app": "no-such-app", "credentials": {"api_key": "sk-imported-2"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = run(
        &data,
        &[],
        &["accounts", "import", "--file", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("records[1].app"), "{stderr}");
    assert!(!stderr.contains("sk-imported"), "{stderr}");
    let listed = run_json(&data, &[], &["accounts", "list", "--json"]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);

    std::fs::write(
        &file,
        concat!(
            r#"{"app": "openai", "name": "Old key", "credentials": {"api_key": "sk-imported-1"}}"#,
            "\n\n",
            r#"{"app": "github", "credentials": {"oauth_access_token": "gho_imported", "oauth_refresh_token": "ghr_imported"}, "expires_at": "2099-01-01T00:00:00Z", "authorized_scopes": ["repo"]}"#,
            "\n"
        ),
    )
    .unwrap();
    let imported = run_json(
        &data,
        &[],
        &[
            "accounts",
            "import",
            "--file",
            file.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(
        keys_of(&imported),
        ["account_ids", "imported", "workspace_id"]
    );
    assert_eq!(imported["imported"], 2);
    let listed = run_json(&data, &[], &["accounts", "list", "--json"]);
    for account in listed["data"].as_array().unwrap() {
        assert_eq!(account["owner_id"], Value::Null, "legacy: no owner");
        assert_eq!(account["sharing"], "workspace");
    }
    let github = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["app"] == "github")
        .unwrap();
    assert_eq!(github["expires_at"], "2099-01-01T00:00:00.000Z");
    assert!(
        github["next_refresh_at"].is_string(),
        "scheduled before expiry"
    );

    let server = Server::start(&data, &[]).await;
    let id = imported["account_ids"][0].as_str().unwrap();
    let (status, body) = server
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{id}?include_credentials=1"),
            key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["credentials"]["api_key"], "sk-imported-1");
    assert_eq!(body["data"]["name"], "Old key");
    server.stop();
}

#[tokio::test]
async fn exec_runs_a_command_with_the_accounts_credentials_under_the_access_rules() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = init_ada(&data, &[], &pw);
    let key = init["api_key"].as_str().unwrap().to_owned();
    let bob = run_json(
        &data,
        &[],
        &[
            "members",
            "add",
            "--workspace",
            init["workspace_id"].as_str().unwrap(),
            "--email",
            "bob@example.com",
            "--role",
            "member",
            "--json",
        ],
    )["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = Server::start(&data, &[]).await;
    let (status, created) = server
        .call(
            reqwest::Method::POST,
            "/v1/accounts",
            &key,
            Some(json!({"app": "openai", "cfmap": {"api_key": "sk-exec-secret"}, "skip_check": true})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap();
    let exec = |api_key: &str, script: &str| {
        run(
            &data,
            &[
                ("LATCHKEY_API_KEY", api_key),
                ("LATCHKEY_URL", server.base.as_str()),
            ],
            &["exec", "--account", id, "--", "sh", "-c", script],
        )
    };
    let out = exec(&key, r#"printf '%s' "$LATCHKEY_API_KEY""#);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "sk-exec-secret",
        "the account's field, not the member's key"
    );
    assert_eq!(exec(&key, "exit 7").status.code(), Some(7));
    // Bob may not use Ada's private account: nothing runs.
    let out = exec(&bob, "echo ran");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    // The read went through the API, so it is in the audit log.
    server.stop();
    let listed = run_json(&data, &[], &["audit", "list", "--json"]);
    assert_eq!(listed["data"][0]["action"], "credentials.read");
}

#[test]
fn projects_create_prints_the_project_id_contract() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = init_ada(&data, &[], &pw);
    let ws = init["workspace_id"].as_str().unwrap().to_owned();
    let created = run_json(
        &data,
        &[],
        &[
            "projects",
            "create",
            "--workspace",
            &ws,
            "--name",
            "Storefront",
            "--json",
        ],
    );
    assert_eq!(keys_of(&created), ["project_id"]);
    assert!(created["project_id"].as_str().unwrap().starts_with("proj_"));
    let listed = run_json(
        &data,
        &[],
        &["projects", "list", "--workspace", &ws, "--json"],
    );
    assert_eq!(listed["projects"][0]["project_id"], created["project_id"]);
    // The name is unique in the workspace: a second one fails with a clear message.
    let again = run(
        &data,
        &[],
        &[
            "projects",
            "create",
            "--workspace",
            &ws,
            "--name",
            "Storefront",
            "--json",
        ],
    );
    assert!(!again.status.success());
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("already exists"), "{text}");
}
