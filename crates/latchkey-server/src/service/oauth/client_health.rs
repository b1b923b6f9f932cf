//! OAuth clients a provider rejected (`invalid_client` / `unauthorized_client`).
//!
//! Every account connected with such a client fails the same way, so the client itself is
//! flagged where admins look: a workspace client (`oa_…`) in its row, the operator's default
//! client of an app in the meta table (keyed by app, remembering the client id so that fixing
//! the configuration clears it). The flag goes away when an admin changes the client or the
//! provider accepts it again.

use latchkey_oauth::TokenError;
use serde::{Deserialize, Serialize};

use super::{ClientCredentials, ACCOUNT_CLIENT};
use crate::{clock, App};

const DEFAULT_KEY_PREFIX: &str = "oauth_client_rejected:";

/// A rejection of an operator's default client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DefaultRejection {
    /// The client id that was rejected.
    pub client_id: String,
    /// The provider's error code.
    pub error: String,
    /// When (ms since the epoch).
    pub at: i64,
}

/// The standing rejection of the operator's client for `slug`, if it is about `client_id`.
pub async fn default_rejection(ctx: &App, slug: &str, client_id: &str) -> Option<DefaultRejection> {
    let key = format!("{DEFAULT_KEY_PREFIX}{slug}");
    let stored = match ctx.store.get_meta(&key).await {
        Ok(stored) => stored?,
        Err(e) => {
            tracing::warn!(error = %e, "could not read an OAuth client's rejection flag");
            return None;
        }
    };
    serde_json::from_slice::<DefaultRejection>(&stored)
        .ok()
        .filter(|r| r.client_id == client_id)
}

/// Whether the operator's client for `slug` stands rejected; asked on every refresh, so the
/// answer is cached briefly (another instance's flag shows up within the cache TTL).
pub async fn default_rejected(ctx: &App, slug: &str, client_id: &str) -> bool {
    let key = format!("{slug}\u{0}{client_id}");
    if let Some(rejected) = ctx.caches.default_client_rejected(&key) {
        return rejected;
    }
    let rejected = default_rejection(ctx, slug, client_id).await.is_some();
    ctx.caches.put_default_client_rejected(key, rejected);
    rejected
}

/// Flags or clears `client` after a token request's `outcome`: flagged on an
/// `invalid_client`, cleared on success when it was flagged. Failures to record are logged, not
/// returned: the token request's own result matters more.
pub async fn observe<T>(
    ctx: &App,
    workspace_id: &str,
    slug: &str,
    client: &ClientCredentials,
    outcome: &Result<T, TokenError>,
) {
    let rejection = match outcome {
        Err(TokenError::InvalidClient(code)) => Some(code.as_str()),
        Ok(_) if client.rejected => None,
        _ => return,
    };
    if client.reference == ACCOUNT_CLIENT {
        // The account's own client id and secret: the account's health says it all.
        return;
    }
    let now = clock::now_ms();
    let result = if client.reference == "default" {
        let key = format!("{DEFAULT_KEY_PREFIX}{slug}");
        let result = match rejection {
            Some(error) => {
                let value = DefaultRejection {
                    client_id: client.client_id.clone(),
                    error: error.to_owned(),
                    at: now,
                };
                let bytes = serde_json::to_vec(&value).unwrap_or_default();
                ctx.store.put_meta(&key, &bytes).await
            }
            None => ctx.store.delete_meta(&key).await,
        };
        ctx.caches
            .forget_default_client_rejected(&format!("{slug}\u{0}{}", client.client_id));
        result
    } else {
        ctx.store
            .set_oauth_client_rejection(
                workspace_id,
                &client.reference,
                rejection.map(|error| (error, now)),
            )
            .await
    };
    match (result, rejection) {
        (Err(e), _) => tracing::warn!(error = %e, "could not record an OAuth client's rejection"),
        (Ok(()), Some(error)) => tracing::error!(
            app = slug,
            oauth_client = %client.reference,
            error,
            "the provider rejected the OAuth client; accounts using it cannot refresh until an admin fixes it"
        ),
        (Ok(()), None) => {
            tracing::info!(app = slug, oauth_client = %client.reference, "the provider accepts the OAuth client again")
        }
    }
}

/// The operator's default client of one app, as the workspace sees it.
pub struct DefaultClientStatus {
    /// App slug.
    pub app: String,
    /// The client id at the provider (public: it is in every authorize URL).
    pub client_id: String,
    /// A standing rejection by the provider.
    pub rejection: Option<DefaultRejection>,
}

/// The operator's default clients usable in the caller's workspace, one per OAuth app that
/// has one; apps missing from the list have none and can only be connected with a workspace
/// client.
///
/// # Errors
/// Database failure.
pub async fn defaults(
    ctx: &App,
    caller: &crate::service::Caller,
) -> Result<Vec<DefaultClientStatus>, crate::service::ServiceError> {
    caller.require_scope("apps:read")?;
    let mut statuses = Vec::new();
    for app in ctx.catalog.list(&*ctx.store, caller.workspace_id()).await? {
        if super::code_flow_config(&app.definition).is_err() {
            continue;
        }
        let slug = &app.definition.name_slug;
        let Ok(client) = super::default_client(ctx, caller.workspace_id(), slug) else {
            continue;
        };
        let rejection = default_rejection(ctx, slug, &client.client_id).await;
        statuses.push(DefaultClientStatus {
            app: slug.clone(),
            client_id: client.client_id,
            rejection,
        });
    }
    statuses.sort_by(|a, b| a.app.cmp(&b.app));
    Ok(statuses)
}
