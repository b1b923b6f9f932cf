//! Web UI sessions and invitations: single-use links, expiry, passwords and roles.

use latchkey_domain::role::Role;
use latchkey_store::prelude::*;
use latchkey_store::{Invite, Session, StoreError};

use crate::{member, on_every_backend, workspace};

fn invite(ws: &str, user: &str, hash: &str, expires_at: i64) -> Invite {
    Invite {
        token_hash: hash.into(),
        workspace_id: ws.into(),
        user_id: user.into(),
        created_at: 1,
        expires_at,
    }
}

#[tokio::test]
async fn sessions_expire_and_invites_are_taken_once() {
    on_every_backend(|store, label| async move {
        let (ws, owner) = workspace(&store, "acme").await;
        let session = Session {
            id_hash: "s1".into(),
            workspace_id: ws.id.clone(),
            user_id: owner.clone(),
            csrf_hash: "c1".into(),
            created_at: 1,
            expires_at: 100,
        };
        store.insert_session(&session).await.unwrap();
        assert_eq!(store.get_session("s1", 50).await.unwrap(), Some(session));
        assert_eq!(store.get_session("s1", 100).await.unwrap(), None, "{label}");

        let bob = store
            .add_member(&ws.id, &member("bob@acme.test", Role::Member, "bob-key"))
            .await
            .unwrap();
        store
            .insert_invite(&invite(&ws.id, &bob, "old", 100))
            .await
            .unwrap();
        store
            .insert_invite(&invite(&ws.id, &bob, "new", 100))
            .await
            .unwrap();
        assert_eq!(
            store.take_invite("old", 50).await.unwrap(),
            None,
            "a newer invitation replaces the older link ({label})"
        );
        assert_eq!(
            store.take_invite("new", 100).await.unwrap(),
            None,
            "expired"
        );
        let taken = store.take_invite("new", 50).await.unwrap().unwrap();
        assert_eq!(
            (taken.workspace_id.as_str(), taken.user_id.as_str()),
            (ws.id.as_str(), bob.as_str()),
            "a lookup after expiry neither answers nor consumes"
        );
        assert_eq!(
            store.take_invite("new", 50).await.unwrap(),
            None,
            "single use"
        );

        store.set_password(&bob, "$argon2id$v=19$x").await.unwrap();
        let login = store.find_login("bob@acme.test").await.unwrap().unwrap();
        assert_eq!(login.password_hash.as_deref(), Some("$argon2id$v=19$x"));
        assert!(matches!(
            store.set_password("u_nobody", "h").await,
            Err(StoreError::NotFound)
        ));

        store
            .set_member_role(&ws.id, &bob, Role::Admin)
            .await
            .unwrap();
        assert_eq!(
            store.get_member(&ws.id, &bob).await.unwrap().unwrap().role,
            Role::Admin
        );
        assert!(matches!(
            store.set_member_role(&ws.id, "u_nobody", Role::Admin).await,
            Err(StoreError::NotFound)
        ));

        store
            .insert_invite(&invite(&ws.id, &bob, "stale", 10))
            .await
            .unwrap();
        assert!(
            store.purge_sessions(200).await.unwrap() >= 2,
            "session and invite purged"
        );
        assert_eq!(store.take_invite("stale", 5).await.unwrap(), None);
    })
    .await;
}
