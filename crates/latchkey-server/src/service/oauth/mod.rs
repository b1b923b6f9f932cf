//! OAuth accounts: the connect flow (start, browser binding, callback) and keeping tokens fresh.

pub mod client_health;
pub mod clients;
pub mod connect;
pub mod oauth1;
pub mod provider;
pub mod refresh;

use latchkey_domain::app::{AppDefinition, OAuthConfig, OAuthGrant};
use latchkey_domain::ValidationError;
use secrecy::SecretString;

use super::ServiceError;
use crate::App;

/// The client credentials used with a provider.
pub struct ClientCredentials {
    /// `default` (the operator's) or an `oa_…` id.
    pub reference: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
    /// Whether the provider rejected it last time (see [`client_health`]).
    pub rejected: bool,
}

/// The OAuth settings of an app connected in the browser (OAuth 2 authorization code or
/// OAuth 1.0a), or a 400 saying why it has none.
///
/// # Errors
/// [`ServiceError::Invalid`] for other apps.
pub fn code_flow_config(app: &AppDefinition) -> Result<&OAuthConfig, ServiceError> {
    match &app.oauth {
        Some(oauth)
            if matches!(
                oauth.grant,
                OAuthGrant::AuthorizationCode | OAuthGrant::Oauth1
            ) =>
        {
            Ok(oauth)
        }
        Some(_) => Err(ValidationError::new(
            "app",
            "uses another OAuth grant; connect it with its fields",
        )
        .into()),
        None => Err(ValidationError::new(
            "app",
            "is not an OAuth app: connect it with POST /v1/accounts",
        )
        .into()),
    }
}

/// The operator's default client for an app, or a clear 400 naming the settings to set.
///
/// # Errors
/// [`ServiceError::Invalid`] when none is configured.
pub fn default_client(
    ctx: &App,
    workspace_id: &str,
    slug: &str,
) -> Result<ClientCredentials, ServiceError> {
    let configured = ctx.config.default_oauth_client(slug).filter(|c| {
        // A workspace's custom app may reuse a slug the operator configured for another app;
        // sending the operator's secret to that app's token URL would hand it to whoever
        // defined the app. Global apps always get the client, custom apps only in the
        // workspaces the operator names.
        ctx.catalog.get_global(slug).is_some() || c.workspaces.iter().any(|w| w == workspace_id)
    });
    let configured = configured.ok_or_else(|| {
        let env = crate::config::env_slug(slug);
        ValidationError::new(
            "app",
            format!(
                "has no OAuth client configured: the operator must set [oauth_clients.{slug}] in the \
                 config file or LATCHKEY_OAUTH_{env}_CLIENT_ID and LATCHKEY_OAUTH_{env}_CLIENT_SECRET"
            ),
        )
    })?;
    Ok(ClientCredentials {
        reference: "default".to_owned(),
        client_id: configured.client_id.clone(),
        client_secret: SecretString::from(
            secrecy::ExposeSecret::expose_secret(&configured.client_secret).to_owned(),
        ),
        rejected: false,
    })
}

/// The client an existing account or flow uses: the operator's (`default`) or a workspace's
/// own (`oa_…`).
///
/// # Errors
/// When it is not configured (any more).
pub async fn client_for(
    ctx: &App,
    workspace_id: &str,
    slug: &str,
    reference: &str,
) -> Result<ClientCredentials, ServiceError> {
    match reference {
        "default" => {
            let mut client = default_client(ctx, workspace_id, slug)?;
            client.rejected = client_health::default_rejected(ctx, slug, &client.client_id).await;
            Ok(client)
        }
        id => Ok(clients::credentials(ctx, workspace_id, slug, id).await?.0),
    }
}

/// Client credentials stored in the account itself (client-credentials apps), or `None`.
#[must_use]
pub fn account_client(credentials: &crate::vault::Credentials) -> Option<ClientCredentials> {
    Some(ClientCredentials {
        reference: ACCOUNT_CLIENT.to_owned(),
        client_id: credentials.get("client_id")?.to_owned(),
        client_secret: SecretString::from(credentials.get("client_secret")?.to_owned()),
        rejected: false,
    })
}

/// `oauth_client` of accounts whose client id and secret are their own fields.
pub const ACCOUNT_CLIENT: &str = "account";

/// The redirect URI registered with providers: from configuration, never from request headers.
#[must_use]
pub fn redirect_uri(ctx: &App) -> String {
    format!("{}/oauth/callback", ctx.config.public_base_url())
}
