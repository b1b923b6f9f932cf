//! The listing's `total_count` comes from trigger-kept tallies when there is no search: it
//! must equal what the listing actually holds after every kind of change.

use latchkey_domain::role::Role;
use latchkey_store::prelude::*;
use latchkey_store::{AccountQuery, OAuthUpdate, Sharing, SqlStore};

use crate::{account, member, on_every_backend, workspace};

/// Pages through a listing and checks its `total_count` against the rows it returned.
async fn check(
    store: &SqlStore,
    ws: &str,
    viewer: Option<&str>,
    app: Option<&str>,
    label: &str,
) -> i64 {
    let mut seen = 0;
    let mut after = None;
    let mut total = None;
    loop {
        let page = store
            .list_accounts(&AccountQuery {
                workspace_id: ws.into(),
                visible_to: viewer.map(Into::into),
                app_slug: app.map(Into::into),
                search: None,
                after: after.clone(),
                limit: 2,
                connect: None,
            })
            .await
            .unwrap();
        total.get_or_insert(page.total_count);
        assert_eq!(
            Some(page.total_count),
            total,
            "{label}: the count is stable across pages"
        );
        seen += i64::try_from(page.items.len()).unwrap();
        match page.end_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(total, Some(seen), "{label}: viewer {viewer:?}, app {app:?}");
    seen
}

async fn check_all(store: &SqlStore, ws: &str, members: &[&str], step: &str) -> Vec<i64> {
    let mut counts = Vec::new();
    for viewer in std::iter::once(None).chain(members.iter().map(|m| Some(*m))) {
        for app in [None, Some("openai"), Some("github")] {
            counts.push(check(store, ws, viewer, app, step).await);
        }
    }
    counts
}

#[tokio::test]
async fn listing_counts_stay_exact_through_every_change() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        let (other, other_owner) = workspace(&store, "globex").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        let bob = store
            .add_member(&ws.id, &member("bob@acme.test", Role::Member, "bob-key"))
            .await
            .unwrap();
        let carol = store
            .add_member(
                &ws.id,
                &member("carol@acme.test", Role::Member, "carol-key"),
            )
            .await
            .unwrap();
        let viewers = [owner.as_str(), bob.as_str(), carol.as_str()];

        let mut ids = Vec::new();
        for (i, (who, app)) in [
            (Some(owner.as_str()), "openai"),
            (Some(owner.as_str()), "github"),
            (Some(bob.as_str()), "openai"),
            (None, "openai"),
            (Some(carol.as_str()), "github"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut a = account(&ws.id, who, &format!("a{i}"), 10 + i as i64);
            a.app_slug = app.into();
            store.insert_account(&a).await.unwrap();
            ids.push(a.id);
        }
        // Another workspace's accounts never count here.
        store
            .insert_account(&account(&other.id, Some(&other_owner), "theirs", 1))
            .await
            .unwrap();
        let start = check_all(&store, &ws.id, &viewers, &format!("{label} start")).await;
        assert_eq!(start[0], 5, "{label}: the admin sees all five");

        store
            .set_account_access(
                &ws.id,
                &ids[0],
                Sharing::Members,
                std::slice::from_ref(&bob),
                20,
            )
            .await
            .unwrap();
        check_all(
            &store,
            &ws.id,
            &viewers,
            &format!("{label} shared with bob"),
        )
        .await;
        store
            .set_account_access(&ws.id, &ids[2], Sharing::Workspace, &[], 21)
            .await
            .unwrap();
        check_all(
            &store,
            &ws.id,
            &viewers,
            &format!("{label} shared with all"),
        )
        .await;

        // A legacy account reconnected by carol becomes hers (and stays shared with all).
        let update = OAuthUpdate {
            credentials_ciphertext: vec![7],
            key_id: 1,
            authorized_scopes: vec![],
            expires_at: None,
            next_refresh_at: None,
            now: 30,
        };
        store
            .reconnect_account(&ws.id, &ids[3], &carol, "", &update)
            .await
            .unwrap();
        check_all(&store, &ws.id, &viewers, &format!("{label} reconnected")).await;

        store.delete_account(&ws.id, &ids[1]).await.unwrap();
        let end = check_all(&store, &ws.id, &viewers, &format!("{label} deleted")).await;
        assert_eq!(end[0], 4, "{label}");
        // Carol shares hers with bob by name.
        store
            .set_account_access(
                &ws.id,
                &ids[4],
                Sharing::Members,
                std::slice::from_ref(&bob),
                40,
            )
            .await
            .unwrap();
        check_all(&store, &ws.id, &viewers, &format!("{label} shared carol's")).await;
    })
    .await;
}

#[tokio::test]
async fn search_matches_nicknames_apps_and_owners_and_follows_renames() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        let bob = store
            .add_member(&ws.id, &member("bob@acme.test", Role::Member, "bob-key"))
            .await
            .unwrap();
        let mut a = account(&ws.id, Some(&owner), "Billing Stripe (EU)", 1);
        a.app_slug = "stripe".into();
        let mut b = account(&ws.id, Some(&bob), "deploy key", 2);
        b.app_slug = "github".into();
        store.insert_account(&a).await.unwrap();
        store.insert_account(&b).await.unwrap();
        let found = |text: &'static str| {
            let store = store.clone();
            let ws = ws.id.clone();
            async move {
                let page = store
                    .list_accounts(&AccountQuery {
                        workspace_id: ws,
                        search: Some(text.into()),
                        limit: 100,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                let mut names: Vec<String> = page.items.into_iter().map(|a| a.name).collect();
                names.sort();
                assert_eq!(page.total_count, names.len() as i64);
                names
            }
        };
        assert_eq!(
            found("STRIPE (eu").await,
            ["Billing Stripe (EU)"],
            "{label}: case and middle"
        );
        assert_eq!(found("github").await, ["deploy key"], "{label}: by app");
        assert_eq!(
            found("bob@acme").await,
            ["deploy key"],
            "{label}: by owner email"
        );
        assert_eq!(found("ey").await, ["deploy key"], "{label}: two characters");
        assert!(found("nothing like it").await.is_empty());
        store
            .rename_account(&ws.id, &b.id, "release token", 3)
            .await
            .unwrap();
        assert!(
            found("deploy").await.is_empty(),
            "{label}: the old name is gone"
        );
        assert_eq!(found("lease tok").await, ["release token"], "{label}");
        store.delete_account(&ws.id, &a.id).await.unwrap();
        assert!(found("billing").await.is_empty(), "{label}: deleted");
    })
    .await;
}

/// Writers queue for SQLite's one write lock (the busy timeout) instead of failing with
/// "database is locked": sixteen accounts connected at once all land, and all count.
#[tokio::test]
async fn concurrent_inserts_all_land() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        store.insert_data_key(1, &[1], 1).await.unwrap();
        let inserts: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                let a = account(&ws.id, Some(&owner), &format!("concurrent {i}"), i);
                tokio::spawn(async move { store.insert_account(&a).await })
            })
            .collect();
        for insert in inserts {
            insert
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{label}: {e}"));
        }
        let listed = check(&store, &ws.id, None, None, label).await;
        assert_eq!(listed, 16, "{label}");
    })
    .await;
}
