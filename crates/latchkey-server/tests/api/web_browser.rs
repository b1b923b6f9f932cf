//! The web UI in a real browser: headless Chromium (Debian's `/usr/bin/chromium`) driven by
//! `playwright-core` (`tests/browser/web_ui.mjs`). The owner connects an OAuth account through
//! the popup against the `oidc-provider` peer and a key-based one, renames, invites two members,
//! shares with one, builds and tests a workflow step; the members sign in through their
//! invitation links, one sees the shared account, the other sees the step read-only and tests
//! it; the owner reconnects and deletes. This side then checks the outcome through the API and
//! that no page's HTML ever held a secret. Screenshots land in `target/screenshots/web/`.

use std::path::PathBuf;

use latchkey_test_db::TestDb;
use reqwest::StatusCode;
use serde_json::Value;

use crate::{
    browser::{require_browser, run_browser_script},
    helpers::{TestApp, PROVIDER_KEY},
    oauth::app_with_peer,
};

async fn run_suite(t: &TestApp, root: &std::path::Path) -> (Value, PathBuf) {
    let screenshots = root.join("target/screenshots/web").join(t.label);
    let html = root.join("target/screenshots/web-html").join(t.label);
    let _ = std::fs::remove_dir_all(&html);
    let result = run_browser_script(
        "web_ui.mjs",
        &[
            ("LATCHKEY_URL", t.base.clone()),
            ("OWNER_EMAIL", "owner@acme.test".to_owned()),
            ("OWNER_PASSWORD", "password123".to_owned()),
            ("PROVIDER_KEY", PROVIDER_KEY.to_owned()),
            ("SCREENSHOT_DIR", screenshots.display().to_string()),
            ("HTML_DIR", html.display().to_string()),
        ],
        t.label,
    )
    .await;
    (result, html)
}

#[tokio::test]
async fn the_web_ui_works_end_to_end_in_a_real_browser() {
    require_browser();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
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
