//! The storage conformance suite: every `Store` method, on SQLite and (when
//! `LATCHKEY_TEST_POSTGRES_URL` is set) on PostgreSQL, through the trait only.

use std::future::Future;

use latchkey_domain::{ids, role::Role};
use latchkey_store::prelude::*;
use latchkey_store::{
    AccessToken, Account, AccountQuery, ApiClient, AppRequest, CustomApp, NewApiKey, NewMember,
    OAuthClient, OAuthFlow, OAuthUpdate, Principal, RefreshFailure, Sharing, SqlStore, StoreError,
    Workspace,
};
use latchkey_test_db::TestDb;

mod connect;
mod sessions;
mod tallies;

pub(crate) async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(SqlStore, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDb::all().await {
        let store = SqlStore::connect(&db.url, 5)
            .await
            .expect("connect and migrate");
        test(store.clone(), db.label).await;
        store.close().await;
        db.cleanup().await;
    }
}

pub(crate) fn member(email: &str, role: Role, key_hash: &str) -> NewMember {
    NewMember {
        user_id: ids::generate(ids::USER),
        email: email.into(),
        password_hash: None,
        role,
        api_key: NewApiKey {
            id: ids::generate(ids::API_KEY),
            token_hash: key_hash.into(),
            created_at: 1,
        },
    }
}

pub(crate) async fn workspace(store: &SqlStore, name: &str) -> (Workspace, String) {
    let ws = Workspace {
        id: ids::generate(ids::WORKSPACE),
        name: name.into(),
        created_at: 1,
    };
    let owner = store
        .create_workspace(
            &ws,
            &member(
                &format!("owner@{name}.test"),
                Role::Owner,
                &format!("hash-{name}"),
            ),
        )
        .await
        .unwrap();
    (ws, owner)
}

pub(crate) fn account(ws: &str, owner: Option<&str>, name: &str, created_at: i64) -> Account {
    Account {
        id: ids::generate(ids::ACCOUNT),
        workspace_id: ws.into(),
        app_slug: "openai".into(),
        name: name.into(),
        owner_id: owner.map(Into::into),
        sharing: if owner.is_some() {
            Sharing::Private
        } else {
            Sharing::Workspace
        },
        credentials_ciphertext: vec![1, 2, 3, 0, 255],
        key_id: 1,
        healthy: true,
        dead: false,
        error: None,
        authorized_scopes: vec!["read".into(), "write".into()],
        expires_at: Some(99),
        created_at,
        updated_at: created_at,
        version: 1,
        oauth_client: None,
        last_refreshed_at: None,
        next_refresh_at: None,
        refresh_failures: 0,
        shared_with: Vec::new(),
        connect: None,
    }
}

#[tokio::test]
async fn meta_and_data_keys() {
    on_every_backend(|store, label| async move {
        assert_eq!(store.get_meta("key_check").await.unwrap(), None, "{label}");
        assert!(store
            .put_meta_if_absent("key_check", &[0, 1, 2])
            .await
            .unwrap());
        assert!(
            !store.put_meta_if_absent("key_check", &[9]).await.unwrap(),
            "first value wins"
        );
        assert_eq!(
            store.get_meta("key_check").await.unwrap(),
            Some(vec![0, 1, 2])
        );
        store.insert_data_key(1, &[7; 60], 5).await.unwrap();
        store.insert_data_key(2, &[8; 60], 6).await.unwrap();
        assert!(matches!(
            store.insert_data_key(2, &[9], 7).await,
            Err(StoreError::Conflict(_))
        ));
        let keys = store.list_data_keys().await.unwrap();
        assert_eq!(keys, vec![(1, vec![7; 60]), (2, vec![8; 60])]);
        assert_eq!(store.max_data_key_id().await.unwrap(), 2);
        store.put_meta("rotation", b"3").await.unwrap();
        store.put_meta("rotation", b"4").await.unwrap();
        assert_eq!(
            store.get_meta("rotation").await.unwrap(),
            Some(b"4".to_vec())
        );
        store.delete_meta("rotation").await.unwrap();
        assert_eq!(store.get_meta("rotation").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn workspaces_members_and_api_keys() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        assert_eq!(store.count_workspaces().await.unwrap(), 1, "{label}");
        assert_eq!(
            store.find_workspace(&ws.id).await.unwrap(),
            Some(ws.clone())
        );
        assert_eq!(
            store.find_workspace("acme").await.unwrap(),
            Some(ws.clone())
        );
        assert_eq!(store.find_workspace("nope").await.unwrap(), None);
        let dup = Workspace {
            id: ids::generate(ids::WORKSPACE),
            name: "acme".into(),
            created_at: 2,
        };
        let err = store
            .create_workspace(&dup, &member("x@y.test", Role::Owner, "h2"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict("workspace")), "{err:?}");
        assert_eq!(
            store.count_workspaces().await.unwrap(),
            1,
            "failed create leaves nothing behind"
        );
        assert_eq!(store.list_workspaces().await.unwrap(), vec![ws.clone()]);

        let bob = store
            .add_member(&ws.id, &member("bob@acme.test", Role::Member, "bob-key"))
            .await
            .unwrap();
        let again = store
            .add_member(&ws.id, &member("bob@acme.test", Role::Admin, "bob-key-2"))
            .await;
        assert!(matches!(again, Err(StoreError::Conflict("member"))));
        let members = store.list_members(&ws.id).await.unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(
            store.get_member(&ws.id, &bob).await.unwrap().unwrap().role,
            Role::Member
        );

        // The same person in a second workspace keeps one user id.
        let (other, _) = workspace(&store, "globex").await;
        let bob_again = store
            .add_member(
                &other.id,
                &member("bob@acme.test", Role::Admin, "bob-globex"),
            )
            .await
            .unwrap();
        assert_eq!(bob, bob_again);
        assert_eq!(
            store
                .get_member(&ws.id, &owner)
                .await
                .unwrap()
                .unwrap()
                .role,
            Role::Owner
        );

        match store.find_api_key("bob-key").await.unwrap() {
            Some(Principal::Member {
                workspace_id,
                user_id,
                role,
            }) => {
                assert_eq!(
                    (workspace_id.as_str(), user_id.as_str(), role),
                    (ws.id.as_str(), bob.as_str(), Role::Member)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.find_api_key("unknown").await.unwrap(), None);
        let extra = NewApiKey {
            id: ids::generate(ids::API_KEY),
            token_hash: "bob-key-3".into(),
            created_at: 3,
        };
        store.insert_api_key(&ws.id, &bob, &extra).await.unwrap();
        assert!(store.find_api_key("bob-key-3").await.unwrap().is_some());
    })
    .await;
}

#[tokio::test]
async fn api_clients_and_access_tokens() {
    on_every_backend(|store, _| async move {
        let (ws, _) = workspace(&store, "acme").await;
        let client = ApiClient {
            id: ids::generate(ids::API_CLIENT),
            workspace_id: ws.id.clone(),
            name: "ci".into(),
            secret_hash: "secret-hash".into(),
            scopes: vec!["*".into()],
            created_at: 1,
            revoked_at: None,
        };
        store.insert_api_client(&client).await.unwrap();
        assert_eq!(
            store.find_api_client(&client.id).await.unwrap(),
            Some(client.clone())
        );
        assert_eq!(store.list_api_clients(&ws.id).await.unwrap().len(), 1);
        let token = AccessToken {
            token_hash: "tok".into(),
            client_id: client.id.clone(),
            workspace_id: ws.id.clone(),
            scopes: vec!["connect:*".into()],
            created_at: 10,
            expires_at: 100,
        };
        store.insert_access_token(&token).await.unwrap();
        assert!(matches!(
            store.find_access_token("tok", 50).await.unwrap(),
            Some(Principal::Client { .. })
        ));
        assert_eq!(
            store.find_access_token("tok", 100).await.unwrap(),
            None,
            "expired at its expiry"
        );
        assert_eq!(store.purge_expired_tokens(50).await.unwrap(), 0);

        assert!(matches!(
            store.revoke_api_client("o_other", &client.id, 60).await,
            Err(StoreError::NotFound)
        ));
        store
            .revoke_api_client(&ws.id, &client.id, 60)
            .await
            .unwrap();
        assert_eq!(
            store.find_access_token("tok", 50).await.unwrap(),
            None,
            "revocation kills tokens"
        );
        assert_eq!(
            store
                .find_api_client(&client.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(60)
        );
    })
    .await;
}

#[tokio::test]
async fn custom_apps_and_requests() {
    on_every_backend(|store, _| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        let app = CustomApp {
            id: ids::generate(ids::APP),
            workspace_id: ws.id.clone(),
            name_slug: "internal".into(),
            definition_json: "{}".into(),
            created_at: 1,
        };
        store.insert_custom_app(&app).await.unwrap();
        let dup = CustomApp {
            id: ids::generate(ids::APP),
            ..app.clone()
        };
        assert!(matches!(
            store.insert_custom_app(&dup).await,
            Err(StoreError::Conflict("app"))
        ));
        assert_eq!(store.list_custom_apps(&ws.id).await.unwrap(), vec![app]);
        assert!(store.list_custom_apps("o_other").await.unwrap().is_empty());
        let req = AppRequest {
            id: ids::generate(ids::APP_REQUEST),
            workspace_id: ws.id.clone(),
            requested_by: owner,
            name: "Acme CRM".into(),
            url: Some("https://acme.test".into()),
            note: None,
            created_at: 5,
        };
        store.insert_app_request(&req).await.unwrap();
        assert_eq!(store.list_app_requests(&ws.id).await.unwrap(), vec![req]);
    })
    .await;
}

#[tokio::test]
async fn accounts_crud_is_scoped_to_the_workspace() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        let (other, _) = workspace(&store, "globex").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        let a = account(&ws.id, Some(&owner), "Prod key", 10);
        store.insert_account(&a).await.unwrap();
        assert_eq!(
            store.get_account(&ws.id, &a.id).await.unwrap(),
            Some(a.clone()),
            "{label}"
        );
        assert_eq!(store.get_account(&other.id, &a.id).await.unwrap(), None);
        assert!(matches!(
            store.rename_account(&other.id, &a.id, "x", 11).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_account(&other.id, &a.id).await,
            Err(StoreError::NotFound)
        ));
        store
            .rename_account(&ws.id, &a.id, "Renamed", 12)
            .await
            .unwrap();
        let renamed = store.get_account(&ws.id, &a.id).await.unwrap().unwrap();
        assert_eq!((renamed.name.as_str(), renamed.updated_at), ("Renamed", 12));
        store.delete_account(&ws.id, &a.id).await.unwrap();
        assert_eq!(store.get_account(&ws.id, &a.id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn account_listing_paginates_filters_and_respects_visibility() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        let mut all = Vec::new();
        for i in 0..25 {
            // Two accounts share each timestamp so the id tie-break is exercised.
            let a = account(
                &ws.id,
                Some(&owner),
                &format!("Account {i:02}"),
                100 + i / 2,
            );
            store.insert_account(&a).await.unwrap();
            all.push(a);
        }
        let legacy = account(&ws.id, None, "Legacy_50%", 1);
        store.insert_account(&legacy).await.unwrap();

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_accounts(&AccountQuery {
                    workspace_id: ws.id.clone(),
                    after: after.clone(),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(page.total_count, 26, "{label}");
            seen.extend(page.items.iter().map(|a| a.id.clone()));
            match page.end_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 26, "every account exactly once");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 26);

        let stranger = "u_stranger".to_owned();
        let visible = store
            .list_accounts(&AccountQuery {
                workspace_id: ws.id.clone(),
                visible_to: Some(stranger),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            visible
                .items
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>(),
            vec![legacy.id.as_str()]
        );

        let search = |s: &str| AccountQuery {
            workspace_id: ws.id.clone(),
            search: Some(s.into()),
            limit: 100,
            ..Default::default()
        };
        assert_eq!(
            store
                .list_accounts(&search("account 1"))
                .await
                .unwrap()
                .total_count,
            10
        );
        assert_eq!(
            store
                .list_accounts(&search("_50%"))
                .await
                .unwrap()
                .total_count,
            1,
            "LIKE wildcards are escaped"
        );
        assert_eq!(
            store.list_accounts(&search("%")).await.unwrap().total_count,
            1
        );
        let by_app = AccountQuery {
            workspace_id: ws.id.clone(),
            app_slug: Some("github".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(store.list_accounts(&by_app).await.unwrap().total_count, 0);
        let garbage = AccountQuery {
            workspace_id: ws.id.clone(),
            after: Some("???".into()),
            limit: 10,
            ..Default::default()
        };
        let page = store.list_accounts(&garbage).await.unwrap();
        assert!(page.items.is_empty() && page.end_cursor.is_none());
    })
    .await;
}

#[tokio::test]
async fn resealing_is_optimistic_and_tracks_key_ids() {
    on_every_backend(|store, _| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        store.insert_data_key(2, &[2], 1).await.unwrap();
        let a = account(&ws.id, Some(&owner), "a", 1);
        store.insert_account(&a).await.unwrap();
        assert_eq!(store.count_accounts_not_on_key(2).await.unwrap(), 1);
        assert_eq!(
            store.accounts_not_on_key(2, "", 10).await.unwrap()[0].id,
            a.id
        );
        assert!(
            store
                .accounts_not_on_key(2, &a.id, 10)
                .await
                .unwrap()
                .is_empty(),
            "pages by id"
        );
        assert!(
            !store
                .reseal_account(&ws.id, &a.id, 7, &[9], 2)
                .await
                .unwrap(),
            "stale version"
        );
        assert!(store
            .reseal_account(&ws.id, &a.id, 1, &[9], 2)
            .await
            .unwrap());
        let after = store.get_account(&ws.id, &a.id).await.unwrap().unwrap();
        assert_eq!(
            (after.credentials_ciphertext, after.key_id, after.version),
            (vec![9], 2, 2)
        );
        assert_eq!(store.count_accounts_not_on_key(2).await.unwrap(), 0);
    })
    .await;
}

fn flow(ws: &str, user: &str, n: u8) -> OAuthFlow {
    OAuthFlow {
        id: ids::generate("flow_"),
        handle_hash: format!("handle-{n}"),
        state_hash: format!("pending-{n}"),
        workspace_id: ws.into(),
        user_id: user.into(),
        app_slug: "github".into(),
        account_id: None,
        oauth_client: "default".into(),
        redirect_uri: "https://lk.test/oauth/callback".into(),
        scopes: vec!["repo".into(), "read:user".into()],
        verifier_ciphertext: vec![1, 2, 3],
        browser_hash: None,
        created_at: 100,
        expires_at: 700,
        used_at: None,
        connect_token_hash: None,
    }
}

#[tokio::test]
async fn oauth_flows_are_bound_once_and_consumed_once() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        let f = flow(&ws.id, &owner, 1);
        store.insert_flow(&f).await.unwrap();
        assert_eq!(
            store.find_flow_by_handle("handle-1", 200).await.unwrap(),
            Some(f.clone()),
            "{label}"
        );
        assert_eq!(
            store.find_flow_by_handle("handle-1", 700).await.unwrap(),
            None,
            "expired"
        );
        assert!(store
            .bind_flow_browser(&f.id, "browser-a", "state-1")
            .await
            .unwrap());
        assert!(
            !store
                .bind_flow_browser(&f.id, "browser-b", "state-x")
                .await
                .unwrap(),
            "first browser wins"
        );
        assert_eq!(
            store.consume_flow("state-1", 800).await.unwrap(),
            None,
            "expired flows are not consumed"
        );
        let used = store.consume_flow("state-1", 300).await.unwrap().unwrap();
        assert_eq!(
            (used.browser_hash.as_deref(), used.used_at),
            (Some("browser-a"), Some(300))
        );
        assert_eq!(used.scopes, vec!["repo", "read:user"]);
        assert_eq!(
            store.consume_flow("state-1", 301).await.unwrap(),
            None,
            "single use"
        );
        assert_eq!(
            store.find_flow_by_handle("handle-1", 302).await.unwrap(),
            None,
            "used flows cannot restart"
        );
        store.insert_flow(&flow(&ws.id, &owner, 2)).await.unwrap();
        assert_eq!(store.purge_flows(701).await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn the_refresh_lease_admits_one_holder_and_fences_writes() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        let mut a = account(&ws.id, Some(&owner), "oauth", 1);
        a.next_refresh_at = Some(50);
        store.insert_account(&a).await.unwrap();
        let mut other = account(&ws.id, Some(&owner), "oauth", 2);
        other.next_refresh_at = Some(5_000);
        store.insert_account(&other).await.unwrap();
        // The scheduler claims due accounts in one statement, with the rows as of the claim.
        let claimed = store
            .claim_due_for_refresh(60, 90, "lease-1", 10)
            .await
            .unwrap();
        assert_eq!(
            claimed
                .iter()
                .map(|c| (c.id.as_str(), c.version))
                .collect::<Vec<_>>(),
            vec![(a.id.as_str(), a.version)],
            "{label}: only the due account"
        );
        assert!(
            store
                .acquire_refresh_lease(&ws.id, &a.id, "lease-2", 61, 91)
                .await
                .unwrap()
                .is_none(),
            "held"
        );
        assert!(
            store
                .claim_due_for_refresh(61, 91, "lease-x", 10)
                .await
                .unwrap()
                .is_empty(),
            "leased accounts are not due"
        );
        let update = OAuthUpdate {
            credentials_ciphertext: vec![7],
            key_id: 1,
            authorized_scopes: vec!["api:read".into()],
            expires_at: Some(1000),
            next_refresh_at: Some(900),
            now: 62,
        };
        assert!(
            !store
                .complete_refresh(&ws.id, &a.id, "lease-2", &update)
                .await
                .unwrap(),
            "only the holder writes"
        );
        assert!(store
            .complete_refresh(&ws.id, &a.id, "lease-1", &update)
            .await
            .unwrap());
        let after = store.get_account(&ws.id, &a.id).await.unwrap().unwrap();
        assert_eq!(
            (
                after.version,
                after.expires_at,
                after.last_refreshed_at,
                after.next_refresh_at
            ),
            (2, Some(1000), Some(62), Some(900))
        );
        assert_eq!(after.authorized_scopes, vec!["api:read"]);
        assert!(
            !store
                .complete_refresh(&ws.id, &a.id, "lease-1", &update)
                .await
                .unwrap(),
            "a lease is used once"
        );

        // An expired lease can be taken over.
        assert!(store
            .acquire_refresh_lease(&ws.id, &a.id, "lease-3", 100, 130)
            .await
            .unwrap()
            .is_some());
        assert!(store
            .acquire_refresh_lease(&ws.id, &a.id, "lease-4", 131, 160)
            .await
            .unwrap()
            .is_some());
        let failure = RefreshFailure {
            healthy: false,
            dead: false,
            error: "provider down".into(),
            next_refresh_at: Some(200),
        };
        assert!(
            !store
                .fail_refresh(&ws.id, &a.id, "lease-3", &failure)
                .await
                .unwrap(),
            "the stale holder is fenced off"
        );
        assert!(store
            .fail_refresh(&ws.id, &a.id, "lease-4", &failure)
            .await
            .unwrap());
        let after = store.get_account(&ws.id, &a.id).await.unwrap().unwrap();
        assert_eq!(
            (
                after.healthy,
                after.refresh_failures,
                after.error.as_deref()
            ),
            (false, 1, Some("provider down"))
        );
        assert_eq!(after.version, 3, "a failure is a change waiters can see");
        store
            .acquire_refresh_lease(&ws.id, &a.id, "lease-5", 300, 330)
            .await
            .unwrap();
        store
            .release_refresh_lease(&ws.id, &a.id, "lease-5")
            .await
            .unwrap();
        assert!(
            store
                .acquire_refresh_lease(&ws.id, &a.id, "lease-6", 301, 331)
                .await
                .unwrap()
                .is_some(),
            "released"
        );

        store
            .reconnect_account(&ws.id, &a.id, "u_admin", "oa_custom", &update)
            .await
            .unwrap();
        let after = store.get_account(&ws.id, &a.id).await.unwrap().unwrap();
        assert_eq!(
            after.owner_id.as_deref(),
            Some(owner.as_str()),
            "a reconnect by an admin keeps the owner"
        );
        assert_eq!(
            (
                after.healthy,
                after.refresh_failures,
                after.oauth_client.as_deref()
            ),
            (true, 0, Some("oa_custom"))
        );
        assert!(matches!(
            store
                .reconnect_account("o_other", &a.id, &owner, "default", &update)
                .await,
            Err(StoreError::NotFound)
        ));

        store
            .insert_account_event(&ws.id, &a.id, "ACCOUNT_UNHEALTHY", Some("provider down"), 5)
            .await
            .unwrap();
        store
            .insert_account_event(&ws.id, &a.id, "ACCOUNT_HEALTHY", None, 6)
            .await
            .unwrap();
        assert_eq!(
            store.list_account_events(&ws.id, &a.id).await.unwrap(),
            vec![
                ("ACCOUNT_UNHEALTHY".into(), Some("provider down".into())),
                ("ACCOUNT_HEALTHY".into(), None)
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn workspace_oauth_clients() {
    on_every_backend(|store, label| async move {
        let (ws, _) = workspace(&store, "acme").await;
        let (other, _) = workspace(&store, "globex").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        let mut client = OAuthClient {
            id: ids::generate("oa_"),
            workspace_id: ws.id.clone(),
            app_slug: "github".into(),
            name: "Ours".into(),
            client_id: "cid".into(),
            client_secret_ciphertext: vec![9, 9],
            key_id: 1,
            scopes: Some(vec!["repo".into(), "gist".into()]),
            created_at: 1,
            updated_at: 1,
            rejected_at: None,
            rejected_error: None,
        };
        store.insert_oauth_client(&client).await.unwrap();
        assert_eq!(
            store.get_oauth_client(&ws.id, &client.id).await.unwrap(),
            Some(client.clone()),
            "{label}"
        );
        assert_eq!(
            store.get_oauth_client(&other.id, &client.id).await.unwrap(),
            None
        );
        assert_eq!(
            store.list_oauth_clients(&ws.id, None).await.unwrap().len(),
            1
        );
        assert_eq!(
            store
                .list_oauth_clients(&ws.id, Some("github"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(store
            .list_oauth_clients(&ws.id, Some("slack"))
            .await
            .unwrap()
            .is_empty());
        client.scopes = None;
        client.name = "Renamed".into();
        store.update_oauth_client(&client).await.unwrap();
        assert_eq!(
            store
                .get_oauth_client(&ws.id, &client.id)
                .await
                .unwrap()
                .unwrap()
                .scopes,
            None
        );
        store
            .set_oauth_client_rejection(&ws.id, &client.id, Some(("invalid_client", 7)))
            .await
            .unwrap();
        let rejected = store
            .get_oauth_client(&ws.id, &client.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (rejected.rejected_error.as_deref(), rejected.rejected_at),
            (Some("invalid_client"), Some(7)),
            "{label}"
        );
        assert!(matches!(
            store
                .set_oauth_client_rejection(&other.id, &client.id, None)
                .await,
            Err(StoreError::NotFound)
        ));
        store
            .set_oauth_client_rejection(&ws.id, &client.id, None)
            .await
            .unwrap();
        let cleared = store
            .get_oauth_client(&ws.id, &client.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((cleared.rejected_error, cleared.rejected_at), (None, None));
        let foreign = OAuthClient {
            workspace_id: other.id.clone(),
            ..client.clone()
        };
        assert!(matches!(
            store.update_oauth_client(&foreign).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_oauth_client(&other.id, &client.id).await,
            Err(StoreError::NotFound)
        ));
        store.delete_oauth_client(&ws.id, &client.id).await.unwrap();
        assert!(store
            .list_oauth_clients(&ws.id, None)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}
