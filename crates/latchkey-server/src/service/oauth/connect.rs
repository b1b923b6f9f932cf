//! The OAuth 2 authorization-code connect flow (PRODUCT.md F2; SECURITY.md T-09…T-15).
//!
//! 1. `start` (API or UI, as a member): records a flow (10 minutes, single use) with a sealed
//!    PKCE verifier and returns a start link on Latchkey itself.
//! 2. `authorize` (the browser opens the link): binds the flow to that browser with an
//!    HttpOnly cookie, generates `state`, and sends the browser to the provider.
//! 3. `complete` (the provider redirects back to `/oauth/callback`): consumes the flow by its
//!    `state` exactly once, checks the browser binding and the issuer, exchanges the code with
//!    the verifier, seals the tokens and creates the account — or replaces the credentials of
//!    the account being reconnected, in place.

use std::collections::BTreeMap;

use latchkey_crypto::{hash_token, RecordRef};
use latchkey_domain::{access::Operation, app::OAuthGrant, ids, ValidationError};
use latchkey_oauth::{
    authorize_url, check_issuer, random_token, AuthorizeParams, Pkce, TokenError,
};
use latchkey_store::{Account, OAuthFlow, OAuthUpdate, Sharing};
use secrecy::{ExposeSecret, SecretString};

use super::{client_for, code_flow_config, default_client, provider, redirect_uri, refresh};
use crate::{
    clock,
    service::{Caller, ServiceError},
    vault::Credentials,
    App,
};

/// How long a started flow stays usable.
pub const FLOW_TTL_MS: i64 = 10 * 60 * 1000;

fn verifier_record(flow: &OAuthFlow) -> RecordRef<'_> {
    RecordRef {
        table: "oauth_flows",
        workspace_id: &flow.workspace_id,
        row_id: &flow.id,
        field: "pkce_verifier",
    }
}

/// The app a flow connects (gone if it was removed meanwhile).
async fn flow_app(ctx: &App, flow: &OAuthFlow) -> Option<crate::catalog::CatalogApp> {
    ctx.catalog
        .resolve(&*ctx.store, &flow.workspace_id, &flow.app_slug)
        .await
        .ok()
        .flatten()
}

/// The flow's PKCE verifier, unsealed.
async fn open_verifier(ctx: &App, flow: &OAuthFlow) -> Option<SecretString> {
    let bytes = ctx
        .vault
        .open_record(verifier_record(flow), &flow.verifier_ciphertext)
        .await
        .ok()?;
    Some(SecretString::from(String::from_utf8(bytes.to_vec()).ok()?))
}

/// Starts a connect (or reconnect, with `account_id`) for the calling member; returns the link
/// to open in the member's browser.
///
/// # Errors
/// 400 for non-OAuth apps or a missing OAuth client; 404/403 for an account the caller may not
/// reconnect.
pub async fn start(
    ctx: &App,
    caller: &Caller,
    app_key: &str,
    account_id: Option<&str>,
    oauth_app_id: Option<&str>,
) -> Result<String, ServiceError> {
    caller.require_scope("accounts:write")?;
    let user_id = caller.require_member()?.to_owned();
    let workspace_id = caller.workspace_id().to_owned();
    let app = ctx
        .catalog
        .resolve(&*ctx.store, &workspace_id, app_key)
        .await?
        .ok_or_else(|| ValidationError::new("app", "is not an app of the catalog"))?;
    code_flow_config(&app.definition)?;
    let mut reference = oauth_app_id.map(str::to_owned);
    if let Some(id) = account_id {
        let account = ctx
            .store
            .get_account(&workspace_id, id)
            .await?
            .filter(|a| a.connect.is_none())
            .ok_or(ServiceError::NotFound("account"))?;
        caller.authorize(&account, Operation::Reconnect)?;
        if account.app_slug != app.definition.name_slug {
            return Err(ValidationError::new("account_id", "belongs to another app").into());
        }
        // A reconnect keeps the account's client unless another one is chosen.
        reference = reference.or(account.oauth_client);
    }
    let handle = create_flow(
        ctx,
        FlowSpec {
            workspace_id: &workspace_id,
            user_id,
            app: &app,
            account_id: account_id.map(str::to_owned),
            reference,
            connect_token_hash: None,
        },
    )
    .await?;
    Ok(format!(
        "{}/oauth/authorize/{handle}",
        ctx.config.public_base_url()
    ))
}

/// What a new flow connects.
pub(crate) struct FlowSpec<'a> {
    /// Workspace of the account.
    pub(crate) workspace_id: &'a str,
    /// The member who will own it (empty for Connect flows).
    pub(crate) user_id: String,
    /// The app.
    pub(crate) app: &'a crate::catalog::CatalogApp,
    /// The account to reconnect in place.
    pub(crate) account_id: Option<String>,
    /// `default`, `oa_…`, or `None` for the default.
    pub(crate) reference: Option<String>,
    /// Connect flows: the token the connection spends.
    pub(crate) connect_token_hash: Option<String>,
}

/// Records a flow (sealed PKCE verifier, or OAuth 1.0a temporary credentials) and returns the
/// handle of its start link.
pub(crate) async fn create_flow(ctx: &App, spec: FlowSpec<'_>) -> Result<String, ServiceError> {
    let oauth = code_flow_config(&spec.app.definition)?;
    let slug = spec.app.definition.name_slug.as_str();
    // A workspace client brings its own scopes (applied from this connect on).
    let (client, scope_override) = match spec.reference.as_deref() {
        None | Some("default") => (default_client(ctx, spec.workspace_id, slug)?, None),
        Some(id) => super::clients::credentials(ctx, spec.workspace_id, slug, id).await?,
    };
    let handle = random_token();
    let pkce = Pkce::generate();
    let mut flow = OAuthFlow {
        id: ids::generate("flow_"),
        handle_hash: hash_token(&handle),
        // Replaced by the hash of the real state when the browser opens the start link.
        state_hash: format!("pending:{}", ids::generate("")),
        workspace_id: spec.workspace_id.to_owned(),
        user_id: spec.user_id,
        app_slug: slug.to_owned(),
        account_id: spec.account_id,
        oauth_client: client.reference.clone(),
        redirect_uri: redirect_uri(ctx),
        scopes: scope_override.unwrap_or_else(|| oauth.default_scopes.clone()),
        verifier_ciphertext: Vec::new(),
        browser_hash: None,
        created_at: clock::now_ms(),
        expires_at: clock::now_ms() + FLOW_TTL_MS,
        used_at: None,
        connect_token_hash: spec.connect_token_hash,
    };
    // OAuth 1.0a: the first leg happens now (server to server); its temporary credentials take
    // the place of the PKCE verifier in the sealed column.
    let sealed_secret = if oauth.grant == OAuthGrant::Oauth1 {
        let pair = super::oauth1::request_token(&ctx.outbound, oauth, &client, &flow.redirect_uri)
            .await
            .map_err(|m| {
                ValidationError::new(
                    "app",
                    format!("the provider refused to start the sign-in: {m}"),
                )
            })?;
        super::oauth1::pack(&pair)
    } else {
        pkce.verifier.expose_secret().to_owned()
    };
    flow.verifier_ciphertext = ctx
        .vault
        .seal_record(verifier_record(&flow), sealed_secret.as_bytes())
        .await;
    ctx.store.insert_flow(&flow).await?;
    Ok(handle)
}

/// A redirect to the provider plus the browser-binding cookie value to set.
pub struct ProviderRedirect {
    /// The provider's authorization URL.
    pub location: String,
    /// Secret for the binding cookie (only its hash is stored).
    pub browser_secret: String,
}

/// Why a flow could not continue; the message is for the person in the browser.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FlowError {
    /// Machine-readable code (also sent to the opener).
    pub code: &'static str,
    /// For people.
    pub message: String,
}

pub(crate) fn flow_error(code: &'static str, message: impl Into<String>) -> FlowError {
    FlowError {
        code,
        message: message.into(),
    }
}

/// What the confirmation page shows about a flow.
pub struct FlowDescription {
    /// The app's name.
    pub app_name: String,
    /// The workspace the account will belong to.
    pub workspace_name: String,
    /// The member who will own it.
    pub member_email: String,
}

fn invalid_link() -> FlowError {
    flow_error(
        "invalid_link",
        "This connect link has expired or was already used. Start again.",
    )
}

/// The flow behind a start link that is unexpired and unused.
async fn open_link(ctx: &App, handle: &str) -> Result<OAuthFlow, FlowError> {
    ctx.store
        .find_flow_by_handle(&hash_token(handle), clock::now_ms())
        .await
        .map_err(|_| {
            flow_error(
                "unavailable",
                "Latchkey could not start the connection. Try again.",
            )
        })?
        .filter(|f| f.browser_hash.is_none())
        .ok_or_else(invalid_link)
}

/// Describes an open start link.
///
/// # Errors
/// [`FlowError`] for unknown, expired or used links.
pub async fn describe(ctx: &App, handle: &str) -> Result<FlowDescription, FlowError> {
    let unavailable = invalid_link;
    let flow = open_link(ctx, handle).await?;
    if flow.browser_hash.is_some() {
        return Err(invalid_link());
    }
    let app = flow_app(ctx, &flow).await.ok_or_else(unavailable)?;
    let workspace = ctx
        .store
        .find_workspace(&flow.workspace_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(unavailable)?;
    let member = ctx
        .store
        .get_member(&flow.workspace_id, &flow.user_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(unavailable)?;
    Ok(FlowDescription {
        app_name: app.definition.name.clone(),
        workspace_name: workspace.name,
        member_email: member.email,
    })
}

/// Opens a start link: binds the flow to this browser and redirects to the provider.
///
/// # Errors
/// [`FlowError`] for unknown, expired, used or already-opened links.
pub async fn authorize(ctx: &App, handle: &str) -> Result<ProviderRedirect, FlowError> {
    let unavailable = invalid_link;
    let flow = open_link(ctx, handle).await?;
    let app = flow_app(ctx, &flow).await.ok_or_else(unavailable)?;
    let oauth = code_flow_config(&app.definition).map_err(|_| unavailable())?;
    let client = client_for(ctx, &flow.workspace_id, &flow.app_slug, &flow.oauth_client)
        .await
        .map_err(|e| flow_error("no_client", e.to_string()))?;
    let sealed = open_verifier(ctx, &flow).await.ok_or_else(unavailable)?;
    // OAuth 1.0a: the temporary token is the state the provider will send back.
    let temporary = (oauth.grant == OAuthGrant::Oauth1)
        .then(|| super::oauth1::unpack(sealed.expose_secret()))
        .flatten();
    let state = temporary
        .as_ref()
        .map_or_else(random_token, |(token, _)| token.clone());
    let browser_secret = random_token();
    let bound = ctx
        .store
        .bind_flow_browser(&flow.id, &hash_token(&browser_secret), &hash_token(&state))
        .await
        .map_err(|_| unavailable())?;
    if !bound {
        return Err(flow_error(
            "invalid_link",
            "This connect link was already opened in another browser. Start again.",
        ));
    }
    let location = if temporary.is_some() {
        super::oauth1::authorize_location(oauth, &state)
            .map_err(|m| flow_error("misconfigured", m))?
    } else {
        let pkce = Pkce::from_verifier(sealed);
        authorize_url(
            oauth,
            &AuthorizeParams {
                client_id: &client.client_id,
                redirect_uri: &flow.redirect_uri,
                scopes: &flow.scopes,
                state: &state,
                code_challenge: oauth.pkce.then_some(pkce.challenge.as_str()),
            },
        )
        .map_err(|m| flow_error("misconfigured", m))?
        .to_string()
    };
    Ok(ProviderRedirect {
        location,
        browser_secret,
    })
}

/// What the provider sent to the callback. `Debug` hides the code, state and verifier.
#[derive(Default)]
pub struct CallbackParams {
    /// Authorization code.
    pub code: Option<String>,
    /// Our state.
    pub state: Option<String>,
    /// RFC 9207 issuer.
    pub iss: Option<String>,
    /// OAuth error code (e.g. `access_denied`).
    pub error: Option<String>,
    /// OAuth 1.0a: the temporary token (our state).
    pub oauth_token: Option<String>,
    /// OAuth 1.0a: the verifier.
    pub oauth_verifier: Option<String>,
    /// OAuth 1.0a: set (to the temporary token) when the user declined.
    pub denied: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("oauth1", &self.oauth_token.is_some())
            .finish_non_exhaustive()
    }
}

/// Finishes a flow; returns the connected account's id.
///
/// # Errors
/// [`FlowError`] with a message for people (never a 500 for provider errors).
pub async fn complete(
    ctx: &App,
    params: CallbackParams,
    browser_secret: Option<&str>,
) -> Result<String, FlowError> {
    let state = params
        .state
        .as_deref()
        .or(params.oauth_token.as_deref())
        .or(params.denied.as_deref())
        .ok_or_else(|| {
            flow_error(
                "invalid_state",
                "The response from the provider is missing its state. Start again.",
            )
        })?;
    let flow = ctx
        .store
        .consume_flow(&hash_token(state), clock::now_ms())
        .await
        .map_err(|_| {
            flow_error(
                "unavailable",
                "Latchkey could not finish the connection. Try again.",
            )
        })?
        .ok_or_else(|| {
            flow_error(
                "invalid_state",
                "This sign-in has expired or was already completed. Start again.",
            )
        })?;
    let same_browser = browser_secret
        .is_some_and(|s| flow.browser_hash.as_deref() == Some(hash_token(s).as_str()));
    let result = if same_browser {
        finish(ctx, &flow, params).await
    } else {
        Err(flow_error(
            "invalid_state",
            "This sign-in was started in another browser. Start again from this one.",
        ))
    };
    if let (Err(error), Some(token_hash)) = (&result, &flow.connect_token_hash) {
        crate::service::connect::oauth::report_error(ctx, token_hash, &error.message).await;
    }
    result
}

/// The rest of [`complete`], once the flow is consumed and the browser checked.
async fn finish(ctx: &App, flow: &OAuthFlow, params: CallbackParams) -> Result<String, FlowError> {
    let flow = flow.clone();
    let app = flow_app(ctx, &flow)
        .await
        .ok_or_else(|| flow_error("invalid_state", "The app of this sign-in no longer exists."))?;
    let oauth = code_flow_config(&app.definition)
        .map_err(|e| flow_error("misconfigured", e.to_string()))?;
    let error = params
        .error
        .as_deref()
        .or(params.denied.as_ref().map(|_| "access_denied"));
    if let Some(error) = error {
        let message = match error {
            "access_denied" => format!(
                "Access was denied at {}. Nothing was connected.",
                app.definition.name
            ),
            _ => format!(
                "{} refused the connection ({}).",
                app.definition.name,
                error
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(40)
                    .collect::<String>()
            ),
        };
        return Err(FlowError {
            code: if error == "access_denied" {
                "access_denied"
            } else {
                "provider_error"
            },
            message,
        });
    }
    if oauth.grant == OAuthGrant::Oauth1 {
        return finish_oauth1(
            ctx,
            &flow,
            &app.definition.name,
            oauth,
            params.oauth_verifier.as_deref(),
        )
        .await;
    }
    check_issuer(
        oauth.issuer.as_deref(),
        oauth.authorization_response_iss_parameter_supported,
        params.iss.as_deref(),
    )
    .map_err(|e| flow_error("invalid_issuer", format!("{e}. Nothing was connected.")))?;
    let code = params.code.as_deref().ok_or_else(|| {
        flow_error(
            "invalid_request",
            "The provider sent no authorization code.",
        )
    })?;
    let client = client_for(ctx, &flow.workspace_id, &flow.app_slug, &flow.oauth_client)
        .await
        .map_err(|e| flow_error("no_client", e.to_string()))?;
    let verifier = open_verifier(ctx, &flow).await.ok_or_else(|| {
        flow_error(
            "unavailable",
            "Latchkey could not finish the connection. Try again.",
        )
    })?;
    let outcome = provider::exchange_code(
        &ctx.outbound,
        oauth,
        &client,
        code,
        &flow.redirect_uri,
        oauth.pkce.then_some(&verifier),
    )
    .await;
    super::client_health::observe(ctx, &flow.workspace_id, &flow.app_slug, &client, &outcome).await;
    let tokens = outcome
        .map_err(|e| match e {
            TokenError::Transient { .. } => flow_error("provider_unavailable", format!("{} is not answering. Try again in a moment.", app.definition.name)),
            TokenError::InvalidClient(_) => flow_error("invalid_client", format!("{} rejected Latchkey's OAuth client. Ask an admin to check it.", app.definition.name)),
            _ => flow_error("invalid_grant", format!("{} did not accept the sign-in (the code was invalid or already used). Start again.", app.definition.name)),
        })?;
    let now = clock::now_ms();
    let mut fields = BTreeMap::from([
        (
            "oauth_access_token".to_owned(),
            tokens.access_token.expose_secret().to_owned(),
        ),
        ("oauth_client_id".to_owned(), client.client_id.clone()),
    ]);
    if let Some(refresh_token) = &tokens.refresh_token {
        fields.insert(
            "oauth_refresh_token".to_owned(),
            refresh_token.expose_secret().to_owned(),
        );
    }
    if let Some(uid) = &tokens.uid {
        fields.insert("oauth_uid".to_owned(), uid.clone());
    }
    let credentials = Credentials::from_map(fields);
    let schedule = refresh::schedule(
        oauth,
        now,
        tokens.expires_in,
        tokens.refresh_token.is_some(),
    );
    let scopes = tokens.scopes.unwrap_or_else(|| flow.scopes.clone());
    store_connected(
        ctx,
        &flow,
        &app.definition.name,
        &credentials,
        schedule,
        scopes,
    )
    .await
}

async fn finish_oauth1(
    ctx: &App,
    flow: &OAuthFlow,
    app_name: &str,
    oauth: &latchkey_domain::app::OAuthConfig,
    verifier: Option<&str>,
) -> Result<String, FlowError> {
    let verifier =
        verifier.ok_or_else(|| flow_error("invalid_request", "The provider sent no verifier."))?;
    let client = client_for(ctx, &flow.workspace_id, &flow.app_slug, &flow.oauth_client)
        .await
        .map_err(|e| flow_error("no_client", e.to_string()))?;
    let sealed = open_verifier(ctx, flow).await.ok_or_else(|| {
        flow_error(
            "unavailable",
            "Latchkey could not finish the connection. Try again.",
        )
    })?;
    let (token, secret) = super::oauth1::unpack(sealed.expose_secret()).ok_or_else(|| {
        flow_error(
            "unavailable",
            "Latchkey could not finish the connection. Try again.",
        )
    })?;
    let pair = super::oauth1::access_token(
        &ctx.outbound,
        oauth,
        &client,
        (&token, &secret),
        verifier,
        app_name,
    )
    .await?;
    let mut fields = BTreeMap::from([
        ("oauth_access_token".to_owned(), pair.token.clone()),
        (
            "oauth_token_secret".to_owned(),
            pair.secret.expose_secret().to_owned(),
        ),
        ("oauth_client_id".to_owned(), client.client_id.clone()),
    ]);
    if let Some(uid) = pair.extra.get("user_id").or(pair.extra.get("screen_name")) {
        fields.insert("oauth_uid".to_owned(), uid.clone());
    }
    // OAuth 1 access tokens do not expire and are never refreshed.
    let schedule = refresh::Schedule {
        expires_at: None,
        next_refresh_at: None,
    };
    store_connected(
        ctx,
        flow,
        app_name,
        &Credentials::from_map(fields),
        schedule,
        flow.scopes.clone(),
    )
    .await
}

/// Saves the credentials of a finished flow: a new private account of the member, or the
/// reconnected account's credentials replaced in place. Returns the account id.
pub(super) async fn store_connected(
    ctx: &App,
    flow: &OAuthFlow,
    app_name: &str,
    credentials: &Credentials,
    schedule: refresh::Schedule,
    scopes: Vec<String>,
) -> Result<String, FlowError> {
    if let Some(token_hash) = &flow.connect_token_hash {
        return crate::service::connect::oauth::store_connected(
            ctx,
            flow,
            token_hash,
            app_name,
            credentials,
            schedule,
            scopes,
        )
        .await;
    }
    let (account_id, update) = seal_for(ctx, flow, credentials, schedule, scopes).await;
    let stored = if flow.account_id.is_some() {
        ctx.caches.forget_account(&flow.workspace_id, &account_id);
        ctx.store
            .reconnect_account(
                &flow.workspace_id,
                &account_id,
                &flow.user_id,
                &flow.oauth_client,
                &update,
            )
            .await
    } else {
        ctx.store
            .insert_account(&Account {
                owner_id: Some(flow.user_id.clone()),
                ..new_account(flow, &account_id, app_name, &update)
            })
            .await
    };
    stored.map_err(|e| {
        tracing::error!(flow.id = %flow.id, error = %e, "could not store a connected account");
        flow_error(
            "unavailable",
            "Latchkey could not save the account. Try again.",
        )
    })?;
    let event = crate::audit::Auditor::event(
        &flow.workspace_id,
        &crate::audit::Actor {
            kind: "member",
            id: flow.user_id.clone(),
        },
        if flow.account_id.is_some() {
            "account.reconnect"
        } else {
            "account.connect"
        },
        Some(&account_id),
        "allowed",
        Some(serde_json::json!({"app": flow.app_slug, "oauth_client": flow.oauth_client})),
    );
    ctx.audit.record_best_effort(event).await;
    tracing::info!(account.id = %account_id, app = %flow.app_slug, reconnect = flow.account_id.is_some(), "OAuth account connected");
    Ok(account_id)
}

/// The account id of a finished flow (the reconnected one, or a new one) and its sealed
/// credentials.
pub(crate) async fn seal_for(
    ctx: &App,
    flow: &OAuthFlow,
    credentials: &Credentials,
    schedule: refresh::Schedule,
    scopes: Vec<String>,
) -> (String, OAuthUpdate) {
    let account_id = flow
        .account_id
        .clone()
        .unwrap_or_else(|| ids::generate(ids::ACCOUNT));
    let (ciphertext, key_id) = ctx
        .vault
        .seal(&flow.workspace_id, &account_id, credentials)
        .await;
    let update = OAuthUpdate {
        credentials_ciphertext: ciphertext,
        key_id,
        authorized_scopes: scopes,
        expires_at: schedule.expires_at,
        next_refresh_at: schedule.next_refresh_at,
        now: clock::now_ms(),
    };
    (account_id, update)
}

/// A new, healthy, private account for a finished flow; the caller sets its owner (a member)
/// or its Connect end user.
pub(crate) fn new_account(
    flow: &OAuthFlow,
    account_id: &str,
    app_name: &str,
    update: &OAuthUpdate,
) -> Account {
    Account {
        id: account_id.to_owned(),
        workspace_id: flow.workspace_id.clone(),
        app_slug: flow.app_slug.clone(),
        name: app_name.to_owned(),
        owner_id: None,
        sharing: Sharing::Private,
        credentials_ciphertext: update.credentials_ciphertext.clone(),
        key_id: update.key_id,
        healthy: true,
        dead: false,
        error: None,
        authorized_scopes: update.authorized_scopes.clone(),
        expires_at: update.expires_at,
        created_at: update.now,
        updated_at: update.now,
        version: 1,
        oauth_client: Some(flow.oauth_client.clone()),
        last_refreshed_at: Some(update.now),
        next_refresh_at: update.next_refresh_at,
        refresh_failures: 0,
        shared_with: Vec::new(),
        connect: None,
    }
}
