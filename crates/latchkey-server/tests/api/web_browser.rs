//! The web UI in a real browser: headless Chromium (Debian's `/usr/bin/chromium`) driven by
//! `playwright-core` (`tests/browser/web_ui.mjs`). The owner connects an OAuth account through
//! the popup against the `oidc-provider` peer and a key-based one, renames, invites two members,
//! shares with one, builds and tests a workflow step; the members sign in through their
//! invitation links, one sees the shared account, the other sees the step read-only and tests
//! it; the owner reconnects and deletes. This side then checks the outcome through the API and
//! that no page's HTML ever held a secret. Screenshots land in `target/screenshots/web/`.

use std::{path::PathBuf, time::Duration};

use latchkey_test_db::TestDb;
use reqwest::StatusCode;
use serde_json::Value;

use crate::{
    helpers::{TestApp, PROVIDER_KEY},
    oauth::app_with_peer,
};

const CHROMIUM: &str = "/usr/bin/chromium";

async fn run_suite(t: &TestApp, root: &std::path::Path) -> (Value, PathBuf) {
    let suite = root.join("tests/browser");
    let screenshots = root.join("target/screenshots/web").join(t.label);
    let html = root.join("target/screenshots/web-html").join(t.label);
    let _ = std::fs::remove_dir_all(&html);
    let run = tokio::process::Command::new("node")
        .arg("web_ui.mjs")
        .current_dir(&suite)
        .env("LATCHKEY_URL", &t.base)
        .env("OWNER_EMAIL", "owner@acme.test")
        .env("OWNER_PASSWORD", "password123")
        .env("PROVIDER_KEY", PROVIDER_KEY)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("HTML_DIR", &html)
        .env("CHROMIUM", CHROMIUM)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .unwrap_or_else(|_| panic!("[{}] the browser test hung", t.label))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "[{}] the browser test failed\nstdout:\n{stdout}\nstderr:\n{stderr}",
        t.label
    );
    eprintln!("[{}] web UI browser test\n{stdout}", t.label);
    let result: Value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("[{}] no RESULT line:\n{stdout}", t.label));
    (result, html)
}

#[tokio::test]
async fn the_web_ui_works_end_to_end_in_a_real_browser() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        std::path::Path::new(CHROMIUM).exists()
            && root
                .join("tests/browser/node_modules/playwright-core")
                .exists(),
        "the browser test needs Debian's {CHROMIUM} and `npm ci --prefix tests/browser`; \
         scripts/test.sh installs both"
    );
    for db in TestDb::all().await {
        let (t, _peer) = app_with_peer(db, &[]).await;
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let (result, html_dir) = run_suite(&t, &root).await;
        let oauth = result["oauth"].as_str().unwrap();
        let keys = result["keys"].as_str().unwrap();
        let workflow = result["workflow"].as_str().unwrap();

        // The reconnected OAuth account: same id, the owner's, healthy, with fresh credentials.
        let (status, body) = t
            .get(
                &format!("/v1/accounts/{oauth}?include_credentials=1"),
                &owner.key,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "[{}] {body}", t.label);
        let account = &body["data"];
        assert_eq!(account["healthy"], true, "[{}] {account}", t.label);
        assert_eq!(
            account["owner"]["id"],
            owner.user_id.as_str(),
            "[{}]",
            t.label
        );
        let access = account["credentials"]["oauth_access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let refresh = account["credentials"]["oauth_refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // The deleted key-based account is gone.
        let (status, _) = t.get(&format!("/v1/accounts/{keys}"), &owner.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "[{}]", t.label);
        // Both members joined with the roles they were invited with.
        let members = t.app.store.list_members(&owner.workspace_id).await.unwrap();
        let emails: Vec<(&str, &str)> = members
            .iter()
            .map(|m| (m.email.as_str(), m.role.as_str()))
            .collect();
        assert!(
            emails.contains(&("bob@acme.test", "member"))
                && emails.contains(&("carol@acme.test", "member")),
            "[{}] {emails:?}",
            t.label
        );
        // The owner's and Carol's step tests both ran (and were recorded).
        let (status, runs) = t
            .get(&format!("/v1/workflows/{workflow}/runs"), &owner.key)
            .await;
        assert_eq!(status, StatusCode::OK, "[{}] {runs}", t.label);
        let tests = runs["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "success")
            .count();
        assert!(tests >= 2, "[{}] {runs}", t.label);

        // No page the browser saw ever carried a credential.
        let mut pages = 0;
        for entry in std::fs::read_dir(&html_dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            pages += 1;
            for secret in [PROVIDER_KEY, access.as_str(), refresh.as_str()] {
                if !secret.is_empty() {
                    assert!(
                        !text.contains(secret),
                        "[{}] {} holds a credential",
                        t.label,
                        path.display()
                    );
                }
            }
        }
        assert!(pages >= 20, "[{}] only {pages} pages saved", t.label);
        t.cleanup().await;
    }
}
