//! Encryption at rest: no plaintext in the database, ciphertexts bound to their row, rotation,
//! and refusing a wrong master key.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use latchkey_crypto::MasterKey;
use latchkey_server::{
    app::connect_store,
    service::{provisioning, rotation},
    App,
};
use latchkey_store::Store;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use sqlx::{Connection, Row};

use crate::helpers::{config, on_every_backend, TestApp};

/// Every byte the database holds that a dump or backup would contain, as text.
async fn dump(t: &TestApp) -> String {
    sqlx::any::install_default_drivers();
    let url = t.db.url.expose();
    if let Some(rest) = url.strip_prefix("sqlite://") {
        // The raw files, including the write-ahead log, as a disk thief would see them.
        let path = rest.split('?').next().unwrap();
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(b);
            }
        }
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>("t"))
    .collect();
    let mut out = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT CAST(t AS TEXT) AS row FROM {table} t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in rows {
            out.push_str(&row.get::<String, _>("row"));
            out.push('\n');
        }
    }
    out
}

#[tokio::test]
async fn the_database_holds_no_plaintext_secret() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let canary = "sk-canary-7f3e9b1c4d2a";
        t.connect(&owner, "Prod", canary).await;
        let (_, client_secret) =
            provisioning::create_api_client(&*t.app.store, &owner.workspace_id, "ci", "*")
                .await
                .unwrap();
        let client_secret = client_secret.expose_secret().to_owned();
        let dump = dump(&t).await;
        assert!(
            dump.contains("Prod"),
            "{}: the dump is real (it has the account's name)",
            t.label
        );
        for secret in [
            canary,
            owner.key.as_str(),
            client_secret.as_str(),
            "password123",
        ] {
            assert!(
                !dump.contains(secret),
                "{}: plaintext secret in the database",
                t.label
            );
            let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
            assert!(
                !dump.contains(&hex),
                "{}: hex-encoded secret in the database",
                t.label
            );
        }
        t
    })
    .await;
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_does_not_decrypt() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let a = t.connect(&owner, "A", "secret-of-a").await;
        let b = t.connect(&owner, "B", "secret-of-b").await;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(t.db.url.expose()).await.unwrap();
        sqlx::query("UPDATE accounts SET credentials_ciphertext = (SELECT credentials_ciphertext FROM accounts WHERE id = $1) WHERE id = $2")
            .bind(&a)
            .bind(&b)
            .execute(&mut conn)
            .await
            .unwrap();
        let (status, body) = t.get(&format!("/v1/accounts/{b}?include_credentials=1"), &owner.key).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{}", t.label);
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("secret-of-a"));
        let (status, body) = t.get(&format!("/v1/accounts/{a}?include_credentials=1"), &owner.key).await;
        assert_eq!((status, body["data"]["credentials"]["api_key"].as_str()), (StatusCode::OK, Some("secret-of-a")));
        t
    })
    .await;
}

#[tokio::test]
async fn key_rotation_reencrypts_everything_and_can_resume() {
    on_every_backend(|t| async move {
        let owner = t.workspace("acme").await;
        t.add_demo_app(&owner).await;
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push((
                t.connect(&owner, &format!("A{i}"), &format!("secret-{i}"))
                    .await,
                format!("secret-{i}"),
            ));
        }
        // Sealed values outside accounts are rotated too.
        let (status, _, _) = t
            .request(
                reqwest::Method::PUT,
                "/v1/env/REGION_TOKEN",
                Some(&owner.key),
                Some(serde_json::json!({"value": "env-secret-value"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, client) = t
            .post(
                "/v1/oauth_apps",
                &owner.key,
                serde_json::json!({"app": "github", "client_id": "cid", "client_secret": "client-secret-value"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{client}");
        let client_id = client["data"]["id"].as_str().unwrap().to_owned();
        let calls = AtomicU64::new(0);
        let progress = |done: u64, total: u64| {
            assert!(done <= total);
            calls.fetch_add(1, Ordering::Relaxed);
        };
        let report = rotation::rotate(&*t.app.store, &t.app.vault, &progress)
            .await
            .unwrap();
        assert_eq!(
            (report.key_id, report.reencrypted, report.resumed),
            (2, 7, false),
            "{}",
            t.label
        );
        assert!(t
            .app
            .store
            .sealed_records_not_on_key(2)
            .await
            .unwrap()
            .is_empty());
        let (_, env) = t.get("/v1/env", &owner.key).await;
        assert_eq!(env["data"][0]["value"], "env-secret-value");
        let (credentials, _) = latchkey_server::service::oauth::clients::credentials(
            &t.app,
            &owner.workspace_id,
            "github",
            &client_id,
        )
        .await
        .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&credentials.client_secret),
            "client-secret-value"
        );
        assert!(calls.load(Ordering::Relaxed) >= 2);
        assert_eq!(t.app.store.count_accounts_not_on_key(2).await.unwrap(), 0);
        for (id, secret) in &ids {
            let (status, body) = t
                .get(
                    &format!("/v1/accounts/{id}?include_credentials=1"),
                    &owner.key,
                )
                .await;
            assert_eq!(
                (status, body["data"]["credentials"]["api_key"].as_str()),
                (StatusCode::OK, Some(secret.as_str()))
            );
        }
        // An interrupted rotation: the key was added and recorded as the target, no row
        // re-encrypted yet. Running again resumes it rather than adding another key.
        let added = t.app.vault.add_data_key().await.unwrap();
        assert_eq!(added, 3);
        t.app.store.put_meta("rotation_target", b"3").await.unwrap();
        let report = rotation::rotate(&*t.app.store, &t.app.vault, &|_, _| {})
            .await
            .unwrap();
        assert_eq!(
            (
                report.key_id,
                report.reencrypted,
                report.resumed,
                report.failed
            ),
            (3, 7, true, 0)
        );
        for (id, secret) in &ids {
            let (_, body) = t
                .get(
                    &format!("/v1/accounts/{id}?include_credentials=1"),
                    &owner.key,
                )
                .await;
            assert_eq!(
                body["data"]["credentials"]["api_key"].as_str(),
                Some(secret.as_str())
            );
        }
        // A finished rotation leaves no target: the next run adds a key.
        assert_eq!(t.app.store.get_meta("rotation_target").await.unwrap(), None);
        let report = rotation::rotate(&*t.app.store, &t.app.vault, &|_, _| {})
            .await
            .unwrap();
        assert_eq!((report.key_id, report.resumed), (4, false));
        // New writes use the newest key even before the periodic reload.
        let id = t.connect(&owner, "After", "secret-after").await;
        let row = t
            .app
            .store
            .get_account(&owner.workspace_id, &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.key_id, 4);
        t
    })
    .await;
}

#[tokio::test]
async fn a_different_master_key_is_refused() {
    on_every_backend(|t| async move {
        let store: Arc<dyn Store> = Arc::new(
            connect_store(&config(t.data_dir.clone(), &t.db))
                .await
                .unwrap(),
        );
        let err = App::build(
            config(t.data_dir.clone(), &t.db),
            store,
            MasterKey::from_bytes(&[7; 32]),
        )
        .await
        .expect_err("a wrong key must not open the vault");
        assert!(err.to_string().contains("does not match"), "{err}");
        t
    })
    .await;
}
