//! A state-machine test of the access rules: random sequences of sharing changes, role changes
//! and reconnects, run against the real services and database and against a small model of
//! PRODUCT.md F5. After every step, every member's attempt to read every account's credentials
//! must succeed exactly when the model says it may (owner, or shared with them) — an admin
//! role alone never suffices.

use std::collections::{BTreeMap, BTreeSet};

use latchkey_domain::{ids, role::Role};
use latchkey_server::{
    clock,
    service::{accounts, sharing, Caller, ServiceError},
    vault::Credentials,
};
use latchkey_store::{Account, OAuthUpdate, Principal, Sharing};
use proptest::prelude::*;

use crate::helpers::TestApp;

/// Four members: 0 owns the workspace (always an admin), 1–3 switch between admin and member.
const USERS: usize = 4;
/// Accounts 0 and 1 start owned by members 1 and 2; account 2 is legacy (no owner).
const ACCOUNTS: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    Share {
        account: usize,
        by: usize,
        mode: u8,
        members: u8,
    },
    SetRole {
        user: usize,
        admin: bool,
    },
    Reconnect {
        account: usize,
        by: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..ACCOUNTS, 0..USERS, 0u8..3, 0u8..16).prop_map(|(account, by, mode, members)| {
            Step::Share {
                account,
                by,
                mode,
                members,
            }
        }),
        (1..USERS, any::<bool>()).prop_map(|(user, admin)| Step::SetRole { user, admin }),
        (0..ACCOUNTS, 0..USERS).prop_map(|(account, by)| Step::Reconnect { account, by }),
    ]
}

#[derive(Debug, Clone)]
struct ModelAccount {
    owner: Option<usize>,
    sharing: Sharing,
    members: BTreeSet<usize>,
}

struct Model {
    admin: [bool; USERS],
    accounts: Vec<ModelAccount>,
}

impl Model {
    fn shared(&self, account: usize, user: usize) -> bool {
        let a = &self.accounts[account];
        match a.sharing {
            Sharing::Workspace => true,
            Sharing::Members => a.members.contains(&user),
            Sharing::Private => false,
        }
    }

    fn may_read(&self, account: usize, user: usize) -> bool {
        self.accounts[account].owner == Some(user) || self.shared(account, user)
    }

    /// Manage access, reconnect: the owner, or an admin who may see the account (admins see
    /// every account).
    fn may_manage(&self, account: usize, user: usize) -> bool {
        self.accounts[account].owner == Some(user) || self.admin[user]
    }
}

struct World {
    t: TestApp,
    workspace_id: String,
    users: Vec<String>,
    accounts: Vec<String>,
}

impl World {
    fn caller(&self, model: &Model, user: usize) -> Caller {
        Caller(Principal::Member {
            workspace_id: self.workspace_id.clone(),
            user_id: self.users[user].clone(),
            role: if user == 0 {
                Role::Owner
            } else if model.admin[user] {
                Role::Admin
            } else {
                Role::Member
            },
        })
    }
}

async fn world(t: TestApp, case: usize) -> World {
    let boss = t.workspace(&format!("ws{case}")).await;
    let mut users = vec![boss.user_id.clone()];
    for i in 1..USERS {
        let member = t
            .member(&boss, &format!("user{i}@ws{case}.test"), Role::Member)
            .await;
        users.push(member.user_id);
    }
    let mut accounts = Vec::new();
    for (i, owner) in [Some(1), Some(2), None].into_iter().enumerate() {
        let id = ids::generate(ids::ACCOUNT);
        let credentials = Credentials::from_map(BTreeMap::from([(
            "api_key".to_owned(),
            format!("secret-{i}"),
        )]));
        let (ciphertext, key_id) = t
            .app
            .vault
            .seal(&boss.workspace_id, &id, &credentials)
            .await;
        let now = clock::now_ms();
        t.app
            .store
            .insert_account(&Account {
                id: id.clone(),
                workspace_id: boss.workspace_id.clone(),
                app_slug: "openai".into(),
                name: format!("account {i}"),
                owner_id: owner.map(|o: usize| users[o].clone()),
                sharing: if owner.is_some() {
                    Sharing::Private
                } else {
                    Sharing::Workspace
                },
                credentials_ciphertext: ciphertext,
                key_id,
                healthy: true,
                dead: false,
                error: None,
                authorized_scopes: vec![],
                expires_at: None,
                created_at: now,
                updated_at: now,
                version: 1,
                oauth_client: None,
                last_refreshed_at: None,
                next_refresh_at: None,
                refresh_failures: 0,
                shared_with: vec![],
                connect: None,
            })
            .await
            .unwrap();
        accounts.push(id);
    }
    World {
        t,
        workspace_id: boss.workspace_id,
        users,
        accounts,
    }
}

async fn apply(world: &World, model: &mut Model, step: &Step) {
    match *step {
        Step::Share {
            account,
            by,
            mode,
            members,
        } => {
            let sharing = [Sharing::Private, Sharing::Workspace, Sharing::Members][mode as usize];
            let chosen: BTreeSet<usize> = (0..USERS).filter(|u| members & (1 << u) != 0).collect();
            let ids: Vec<String> = if sharing == Sharing::Members {
                chosen.iter().map(|u| world.users[*u].clone()).collect()
            } else {
                vec![]
            };
            let result = sharing::set(
                &world.t.app,
                &world.caller(model, by),
                &world.accounts[account],
                sharing,
                ids,
            )
            .await;
            let owner = model.accounts[account].owner;
            let effective: BTreeSet<usize> =
                chosen.into_iter().filter(|u| Some(*u) != owner).collect();
            match result {
                Ok(_) => {
                    assert!(model.may_manage(account, by), "{step:?} was allowed");
                    assert!(owner.is_some(), "a legacy account's access was changed");
                    model.accounts[account].sharing = sharing;
                    model.accounts[account].members = if sharing == Sharing::Members {
                        effective
                    } else {
                        BTreeSet::new()
                    };
                }
                Err(ServiceError::Conflict(_)) => assert!(owner.is_none(), "{step:?}"),
                Err(ServiceError::Invalid(_)) => {
                    assert!(
                        sharing == Sharing::Members && effective.is_empty(),
                        "{step:?}"
                    );
                }
                Err(ServiceError::Forbidden(_) | ServiceError::NotFound(_)) => {
                    assert!(!model.may_manage(account, by), "{step:?} was refused");
                }
                Err(other) => panic!("{step:?}: {other}"),
            }
        }
        Step::SetRole { user, admin } => model.admin[user] = admin,
        Step::Reconnect { account, by } => {
            // What a completed reconnect does: new credentials; a legacy account gets an owner.
            if !model.may_manage(account, by) {
                return;
            }
            let id = &world.accounts[account];
            let credentials = Credentials::from_map(BTreeMap::from([(
                "api_key".to_owned(),
                format!("reconnected-by-{by}"),
            )]));
            let (ciphertext, key_id) = world
                .t
                .app
                .vault
                .seal(&world.workspace_id, id, &credentials)
                .await;
            world
                .t
                .app
                .store
                .reconnect_account(
                    &world.workspace_id,
                    id,
                    &world.users[by],
                    "account",
                    &OAuthUpdate {
                        credentials_ciphertext: ciphertext,
                        key_id,
                        authorized_scopes: vec![],
                        expires_at: None,
                        next_refresh_at: None,
                        now: clock::now_ms(),
                    },
                )
                .await
                .unwrap();
            world.t.app.caches.forget_account(&world.workspace_id, id);
            model.accounts[account].owner.get_or_insert(by);
        }
    }
}

async fn check(world: &World, model: &Model, after: &Step) {
    for user in 0..USERS {
        let caller = world.caller(model, user);
        for account in 0..ACCOUNTS {
            let read = accounts::get(&world.t.app, &caller, &world.accounts[account], true).await;
            let may = model.may_read(account, user);
            match read {
                Ok(details) => {
                    assert!(may, "user {user} read account {account} after {after:?}");
                    assert!(details.credentials.is_some());
                }
                Err(ServiceError::Forbidden(_) | ServiceError::NotFound(_)) => {
                    assert!(
                        !may,
                        "user {user} was refused account {account} after {after:?}"
                    );
                }
                Err(other) => panic!("{other}"),
            }
        }
    }
}

#[test]
fn no_sequence_of_changes_lets_anyone_read_what_they_may_not() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let t = runtime.block_on(TestApp::spawn(latchkey_test_db::TestDb::sqlite()));
    let t = std::sync::Arc::new(tokio::sync::Mutex::new(Some(t)));
    let case = std::cell::Cell::new(0usize);
    let config = ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    };
    proptest!(config, |(steps in proptest::collection::vec(step(), 1..16))| {
        case.set(case.get() + 1);
        runtime.block_on(async {
            let app = t.lock().await.take().expect("the app is returned after each case");
            let world = world(app, case.get()).await;
            let mut model = Model {
                admin: [true, false, false, false],
                accounts: vec![
                    ModelAccount { owner: Some(1), sharing: Sharing::Private, members: BTreeSet::new() },
                    ModelAccount { owner: Some(2), sharing: Sharing::Private, members: BTreeSet::new() },
                    ModelAccount { owner: None, sharing: Sharing::Workspace, members: BTreeSet::new() },
                ],
            };
            for step in &steps {
                apply(&world, &mut model, step).await;
                check(&world, &model, step).await;
            }
            *t.lock().await = Some(world.t);
        });
    });
}
