//! Workspaces' own OAuth clients (PRODUCT.md F11): created by admins, usable by every member
//! to connect; the secret is write-only (sealed, never returned); scopes override the app's
//! defaults on the next connect or reconnect.

use latchkey_crypto::RecordRef;
use latchkey_domain::{ids, ValidationError};
use latchkey_store::OAuthClient;
use secrecy::{ExposeSecret, SecretString};

use super::{code_flow_config, ClientCredentials};
use crate::{
    clock,
    service::{Caller, ServiceError},
    App,
};

fn secret_record(client: &OAuthClient) -> RecordRef<'_> {
    RecordRef {
        table: "oauth_clients",
        workspace_id: &client.workspace_id,
        row_id: &client.id,
        field: "client_secret",
    }
}

/// Input to create or change a client (absent fields stay as they are on update).
#[derive(Default)]
pub struct ClientInput {
    /// App slug or id (create only).
    pub app: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Client id at the provider.
    pub client_id: Option<String>,
    /// Client secret (write-only).
    pub client_secret: Option<SecretString>,
    /// Scope override; an empty list restores the app's defaults.
    pub scopes: Option<Vec<String>>,
}

fn check_text(field: &str, value: &str, max: usize) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn check_scopes(scopes: Vec<String>) -> Result<Option<Vec<String>>, ValidationError> {
    for scope in &scopes {
        if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ValidationError::new(
                "scopes",
                "each scope must be non-empty without spaces",
            ));
        }
    }
    Ok((!scopes.is_empty()).then_some(scopes))
}

/// Creates a client for an OAuth app (admins).
///
/// # Errors
/// 400 for bad input or a non-OAuth app; 403 for non-admins.
pub async fn create(
    ctx: &App,
    caller: &Caller,
    input: ClientInput,
) -> Result<OAuthClient, ServiceError> {
    caller.require_admin()?;
    create_in(ctx, caller.workspace_id(), input).await
}

/// [`create`] for a caller already authorized for `workspace_id` (Connect server callers).
///
/// # Errors
/// 400 for bad input or a non-OAuth app.
pub async fn create_in(
    ctx: &App,
    workspace_id: &str,
    input: ClientInput,
) -> Result<OAuthClient, ServiceError> {
    let app_key = input
        .app
        .ok_or_else(|| ValidationError::new("app", "is required"))?;
    let app = ctx
        .catalog
        .resolve(&*ctx.store, workspace_id, &app_key)
        .await?
        .ok_or_else(|| ValidationError::new("app", "is not an app of the catalog"))?;
    code_flow_config(&app.definition)?;
    let client_id = check_text("client_id", input.client_id.as_deref().unwrap_or(""), 512)?;
    let secret = input
        .client_secret
        .ok_or_else(|| ValidationError::new("client_secret", "is required"))?;
    check_text("client_secret", secret.expose_secret(), 2048)?;
    let name = match input.name {
        Some(name) => check_text("name", &name, 100)?,
        None => format!("{} (custom client)", app.definition.name),
    };
    let now = clock::now_ms();
    let mut client = OAuthClient {
        id: ids::generate("oa_"),
        workspace_id: workspace_id.to_owned(),
        app_slug: app.definition.name_slug.clone(),
        name,
        client_id,
        client_secret_ciphertext: Vec::new(),
        key_id: ctx.vault.current_key_id().await,
        scopes: check_scopes(input.scopes.unwrap_or_default())?,
        rejected_at: None,
        rejected_error: None,
        created_at: now,
        updated_at: now,
    };
    client.client_secret_ciphertext = ctx
        .vault
        .seal_record(secret_record(&client), secret.expose_secret().as_bytes())
        .await;
    ctx.store.insert_oauth_client(&client).await?;
    Ok(client)
}

/// A client of the caller's workspace.
///
/// # Errors
/// 404.
pub async fn get(ctx: &App, caller: &Caller, id: &str) -> Result<OAuthClient, ServiceError> {
    caller.require_scope("apps:read")?;
    get_in(ctx, caller.workspace_id(), id).await
}

/// A client of `workspace_id`.
///
/// # Errors
/// 404.
pub async fn get_in(ctx: &App, workspace_id: &str, id: &str) -> Result<OAuthClient, ServiceError> {
    ctx.store
        .get_oauth_client(workspace_id, id)
        .await?
        .ok_or(ServiceError::NotFound("OAuth client"))
}

/// The workspace's clients.
///
/// # Errors
/// Database failure.
pub async fn list(ctx: &App, caller: &Caller) -> Result<Vec<OAuthClient>, ServiceError> {
    caller.require_scope("apps:read")?;
    Ok(ctx
        .store
        .list_oauth_clients(caller.workspace_id(), None)
        .await?)
}

/// Changes a client (admins). New scopes apply to the next connect or reconnect.
///
/// # Errors
/// 400, 403, 404.
pub async fn update(
    ctx: &App,
    caller: &Caller,
    id: &str,
    input: ClientInput,
) -> Result<OAuthClient, ServiceError> {
    caller.require_admin()?;
    update_in(ctx, caller.workspace_id(), id, input).await
}

/// [`update`] for a caller already authorized for `workspace_id`.
///
/// # Errors
/// 400, 404.
pub async fn update_in(
    ctx: &App,
    workspace_id: &str,
    id: &str,
    input: ClientInput,
) -> Result<OAuthClient, ServiceError> {
    let mut client = get_in(ctx, workspace_id, id).await?;
    if let Some(name) = input.name {
        client.name = check_text("name", &name, 100)?;
    }
    if let Some(client_id) = input.client_id {
        client.client_id = check_text("client_id", &client_id, 512)?;
        // New credentials: whatever the provider said about the old ones no longer applies.
        client.rejected_at = None;
        client.rejected_error = None;
    }
    if let Some(scopes) = input.scopes {
        client.scopes = check_scopes(scopes)?;
    }
    if let Some(secret) = input.client_secret {
        check_text("client_secret", secret.expose_secret(), 2048)?;
        client.key_id = ctx.vault.current_key_id().await;
        client.client_secret_ciphertext = ctx
            .vault
            .seal_record(secret_record(&client), secret.expose_secret().as_bytes())
            .await;
        client.rejected_at = None;
        client.rejected_error = None;
    }
    client.updated_at = clock::now_ms();
    ctx.store.update_oauth_client(&client).await?;
    Ok(client)
}

/// Deletes a client (admins). Accounts connected with it stop refreshing until reconnected.
///
/// # Errors
/// 403, 404.
pub async fn delete(ctx: &App, caller: &Caller, id: &str) -> Result<(), ServiceError> {
    caller.require_admin()?;
    delete_in(ctx, caller.workspace_id(), id).await
}

/// [`delete`] for a caller already authorized for `workspace_id`.
///
/// # Errors
/// 404.
pub async fn delete_in(ctx: &App, workspace_id: &str, id: &str) -> Result<(), ServiceError> {
    ctx.store
        .delete_oauth_client(workspace_id, id)
        .await
        .map_err(|e| match e {
            latchkey_store::StoreError::NotFound => ServiceError::NotFound("OAuth client"),
            other => other.into(),
        })
}

/// The client credentials of a workspace client, for a token request.
///
/// # Errors
/// 400 when the client is gone or belongs to another app.
pub async fn credentials(
    ctx: &App,
    workspace_id: &str,
    slug: &str,
    id: &str,
) -> Result<(ClientCredentials, Option<Vec<String>>), ServiceError> {
    let gone = || {
        ServiceError::Invalid(ValidationError::new(
            "oauth_app_id",
            "is not an OAuth client of this workspace for this app",
        ))
    };
    let client = ctx
        .store
        .get_oauth_client(workspace_id, id)
        .await?
        .ok_or_else(gone)?;
    if client.app_slug != slug {
        return Err(gone());
    }
    let secret = ctx
        .vault
        .open_record(secret_record(&client), &client.client_secret_ciphertext)
        .await?;
    let secret = String::from_utf8(secret.to_vec())
        .map_err(|_| ServiceError::Internal("client secret is not UTF-8".into()))?;
    Ok((
        ClientCredentials {
            reference: client.id.clone(),
            client_id: client.client_id.clone(),
            client_secret: SecretString::from(secret),
            rejected: client.rejected_at.is_some(),
        },
        client.scopes,
    ))
}
