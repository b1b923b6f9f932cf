//! Who an account is shared with (PRODUCT.md F5, "Manage access"): private to its owner, the
//! entire workspace, or chosen members.
//!
//! Legacy accounts (no owner, shared with everyone) must be reconnected first: whoever
//! reconnects becomes the owner, and only then is there someone whose access to manage.

use latchkey_domain::{access::Operation, ValidationError};
use latchkey_store::Sharing;

use super::{accounts, Caller, ServiceError};
use crate::{clock, App};

/// An account's sharing as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `private`, `workspace` or `members`.
    pub mode: Sharing,
    /// With `members`: who (user ids); empty otherwise.
    pub member_ids: Vec<String>,
}

fn access_of(account: &latchkey_store::Account) -> Access {
    Access {
        mode: account.sharing,
        member_ids: if account.sharing == Sharing::Members {
            account.shared_with.clone()
        } else {
            Vec::new()
        },
    }
}

/// The sharing of an account the caller may see.
///
/// # Errors
/// 404 when it may not.
pub async fn get(ctx: &App, caller: &Caller, account_id: &str) -> Result<Access, ServiceError> {
    caller.require_scope("accounts:read")?;
    let account = accounts::load_fresh(ctx, caller, account_id).await?;
    caller.authorize(&account, Operation::View)?;
    Ok(access_of(&account))
}

/// Parses a mode from the API.
///
/// # Errors
/// 400 naming `mode`.
pub fn parse_mode(mode: &str) -> Result<Sharing, ValidationError> {
    match mode {
        "private" => Ok(Sharing::Private),
        "workspace" => Ok(Sharing::Workspace),
        "members" => Ok(Sharing::Members),
        _ => Err(ValidationError::new(
            "mode",
            "must be private, workspace or members",
        )),
    }
}

/// Changes who an account is shared with (its owner, or an admin).
///
/// # Errors
/// 404/403 by the access rules; 409 for a legacy account (reconnect it first); 400 for member
/// ids that are not members of the workspace, or members without any.
pub async fn set(
    ctx: &App,
    caller: &Caller,
    account_id: &str,
    mode: Sharing,
    member_ids: Vec<String>,
) -> Result<Access, ServiceError> {
    caller.require_scope("accounts:write")?;
    let account = accounts::load_fresh(ctx, caller, account_id).await?;
    caller.authorize(&account, Operation::ManageAccess)?;
    let Some(owner) = account.owner_id.as_deref() else {
        return Err(ServiceError::Conflict(
            "this is a legacy account without an owner: reconnect it first (you become its owner), then manage its access"
                .into(),
        ));
    };
    let mut chosen: Vec<String> = Vec::new();
    if mode == Sharing::Members {
        let members = accounts::members(ctx, caller.workspace_id()).await?;
        for (i, id) in member_ids.iter().enumerate() {
            if !members.iter().any(|m| &m.user_id == id) {
                return Err(ValidationError::new(
                    format!("member_ids[{i}]"),
                    "is not a member of this workspace",
                )
                .into());
            }
            // The owner always has access; duplicates mean nothing.
            if id != owner && !chosen.contains(id) {
                chosen.push(id.clone());
            }
        }
        if chosen.is_empty() {
            return Err(ValidationError::new(
                "member_ids",
                "must name at least one member other than the owner (or use mode private)",
            )
            .into());
        }
        chosen.sort();
    } else if !member_ids.is_empty() {
        return Err(ValidationError::new("member_ids", "is only allowed with mode members").into());
    }
    ctx.store
        .set_account_access(
            caller.workspace_id(),
            account_id,
            mode,
            &chosen,
            clock::now_ms(),
        )
        .await?;
    ctx.caches.forget_account(caller.workspace_id(), account_id);
    caller
        .audit(
            ctx,
            "access.change",
            Some(account_id),
            "allowed",
            Some(serde_json::json!({"mode": mode.as_str(), "member_ids": chosen})),
        )
        .await;
    tracing::info!(account.id = %account_id, mode = mode.as_str(), members = chosen.len(), "account access changed");
    // What was just written (in the order `GET` lists it); no need to read it back.
    Ok(Access {
        mode,
        member_ids: chosen,
    })
}
