//! The use cases, shared by the HTTP API and the CLI. They own the workflow of each operation
//! (validate, authorize, seal, store); the rules themselves live in `latchkey-domain`.

pub mod accounts;
pub mod apps;
pub mod audit_log;
pub mod connect;
pub mod env_vars;
pub mod import;
pub mod members;
pub mod oauth;
pub mod provisioning;
pub mod rotation;
pub mod sharing;
pub mod webhooks;
pub mod workflows;

use latchkey_domain::{
    access::{self, AccountAccess, Operation, Viewer},
    role::Role,
    ValidationError,
};
use latchkey_store::{Account, Principal, Sharing, StoreError};

use crate::vault::VaultError;

/// Why a use case failed; the HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input (400).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Unknown, or invisible to the caller (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Visible but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// Uniqueness conflict (409).
    #[error("{0}")]
    Conflict(String),
    /// Database failure (500).
    #[error(transparent)]
    Store(StoreError),
    /// Crypto failure (500).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Anything else that is our fault (500); the text is for the log only.
    #[error("{0}")]
    Internal(String),
    /// A dependency that must work is down (503), e.g. the audit log before a secret leaves.
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ServiceError::Conflict(format!("{what} already exists")),
            StoreError::NotFound => ServiceError::NotFound("resource"),
            other => ServiceError::Store(other),
        }
    }
}

/// Who is calling: a member (API key) or a workspace API client (access token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl Caller {
    /// The caller as an audit actor.
    #[must_use]
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor::of(&self.0)
    }

    /// Records an audit event about `account_id` in the caller's workspace, logging (not
    /// returning) a failure: for things that already happened.
    pub async fn audit(
        &self,
        ctx: &crate::App,
        action: &str,
        account_id: Option<&str>,
        outcome: &str,
        detail: Option<serde_json::Value>,
    ) {
        let event = crate::audit::Auditor::event(
            self.workspace_id(),
            &self.actor(),
            action,
            account_id,
            outcome,
            detail,
        );
        ctx.audit.record_best_effort(event).await;
    }
}

impl Caller {
    /// The workspace every request is confined to.
    #[must_use]
    pub fn workspace_id(&self) -> &str {
        match &self.0 {
            Principal::Member { workspace_id, .. } | Principal::Client { workspace_id, .. } => {
                workspace_id
            }
        }
    }

    /// The member's user id; `None` for API clients.
    #[must_use]
    pub fn user_id(&self) -> Option<&str> {
        match &self.0 {
            Principal::Member { user_id, .. } => Some(user_id),
            Principal::Client { .. } => None,
        }
    }

    /// Whether the caller is an owner or admin (never true for API clients, which act for the
    /// workspace but are not members).
    #[must_use]
    pub fn is_admin(&self) -> bool {
        matches!(&self.0, Principal::Member { role, .. } if role.is_admin())
    }

    /// The member the caller acts as, or the error for API clients.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for API clients.
    pub fn require_member(&self) -> Result<&str, ServiceError> {
        self.user_id().ok_or_else(|| {
            ServiceError::Forbidden(
                "this operation needs a member's API key, not an API client".into(),
            )
        })
    }

    /// Checks an OAuth scope for API clients (members have every scope).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] naming the missing scope.
    pub fn require_scope(&self, scope: &str) -> Result<(), ServiceError> {
        match &self.0 {
            Principal::Member { .. } => Ok(()),
            Principal::Client { scopes, .. } if scope_allows(scopes, scope) => Ok(()),
            Principal::Client { .. } => Err(ServiceError::Forbidden(format!(
                "the access token lacks the scope {scope}"
            ))),
        }
    }

    /// Checks the caller is a workspace owner or admin. API clients never are: they act for
    /// the workspace, not as a member, whatever their scopes.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`].
    pub fn require_admin(&self) -> Result<(), ServiceError> {
        match &self.0 {
            Principal::Member { role, .. } if role.is_admin() => Ok(()),
            Principal::Member { .. } => Err(ServiceError::Forbidden(
                "only workspace admins may do this".into(),
            )),
            Principal::Client { .. } => Err(ServiceError::Forbidden(
                "this operation needs an admin's API key, not an API client".into(),
            )),
        }
    }

    fn viewer(&self) -> Viewer<'_> {
        match &self.0 {
            Principal::Member { user_id, role, .. } => Viewer {
                user_id,
                role: *role,
            },
            // An API client acts for the workspace as a whole: it sees what is shared with the
            // entire workspace and is never an owner or admin.
            Principal::Client { client_id, .. } => Viewer {
                user_id: client_id,
                role: Role::Member,
            },
        }
    }

    /// May the caller do `op` with `account`?
    #[must_use]
    pub fn may(&self, account: &Account, op: Operation) -> bool {
        let viewer = self.viewer();
        let shared = match account.sharing {
            Sharing::Workspace => true,
            Sharing::Members => account.shared_with.iter().any(|u| u == viewer.user_id),
            Sharing::Private => false,
        };
        access::allows(
            viewer,
            AccountAccess {
                owner_id: account.owner_id.as_deref(),
                shared_with_viewer: shared,
            },
            op,
        )
    }

    /// Authorizes `op`: 404 when the caller may not even see the account (so its existence is
    /// not revealed), 403 when it may see it but not do this.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] or [`ServiceError::Forbidden`].
    pub fn authorize(&self, account: &Account, op: Operation) -> Result<(), ServiceError> {
        if !self.may(account, Operation::View) {
            return Err(ServiceError::NotFound("account"));
        }
        if !self.may(account, op) {
            return Err(ServiceError::Forbidden(match op {
                Operation::ReadCredentials => {
                    "only the account's owner and members it is shared with may use its credentials"
                        .into()
                }
                _ => "you may not do this with this account".into(),
            }));
        }
        Ok(())
    }
}

/// Whether granted `scopes` include `needed` (`*` grants all; `area:*` grants `area:…`).
#[must_use]
pub fn scope_allows(scopes: &[String], needed: &str) -> bool {
    scopes.iter().any(|s| {
        s == "*"
            || s == needed
            || s.strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with(':') && needed.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::scope_allows;

    #[test]
    fn scopes_match_exactly_or_by_wildcard() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(scope_allows(&s(&["*"]), "accounts:read"));
        assert!(scope_allows(&s(&["accounts:*"]), "accounts:read"));
        assert!(scope_allows(&s(&["accounts:read"]), "accounts:read"));
        assert!(!scope_allows(&s(&["accounts:read"]), "accounts:write"));
        assert!(!scope_allows(&s(&["accounts*"]), "accounts:read"));
        assert!(!scope_allows(&s(&[]), "apps:read"));
    }
}
