//! Connect tokens (`ctok_…`, API.md §1.3): created by the product's server for one end user,
//! handed to the browser, spent when an account is connected with them.

use latchkey_crypto::hash_token;
use latchkey_domain::{
    connect::{
        is_connect_token, token_ttl_seconds, validate_external_id, validate_origin, Environment,
    },
    ValidationError,
};
use latchkey_store::{ConnectToken, Project};
use rand::RngCore;
use secrecy::SecretString;

use super::{ConnectCaller, TokenGrant, TokenSettings};
use crate::{catalog::CatalogApp, clock, service::ServiceError, App};

/// Input of `POST /v1/connect/{project_id}/tokens`.
#[derive(Debug, Default)]
pub struct NewToken {
    /// The end user.
    pub external_user_id: String,
    /// Browser origins allowed to use it.
    pub allowed_origins: Vec<String>,
    /// Redirect after success.
    pub success_redirect_uri: Option<String>,
    /// Redirect after failure.
    pub error_redirect_uri: Option<String>,
    /// Connection webhooks.
    pub webhook_uri: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: Option<i64>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// Progressive scopes on reconnect.
    pub allow_progressive_scopes: bool,
    /// Limit to one app.
    pub app_id: Option<String>,
    /// Limit to one OAuth client.
    pub oauth_app_id: Option<String>,
}

/// A non-secret name for a token (the start of its hash), for webhooks and logs: the token
/// itself is a bearer secret and is never stored or sent anywhere.
#[must_use]
pub fn session_id(token_hash: &str) -> String {
    format!("cs_{}", &token_hash[..16.min(token_hash.len())])
}

/// A created token (shown once).
pub struct CreatedToken {
    /// Names the token in webhooks (`connect_session_id`).
    pub session_id: String,
    /// `ctok_…`
    pub token: SecretString,
    /// Expiry (Unix ms).
    pub expires_at: i64,
    /// The hosted connect page for it.
    pub connect_link_url: String,
}

fn absolute_url(field: &str, value: Option<String>) -> Result<Option<String>, ValidationError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match url::Url::parse(&v) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && v.len() <= 2048 =>
            {
                Ok(Some(v))
            }
            _ => Err(ValidationError::new(
                field,
                "must be an absolute http(s) URL",
            )),
        },
    }
}

/// The scopes a connect token may carry: the Connect ones (default `connect:*`).
fn token_scopes(scope: Option<&str>) -> Result<Vec<String>, ValidationError> {
    let scopes: Vec<String> = scope
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Ok(vec!["connect:*".into()]);
    }
    if let Some(bad) = scopes.iter().find(|s| !s.starts_with("connect:")) {
        return Err(ValidationError::new(
            "scope",
            format!("{bad} is not a Connect scope"),
        ));
    }
    Ok(scopes)
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("ctok_{}", hex::encode(bytes))
}

/// Creates a token for an end user (server callers only).
///
/// # Errors
/// Bad input (400), connect tokens (403).
pub async fn create(
    ctx: &App,
    caller: &ConnectCaller,
    input: NewToken,
) -> Result<CreatedToken, ServiceError> {
    caller.require_server()?;
    caller.require_scope("connect:tokens:create")?;
    let external_id = validate_external_id("external_user_id", &input.external_user_id)?;
    let allowed_origins = input
        .allowed_origins
        .iter()
        .map(|o| validate_origin(o))
        .collect::<Result<Vec<_>, _>>()?;
    if allowed_origins.len() > 20 {
        return Err(ValidationError::new("allowed_origins", "at most 20 origins").into());
    }
    let ttl = token_ttl_seconds(input.expires_in)?;
    if let Some(app) = &input.app_id {
        resolve_app(ctx, &caller.project, app).await?;
    }
    let settings = TokenSettings {
        allowed_origins,
        success_redirect_uri: absolute_url("success_redirect_uri", input.success_redirect_uri)?,
        error_redirect_uri: absolute_url("error_redirect_uri", input.error_redirect_uri)?,
        webhook_uri: absolute_url("webhook_uri", input.webhook_uri)?,
        scopes: token_scopes(input.scope.as_deref())?,
        allow_progressive_scopes: input.allow_progressive_scopes,
        app_id: input.app_id.filter(|s| !s.is_empty()),
        oauth_app_id: input.oauth_app_id.filter(|s| !s.is_empty()),
    };
    let token = new_token();
    let token_hash = hash_token(&token);
    let now = clock::now_ms();
    let expires_at = now + ttl * 1000;
    ctx.store
        .insert_connect_token(&ConnectToken {
            token_hash: token_hash.clone(),
            project_id: caller.project.id.clone(),
            environment: caller.environment,
            external_id,
            settings_json: serde_json::to_string(&settings)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            created_at: now,
            expires_at,
            used_at: None,
        })
        .await?;
    let connect_link_url = format!(
        "{}/_static/connect.html?token={token}&connectLink=true",
        ctx.config.public_base_url()
    );
    Ok(CreatedToken {
        session_id: session_id(&token_hash),
        token: SecretString::from(token),
        expires_at,
        connect_link_url,
    })
}

/// A connect token's record, its project and grant, if it is a live token: known, unexpired.
/// A spent token still reads (the page shows the result) but cannot connect again.
///
/// # Errors
/// On database failure.
pub async fn resolve(
    ctx: &App,
    token: &str,
) -> Result<Option<(Project, Environment, TokenGrant)>, ServiceError> {
    if !is_connect_token(token) {
        return Ok(None);
    }
    Ok(lookup(ctx, &hash_token(token))
        .await?
        .filter(|(_, _, grant)| grant.expires_at > clock::now_ms()))
}

/// A token by its hash, expired or not (a flow started with a live token finishes after it).
///
/// # Errors
/// On database failure.
pub async fn lookup(
    ctx: &App,
    hash: &str,
) -> Result<Option<(Project, Environment, TokenGrant)>, ServiceError> {
    let Some(record) = ctx.store.get_connect_token(hash).await? else {
        return Ok(None);
    };
    let Some(project) = ctx.store.get_project_by_id(&record.project_id).await? else {
        return Ok(None);
    };
    let settings: TokenSettings = serde_json::from_str(&record.settings_json).unwrap_or_default();
    Ok(Some((
        project,
        record.environment,
        TokenGrant {
            token_hash: hash.to_owned(),
            external_id: record.external_id,
            settings,
            expires_at: record.expires_at,
            spent: record.used_at.is_some(),
        },
    )))
}

/// An app of the project's workspace by id or slug.
///
/// # Errors
/// 400 when unknown.
pub async fn resolve_app(
    ctx: &App,
    project: &Project,
    key: &str,
) -> Result<CatalogApp, ServiceError> {
    ctx.catalog
        .resolve(&*ctx.store, &project.workspace_id, key)
        .await?
        .ok_or_else(|| ValidationError::new("app", "is not an app of the catalog").into())
}

/// Options of `GET /v1/connect/tokens/{ctok}/validate`.
#[derive(Debug, Default)]
pub struct ValidateParams {
    /// App to connect.
    pub app_id: Option<String>,
    /// Account to reconnect.
    pub account_id: Option<String>,
    /// OAuth client to use.
    pub oauth_app_id: Option<String>,
    /// App override to apply.
    pub app_override_id: Option<String>,
}

/// What the hosted connect page learns from a token.
#[derive(Debug)]
pub struct Validation {
    /// Why the token cannot be used (`None`: it can).
    pub error: Option<String>,
    /// The project.
    pub project: Option<Project>,
    /// Its environment.
    pub environment: Option<Environment>,
    /// The token's options.
    pub settings: TokenSettings,
    /// The app asked for, if any.
    pub app: Option<CatalogApp>,
    /// Fields an app override presets (the page does not ask for them).
    pub preset_fields: Vec<String>,
    /// The OAuth client the connection will use, if not the default.
    pub oauth_app_id: Option<String>,
}

impl Validation {
    fn failed(message: &str) -> Self {
        Self {
            error: Some(message.to_owned()),
            project: None,
            environment: None,
            settings: TokenSettings::default(),
            app: None,
            preset_fields: Vec::new(),
            oauth_app_id: None,
        }
    }
}

/// Checks a token for the hosted connect page: live, unspent, and allowing what is asked.
///
/// # Errors
/// On database failure (a bad token is a [`Validation`] with an error, not an error).
pub async fn validate(
    ctx: &App,
    token: &str,
    params: ValidateParams,
) -> Result<Validation, ServiceError> {
    let Some((project, environment, grant)) = resolve(ctx, token).await? else {
        return Ok(Validation::failed(
            "the connect token is invalid or has expired",
        ));
    };
    let mut validation = Validation {
        error: None,
        project: Some(project.clone()),
        environment: Some(environment),
        settings: grant.settings.clone(),
        app: None,
        preset_fields: Vec::new(),
        oauth_app_id: grant.settings.oauth_app_id.clone(),
    };
    if grant.spent {
        validation.error = Some("the connect token has already been used".into());
        return Ok(validation);
    }
    let preset = match params.app_override_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => match super::overrides::find(ctx, &project.id, id).await {
            Ok(o) => Some(o),
            Err(_) => {
                validation.error = Some("the app override does not exist".into());
                return Ok(validation);
            }
        },
        None => None,
    };
    if let Some(o) = &preset {
        validation.preset_fields = super::overrides::preset(o).into_keys().collect();
        if validation.oauth_app_id.is_none() {
            validation.oauth_app_id = o.oauth_app_id.clone();
        }
    }
    let app_key = params
        .app_id
        .filter(|s| !s.is_empty())
        .or_else(|| grant.settings.app_id.clone())
        .or_else(|| preset.as_ref().map(|o| o.app_slug.clone()));
    if let Some(key) = app_key {
        match ctx
            .catalog
            .resolve(&*ctx.store, &project.workspace_id, &key)
            .await?
        {
            Some(app) => {
                if let Some(only) = &grant.settings.app_id {
                    if *only != app.id && *only != app.definition.name_slug {
                        validation.error = Some("the connect token is for another app".into());
                    }
                }
                validation.app = Some(app);
            }
            None => validation.error = Some(format!("{key} is not an app of the catalog")),
        }
    }
    if let (Some(only), Some(asked)) = (&grant.settings.oauth_app_id, &params.oauth_app_id) {
        if only != asked {
            validation.error = Some("the connect token is for another OAuth client".into());
        }
    }
    if let Some(account_id) = params.account_id.filter(|s| !s.is_empty()) {
        let owned = ctx
            .store
            .get_account(&project.workspace_id, &account_id)
            .await?
            .and_then(|a| a.connect)
            .is_some_and(|c| {
                c.project_id == project.id
                    && c.environment == environment
                    && c.external_id == grant.external_id
            });
        if !owned {
            validation.error = Some("the account to reconnect is not this user's".into());
        }
    }
    Ok(validation)
}
