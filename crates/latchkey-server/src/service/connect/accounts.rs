//! Connect accounts (API.md §3 #4–#9): an end user's accounts, read and removed by the
//! product's server, created by the end user's browser through a connect token.

use std::collections::BTreeMap;

use latchkey_crypto::hash_token;
use latchkey_domain::{connect::validate_external_id, ids, ValidationError};
use latchkey_store::{Account, AccountQuery, ConnectFilter, ConnectOwner, Page, StoreError};

use super::{events, tokens, ConnectCaller, ConnectPrincipal};
use crate::{
    clock,
    outbound::CheckResult,
    service::{
        accounts::{self as workspace_accounts, AccountDetails, NewAccount},
        ServiceError,
    },
    App,
};

/// Listing parameters (`GET /v1/connect/{project_id}/accounts`).
#[derive(Debug, Default)]
pub struct ListParams {
    /// Only this end user's accounts.
    pub external_user_id: Option<String>,
    /// Only accounts on this OAuth client.
    pub oauth_app_id: Option<String>,
    /// Only this app (id or slug).
    pub app: Option<String>,
    /// Include credentials (server callers only).
    pub with_credentials: bool,
    /// Cursor.
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
}

fn refuse_token_credentials(
    caller: &ConnectCaller,
    with_credentials: bool,
) -> Result<(), ServiceError> {
    if with_credentials && matches!(caller.principal, ConnectPrincipal::Token(_)) {
        return Err(ServiceError::Forbidden(
            "credentials are only handed to your server, never to a connect token".into(),
        ));
    }
    Ok(())
}

/// Expands a page of accounts, recording credential reads before anything leaves.
async fn expand_all(
    ctx: &App,
    caller: &ConnectCaller,
    accounts: Vec<Account>,
    with_credentials: bool,
) -> Result<Vec<AccountDetails>, ServiceError> {
    let mut items = Vec::with_capacity(accounts.len());
    for account in accounts {
        items.push(workspace_accounts::expand(ctx, account, with_credentials).await?);
    }
    workspace_accounts::record_reads_by(ctx, &caller.actor(), &items).await?;
    Ok(items)
}

/// The end user `external_id` of the caller's project environment, if they exist.
async fn find_user(
    ctx: &App,
    caller: &ConnectCaller,
    external_id: &str,
) -> Result<Option<String>, ServiceError> {
    Ok(ctx
        .store
        .find_external_user(&caller.project.id, caller.environment, external_id)
        .await?
        .map(|u| u.id))
}

/// Lists accounts of the project environment (a token: only its own end user's).
///
/// # Errors
/// Bad filters (400), scopes (403).
pub async fn list(
    ctx: &App,
    caller: &ConnectCaller,
    params: ListParams,
) -> Result<Page<AccountDetails>, ServiceError> {
    caller.require_scope("connect:accounts:read")?;
    refuse_token_credentials(caller, params.with_credentials)?;
    if params
        .after
        .as_deref()
        .is_some_and(|c| !latchkey_store::is_valid_cursor(c))
    {
        return Err(ValidationError::new("after", "is not a cursor from this API").into());
    }
    let external_user_id = match caller.end_user(params.external_user_id.as_deref())? {
        Some(external_id) => match find_user(ctx, caller, external_id).await? {
            Some(id) => Some(id),
            None => return Ok(Page::empty(0)),
        },
        None => None,
    };
    let app_slug = match params.app.as_deref().filter(|s| !s.is_empty()) {
        Some(key) => Some(
            tokens::resolve_app(ctx, &caller.project, key)
                .await?
                .definition
                .name_slug
                .clone(),
        ),
        None => None,
    };
    let page = ctx
        .store
        .list_accounts(&AccountQuery {
            workspace_id: caller.workspace_id().to_owned(),
            app_slug,
            after: params.after,
            limit: params.limit,
            connect: Some(ConnectFilter {
                project_id: caller.project.id.clone(),
                environment: caller.environment,
                external_user_id,
                oauth_client: params.oauth_app_id.filter(|s| !s.is_empty()),
            }),
            ..Default::default()
        })
        .await?;
    let items = expand_all(ctx, caller, page.items, params.with_credentials).await?;
    Ok(Page {
        items,
        total_count: page.total_count,
        start_cursor: page.start_cursor,
        end_cursor: page.end_cursor,
    })
}

/// Every account of one end user (`GET …/users/{external_user_id}/accounts`), newest first.
///
/// # Errors
/// As [`list`].
pub async fn list_of_user(
    ctx: &App,
    caller: &ConnectCaller,
    external_id: &str,
    app: Option<String>,
    with_credentials: bool,
) -> Result<Vec<AccountDetails>, ServiceError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = list(
            ctx,
            caller,
            ListParams {
                external_user_id: Some(external_id.to_owned()),
                app: app.clone(),
                with_credentials,
                after,
                limit: 100,
                ..Default::default()
            },
        )
        .await?;
        all.extend(page.items);
        match page.end_cursor {
            Some(c) if all.len() < 10_000 => after = Some(c),
            _ => break,
        }
    }
    Ok(all)
}

/// An account of the caller's project environment (and, for a token, of its end user).
async fn load(
    ctx: &App,
    caller: &ConnectCaller,
    account_id: &str,
) -> Result<Account, ServiceError> {
    if !ids::is_valid(ids::ACCOUNT, account_id) {
        return Err(ServiceError::NotFound("account"));
    }
    let account = ctx
        .store
        .get_account(caller.workspace_id(), account_id)
        .await?
        .ok_or(ServiceError::NotFound("account"))?;
    let own_user = caller.end_user(None)?;
    let visible = account.connect.as_ref().is_some_and(|c| {
        c.project_id == caller.project.id
            && c.environment == caller.environment
            && own_user.is_none_or(|u| u == c.external_id)
    });
    if visible {
        Ok(account)
    } else {
        Err(ServiceError::NotFound("account"))
    }
}

/// The account to proxy through: it must belong to `external_id` (server callers only).
///
/// # Errors
/// 400 missing parameters, 404, 403.
pub async fn for_proxy(
    ctx: &App,
    caller: &ConnectCaller,
    external_id: Option<&str>,
    account_id: Option<&str>,
) -> Result<Account, ServiceError> {
    caller.require_server()?;
    caller.require_scope("connect:proxy")?;
    let external_id = external_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::new("external_user_id", "is required"))?;
    let account_id = account_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::new("account_id", "is required"))?;
    let account = load(ctx, caller, account_id).await?;
    if account
        .connect
        .as_ref()
        .is_none_or(|c| c.external_id != external_id)
    {
        return Err(ServiceError::NotFound("account"));
    }
    Ok(account)
}

/// One account (`GET …/accounts/{id}`).
///
/// # Errors
/// 404 unknown or out of reach, 403 credentials for a token.
pub async fn get(
    ctx: &App,
    caller: &ConnectCaller,
    account_id: &str,
    with_credentials: bool,
) -> Result<AccountDetails, ServiceError> {
    caller.require_scope("connect:accounts:read")?;
    refuse_token_credentials(caller, with_credentials)?;
    let account = load(ctx, caller, account_id).await?;
    let mut items = expand_all(ctx, caller, vec![account], with_credentials).await?;
    Ok(items.pop().expect("one account in, one out"))
}

async fn remove(ctx: &App, caller: &ConnectCaller, account: &Account) -> Result<(), ServiceError> {
    let revocation = workspace_accounts::revoke_at_provider(ctx, account).await;
    match ctx
        .store
        .delete_account(caller.workspace_id(), &account.id)
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    ctx.caches
        .forget_account(caller.workspace_id(), &account.id);
    let event = crate::audit::Auditor::event(
        caller.workspace_id(),
        &caller.actor(),
        "account.delete",
        Some(&account.id),
        "allowed",
        Some(serde_json::json!({"revocation": revocation.as_str(), "project": caller.project.id})),
    );
    ctx.audit.record_best_effort(event).await;
    Ok(())
}

/// Deletes an account (server callers), revoking at the provider first where possible.
///
/// # Errors
/// 404, 403.
pub async fn delete(
    ctx: &App,
    caller: &ConnectCaller,
    account_id: &str,
) -> Result<(), ServiceError> {
    caller.require_server()?;
    caller.require_scope("connect:accounts:write")?;
    let account = load(ctx, caller, account_id).await?;
    remove(ctx, caller, &account).await
}

/// Deletes every account of an app in the project environment: `app` is an app id, a slug, or
/// an OAuth client id (`oa_…`, its accounts only). Returns how many went.
///
/// # Errors
/// Unknown app (400), 403.
pub async fn delete_by_app(
    ctx: &App,
    caller: &ConnectCaller,
    app: &str,
) -> Result<usize, ServiceError> {
    caller.require_server()?;
    caller.require_scope("connect:accounts:write")?;
    let (app_slug, oauth_client) = if app.starts_with("oa_") {
        (None, Some(app.to_owned()))
    } else {
        (
            Some(
                tokens::resolve_app(ctx, &caller.project, app)
                    .await?
                    .definition
                    .name_slug
                    .clone(),
            ),
            None,
        )
    };
    let mut deleted = 0;
    loop {
        // Always the first page: what was deleted is gone from the next query.
        let page = ctx
            .store
            .list_accounts(&AccountQuery {
                workspace_id: caller.workspace_id().to_owned(),
                app_slug: app_slug.clone(),
                limit: 100,
                connect: Some(ConnectFilter {
                    project_id: caller.project.id.clone(),
                    environment: caller.environment,
                    external_user_id: None,
                    oauth_client: oauth_client.clone(),
                }),
                ..Default::default()
            })
            .await?;
        if page.items.is_empty() {
            return Ok(deleted);
        }
        for account in &page.items {
            remove(ctx, caller, account).await?;
            deleted += 1;
        }
    }
}

/// Input of `POST /v1/connect/{project_id}/accounts`. `Debug` leaves out the field values.
pub struct NewConnectAccount {
    /// App slug.
    pub app_slug: String,
    /// The custom fields as a JSON object in a string.
    pub cfmap_json: String,
    /// The connect token the end user got.
    pub connect_token: String,
    /// Nickname.
    pub name: Option<String>,
    /// `external_user_id` query parameter (must match the token's).
    pub external_user_id: Option<String>,
    /// A project app override whose preset values fill (and win over) the fields.
    pub app_override_id: Option<String>,
}

impl std::fmt::Debug for NewConnectAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnectAccount")
            .field("app_slug", &self.app_slug)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Parses `cfmap_json`: a JSON object of scalar values.
fn parse_cfmap(raw: &str) -> Result<BTreeMap<String, String>, ValidationError> {
    let bad = || {
        ValidationError::new(
            "cfmap_json",
            "must be a JSON object of field values, in a string",
        )
    };
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad())?;
    let object = value.as_object().ok_or_else(bad)?;
    object
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Ok((k.clone(), n.to_string())),
            serde_json::Value::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(bad()),
        })
        .collect()
}

/// Connects a key-based account for the token's end user and spends the token.
///
/// # Errors
/// Bad input or token (400), a spent token (409), scopes (403).
pub async fn create(
    ctx: &App,
    caller: &ConnectCaller,
    input: NewConnectAccount,
) -> Result<(AccountDetails, CheckResult), ServiceError> {
    caller.require_scope("connect:accounts:write")?;
    let token_error = || {
        ValidationError::new(
            "connect_token",
            "is not a live connect token of this project environment",
        )
    };
    let Some((project, environment, grant)) = tokens::resolve(ctx, &input.connect_token).await?
    else {
        return Err(token_error().into());
    };
    if project.id != caller.project.id || environment != caller.environment {
        return Err(token_error().into());
    }
    if let ConnectPrincipal::Token(bearer) = &caller.principal {
        if bearer.token_hash != grant.token_hash {
            return Err(token_error().into());
        }
    }
    if grant.spent {
        return Err(ServiceError::Conflict(
            "the connect token has already been used".into(),
        ));
    }
    if let Some(asked) = input.external_user_id.as_deref().filter(|s| !s.is_empty()) {
        if asked != grant.external_id {
            return Err(ValidationError::new(
                "external_user_id",
                "does not match the connect token's end user",
            )
            .into());
        }
    }
    let app = tokens::resolve_app(ctx, &project, &input.app_slug).await?;
    if let Some(only) = &grant.settings.app_id {
        if *only != app.id && *only != app.definition.name_slug {
            return Err(ValidationError::new(
                "app_slug",
                "is not the app this connect token is for",
            )
            .into());
        }
    }
    let mut cfmap = parse_cfmap(&input.cfmap_json)?;
    if let Some(id) = input.app_override_id.as_deref().filter(|s| !s.is_empty()) {
        let preset = super::overrides::find(ctx, &project.id, id)
            .await
            .ok()
            .filter(|o| o.app_slug == app.definition.name_slug)
            .ok_or_else(|| {
                ValidationError::new(
                    "app_override_id",
                    "is not an override of this app in this project",
                )
            })?;
        cfmap.extend(super::overrides::preset(&preset));
    }
    let external_id = validate_external_id("external_user_id", &grant.external_id)?;
    let (mut account, app, check) = workspace_accounts::prepare_key_account(
        ctx,
        &project.workspace_id,
        NewAccount {
            app: app.definition.name_slug.clone(),
            name: input.name,
            cfmap,
            skip_check: false,
        },
        None,
    )
    .await?;
    if check.is_failure() {
        let message = format!("the credentials did not work: {}", check.message);
        events::connection_error(ctx, &project, environment, &grant, &message).await;
        return Err(ValidationError::new("cfmap_json", message).into());
    }
    let now = clock::now_ms();
    let user = ctx
        .store
        .upsert_external_user(
            &project.id,
            environment,
            &external_id,
            &ids::generate(ids::EXTERNAL_USER),
            now,
        )
        .await?;
    account.connect = Some(ConnectOwner {
        project_id: project.id.clone(),
        environment,
        external_user_id: user.id,
        external_id,
    });
    match ctx
        .store
        .insert_account_with_token(&account, &hash_token(&input.connect_token), now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ServiceError::Conflict(
                "the connect token has already been used".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let event = crate::audit::Auditor::event(
        &project.workspace_id,
        &caller.actor(),
        "account.connect",
        Some(&account.id),
        "allowed",
        Some(serde_json::json!({"app": account.app_slug, "project": project.id})),
    );
    ctx.audit.record_best_effort(event).await;
    tracing::info!(account.id = %account.id, app = %account.app_slug, project.id = %project.id, check = check.status, "connect account created");
    let details = AccountDetails {
        account,
        app: Some(app),
        credentials: None,
        workflows: None,
    };
    events::connection_success(ctx, &project, environment, &grant, &details).await;
    Ok((details, check))
}

#[cfg(test)]
mod tests {
    use super::parse_cfmap;

    #[test]
    fn cfmap_json_is_an_object_of_scalars_in_a_string() {
        let map = parse_cfmap(r#"{"api_key":"sk","port":5432,"tls":true,"unused":null}"#).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map["port"], "5432");
        for bad in ["", "[]", "\"x\"", r#"{"a":{"b":1}}"#, r#"{"a":[1]}"#, "{"] {
            assert!(parse_cfmap(bad).is_err(), "{bad}");
        }
    }
}
