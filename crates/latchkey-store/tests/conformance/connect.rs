//! Connect storage: projects, end users, single-use tokens, and accounts kept apart from the
//! workspace's own.

use latchkey_domain::{connect::Environment, ids};
use latchkey_store::prelude::*;
use latchkey_store::{
    AccountQuery, AppOverride, ConnectFilter, ConnectOwner, ConnectToken, Project, StoreError,
};

use crate::{account, on_every_backend, workspace};

fn project(ws: &str, name: &str) -> Project {
    Project {
        id: ids::generate(ids::PROJECT),
        workspace_id: ws.into(),
        name: name.into(),
        support_email: None,
        created_at: 5,
    }
}

fn token(project_id: &str, hash: &str, expires_at: i64) -> ConnectToken {
    ConnectToken {
        token_hash: hash.into(),
        project_id: project_id.into(),
        environment: Environment::Production,
        external_id: "user-1".into(),
        settings_json: "{}".into(),
        created_at: 1,
        expires_at,
        used_at: None,
    }
}

#[tokio::test]
async fn projects_users_tokens_and_connect_accounts() {
    on_every_backend(|store, label| async move {
        store.insert_data_key(1, &[7; 40], 1).await.unwrap();
        let (ws, owner) = workspace(&store, "connect").await;
        let (other_ws, _) = workspace(&store, "elsewhere").await;
        let p = project(&ws.id, "Product");
        store.insert_project(&p).await.unwrap();
        assert!(matches!(
            store.insert_project(&project(&ws.id, "Product")).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.get_project(&ws.id, &p.id).await.unwrap(),
            Some(p.clone())
        );
        assert_eq!(
            store.get_project(&other_ws.id, &p.id).await.unwrap(),
            None,
            "{label}"
        );
        assert_eq!(store.list_projects(&ws.id).await.unwrap(), vec![p.clone()]);

        // End users are per environment and created once.
        let prod = Environment::Production;
        let u1 = store
            .upsert_external_user(&p.id, prod, "user 1/x", "exu_a1", 10)
            .await
            .unwrap();
        let again = store
            .upsert_external_user(&p.id, prod, "user 1/x", "exu_a2", 20)
            .await
            .unwrap();
        assert_eq!(again, u1, "the second sight finds the first row");
        let dev = store
            .upsert_external_user(&p.id, Environment::Development, "user 1/x", "exu_d1", 30)
            .await
            .unwrap();
        assert_ne!(dev.id, u1.id, "environments never share end users");
        for n in 0..12 {
            store
                .upsert_external_user(
                    &p.id,
                    prod,
                    &format!("bulk-{n}"),
                    &format!("exu_b{n}"),
                    40 + n,
                )
                .await
                .unwrap();
        }
        let mut seen = 0;
        let mut after = None;
        loop {
            let page = store
                .list_external_users(&p.id, prod, None, after.as_deref(), 5)
                .await
                .unwrap();
            assert_eq!(page.total_count, 13);
            seen += page.items.len();
            match page.end_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, 13);
        let found = store
            .list_external_users(&p.id, prod, Some("bulk-1"), None, 100)
            .await
            .unwrap();
        assert_eq!(found.total_count, 3, "bulk-1, bulk-10, bulk-11");

        // A token connects one account, once, before it expires.
        store
            .insert_connect_token(&token(&p.id, "h1", 1_000))
            .await
            .unwrap();
        store
            .insert_connect_token(&token(&p.id, "h2", 50))
            .await
            .unwrap();
        let mut a = account(&ws.id, Some(&owner), "end user's", 100);
        a.connect = Some(ConnectOwner {
            project_id: p.id.clone(),
            environment: prod,
            external_user_id: u1.id.clone(),
            external_id: u1.external_id.clone(),
        });
        store
            .insert_account_with_token(&a, "h1", 100)
            .await
            .unwrap();
        assert!(store
            .get_connect_token("h1")
            .await
            .unwrap()
            .unwrap()
            .used_at
            .is_some());
        let mut b = a.clone();
        b.id = ids::generate(ids::ACCOUNT);
        assert!(
            matches!(
                store.insert_account_with_token(&b, "h1", 101).await,
                Err(StoreError::Conflict(_))
            ),
            "spent"
        );
        assert!(
            matches!(
                store.insert_account_with_token(&b, "h2", 101).await,
                Err(StoreError::Conflict(_))
            ),
            "expired"
        );
        assert_eq!(
            store.get_account(&ws.id, &b.id).await.unwrap(),
            None,
            "nothing saved"
        );
        assert_eq!(
            store
                .get_account(&ws.id, &a.id)
                .await
                .unwrap()
                .unwrap()
                .connect,
            a.connect
        );

        // Workspace listings never show Connect accounts; Connect listings show only them.
        let workspace_list = store
            .list_accounts(&AccountQuery {
                workspace_id: ws.id.clone(),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(workspace_list.total_count, 0);
        let filter = |user: Option<&str>, env| AccountQuery {
            workspace_id: ws.id.clone(),
            limit: 100,
            connect: Some(ConnectFilter {
                project_id: p.id.clone(),
                environment: env,
                external_user_id: user.map(Into::into),
                oauth_client: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            store
                .list_accounts(&filter(None, prod))
                .await
                .unwrap()
                .total_count,
            1
        );
        assert_eq!(
            store
                .list_accounts(&filter(Some(&u1.id), prod))
                .await
                .unwrap()
                .total_count,
            1
        );
        assert_eq!(
            store
                .list_accounts(&filter(Some("exu_b1"), prod))
                .await
                .unwrap()
                .total_count,
            0
        );
        assert_eq!(
            store
                .list_accounts(&filter(None, Environment::Development))
                .await
                .unwrap()
                .total_count,
            0
        );

        // Deleting the end user deletes their accounts.
        assert_eq!(store.purge_connect_tokens(60).await.unwrap(), 1);
        store.delete_external_user(&u1.id).await.unwrap();
        assert_eq!(store.get_account(&ws.id, &a.id).await.unwrap(), None);
        assert!(store
            .find_external_user(&p.id, prod, "user 1/x")
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            store.delete_external_user(&u1.id).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn app_overrides_are_per_project_and_named_uniquely() {
    on_every_backend(|store, label| async move {
        let (ws, _) = workspace(&store, "overrides").await;
        let p = project(&ws.id, "Product");
        store.insert_project(&p).await.unwrap();
        let o = AppOverride {
            id: "ao_1".into(),
            project_id: p.id.clone(),
            name: "EU".into(),
            app_slug: "zendesk".into(),
            oauth_app_id: None,
            cfmap_json: r#"{"subdomain":"acme"}"#.into(),
            created_at: 1,
            updated_at: 1,
        };
        store.insert_app_override(&o).await.unwrap();
        let mut dup = o.clone();
        dup.id = "ao_2".into();
        assert!(
            matches!(
                store.insert_app_override(&dup).await,
                Err(StoreError::Conflict(_))
            ),
            "{label}"
        );
        dup.name = "US".into();
        dup.app_slug = "github".into();
        store.insert_app_override(&dup).await.unwrap();
        assert_eq!(
            store.list_app_overrides(&p.id, None).await.unwrap().len(),
            2
        );
        assert_eq!(
            store
                .list_app_overrides(&p.id, Some("zendesk"))
                .await
                .unwrap(),
            vec![o.clone()]
        );
        let mut changed = o.clone();
        changed.oauth_app_id = Some("oa_x".into());
        changed.updated_at = 2;
        store.update_app_override(&changed).await.unwrap();
        assert_eq!(
            store.get_app_override(&p.id, "ao_1").await.unwrap(),
            Some(changed)
        );
        assert_eq!(
            store.get_app_override("proj_other", "ao_1").await.unwrap(),
            None
        );
        store.delete_app_override(&p.id, "ao_1").await.unwrap();
        assert!(matches!(
            store.delete_app_override(&p.id, "ao_1").await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}
