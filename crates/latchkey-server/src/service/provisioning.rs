//! Workspaces, members, API keys, API clients and access tokens.

use latchkey_crypto::{generate_secret, hash_password, hash_token};
use latchkey_domain::{ids, role::Role, ValidationError};
use latchkey_store::{AccessToken, ApiClient, NewApiKey, NewMember, Principal, Store, Workspace};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use std::sync::Arc;

use super::{scope_allows, ServiceError};
use crate::{cache::Caches, clock};

/// Prefix of member API keys. NEVER change the prefix of existing kinds of secrets.
pub const API_KEY_PREFIX: &str = "lk_key_";
/// Prefix of API client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "lk_cs_";
/// Prefix of access tokens issued at `/v1/oauth/token`.
pub const ACCESS_TOKEN_PREFIX: &str = "lk_at_";

/// Scopes an API client may hold.
pub const KNOWN_SCOPES: &[&str] = &[
    "*",
    "accounts:read",
    "accounts:write",
    "accounts:*",
    "apps:read",
    "apps:write",
    "apps:*",
    "connect:*",
];

/// What `init`, `workspaces create` and `members add` hand out (the key is shown once).
#[derive(Debug)]
pub struct IssuedMember {
    /// The workspace.
    pub workspace_id: String,
    /// The member.
    pub user_id: String,
    /// Their new API key.
    pub api_key: SecretString,
}

/// Trims, lower-cases and checks an email address.
///
/// # Errors
/// [`ValidationError`] on `email`.
pub fn normalise_email(email: &str) -> Result<String, ValidationError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(ValidationError::new("email", "must be an email address"))
    }
}

/// Argon2id takes tens of milliseconds of CPU: run it off the async workers.
pub(crate) async fn hash_new_password(
    password: Option<&SecretString>,
) -> Result<Option<String>, ServiceError> {
    let Some(password) = password else {
        return Ok(None);
    };
    if password.expose_secret().chars().count() < 8 {
        return Err(ValidationError::new("password", "must be at least 8 characters").into());
    }
    let owned = SecretString::from(password.expose_secret().to_owned());
    tokio::task::spawn_blocking(move || hash_password(&owned))
        .await
        .map(Some)
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
}

fn new_member(
    email: &str,
    password_hash: Option<String>,
    role: Role,
) -> Result<(NewMember, SecretString), ServiceError> {
    let email = normalise_email(email)?;
    let (api_key, key) = new_api_key();
    let member = NewMember {
        user_id: ids::generate(ids::USER),
        email,
        password_hash,
        role,
        api_key,
    };
    Ok((member, key))
}

/// A new member API key: the row to store (its hash) and the key to show once.
pub(crate) fn new_api_key() -> (NewApiKey, SecretString) {
    let key = generate_secret(API_KEY_PREFIX);
    let row = NewApiKey {
        id: ids::generate(ids::API_KEY),
        token_hash: hash_token(key.expose_secret()),
        created_at: clock::now_ms(),
    };
    (row, key)
}

/// Creates a workspace and its owner; returns the owner's first API key.
///
/// # Errors
/// Invalid name/email/password, or a workspace of that name exists (409).
pub async fn create_workspace(
    store: &dyn Store,
    name: &str,
    owner_email: &str,
    password: Option<&SecretString>,
) -> Result<IssuedMember, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ValidationError::new("name", "must be 1 to 100 characters").into());
    }
    normalise_email(owner_email)?;
    let password_hash = hash_new_password(password).await?;
    let (member, api_key) = new_member(owner_email, password_hash, Role::Owner)?;
    let workspace = Workspace {
        id: ids::generate(ids::WORKSPACE),
        name: name.to_owned(),
        created_at: clock::now_ms(),
    };
    let user_id = store.create_workspace(&workspace, &member).await?;
    Ok(IssuedMember {
        workspace_id: workspace.id,
        user_id,
        api_key,
    })
}

/// Adds a member to a workspace (by id or name); returns their API key.
///
/// # Errors
/// Unknown workspace (404), invalid email, or already a member (409).
pub async fn add_member(
    store: &dyn Store,
    workspace: &str,
    email: &str,
    role: Role,
) -> Result<IssuedMember, ServiceError> {
    let ws = store
        .find_workspace(workspace)
        .await?
        .ok_or(ServiceError::NotFound("workspace"))?;
    let (member, api_key) = new_member(email, None, role)?;
    let user_id = store.add_member(&ws.id, &member).await?;
    Ok(IssuedMember {
        workspace_id: ws.id,
        user_id,
        api_key,
    })
}

/// Validates a scope list (space- or comma-separated).
///
/// # Errors
/// On an unknown scope.
pub fn parse_scopes(raw: &str) -> Result<Vec<String>, ValidationError> {
    let scopes: Vec<String> = raw
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for scope in &scopes {
        if !KNOWN_SCOPES.contains(&scope.as_str()) && !scope.starts_with("connect:") {
            return Err(ValidationError::new(
                "scopes",
                format!("unknown scope {scope}"),
            ));
        }
    }
    if scopes.is_empty() {
        Ok(vec!["*".to_owned()])
    } else {
        Ok(scopes)
    }
}

/// Creates an API client; returns `(client_id, client_secret)` (the secret is shown once).
///
/// # Errors
/// Unknown workspace (404) or bad scopes.
pub async fn create_api_client(
    store: &dyn Store,
    workspace: &str,
    name: &str,
    scopes: &str,
) -> Result<(ApiClient, SecretString), ServiceError> {
    let ws = store
        .find_workspace(workspace)
        .await?
        .ok_or(ServiceError::NotFound("workspace"))?;
    let scopes = parse_scopes(scopes)?;
    let name = if name.trim().is_empty() {
        "API client"
    } else {
        name.trim()
    };
    let secret = generate_secret(CLIENT_SECRET_PREFIX);
    let client = ApiClient {
        id: ids::generate(ids::API_CLIENT),
        workspace_id: ws.id,
        name: name.chars().take(100).collect(),
        secret_hash: hash_token(secret.expose_secret()),
        scopes,
        created_at: clock::now_ms(),
        revoked_at: None,
    };
    store.insert_api_client(&client).await?;
    Ok((client, secret))
}

/// Revokes an API client (by workspace id or name) and every token issued to it. This
/// process forgets them at once; other instances within the cache TTL.
///
/// # Errors
/// Unknown workspace or client (404).
pub async fn revoke_api_client(
    store: &dyn Store,
    caches: &Caches,
    workspace: &str,
    client_id: &str,
) -> Result<(), ServiceError> {
    let ws = store
        .find_workspace(workspace)
        .await?
        .ok_or(ServiceError::NotFound("workspace"))?;
    store
        .revoke_api_client(&ws.id, client_id, clock::now_ms())
        .await
        .map_err(|e| match e {
            latchkey_store::StoreError::NotFound => ServiceError::NotFound("api client"),
            other => other.into(),
        })?;
    caches.forget_principals();
    Ok(())
}

/// Why `/v1/oauth/token` refused (RFC 6749 §5.2 error codes).
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Unknown client, wrong secret, or revoked: indistinguishable on purpose.
    InvalidClient,
    /// A scope the client does not hold.
    InvalidScope,
    /// Database failure.
    Unavailable,
}

/// An issued access token.
#[derive(Debug)]
pub struct IssuedToken {
    /// The bearer token (shown once).
    pub access_token: SecretString,
    /// Seconds until expiry.
    pub expires_in: u64,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Issue time, Unix seconds.
    pub created_at: i64,
}

/// Client credentials grant: checks the client and issues a token.
///
/// # Errors
/// [`TokenError`].
pub async fn issue_access_token(
    store: &dyn Store,
    client_id: &str,
    client_secret: &SecretString,
    requested_scope: Option<&str>,
    ttl_seconds: u64,
) -> Result<IssuedToken, TokenError> {
    let client = store
        .find_api_client(client_id)
        .await
        .map_err(|_| TokenError::Unavailable)?;
    let presented = hash_token(client_secret.expose_secret());
    // Compare against a dummy when the client is unknown so timing does not reveal which ids exist.
    let expected = client
        .as_ref()
        .map_or("0".repeat(64), |c| c.secret_hash.clone());
    let matches: bool = presented.as_bytes().ct_eq(expected.as_bytes()).into();
    let client = match client {
        Some(c) if matches && c.revoked_at.is_none() => c,
        _ => return Err(TokenError::InvalidClient),
    };
    let scopes = match requested_scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => client.scopes.clone(),
        Some(raw) => {
            let requested = parse_scopes(raw).map_err(|_| TokenError::InvalidScope)?;
            if !requested.iter().all(|s| scope_allows(&client.scopes, s)) {
                return Err(TokenError::InvalidScope);
            }
            requested
        }
    };
    let token = generate_secret(ACCESS_TOKEN_PREFIX);
    let now = clock::now_ms();
    let ttl_ms = i64::try_from(ttl_seconds).unwrap_or(3600) * 1000;
    store
        .insert_access_token(&AccessToken {
            token_hash: hash_token(token.expose_secret()),
            client_id: client.id,
            workspace_id: client.workspace_id,
            scopes: scopes.clone(),
            created_at: now,
            expires_at: now + ttl_ms,
        })
        .await
        .map_err(|_| TokenError::Unavailable)?;
    Ok(IssuedToken {
        access_token: token,
        expires_in: ttl_seconds,
        scopes,
        created_at: now / 1000,
    })
}

/// Resolves a bearer token to its principal; `None` for anything unknown, expired or revoked.
/// Successful lookups are cached briefly (see `cache.rs`).
///
/// # Errors
/// On database failure.
pub async fn authenticate(
    store: &dyn Store,
    caches: &Caches,
    bearer: &str,
) -> Result<Option<Arc<Principal>>, latchkey_store::StoreError> {
    let hash = hash_token(bearer);
    if let Some(principal) = caches.principal(&hash) {
        return Ok(Some(principal));
    }
    let found = if bearer.starts_with(API_KEY_PREFIX) {
        store.find_api_key(&hash).await?
    } else if bearer.starts_with(ACCESS_TOKEN_PREFIX) {
        store.find_access_token(&hash, clock::now_ms()).await?
    } else {
        None
    };
    Ok(found.map(|principal| {
        let principal = Arc::new(principal);
        caches.put_principal(hash, principal.clone());
        principal
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in ["", "ada", "@x.io", "ada@localhost", "a b@x.io"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_parsed_and_default_to_everything() {
        assert_eq!(parse_scopes("").unwrap(), vec!["*"]);
        assert_eq!(
            parse_scopes("accounts:read, apps:read").unwrap(),
            vec!["accounts:read", "apps:read"]
        );
        assert!(parse_scopes("root").is_err());
    }
}
