//! `latchkey audit verify` and `latchkey audit list` on a real data directory, including a
//! log tampered with behind the server's back.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn audit_verify_detects_an_edited_or_deleted_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = password_file(dir.path());
    let init = init_ada(&data, &[], &pw);
    let key = init["api_key"].as_str().unwrap();
    let server = Server::start(&data, &[]).await;
    let (status, created) = server
        .call(
            reqwest::Method::POST,
            "/v1/accounts",
            key,
            Some(
                json!({"app": "openai", "cfmap": {"api_key": "sk-audit-test"}, "skip_check": true}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let (status, _) = server
            .call(
                reqwest::Method::GET,
                &format!("/v1/accounts/{id}?include_credentials=1"),
                key,
                None,
            )
            .await;
        assert_eq!(status, 200);
    }
    server.stop();

    let ok = run_json(&data, &[], &["audit", "verify", "--json"]);
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["events"], 4, "a connect and three reads: {ok}");
    let listed = run_json(&data, &[], &["audit", "list", "--json"]);
    assert_eq!(listed["data"][0]["action"], "credentials.read");
    assert!(!listed.to_string().contains("sk-audit-test"));

    let db = format!("sqlite://{}", data.join("latchkey.db").display());
    let verify = || {
        let out = run(&data, &[], &["audit", "verify", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.success(), report)
    };
    // Someone hides that they read the credentials: the edit breaks the chain there.
    latchkey_test_db::execute_sql(
        &db,
        "UPDATE audit_events SET outcome = 'denied' WHERE seq = 3",
    )
    .await;
    let (success, report) = verify();
    assert!(!success);
    assert_eq!(
        (report["ok"].clone(), report["first_bad_seq"].clone()),
        (json!(false), json!(3))
    );
    latchkey_test_db::execute_sql(
        &db,
        "UPDATE audit_events SET outcome = 'allowed' WHERE seq = 3",
    )
    .await;
    assert!(verify().0, "restored exactly, it verifies again");

    // Deleting an event in the middle, or the last one, is caught too.
    latchkey_test_db::execute_sql(&db, "DELETE FROM audit_events WHERE seq = 4").await;
    let (success, report) = verify();
    assert!(!success);
    assert!(
        report["problem"].as_str().unwrap().contains("removed"),
        "{report}"
    );
    latchkey_test_db::execute_sql(&db, "DELETE FROM audit_events WHERE seq = 2").await;
    let (success, report) = verify();
    assert!(!success);
    assert_eq!(report["first_bad_seq"], 2, "{report}");
}
