//! Short-lived in-memory caches for the hot read path (`GET /v1/accounts/{id}`): the principal
//! behind a bearer token, account rows with their decrypted credentials, and workspace members.
//!
//! Why: without them a credential read costs three database round trips (token, account,
//! members), which caps a server at a few thousand reads per second. With them a repeated read
//! touches no database at all.
//!
//! The price is bounded staleness. Writes made through this process invalidate its entries at
//! once; changes made by another instance or by the CLI (a revoked API client, a deleted
//! account) are seen here within the TTL (`cache_ttl_ms`, default 2 s; 0 disables caching).
//! A cached access token never outlives its own expiry. Decrypted credentials live in memory
//! only as long as their entry (zeroized on drop by `secrecy`).

use std::{sync::Arc, time::Duration};

use latchkey_store::{Account, Member, Principal};
use moka::sync::Cache;

use crate::{clock, vault::Credentials};

/// An account row, and its credentials once someone allowed to read them has read them.
#[derive(Debug, Clone)]
pub struct CachedAccount {
    /// The row (ciphertext included, so the version is known).
    pub account: Account,
    /// Decrypted credentials of exactly this row version.
    pub credentials: Option<Credentials>,
}

/// The caches. Disabled (every lookup misses) when the TTL is zero.
pub struct Caches {
    enabled: bool,
    principals: Cache<String, Arc<Principal>>,
    accounts: Cache<(String, String), Arc<CachedAccount>>,
    members: Cache<String, Arc<Vec<Member>>>,
    default_client_rejected: Cache<String, bool>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl Caches {
    /// Caches whose entries live `ttl`.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            enabled: !ttl.is_zero(),
            principals: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            accounts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            members: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
            default_client_rejected: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The principal behind a token hash, unless unknown here or (for access tokens) expired.
    #[must_use]
    pub fn principal(&self, token_hash: &str) -> Option<Arc<Principal>> {
        let principal = self.principals.get(token_hash)?;
        match &*principal {
            Principal::Client { expires_at, .. } if *expires_at <= clock::now_ms() => {
                self.principals.invalidate(token_hash);
                None
            }
            _ => Some(principal),
        }
    }

    /// Remembers a successful authentication.
    pub fn put_principal(&self, token_hash: String, principal: Arc<Principal>) {
        if self.enabled {
            self.principals.insert(token_hash, principal);
        }
    }

    /// Forgets every cached principal (after a revocation, which is rare enough that finding
    /// the affected entries is not worth an index).
    pub fn forget_principals(&self) {
        self.principals.invalidate_all();
    }

    /// A cached account of a workspace.
    #[must_use]
    pub fn account(&self, workspace_id: &str, account_id: &str) -> Option<Arc<CachedAccount>> {
        self.accounts
            .get(&(workspace_id.to_owned(), account_id.to_owned()))
    }

    /// Remembers an account row (and its credentials, if read).
    pub fn put_account(&self, entry: CachedAccount) {
        if self.enabled {
            let key = (entry.account.workspace_id.clone(), entry.account.id.clone());
            self.accounts.insert(key, Arc::new(entry));
        }
    }

    /// Forgets an account after this process changed it.
    pub fn forget_account(&self, workspace_id: &str, account_id: &str) {
        self.accounts
            .invalidate(&(workspace_id.to_owned(), account_id.to_owned()));
    }

    /// A workspace's members.
    #[must_use]
    pub fn members(&self, workspace_id: &str) -> Option<Arc<Vec<Member>>> {
        self.members.get(workspace_id)
    }

    /// Remembers a workspace's members.
    pub fn put_members(&self, workspace_id: String, members: Arc<Vec<Member>>) {
        if self.enabled {
            self.members.insert(workspace_id, members);
        }
    }

    /// Forgets a workspace's members after this process changed them.
    pub fn forget_members(&self, workspace_id: &str) {
        self.members.invalidate(workspace_id);
    }

    /// Whether the operator's client of an app (key: slug and client id) stands rejected.
    #[must_use]
    pub fn default_client_rejected(&self, key: &str) -> Option<bool> {
        self.default_client_rejected.get(key)
    }

    /// Remembers whether the operator's client of an app stands rejected.
    pub fn put_default_client_rejected(&self, key: String, rejected: bool) {
        if self.enabled {
            self.default_client_rejected.insert(key, rejected);
        }
    }

    /// Forgets that, after this process changed the flag.
    pub fn forget_default_client_rejected(&self, key: &str) {
        self.default_client_rejected.invalidate(key);
    }
}
