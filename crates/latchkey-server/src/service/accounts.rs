//! Accounts: connect a key-based account, list, read (with credentials), rename, delete.

use std::{collections::BTreeMap, sync::Arc};

use latchkey_domain::{
    access::Operation,
    account::{validate_cfmap, validate_name},
    app::{AuthType, OAuthGrant},
    ids, ValidationError,
};
use latchkey_store::{Account, AccountQuery, Member, Page, Sharing};

use super::{oauth, Caller, ServiceError};
use crate::{
    cache::CachedAccount,
    catalog::CatalogApp,
    clock,
    outbound::{self, CheckResult},
    vault::Credentials,
    App,
};

/// Input of `POST /v1/accounts`. `Debug` omits the field values, which are secrets.
pub struct NewAccount {
    /// App slug or id.
    pub app: String,
    /// Nickname; defaults to the app's name.
    pub name: Option<String>,
    /// Custom field values (secrets).
    pub cfmap: BTreeMap<String, String>,
    /// Skip the app's credential check.
    pub skip_check: bool,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("app", &self.app)
            .field("name", &self.name)
            .field("cfmap_fields", &self.cfmap.keys().collect::<Vec<_>>())
            .field("skip_check", &self.skip_check)
            .finish()
    }
}

/// An account with what the API shows next to it.
#[derive(Debug)]
pub struct AccountDetails {
    /// The row.
    pub account: Account,
    /// Its app (absent if the app was removed from the catalog).
    pub app: Option<CatalogApp>,
    /// Decrypted credentials, only when asked for and allowed.
    pub credentials: Option<Credentials>,
    /// The workflows using it (listings only): `(id, name)`.
    pub workflows: Option<Vec<(String, String)>>,
}

async fn resolve_app(ctx: &App, workspace_id: &str, key: &str) -> Result<CatalogApp, ServiceError> {
    ctx.catalog
        .resolve(&*ctx.store, workspace_id, key)
        .await?
        .ok_or_else(|| ValidationError::new("app", "is not an app of the catalog").into())
}

/// Connects a key-based (or basic-auth) account for the calling member, who becomes its owner.
/// The app's credential check runs unless skipped; a failing check is reported and the account
/// is still saved, marked unhealthy.
///
/// # Errors
/// Bad input (400), API clients (403).
pub async fn create(
    ctx: &App,
    caller: &Caller,
    input: NewAccount,
) -> Result<(AccountDetails, CheckResult), ServiceError> {
    insert_new(ctx, caller, input, false).await
}

/// [`create`], refusing (400, nothing saved) credentials whose check fails: what people
/// connecting in the browser expect.
///
/// # Errors
/// As [`create`], and 400 when the check fails.
pub async fn create_if_working(
    ctx: &App,
    caller: &Caller,
    input: NewAccount,
) -> Result<(AccountDetails, CheckResult), ServiceError> {
    insert_new(ctx, caller, input, true).await
}

/// The refusal of credentials whose check failed.
fn refused_check(check: &CheckResult) -> ServiceError {
    ValidationError::new(
        "cfmap",
        format!("the credentials did not work: {}", check.message),
    )
    .into()
}

async fn insert_new(
    ctx: &App,
    caller: &Caller,
    input: NewAccount,
    refuse_failed_check: bool,
) -> Result<(AccountDetails, CheckResult), ServiceError> {
    caller.require_scope("accounts:write")?;
    let owner = caller.require_member()?.to_owned();
    let (mut account, app, check) =
        prepare_key_account(ctx, caller.workspace_id(), input, None).await?;
    if refuse_failed_check && check.is_failure() {
        return Err(refused_check(&check));
    }
    account.owner_id = Some(owner);
    ctx.store.insert_account(&account).await?;
    caller
        .audit(
            ctx,
            "account.connect",
            Some(&account.id),
            "allowed",
            Some(serde_json::json!({"app": account.app_slug})),
        )
        .await;
    tracing::info!(account.id = %account.id, app = %account.app_slug, check = check.status, "account connected");
    Ok((
        AccountDetails {
            account,
            app: Some(app),
            credentials: None,
            workflows: None,
        },
        check,
    ))
}

/// Reconnects a key-based (or client-credentials) account in place with new fields: same id,
/// so steps and API users keep working; the check runs again and sets its health. A legacy
/// account gets the reconnecting member as its owner.
///
/// # Errors
/// 404 unknown or invisible, 403 not allowed, 400 bad fields or an OAuth app (those reconnect
/// through the OAuth flow).
pub async fn reconnect_keys(
    ctx: &App,
    caller: &Caller,
    account_id: &str,
    cfmap: BTreeMap<String, String>,
) -> Result<CheckResult, ServiceError> {
    caller.require_scope("accounts:write")?;
    let member = caller.require_member()?.to_owned();
    let current = load_fresh(ctx, caller, account_id).await?;
    caller.authorize(&current, Operation::Reconnect)?;
    let input = NewAccount {
        app: current.app_slug.clone(),
        name: Some(current.name.clone()),
        cfmap,
        skip_check: false,
    };
    let (fresh, _, check) =
        prepare_key_account(ctx, caller.workspace_id(), input, Some(&current.id)).await?;
    if check.is_failure() {
        // Never swap working credentials for ones that fail their check.
        return Err(refused_check(&check));
    }
    let update = latchkey_store::OAuthUpdate {
        credentials_ciphertext: fresh.credentials_ciphertext,
        key_id: fresh.key_id,
        authorized_scopes: fresh.authorized_scopes,
        expires_at: fresh.expires_at,
        next_refresh_at: fresh.next_refresh_at,
        now: clock::now_ms(),
    };
    ctx.store
        .reconnect_account(
            caller.workspace_id(),
            &current.id,
            &member,
            fresh.oauth_client.as_deref().unwrap_or(""),
            &update,
        )
        .await?;
    ctx.caches
        .forget_account(caller.workspace_id(), &current.id);
    caller
        .audit(
            ctx,
            "account.reconnect",
            Some(&current.id),
            "allowed",
            Some(serde_json::json!({"app": current.app_slug})),
        )
        .await;
    Ok(check)
}

/// Validates a key-based (or client-credentials) connection, runs the app's check or gets
/// the first token, and seals the credentials: an account ready to insert, with no owner yet.
///
/// # Errors
/// Bad input (400).
pub(crate) async fn prepare_key_account(
    ctx: &App,
    workspace_id: &str,
    input: NewAccount,
    reconnecting: Option<&str>,
) -> Result<(Account, CatalogApp, CheckResult), ServiceError> {
    let workspace_id = workspace_id.to_owned();
    let app = resolve_app(ctx, &workspace_id, &input.app).await?;
    let def = &app.definition;
    let client_credentials_oauth = match (def.auth_type, def.oauth.as_ref()) {
        (AuthType::Keys, _) => None,
        (AuthType::Oauth, Some(oauth)) if oauth.grant == OAuthGrant::ClientCredentials => {
            Some(oauth)
        }
        (AuthType::Oauth, _) => {
            return Err(ValidationError::new(
                "app",
                "is an OAuth app: connect it with POST /v1/accounts/connect",
            )
            .into());
        }
        (AuthType::None, _) => {
            return Err(ValidationError::new("app", "needs no credentials").into())
        }
    };
    let name = match &input.name {
        Some(name) => validate_name(name)?,
        None => def.name.clone(),
    };
    let fields = validate_cfmap(def, &input.cfmap)?;
    let now = clock::now_ms();
    let mut token = TokenState::default();
    let (credentials, check) = match client_credentials_oauth {
        // Client-credentials apps: the fields are the client; the check is getting a token.
        Some(oauth) => {
            let (credentials, check, state) = fetch_client_token(ctx, oauth, fields, now).await;
            token = state;
            (credentials, check)
        }
        None => {
            let credentials = Credentials::from_map(fields);
            let check = if input.skip_check {
                CheckResult {
                    status: "skipped",
                    http_status: None,
                    message: "the check was skipped on request".into(),
                }
            } else {
                outbound::check_credentials(&ctx.outbound, def, &credentials).await
            };
            (credentials, check)
        }
    };
    // Reconnecting keeps the id: the ciphertext is bound to it.
    let id = reconnecting.map_or_else(|| ids::generate(ids::ACCOUNT), str::to_owned);
    let (ciphertext, key_id) = ctx.vault.seal(&workspace_id, &id, &credentials).await;
    let account = Account {
        id,
        workspace_id,
        app_slug: def.name_slug.clone(),
        name,
        owner_id: None,
        sharing: Sharing::Private,
        credentials_ciphertext: ciphertext,
        key_id,
        healthy: !check.is_failure(),
        dead: false,
        error: check.is_failure().then(|| check.message.clone()),
        authorized_scopes: token.scopes,
        expires_at: token.expires_at,
        created_at: now,
        updated_at: now,
        version: 1,
        oauth_client: client_credentials_oauth.map(|_| oauth::ACCOUNT_CLIENT.to_owned()),
        last_refreshed_at: token.issued_at,
        next_refresh_at: token.next_refresh_at,
        refresh_failures: 0,
        shared_with: Vec::new(),
        connect: None,
    };
    Ok((account, app, check))
}

/// Token bookkeeping of a client-credentials account.
#[derive(Default)]
struct TokenState {
    scopes: Vec<String>,
    expires_at: Option<i64>,
    issued_at: Option<i64>,
    next_refresh_at: Option<i64>,
}

/// Gets the first token of a client-credentials account. A refusal is reported as a failed
/// check (the account is saved, unhealthy, and retried by the scheduler).
async fn fetch_client_token(
    ctx: &App,
    oauth_config: &latchkey_domain::app::OAuthConfig,
    mut fields: BTreeMap<String, String>,
    now: i64,
) -> (Credentials, CheckResult, TokenState) {
    let client = oauth::account_client(&Credentials::from_map(fields.clone()))
        .expect("validated client-credentials apps have client_id and client_secret fields");
    match oauth::provider::client_credentials(&ctx.outbound, oauth_config, &client).await {
        Ok(tokens) => {
            fields.insert(
                "oauth_access_token".into(),
                secrecy::ExposeSecret::expose_secret(&tokens.access_token).to_owned(),
            );
            let schedule = oauth::refresh::schedule(oauth_config, now, tokens.expires_in, true);
            let state = TokenState {
                scopes: tokens
                    .scopes
                    .unwrap_or_else(|| oauth_config.default_scopes.clone()),
                expires_at: schedule.expires_at,
                issued_at: Some(now),
                next_refresh_at: schedule.next_refresh_at,
            };
            let check = CheckResult {
                status: "passed",
                http_status: None,
                message: "the provider issued a token".into(),
            };
            (Credentials::from_map(fields), check, state)
        }
        Err(e) => {
            let check = CheckResult {
                status: "failed",
                http_status: None,
                message: e.to_string(),
            };
            let state = TokenState {
                next_refresh_at: Some(now + 60_000),
                ..TokenState::default()
            };
            (Credentials::from_map(fields), check, state)
        }
    }
}

/// Loads an account for reading; a cached row may be up to the cache TTL old.
async fn load(ctx: &App, caller: &Caller, account_id: &str) -> Result<Account, ServiceError> {
    if let Some(cached) = ctx
        .caches
        .account(caller.workspace_id(), account_id)
        .filter(|c| c.account.connect.is_none())
    {
        return Ok(cached.account.clone());
    }
    load_fresh(ctx, caller, account_id).await
}

/// Loads an account from the database (writes authorize against the current row, never a
/// cached one) and refreshes the cache.
pub(crate) async fn load_fresh(
    ctx: &App,
    caller: &Caller,
    account_id: &str,
) -> Result<Account, ServiceError> {
    if !ids::is_valid(ids::ACCOUNT, account_id) {
        return Err(ServiceError::NotFound("account"));
    }
    let account = ctx
        .store
        .get_account(caller.workspace_id(), account_id)
        .await?
        // Connect accounts belong to a project's end users: not the workspace API's business.
        .filter(|a| a.connect.is_none())
        .ok_or(ServiceError::NotFound("account"))?;
    ctx.caches.put_account(CachedAccount {
        account: account.clone(),
        credentials: None,
    });
    Ok(account)
}

/// Decrypts an account's credentials, reusing those cached for the same row version.
pub(crate) async fn open_credentials(
    ctx: &App,
    account: &Account,
) -> Result<Credentials, ServiceError> {
    if let Some(cached) = ctx.caches.account(&account.workspace_id, &account.id) {
        if let (Some(credentials), true) = (
            &cached.credentials,
            cached.account.version == account.version,
        ) {
            return Ok(credentials.clone());
        }
    }
    let credentials = ctx.vault.open_account(account).await?;
    ctx.caches.put_account(CachedAccount {
        account: account.clone(),
        credentials: Some(credentials.clone()),
    });
    Ok(credentials)
}

/// The workspace's members (for owner emails in views), cached briefly.
///
/// # Errors
/// On database failure.
pub async fn members(ctx: &App, workspace_id: &str) -> Result<Arc<Vec<Member>>, ServiceError> {
    if let Some(members) = ctx.caches.members(workspace_id) {
        return Ok(members);
    }
    let members = Arc::new(ctx.store.list_members(workspace_id).await?);
    ctx.caches
        .put_members(workspace_id.to_owned(), members.clone());
    Ok(members)
}

/// T-08: records every credential read among `items` in one append before any of them leaves;
/// no record, no secret.
async fn record_reads(
    ctx: &App,
    caller: &Caller,
    items: &[AccountDetails],
) -> Result<(), ServiceError> {
    record_reads_by(ctx, &caller.actor(), items).await
}

/// [`record_reads`] for any actor (Connect callers too).
pub(crate) async fn record_reads_by(
    ctx: &App,
    actor: &crate::audit::Actor,
    items: &[AccountDetails],
) -> Result<(), ServiceError> {
    let events: Vec<_> = items
        .iter()
        .filter(|d| d.credentials.is_some())
        .map(|d| {
            crate::audit::Auditor::event(
                &d.account.workspace_id,
                actor,
                "credentials.read",
                Some(&d.account.id),
                "allowed",
                None,
            )
        })
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    if let Err(e) = ctx.audit.record(&events).await {
        tracing::error!(error = %e, "audit log unavailable: credentials withheld");
        return Err(ServiceError::Unavailable(
            "the audit log cannot be written, so no credentials are handed out; try again".into(),
        ));
    }
    tracing::info!(count = events.len(), "credentials read");
    Ok(())
}

/// The account with its app and, when asked for and allowed, its fresh credentials. Callers
/// that return credentials pass the result through [`record_reads`] first.
async fn details(
    ctx: &App,
    caller: &Caller,
    account: Account,
    with_credentials: bool,
) -> Result<AccountDetails, ServiceError> {
    let allowed = with_credentials && caller.may(&account, Operation::ReadCredentials);
    expand(ctx, account, allowed).await
}

/// The account with its app and, when `with_credentials`, its fresh credentials; the caller
/// decided that they may be read.
pub(crate) async fn expand(
    ctx: &App,
    account: Account,
    with_credentials: bool,
) -> Result<AccountDetails, ServiceError> {
    let app = ctx
        .catalog
        .resolve(&*ctx.store, &account.workspace_id, &account.app_slug)
        .await?;
    let mut account = account;
    let credentials = if with_credentials {
        // Whoever asks for credentials gets a token valid for at least the margin (F3).
        account = oauth::refresh::ensure_fresh(ctx, app.as_ref(), account).await?;
        let credentials = open_credentials(ctx, &account).await?;
        // SECURITY.md decision 3: the refresh token of an account on the operator's client
        // never leaves Latchkey.
        Some(if account.oauth_client.as_deref() == Some("default") {
            credentials.without("oauth_refresh_token")
        } else {
            credentials
        })
    } else {
        None
    };
    Ok(AccountDetails {
        account,
        app,
        credentials,
        workflows: None,
    })
}

/// One account; with credentials only for callers allowed to read them (403 otherwise).
///
/// # Errors
/// 404 when unknown or invisible, 403 when credentials are not allowed.
pub async fn get(
    ctx: &App,
    caller: &Caller,
    account_id: &str,
    with_credentials: bool,
) -> Result<AccountDetails, ServiceError> {
    caller.require_scope("accounts:read")?;
    let account = load(ctx, caller, account_id).await?;
    let op = if with_credentials {
        Operation::ReadCredentials
    } else {
        Operation::View
    };
    if let Err(refused) = caller.authorize(&account, op) {
        if with_credentials && matches!(refused, ServiceError::Forbidden(_)) {
            caller
                .audit(ctx, "credentials.read", Some(account_id), "denied", None)
                .await;
        }
        return Err(refused);
    }
    let details = details(ctx, caller, account, with_credentials).await?;
    record_reads(ctx, caller, std::slice::from_ref(&details)).await?;
    Ok(details)
}

/// An account to proxy through: using it follows the rule for reading its credentials
/// (SECURITY.md decision 1: an admin may not proxy through a member's private account).
///
/// # Errors
/// 404 unknown or invisible, 403 not allowed.
pub async fn for_proxy(
    ctx: &App,
    caller: &Caller,
    account_id: &str,
) -> Result<Account, ServiceError> {
    caller.require_scope("accounts:proxy")?;
    let account = load(ctx, caller, account_id).await?;
    if let Err(refused) = caller.authorize(&account, Operation::ReadCredentials) {
        if matches!(refused, ServiceError::Forbidden(_)) {
            caller
                .audit(ctx, "proxy.request", Some(account_id), "denied", None)
                .await;
        }
        return Err(refused);
    }
    Ok(account)
}

/// Listing parameters.
#[derive(Debug, Default)]
pub struct ListParams {
    /// App slug or id.
    pub app: Option<String>,
    /// Search text.
    pub search: Option<String>,
    /// Cursor.
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Include credentials of the accounts the caller may read (others get none).
    pub with_credentials: bool,
}

/// The accounts the caller may view, newest first.
///
/// # Errors
/// Unknown app filter (400), database failure.
pub async fn list(
    ctx: &App,
    caller: &Caller,
    params: ListParams,
) -> Result<Page<AccountDetails>, ServiceError> {
    caller.require_scope("accounts:read")?;
    if params
        .after
        .as_deref()
        .is_some_and(|c| !latchkey_store::is_valid_cursor(c))
    {
        return Err(ValidationError::new("after", "is not a cursor from this API").into());
    }
    let app_slug = match &params.app {
        Some(key) => Some(
            resolve_app(ctx, caller.workspace_id(), key)
                .await?
                .definition
                .name_slug
                .clone(),
        ),
        None => None,
    };
    let visible_to = if caller.is_admin() {
        None
    } else {
        // API clients see only what is shared with the whole workspace: their id never owns.
        Some(caller.user_id().unwrap_or("").to_owned())
    };
    let page = ctx
        .store
        .list_accounts(&AccountQuery {
            workspace_id: caller.workspace_id().to_owned(),
            visible_to,
            app_slug,
            search: params.search,
            after: params.after,
            limit: params.limit,
            connect: None,
        })
        .await?;
    // The workflows using each account of the page, in one query.
    let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
    let mut using: std::collections::HashMap<String, Vec<(String, String)>> =
        std::collections::HashMap::new();
    for (account_id, workflow_id, name) in ctx
        .store
        .workflows_using(caller.workspace_id(), &ids)
        .await?
    {
        using
            .entry(account_id)
            .or_default()
            .push((workflow_id, name));
    }
    let mut items = Vec::with_capacity(page.items.len());
    for account in page.items {
        let workflows = using.remove(&account.id).unwrap_or_default();
        let mut item = details(ctx, caller, account, params.with_credentials).await?;
        item.workflows = Some(workflows);
        items.push(item);
    }
    record_reads(ctx, caller, &items).await?;
    Ok(Page {
        items,
        total_count: page.total_count,
        start_cursor: page.start_cursor,
        end_cursor: page.end_cursor,
    })
}

/// Renames an account (owner or admin).
///
/// # Errors
/// 400 bad name, 404, 403.
pub async fn rename(
    ctx: &App,
    caller: &Caller,
    account_id: &str,
    name: &str,
) -> Result<AccountDetails, ServiceError> {
    caller.require_scope("accounts:write")?;
    let name = validate_name(name)?;
    let account = load_fresh(ctx, caller, account_id).await?;
    caller.authorize(&account, Operation::Rename)?;
    ctx.store
        .rename_account(caller.workspace_id(), account_id, &name, clock::now_ms())
        .await?;
    caller
        .audit(ctx, "account.rename", Some(account_id), "allowed", None)
        .await;
    let account = load_fresh(ctx, caller, account_id).await?;
    details(ctx, caller, account, false).await
}

/// Deletes an account and its credentials (owner or admin).
///
/// # Errors
/// 404, 403.
pub async fn delete(
    ctx: &App,
    caller: &Caller,
    account_id: &str,
) -> Result<Revocation, ServiceError> {
    caller.require_scope("accounts:write")?;
    let account = load_fresh(ctx, caller, account_id).await?;
    caller.authorize(&account, Operation::Delete)?;
    let revocation = revoke_at_provider(ctx, &account).await;
    ctx.store
        .delete_account(caller.workspace_id(), account_id)
        .await?;
    ctx.caches.forget_account(caller.workspace_id(), account_id);
    caller
        .audit(
            ctx,
            "account.delete",
            Some(account_id),
            "allowed",
            Some(serde_json::json!({"revocation": revocation.as_str()})),
        )
        .await;
    tracing::info!(account.id = %account_id, revocation = revocation.as_str(), "account deleted");
    Ok(revocation)
}

/// What happened to the grant at the provider when an account was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Revoked (RFC 7009).
    Revoked,
    /// Not applicable: key-based account, or no revocation endpoint.
    Unsupported,
    /// Tried and failed (the delete went ahead anyway).
    Failed(String),
}

impl Revocation {
    /// Short form for headers and logs.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Revocation::Revoked => "revoked",
            Revocation::Unsupported => "unsupported",
            Revocation::Failed(_) => "failed",
        }
    }
}

/// Revokes an OAuth account's grant at the provider, best effort: revoking the refresh token
/// ends the whole grant at providers that implement RFC 7009 properly.
pub(crate) async fn revoke_at_provider(ctx: &App, account: &Account) -> Revocation {
    let Ok(Some(app)) = ctx
        .catalog
        .resolve(&*ctx.store, &account.workspace_id, &account.app_slug)
        .await
    else {
        return Revocation::Unsupported;
    };
    let Some(oauth) = app
        .definition
        .oauth
        .as_ref()
        .filter(|o| o.revocation_url.is_some())
    else {
        return Revocation::Unsupported;
    };
    let Ok(credentials) = ctx.vault.open_account(account).await else {
        return Revocation::Failed("the stored credentials could not be decrypted".into());
    };
    let token = credentials
        .get("oauth_refresh_token")
        .map(|t| (t, "refresh_token"))
        .or_else(|| {
            credentials
                .get("oauth_access_token")
                .map(|t| (t, "access_token"))
        });
    let Some((token, hint)) = token else {
        return Revocation::Unsupported;
    };
    let client = match account.oauth_client.as_deref().unwrap_or("default") {
        oauth::ACCOUNT_CLIENT => match oauth::account_client(&credentials) {
            Some(c) => c,
            None => return Revocation::Unsupported,
        },
        reference => {
            match oauth::client_for(ctx, &account.workspace_id, &account.app_slug, reference).await
            {
                Ok(c) => c,
                Err(e) => return Revocation::Failed(e.to_string()),
            }
        }
    };
    match oauth::provider::revoke(&ctx.outbound, oauth, &client, token, hint).await {
        Ok(()) => Revocation::Revoked,
        Err(message) => {
            tracing::warn!(account.id = %account.id, error = %message, "revocation at the provider failed; deleting anyway");
            Revocation::Failed(message)
        }
    }
}
