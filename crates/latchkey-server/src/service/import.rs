//! Importing legacy accounts: credentials brought over from another tool or a backup, one JSON
//! object per line. Imported accounts have no owner and are shared with the whole workspace
//! (as accounts were before per-member ownership); a member who reconnects one becomes its
//! owner. OAuth accounts keep refreshing with the operator's default client.
//!
//! The whole input is validated before anything is written, so a bad line imports nothing.

use std::collections::BTreeMap;

use latchkey_domain::{
    account::{validate_cfmap, validate_name},
    app::{AuthType, OAuthGrant},
    ids, ValidationError,
};
use latchkey_store::{Account, Sharing};
use serde::Deserialize;

use super::{oauth, ServiceError};
use crate::{catalog::CatalogApp, clock, vault::Credentials, App};

/// One line of an import file. `Debug` omits the credentials.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    /// App slug.
    pub app: String,
    /// Nickname; defaults to the app's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Field values: the app's custom fields, or for OAuth apps `oauth_access_token`,
    /// `oauth_refresh_token` (optional) and `oauth_uid` (optional).
    pub credentials: BTreeMap<String, String>,
    /// When the access token expires (RFC 3339), if it does.
    #[serde(default)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Granted OAuth scopes.
    #[serde(default)]
    pub authorized_scopes: Vec<String>,
}

impl std::fmt::Debug for ImportRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportRecord")
            .field("app", &self.app)
            .field("name", &self.name)
            .field("fields", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Fields an imported OAuth account may carry.
const OAUTH_FIELDS: &[&str] = &["oauth_access_token", "oauth_refresh_token", "oauth_uid"];

/// A validated record, ready to seal and store.
struct Prepared {
    app: CatalogApp,
    name: String,
    fields: BTreeMap<String, String>,
    expires_at: Option<i64>,
    scopes: Vec<String>,
}

fn prepare(record: ImportRecord, app: CatalogApp) -> Result<Prepared, ValidationError> {
    let def = &app.definition;
    let name = match &record.name {
        Some(name) => validate_name(name)?,
        None => def.name.clone(),
    };
    let fields = match (def.auth_type, def.oauth.as_ref().map(|o| o.grant)) {
        (AuthType::Oauth, Some(OAuthGrant::AuthorizationCode)) => {
            for (key, value) in &record.credentials {
                if !OAUTH_FIELDS.contains(&key.as_str()) {
                    return Err(ValidationError::new(
                        format!("credentials.{key}"),
                        "is not an OAuth token field (oauth_access_token, oauth_refresh_token, oauth_uid)",
                    ));
                }
                if value.is_empty() || value.len() > 16 * 1024 || value.contains('\0') {
                    return Err(ValidationError::new(
                        format!("credentials.{key}"),
                        "must be 1 to 16384 bytes without NUL",
                    ));
                }
            }
            if !record.credentials.contains_key("oauth_access_token") {
                return Err(ValidationError::new(
                    "credentials.oauth_access_token",
                    "is required",
                ));
            }
            record.credentials
        }
        (AuthType::Keys, _) | (AuthType::Oauth, Some(OAuthGrant::ClientCredentials)) => {
            validate_cfmap(def, &record.credentials)?
        }
        _ => {
            return Err(ValidationError::new(
                "app",
                "accounts of this app cannot be imported",
            ))
        }
    };
    Ok(Prepared {
        app,
        name,
        fields,
        expires_at: record.expires_at.map(|t| t.timestamp_millis()),
        scopes: record.authorized_scopes,
    })
}

/// Validates every record, then stores them all as legacy accounts of `workspace_id`.
/// Returns the new account ids in input order.
///
/// # Errors
/// [`ServiceError::Invalid`] naming the first bad record (`records[3].app`), before anything
/// is written; database failures while storing (the accounts stored so far stay).
pub async fn import(
    ctx: &App,
    workspace_id: &str,
    records: Vec<ImportRecord>,
) -> Result<Vec<String>, ServiceError> {
    let mut prepared = Vec::with_capacity(records.len());
    let mut apps: BTreeMap<String, Option<CatalogApp>> = BTreeMap::new();
    for (i, record) in records.into_iter().enumerate() {
        let at = |e: ValidationError| {
            ValidationError::new(format!("records[{i}].{}", e.field), e.message)
        };
        if !apps.contains_key(&record.app) {
            let app = ctx
                .catalog
                .resolve(&*ctx.store, workspace_id, &record.app)
                .await?;
            apps.insert(record.app.clone(), app);
        }
        let app = apps[&record.app]
            .clone()
            .ok_or_else(|| at(ValidationError::new("app", "is not an app of the catalog")))?;
        prepared.push(prepare(record, app).map_err(at)?);
    }
    let mut ids = Vec::with_capacity(prepared.len());
    for p in prepared {
        ids.push(store(ctx, workspace_id, p).await?);
    }
    tracing::info!(workspace.id = %workspace_id, count = ids.len(), "legacy accounts imported");
    Ok(ids)
}

async fn store(ctx: &App, workspace_id: &str, p: Prepared) -> Result<String, ServiceError> {
    let now = clock::now_ms();
    let def = &p.app.definition;
    let code_flow = def
        .oauth
        .as_ref()
        .filter(|o| o.grant == OAuthGrant::AuthorizationCode);
    let client_credentials = def
        .oauth
        .as_ref()
        .is_some_and(|o| o.grant == OAuthGrant::ClientCredentials);
    // Refresh before the token expires (or at once if it is inside the margin already).
    let next_refresh_at = match (code_flow, p.expires_at) {
        (Some(o), Some(expires_at)) if p.fields.contains_key("oauth_refresh_token") => {
            Some(expires_at - oauth::refresh::margin_ms(o, i64::MAX))
        }
        (None, Some(expires_at)) if client_credentials => Some(expires_at),
        _ => None,
    };
    let oauth_client = if code_flow.is_some() {
        Some("default".to_owned())
    } else if client_credentials {
        Some(oauth::ACCOUNT_CLIENT.to_owned())
    } else {
        None
    };
    let id = ids::generate(ids::ACCOUNT);
    let credentials = Credentials::from_map(p.fields);
    let (ciphertext, key_id) = ctx.vault.seal(workspace_id, &id, &credentials).await;
    let account = Account {
        id: id.clone(),
        workspace_id: workspace_id.to_owned(),
        app_slug: def.name_slug.clone(),
        name: p.name,
        owner_id: None,
        sharing: Sharing::Workspace,
        credentials_ciphertext: ciphertext,
        key_id,
        healthy: true,
        dead: false,
        error: None,
        authorized_scopes: p.scopes,
        expires_at: p.expires_at,
        created_at: now,
        updated_at: now,
        version: 1,
        oauth_client,
        last_refreshed_at: None,
        next_refresh_at,
        refresh_failures: 0,
        shared_with: Vec::new(),
        connect: None,
    };
    ctx.store.insert_account(&account).await?;
    Ok(id)
}
