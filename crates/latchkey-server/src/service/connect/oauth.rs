//! OAuth connections for end users, from the hosted connect page: the member flow of
//! `service::oauth::connect`, bound to a connect token instead of a member. The flow is bound to
//! the browser as soon as it starts (the connect page is the person's confirmation), and the
//! account it creates belongs to the token's end user, spending the token.

use latchkey_domain::ids;
use latchkey_store::{Account, ConnectOwner, OAuthFlow, StoreError};

use super::{events, tokens};
use crate::{
    catalog::CatalogApp,
    service::{
        accounts as workspace_accounts,
        oauth::{
            code_flow_config,
            connect::{self as flow, flow_error, FlowError, FlowSpec, ProviderRedirect},
            refresh::Schedule,
        },
    },
    vault::Credentials,
    App,
};

/// What the connect page asks for.
#[derive(Debug, Default)]
pub struct StartParams {
    /// App slug or id.
    pub app: String,
    /// Account of the token's end user to reconnect.
    pub account_id: Option<String>,
    /// A workspace OAuth client (`oa_…`).
    pub oauth_app_id: Option<String>,
    /// A project app override (its OAuth client applies).
    pub app_override_id: Option<String>,
}

fn refused(message: impl Into<String>) -> FlowError {
    flow_error("invalid_request", message)
}

/// Starts a connection for the token's end user; the caller redirects the browser to the
/// provider and sets the binding cookie.
///
/// # Errors
/// [`FlowError`] for a dead or spent token, an app the token does not allow, a missing OAuth
/// client, or an account that is not the end user's.
pub async fn start(
    ctx: &App,
    token: &str,
    params: StartParams,
) -> Result<ProviderRedirect, FlowError> {
    let unavailable = || {
        flow_error(
            "unavailable",
            "Latchkey could not start the connection. Try again.",
        )
    };
    let (project, environment, grant) = tokens::resolve(ctx, token)
        .await
        .map_err(|_| unavailable())?
        .ok_or_else(|| {
            flow_error(
                "invalid_token",
                "This connect link has expired. Ask for a new one.",
            )
        })?;
    if grant.spent {
        return Err(flow_error(
            "invalid_token",
            "This connect link was already used. Ask for a new one.",
        ));
    }
    let app: CatalogApp = ctx
        .catalog
        .resolve(&*ctx.store, &project.workspace_id, &params.app)
        .await
        .map_err(|_| unavailable())?
        .ok_or_else(|| refused(format!("{} is not an app of the catalog", params.app)))?;
    if let Some(only) = &grant.settings.app_id {
        if *only != app.id && *only != app.definition.name_slug {
            return Err(refused("This connect link is for another app."));
        }
    }
    code_flow_config(&app.definition).map_err(|e| refused(e.to_string()))?;
    let preset_client = match params.app_override_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => {
            let o = super::overrides::find(ctx, &project.id, id)
                .await
                .ok()
                .filter(|o| o.app_slug == app.definition.name_slug)
                .ok_or_else(|| refused("The app override does not exist for this app."))?;
            o.oauth_app_id
        }
        None => None,
    };
    let asked = params
        .oauth_app_id
        .filter(|s| !s.is_empty())
        .or(preset_client);
    let reference = match (&grant.settings.oauth_app_id, asked) {
        (Some(only), Some(asked)) if *only != asked => {
            return Err(refused("This connect link is for another OAuth client."))
        }
        (Some(only), _) => Some(only.clone()),
        (None, asked) => asked,
    };
    let account_id = params.account_id.filter(|s| !s.is_empty());
    if let Some(id) = &account_id {
        let owned = ctx
            .store
            .get_account(&project.workspace_id, id)
            .await
            .map_err(|_| unavailable())?
            .filter(|a| a.app_slug == app.definition.name_slug)
            .and_then(|a| a.connect)
            .is_some_and(|c| {
                c.project_id == project.id
                    && c.environment == environment
                    && c.external_id == grant.external_id
            });
        if !owned {
            return Err(refused(
                "The account to reconnect is not yours or is of another app.",
            ));
        }
    }
    let handle = flow::create_flow(
        ctx,
        FlowSpec {
            workspace_id: &project.workspace_id,
            user_id: String::new(),
            app: &app,
            account_id,
            reference,
            connect_token_hash: Some(grant.token_hash.clone()),
        },
    )
    .await
    .map_err(|e| match e {
        crate::service::ServiceError::Invalid(v) => refused(v.to_string()),
        other => refused(other.to_string()),
    })?;
    flow::authorize(ctx, &handle).await
}

/// Saves the credentials of a finished Connect flow: a new account of the end user (spending the
/// token atomically), or the reconnected account replaced in place.
pub(crate) async fn store_connected(
    ctx: &App,
    flow: &OAuthFlow,
    token_hash: &str,
    app_name: &str,
    credentials: &Credentials,
    schedule: Schedule,
    scopes: Vec<String>,
) -> Result<String, FlowError> {
    let unavailable = || {
        flow_error(
            "unavailable",
            "Latchkey could not save the account. Try again.",
        )
    };
    let (project, environment, grant) = tokens::lookup(ctx, token_hash)
        .await
        .map_err(|_| unavailable())?
        .ok_or_else(|| flow_error("invalid_token", "The connect link no longer exists."))?;
    let (account_id, update) = flow::seal_for(ctx, flow, credentials, schedule, scopes).await;
    let now = update.now;
    let spent = || {
        flow_error(
            "invalid_token",
            "This connect link was already used. Ask for a new one.",
        )
    };
    // The flow started with a live token; it may expire during the sign-in, which is fine.
    let stored = if flow.account_id.is_some() {
        ctx.caches.forget_account(&flow.workspace_id, &account_id);
        match ctx
            .store
            .spend_connect_token(token_hash, flow.created_at)
            .await
        {
            Err(StoreError::Conflict(_)) => return Err(spent()),
            Err(_) => return Err(unavailable()),
            Ok(()) => {}
        }
        ctx.store
            .reconnect_account(
                &flow.workspace_id,
                &account_id,
                "",
                &flow.oauth_client,
                &update,
            )
            .await
    } else {
        let user = ctx
            .store
            .upsert_external_user(
                &project.id,
                environment,
                &grant.external_id,
                &ids::generate(ids::EXTERNAL_USER),
                now,
            )
            .await
            .map_err(|_| unavailable())?;
        let account = Account {
            connect: Some(ConnectOwner {
                project_id: project.id.clone(),
                environment,
                external_user_id: user.id,
                external_id: grant.external_id.clone(),
            }),
            ..flow::new_account(flow, &account_id, app_name, &update)
        };
        ctx.store
            .insert_account_with_token(&account, token_hash, flow.created_at)
            .await
    };
    match stored {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(spent()),
        Err(e) => {
            tracing::error!(flow.id = %flow.id, error = %e, "could not store a Connect account");
            return Err(unavailable());
        }
    }
    let event = crate::audit::Auditor::event(
        &flow.workspace_id,
        &crate::audit::Actor {
            kind: "end_user",
            id: grant.external_id.clone(),
        },
        if flow.account_id.is_some() {
            "account.reconnect"
        } else {
            "account.connect"
        },
        Some(&account_id),
        "allowed",
        Some(
            serde_json::json!({"app": flow.app_slug, "project": project.id, "oauth_client": flow.oauth_client}),
        ),
    );
    ctx.audit.record_best_effort(event).await;
    if let Ok(Some(account)) = ctx.store.get_account(&flow.workspace_id, &account_id).await {
        if let Ok(details) = workspace_accounts::expand(ctx, account, false).await {
            events::connection_success(ctx, &project, environment, &grant, &details).await;
        }
    }
    tracing::info!(account.id = %account_id, app = %flow.app_slug, project.id = %project.id, "Connect OAuth account connected");
    Ok(account_id)
}

/// Tells the product's webhook that a Connect flow failed.
pub(crate) async fn report_error(ctx: &App, token_hash: &str, message: &str) {
    if let Ok(Some((project, environment, grant))) = tokens::lookup(ctx, token_hash).await {
        events::connection_error(ctx, &project, environment, &grant, message).await;
    }
}
