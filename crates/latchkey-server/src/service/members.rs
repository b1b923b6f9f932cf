//! The team in the web UI: inviting members, changing roles, personal API keys, and the
//! workspace's API clients. Admins manage the team; every member manages their own keys.

use latchkey_crypto::{generate_secret, hash_token};
use latchkey_domain::{role::Role, ValidationError};
use latchkey_store::{ApiClient, Invite, Member, StoreError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{provisioning, Caller, ServiceError};
use crate::{clock, App};

/// How long an invitation link works.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Prefix of invitation tokens (they travel in a link).
const INVITE_PREFIX: &str = "lk_inv_";
/// The shortest password a member may choose in the browser.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Parses a role an admin may hand out (`admin` or `member`; there is one owner).
///
/// # Errors
/// [`ValidationError`] on `role`.
pub fn parse_grantable_role(raw: &str) -> Result<Role, ValidationError> {
    match raw {
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        _ => Err(ValidationError::new("role", "must be admin or member")),
    }
}

/// The workspace's members (any member may see who is in it).
///
/// # Errors
/// Database failures.
pub async fn list(ctx: &App, caller: &Caller) -> Result<Vec<Member>, ServiceError> {
    Ok(ctx.store.list_members(caller.workspace_id()).await?)
}

/// An invitation made: the link's token is shown once to the admin, who passes it on.
#[derive(Debug)]
pub struct Invitation {
    /// The new member.
    pub user_id: String,
    /// The one-time token for `/invite?token=…`.
    pub token: SecretString,
}

/// Adds a member without a password and makes a one-time link for them to choose one.
/// Inviting someone already in the workspace who never set a password makes a new link (the
/// old one stops working).
///
/// # Errors
/// Not an admin (403), bad email or role (400), already a member who has a password (409).
pub async fn invite(
    ctx: &App,
    caller: &Caller,
    email: &str,
    role: &str,
) -> Result<Invitation, ServiceError> {
    caller.require_admin()?;
    let role = parse_grantable_role(role)?;
    let email = provisioning::normalise_email(email)?;
    let workspace_id = caller.workspace_id();
    let user_id = match provisioning::add_member(&*ctx.store, workspace_id, &email, role).await {
        Ok(issued) => issued.user_id,
        Err(ServiceError::Conflict(_)) => {
            let existing = ctx
                .store
                .find_login(&email)
                .await?
                .filter(|login| login.password_hash.is_none())
                .filter(|login| login.workspace_ids.iter().any(|w| w == workspace_id))
                .ok_or_else(|| ServiceError::Conflict(format!("{email} is already a member")))?;
            existing.user_id
        }
        Err(e) => return Err(e),
    };
    let token = generate_secret(INVITE_PREFIX);
    let now = clock::now_ms();
    ctx.store
        .insert_invite(&Invite {
            token_hash: hash_token(token.expose_secret()),
            workspace_id: workspace_id.to_owned(),
            user_id: user_id.clone(),
            created_at: now,
            expires_at: now + INVITE_TTL_MS,
        })
        .await?;
    ctx.caches.forget_members(workspace_id);
    caller
        .audit(
            ctx,
            "member.invite",
            None,
            "ok",
            Some(json!({"user_id": user_id, "role": role.as_str()})),
        )
        .await;
    Ok(Invitation { user_id, token })
}

/// Uses an invitation: sets the member's password. Returns `(workspace_id, user_id)` to sign
/// them in.
///
/// # Errors
/// Unknown, used or expired link (404); a short password (400, the link stays usable).
pub async fn accept_invite(
    ctx: &App,
    token: &str,
    password: &SecretString,
) -> Result<(String, String), ServiceError> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_CHARS {
        return Err(ValidationError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        )
        .into());
    }
    let invite = ctx
        .store
        .take_invite(&hash_token(token), clock::now_ms())
        .await?
        .ok_or(ServiceError::NotFound("invitation"))?;
    let hash = provisioning::hash_new_password(Some(password))
        .await?
        .ok_or_else(|| ServiceError::Internal("no password hash".into()))?;
    ctx.store.set_password(&invite.user_id, &hash).await?;
    Ok((invite.workspace_id, invite.user_id))
}

/// Changes a member's role. The owner's role never changes, and nobody changes their own.
///
/// # Errors
/// Not an admin (403), unknown member (404), bad role (400).
pub async fn set_role(
    ctx: &App,
    caller: &Caller,
    user_id: &str,
    role: &str,
) -> Result<(), ServiceError> {
    caller.require_admin()?;
    let role = parse_grantable_role(role)?;
    let workspace_id = caller.workspace_id();
    let member = ctx
        .store
        .get_member(workspace_id, user_id)
        .await?
        .ok_or(ServiceError::NotFound("member"))?;
    if member.role == Role::Owner {
        return Err(ServiceError::Forbidden(
            "the workspace owner's role cannot change".into(),
        ));
    }
    if caller.user_id() == Some(user_id) {
        return Err(ServiceError::Forbidden(
            "ask another admin to change your own role".into(),
        ));
    }
    ctx.store
        .set_member_role(workspace_id, user_id, role)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ServiceError::NotFound("member"),
            other => other.into(),
        })?;
    ctx.caches.forget_members(workspace_id);
    ctx.caches.forget_principals();
    caller
        .audit(
            ctx,
            "member.role",
            None,
            "ok",
            Some(json!({"user_id": user_id, "role": role.as_str()})),
        )
        .await;
    Ok(())
}

/// Makes a new personal API key for the calling member (shown once; earlier keys keep working).
///
/// # Errors
/// API clients (403); database failures.
pub async fn create_personal_key(ctx: &App, caller: &Caller) -> Result<SecretString, ServiceError> {
    let user_id = caller.require_member()?;
    let (row, key) = provisioning::new_api_key();
    ctx.store
        .insert_api_key(caller.workspace_id(), user_id, &row)
        .await?;
    caller.audit(ctx, "api_key.create", None, "ok", None).await;
    Ok(key)
}

/// The workspace's API clients (admins).
///
/// # Errors
/// Not an admin (403).
pub async fn list_api_clients(ctx: &App, caller: &Caller) -> Result<Vec<ApiClient>, ServiceError> {
    caller.require_admin()?;
    Ok(ctx.store.list_api_clients(caller.workspace_id()).await?)
}

/// Creates an API client; the secret is shown once.
///
/// # Errors
/// Not an admin (403), unknown scopes (400).
pub async fn create_api_client(
    ctx: &App,
    caller: &Caller,
    name: &str,
    scopes: &str,
) -> Result<(ApiClient, SecretString), ServiceError> {
    caller.require_admin()?;
    let created =
        provisioning::create_api_client(&*ctx.store, caller.workspace_id(), name, scopes).await?;
    caller
        .audit(
            ctx,
            "api_client.create",
            None,
            "ok",
            Some(json!({"client_id": created.0.id})),
        )
        .await;
    Ok(created)
}

/// Revokes an API client and its tokens.
///
/// # Errors
/// Not an admin (403), unknown client (404).
pub async fn revoke_api_client(
    ctx: &App,
    caller: &Caller,
    client_id: &str,
) -> Result<(), ServiceError> {
    caller.require_admin()?;
    provisioning::revoke_api_client(&*ctx.store, &ctx.caches, caller.workspace_id(), client_id)
        .await?;
    caller
        .audit(
            ctx,
            "api_client.revoke",
            None,
            "ok",
            Some(json!({"client_id": client_id})),
        )
        .await;
    Ok(())
}
