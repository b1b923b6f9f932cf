//! End users of a project environment (API.md §3 #10, #11).

use latchkey_store::{ExternalUser, Page};

use super::{accounts as connect_accounts, ConnectCaller};
use crate::{service::ServiceError, App};

/// Lists end users, newest first, optionally by a substring of their id.
///
/// # Errors
/// Bad cursor (400), 403.
pub async fn list(
    ctx: &App,
    caller: &ConnectCaller,
    search: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<ExternalUser>, ServiceError> {
    caller.require_server()?;
    caller.require_scope("connect:users:read")?;
    if after.is_some_and(|c| !latchkey_store::is_valid_cursor(c)) {
        return Err(latchkey_domain::ValidationError::new(
            "after",
            "is not a cursor from this API",
        )
        .into());
    }
    Ok(ctx
        .store
        .list_external_users(&caller.project.id, caller.environment, search, after, limit)
        .await?)
}

/// Deletes an end user and all their accounts (each revoked at its provider where possible).
///
/// # Errors
/// 404 when unknown, 403.
pub async fn delete(
    ctx: &App,
    caller: &ConnectCaller,
    external_id: &str,
) -> Result<(), ServiceError> {
    caller.require_server()?;
    caller.require_scope("connect:users:write")?;
    let user = ctx
        .store
        .find_external_user(&caller.project.id, caller.environment, external_id)
        .await?
        .ok_or(ServiceError::NotFound("external user"))?;
    for account in connect_accounts::list_of_user(ctx, caller, external_id, None, false).await? {
        connect_accounts::delete(ctx, caller, &account.account.id).await?;
    }
    ctx.store.delete_external_user(&user.id).await?;
    Ok(())
}
