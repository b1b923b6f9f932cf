//! Connect (PRODUCT.md F12): a product's end users connect their own accounts through a
//! project, and the product's server reads or proxies through them.
//!
//! Two kinds of callers reach a project's routes: the product's **server** (an API client's
//! access token or an admin's API key: every end user of the project) and the end user's
//! **browser** holding a connect token (one end user, one environment, a few operations).

pub mod accounts;
pub mod events;
pub mod oauth;
pub mod overrides;
pub mod projects;
pub mod tokens;
pub mod users;

use latchkey_domain::connect::Environment;
use latchkey_store::Project;
use serde::{Deserialize, Serialize};

use super::{scope_allows, Caller, ServiceError};

/// What a connect token was created with (stored as JSON next to the token's hash).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenSettings {
    /// Origins whose pages may use the token (CORS).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where the hosted page sends the browser after a connection.
    #[serde(default)]
    pub success_redirect_uri: Option<String>,
    /// Where the hosted page sends the browser after a failure.
    #[serde(default)]
    pub error_redirect_uri: Option<String>,
    /// Where connection webhooks go.
    #[serde(default)]
    pub webhook_uri: Option<String>,
    /// Granted scopes (`connect:*` by default).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether a reconnect may ask for more scopes than the account has.
    #[serde(default)]
    pub allow_progressive_scopes: bool,
    /// Only this app may be connected.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Only this OAuth client may be used.
    #[serde(default)]
    pub oauth_app_id: Option<String>,
}

/// A browser's connect token, resolved.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// SHA-256 hex of the token (to spend it).
    pub token_hash: String,
    /// The end user it is for.
    pub external_id: String,
    /// Creation options.
    pub settings: TokenSettings,
    /// Expiry (Unix ms).
    pub expires_at: i64,
    /// Whether an account was connected with it already.
    pub spent: bool,
}

/// Who calls a project route.
#[derive(Debug, Clone)]
pub enum ConnectPrincipal {
    /// The product's server.
    Server(Caller),
    /// An end user's browser.
    Token(TokenGrant),
}

/// An authenticated caller of a project environment.
#[derive(Debug, Clone)]
pub struct ConnectCaller {
    /// The project (in the caller's workspace).
    pub project: Project,
    /// The environment everything is confined to.
    pub environment: Environment,
    /// Server or browser.
    pub principal: ConnectPrincipal,
}

impl ConnectCaller {
    /// The project's workspace.
    #[must_use]
    pub fn workspace_id(&self) -> &str {
        &self.project.workspace_id
    }

    /// Checks a Connect scope (API.md §1.1).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] naming the scope.
    pub fn require_scope(&self, scope: &str) -> Result<(), ServiceError> {
        match &self.principal {
            ConnectPrincipal::Server(caller) => caller.require_scope(scope),
            ConnectPrincipal::Token(grant) if scope_allows(&grant.settings.scopes, scope) => Ok(()),
            ConnectPrincipal::Token(_) => Err(ServiceError::Forbidden(format!(
                "the connect token lacks the scope {scope}"
            ))),
        }
    }

    /// Refuses connect tokens: for what only the product's server may do.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`].
    pub fn require_server(&self) -> Result<&Caller, ServiceError> {
        match &self.principal {
            ConnectPrincipal::Server(caller) => Ok(caller),
            ConnectPrincipal::Token(_) => Err(ServiceError::Forbidden(
                "a connect token cannot do this; call from your server".into(),
            )),
        }
    }

    /// The end user a request is confined to: a token's own user whatever was asked (asking
    /// for another is refused), or what the server asked for.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] when a token asks for another end user.
    pub fn end_user<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<Option<&'a str>, ServiceError> {
        match &self.principal {
            ConnectPrincipal::Server(_) => Ok(requested),
            ConnectPrincipal::Token(grant) => match requested {
                Some(other) if other != grant.external_id => Err(ServiceError::Forbidden(
                    "a connect token is limited to its own end user".into(),
                )),
                _ => Ok(Some(&grant.external_id)),
            },
        }
    }

    /// The caller as an audit actor.
    #[must_use]
    pub fn actor(&self) -> crate::audit::Actor {
        match &self.principal {
            ConnectPrincipal::Server(caller) => caller.actor(),
            ConnectPrincipal::Token(grant) => crate::audit::Actor {
                kind: "end_user",
                id: grant.external_id.clone(),
            },
        }
    }
}

/// The project `project_id` of the server caller's workspace, for routes that name one.
/// Members need to be owners or admins: projects belong to the workspace, not to a member.
///
/// # Errors
/// 404 for unknown or foreign projects, 403 for plain members.
pub async fn server_project(
    ctx: &crate::App,
    caller: &Caller,
    project_id: &str,
) -> Result<Project, ServiceError> {
    if caller.user_id().is_some() {
        caller.require_admin()?;
    }
    projects::find(ctx, caller.workspace_id(), project_id).await
}
