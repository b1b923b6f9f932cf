//! Always-fresh tokens (PRODUCT.md F3; SECURITY.md T-17…T-22).
//!
//! A refresh of one account happens in exactly one place at a time, across threads and
//! instances: the caller takes the account's **refresh lease** with a conditional `UPDATE`
//! (valid for `Config::refresh_lease_ms`), **re-reads the row** and refreshes only if it still needs it, calls
//! the provider *without holding a database connection*, and writes the new tokens with a
//! fenced `UPDATE … WHERE refresh_lease = <mine>`. Everyone else waits for the row's version to
//! change. A response without a refresh token keeps the old one. `invalid_grant` is believed
//! only after a re-read shows nobody else rotated the token meanwhile.

use std::time::Duration;

use latchkey_domain::app::OAuthConfig;
use latchkey_oauth::{TokenError, DEFAULT_EXPIRES_IN_SECONDS};
use latchkey_store::{Account, OAuthUpdate, RefreshFailure};
use rand::Rng;
use secrecy::ExposeSecret;

use super::{client_for, provider};
use crate::{catalog::CatalogApp, clock, service::ServiceError, vault::Credentials, App};

/// Default refresh margin before expiry.
pub const DEFAULT_MARGIN_MS: i64 = 5 * 60 * 1000;
/// Failed refreshes with `invalid_grant` before an account is declared dead.
pub const DEAD_AFTER_FAILURES: i64 = 3;

/// When a token expires and when to refresh it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Expiry (unknown when the provider did not say).
    pub expires_at: Option<i64>,
    /// Next planned refresh (`None`: nothing to refresh with).
    pub next_refresh_at: Option<i64>,
}

/// The refresh margin for a token living `lifetime_ms`: the app's margin (default 5 min), but
/// never more than half the lifetime, so short-lived tokens are not refreshed on every read.
#[must_use]
pub fn margin_ms(oauth: &OAuthConfig, lifetime_ms: i64) -> i64 {
    let configured = oauth
        .refresh_margin_seconds
        .map_or(DEFAULT_MARGIN_MS, |s| i64::from(s) * 1000);
    configured.min(lifetime_ms / 2).max(0)
}

/// Plans the next refresh of a token issued at `now` for `expires_in` seconds: before the
/// margin, minus a random jitter of up to a tenth of the margin so accounts connected together
/// do not all refresh together; no later than the app's keep-alive interval.
#[must_use]
pub fn schedule(
    oauth: &OAuthConfig,
    now: i64,
    expires_in: Option<u64>,
    can_refresh: bool,
) -> Schedule {
    let expires_at = expires_in.map(|s| now + i64::try_from(s).unwrap_or(i64::MAX / 4) * 1000);
    if !can_refresh {
        return Schedule {
            expires_at,
            next_refresh_at: None,
        };
    }
    let lifetime = expires_in.unwrap_or(DEFAULT_EXPIRES_IN_SECONDS) as i64 * 1000;
    let margin = margin_ms(oauth, lifetime);
    let jitter = if margin >= 10 {
        rand::thread_rng().gen_range(0..=margin / 10)
    } else {
        0
    };
    let mut next = now + lifetime - margin - jitter;
    if let Some(keepalive) = oauth.keepalive_seconds {
        next = next.min(now + i64::try_from(keepalive).unwrap_or(i64::MAX / 4) * 1000);
    }
    Schedule {
        expires_at,
        next_refresh_at: Some(next),
    }
}

/// Whether a read at `now` must refresh first: the token expires within the margin.
#[must_use]
pub fn needs_refresh(oauth: &OAuthConfig, account: &Account, now: i64) -> bool {
    let Some(expires_at) = account.expires_at else {
        return false;
    };
    let issued = account.last_refreshed_at.unwrap_or(account.created_at);
    expires_at - margin_ms(oauth, (expires_at - issued).max(0)) <= now
}

fn oauth_of(app: &CatalogApp) -> Option<&OAuthConfig> {
    app.definition.oauth.as_ref()
}

/// Makes sure an OAuth account's token is fresh before its credentials are handed out;
/// returns the (possibly refreshed) row. Key-based accounts pass through.
///
/// # Errors
/// Database or vault failures. A failed refresh is not an error here: the account's health says
/// what happened, and the caller gets the current credentials.
pub async fn ensure_fresh(
    ctx: &App,
    app: Option<&CatalogApp>,
    account: Account,
) -> Result<Account, ServiceError> {
    let Some(oauth) = app.and_then(oauth_of) else {
        return Ok(account);
    };
    if account.dead || !needs_refresh(oauth, &account, clock::now_ms()) {
        return Ok(account);
    }
    refresh_account(ctx, &account.workspace_id, &account.id, Mode::IfDue).await
}

/// Refreshes one account now (single-flight across threads and instances) and returns the row
/// afterwards.
///
/// # Errors
/// Database or vault failures.
pub async fn refresh_account(
    ctx: &App,
    workspace_id: &str,
    account_id: &str,
    mode: Mode,
) -> Result<Account, ServiceError> {
    let load = || async {
        ctx.store
            .get_account(workspace_id, account_id)
            .await?
            .ok_or(ServiceError::NotFound("account"))
    };
    let before = load().await?;
    let lease = latchkey_oauth::random_token();
    let lease_ms = ctx.config.refresh_lease_ms();
    let deadline = clock::now_ms() + lease_ms + 5_000;
    let locked = loop {
        let now = clock::now_ms();
        if let Some(locked) = ctx
            .store
            .acquire_refresh_lease(workspace_id, account_id, &lease, now, now + lease_ms)
            .await?
        {
            break locked;
        }
        // Someone else is refreshing: wait for their result instead of presenting the same
        // refresh token again.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let current = load().await?;
        if current.version != before.version || clock::now_ms() > deadline {
            ctx.caches.forget_account(workspace_id, account_id);
            return Ok(current);
        }
    };
    // Holding the lease. The rest runs as its own task: if the request that triggered it is
    // cancelled (client gone, timeout), the refresh still finishes and commits (T-18, T-37).
    let result = match ctx.shared() {
        Some(app) => {
            let lease = lease.clone();
            tokio::spawn(async move { refresh_with_lease(&app, locked, &lease, mode).await })
                .await
                .map_err(|e| ServiceError::Internal(format!("refresh task failed: {e}")))?
        }
        None => refresh_with_lease(ctx, locked, &lease, mode).await,
    };
    ctx.caches.forget_account(workspace_id, account_id);
    result?;
    load().await
}

/// Whether a refresh honours the backoff after failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads and the scheduler: skip while backing off after a failure.
    IfDue,
    /// An explicit "try now" (operators, tests): ignore the backoff.
    Force,
}

/// Parks an account that cannot be refreshed any more (app or client gone) so it stops being
/// picked up, with an error that says what to do.
async fn park(ctx: &App, account: &Account, lease: &str, error: &str) -> Result<(), ServiceError> {
    let failure = RefreshFailure {
        healthy: false,
        dead: false,
        error: error.to_owned(),
        next_refresh_at: None,
    };
    ctx.store
        .fail_refresh(&account.workspace_id, &account.id, lease, &failure)
        .await?;
    Ok(())
}

async fn refresh_with_lease(
    ctx: &App,
    account: Account,
    lease: &str,
    mode: Mode,
) -> Result<(), ServiceError> {
    let (workspace_id, account_id) = (account.workspace_id.clone(), account.id.clone());
    let (workspace_id, account_id) = (workspace_id.as_str(), account_id.as_str());
    let outcome = refresh_holding_lease(ctx, account, lease, mode).await;
    if outcome.is_err() {
        // Nothing reached the provider successfully on this path (a successful answer is
        // committed inside), so letting go is safe.
        let _ = ctx
            .store
            .release_refresh_lease(workspace_id, account_id, lease)
            .await;
    }
    outcome
}

/// Runs with the lease held, from `account` as read when taking it.
async fn refresh_holding_lease(
    ctx: &App,
    account: Account,
    lease: &str,
    mode: Mode,
) -> Result<(), ServiceError> {
    let (workspace_id, account_id) = (account.workspace_id.as_str(), account.id.as_str());
    let app = ctx
        .catalog
        .resolve(&*ctx.store, workspace_id, &account.app_slug)
        .await?;
    let Some(oauth) = app.as_ref().and_then(oauth_of) else {
        return park(
            ctx,
            &account,
            lease,
            "the app no longer exists or is not an OAuth app",
        )
        .await;
    };
    let now = clock::now_ms();
    let due = account.next_refresh_at.is_some_and(|t| t <= now);
    let backing_off = account.refresh_failures > 0 && !due && mode == Mode::IfDue;
    if account.dead
        || backing_off
        || !(needs_refresh(oauth, &account, now) || due || mode == Mode::Force)
    {
        ctx.store
            .release_refresh_lease(workspace_id, account_id, lease)
            .await?;
        return Ok(());
    }
    let credentials = ctx.vault.open_account(&account).await?;
    if oauth.grant == latchkey_domain::app::OAuthGrant::ClientCredentials {
        // Nothing to refresh with: ask for a new token with the account's own client.
        let Some(client) = super::account_client(&credentials) else {
            return park(
                ctx,
                &account,
                lease,
                "the account has no client id and secret: reconnect it",
            )
            .await;
        };
        let outcome = provider::client_credentials(&ctx.outbound, oauth, &client).await;
        return store_outcome(ctx, &account, oauth, &credentials, lease, outcome).await;
    }
    let Some(refresh_token) = credentials.get("oauth_refresh_token").map(str::to_owned) else {
        let failure = RefreshFailure {
            healthy: account.expires_at.is_none_or(|e| e > now),
            dead: false,
            error:
                "the provider issued no refresh token: reconnect the account when the token expires"
                    .into(),
            next_refresh_at: None,
        };
        ctx.store
            .fail_refresh(workspace_id, account_id, lease, &failure)
            .await?;
        return Ok(());
    };
    let client = match client_for(
        ctx,
        workspace_id,
        &account.app_slug,
        account.oauth_client.as_deref().unwrap_or("default"),
    )
    .await
    {
        Ok(client) => client,
        Err(ServiceError::Invalid(_)) => {
            return park(
                ctx,
                &account,
                lease,
                "the account's OAuth client is not configured any more: reconnect it",
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    let outcome = provider::refresh(&ctx.outbound, oauth, &client, &refresh_token).await;
    super::client_health::observe(ctx, workspace_id, &account.app_slug, &client, &outcome).await;
    store_outcome(ctx, &account, oauth, &credentials, lease, outcome).await
}

/// Commits refreshed tokens. The provider has already rotated, so a database hiccup must not
/// lose them: retry for a while, and never release the lease on failure (a successor would
/// present the rotated-out refresh token). Returns whether they were stored.
async fn commit_refresh(
    ctx: &App,
    workspace_id: &str,
    account_id: &str,
    lease: &str,
    update: &OAuthUpdate,
) -> bool {
    let mut wait = Duration::from_millis(100);
    for _ in 0..8 {
        match ctx
            .store
            .complete_refresh(workspace_id, account_id, lease, update)
            .await
        {
            Ok(stored) => return stored,
            Err(e) => {
                tracing::warn!(account.id = %account_id, error = %e, "could not store refreshed tokens; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::error!(account.id = %account_id, "rotated tokens could not be persisted; the grant may be lost");
    false
}

/// Stores a token response (keeping every other field, and the old refresh token when none
/// came back) or records the failure.
async fn store_outcome(
    ctx: &App,
    account: &Account,
    oauth: &OAuthConfig,
    credentials: &Credentials,
    lease: &str,
    outcome: Result<latchkey_oauth::TokenSet, TokenError>,
) -> Result<(), ServiceError> {
    let (workspace_id, account_id) = (account.workspace_id.as_str(), account.id.as_str());
    match outcome {
        Ok(tokens) => {
            let mut fields: std::collections::BTreeMap<String, String> = credentials
                .field_names()
                .filter_map(|name| {
                    credentials
                        .get(name)
                        .map(|v| (name.to_owned(), v.to_owned()))
                })
                .collect();
            fields.insert(
                "oauth_access_token".into(),
                tokens.access_token.expose_secret().to_owned(),
            );
            if let Some(new_refresh) = &tokens.refresh_token {
                fields.insert(
                    "oauth_refresh_token".into(),
                    new_refresh.expose_secret().to_owned(),
                );
            }
            let credentials = Credentials::from_map(fields);
            let now = clock::now_ms();
            let schedule = schedule(oauth, now, tokens.expires_in, true);
            let (ciphertext, key_id) = ctx.vault.seal(workspace_id, account_id, &credentials).await;
            let update = OAuthUpdate {
                credentials_ciphertext: ciphertext,
                key_id,
                authorized_scopes: tokens
                    .scopes
                    .unwrap_or_else(|| account.authorized_scopes.clone()),
                expires_at: schedule.expires_at,
                next_refresh_at: schedule.next_refresh_at,
                now,
            };
            if commit_refresh(ctx, workspace_id, account_id, lease, &update).await {
                if !account.healthy {
                    record_event(ctx, account, "ACCOUNT_HEALTHY", None).await;
                }
                tracing::info!(account.id = %account_id, "token refreshed");
            } else {
                // Our lease expired and someone else took over: the provider has rotated, and
                // the row is not ours to write any more. Loud, because the grant may be lost.
                tracing::error!(account.id = %account_id, "refreshed tokens could not be stored: the refresh lease was lost");
            }
            Ok(())
        }
        Err(error) => handle_failure(ctx, account, lease, &error).await,
    }
}

async fn handle_failure(
    ctx: &App,
    account: &Account,
    lease: &str,
    error: &TokenError,
) -> Result<(), ServiceError> {
    let now = clock::now_ms();
    let failures = account.refresh_failures + 1;
    let failure = match error {
        TokenError::Transient { retry_after } => {
            // Capped exponential backoff with full jitter, at least what the provider asked.
            let cap = (30_000_i64 << failures.min(7)).min(3_600_000);
            let wait = rand::thread_rng().gen_range(cap / 2..=cap);
            let wait = wait.max(retry_after.map_or(0, |s| i64::try_from(s).unwrap_or(0) * 1000));
            RefreshFailure {
                healthy: account.expires_at.is_none_or(|e| e > now),
                dead: false,
                error: "the provider is unavailable; retrying".into(),
                next_refresh_at: Some(now + wait),
            }
        }
        TokenError::InvalidGrant => {
            // A sibling may have rotated the token between our read and the provider's answer.
            let current = ctx
                .store
                .get_account(&account.workspace_id, &account.id)
                .await?;
            if current.is_some_and(|c| c.version != account.version) {
                ctx.store
                    .release_refresh_lease(&account.workspace_id, &account.id, lease)
                    .await?;
                return Ok(());
            }
            let dead = failures >= DEAD_AFTER_FAILURES;
            RefreshFailure {
                healthy: false,
                dead,
                error: "the provider revoked or expired the grant (invalid_grant): reconnect the account".into(),
                next_refresh_at: (!dead).then(|| now + 60_000 * failures),
            }
        }
        TokenError::InvalidClient(code) => RefreshFailure {
            healthy: false,
            dead: false,
            error: format!(
                "the provider rejected the OAuth client ({code}): an admin must check it"
            ),
            next_refresh_at: Some(now + 3_600_000),
        },
        TokenError::Rejected(code) => RefreshFailure {
            healthy: false,
            dead: false,
            error: format!("the provider refused the refresh ({code})"),
            next_refresh_at: Some(now + 3_600_000),
        },
    };
    tracing::warn!(account.id = %account.id, error = %error, failures, "token refresh failed");
    if ctx
        .store
        .fail_refresh(&account.workspace_id, &account.id, lease, &failure)
        .await?
    {
        if failure.dead && !account.dead {
            record_event(ctx, account, "ACCOUNT_DEAD", Some(&failure.error)).await;
        } else if !failure.healthy && account.healthy {
            record_event(ctx, account, "ACCOUNT_UNHEALTHY", Some(&failure.error)).await;
        }
    }
    Ok(())
}

async fn record_event(ctx: &App, account: &Account, kind: &str, detail: Option<&str>) {
    if let Err(e) = ctx
        .store
        .insert_account_event(
            &account.workspace_id,
            &account.id,
            kind,
            detail,
            clock::now_ms(),
        )
        .await
    {
        tracing::warn!(account.id = %account.id, error = %e, "could not record an account event");
    }
    crate::service::webhooks::health_changed(ctx, account, kind, detail).await;
}

/// One scheduler pass: keeps `refresh_concurrency` refreshes running (below the connection
/// pool size, T-22), claiming due accounts as slots free up, until nothing is due or `limit`
/// accounts were taken. Claims are atomic, so instances running together take disjoint
/// accounts and never wait on each other. Returns how many were taken.
///
/// # Errors
/// On database failure (after the refreshes already running have finished: a refresh is never
/// cut between the provider's answer and the commit).
pub async fn run_due(ctx: std::sync::Arc<App>, limit: u32) -> Result<usize, ServiceError> {
    let concurrency = ctx.config.refresh_concurrency.max(1) as usize;
    let limit = limit as usize;
    let mut tasks = tokio::task::JoinSet::new();
    let (mut taken, mut exhausted) = (0, false);
    loop {
        let want = concurrency.saturating_sub(tasks.len()).min(limit - taken);
        // Claim in chunks (half the slots at least): a claim is a statement of its own, and
        // one per refresh would cost as much as the refresh's own writes.
        let worth_claiming = want > 0 && (tasks.is_empty() || want * 2 >= concurrency);
        if worth_claiming && !exhausted {
            let lease = latchkey_oauth::random_token();
            let now = clock::now_ms();
            let until = now + ctx.config.refresh_lease_ms();
            let claimed = match ctx
                .store
                .claim_due_for_refresh(now, until, &lease, u32::try_from(want).unwrap_or(1))
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    while tasks.join_next().await.is_some() {}
                    return Err(e.into());
                }
            };
            exhausted = claimed.len() < want;
            taken += claimed.len();
            for account in claimed {
                let (ctx, lease) = (ctx.clone(), lease.clone());
                tasks.spawn(async move {
                    let (workspace_id, account_id) = (account.workspace_id.clone(), account.id.clone());
                    // Failures are recorded on the account itself.
                    if let Err(e) = refresh_with_lease(&ctx, account, &lease, Mode::IfDue).await {
                        tracing::warn!(account.id = %account_id, error = %e, "scheduled refresh failed");
                    }
                    ctx.caches.forget_account(&workspace_id, &account_id);
                });
            }
            if !exhausted && tasks.len() < concurrency && taken < limit {
                continue;
            }
        }
        if tasks.join_next().await.is_none() {
            return Ok(taken);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use latchkey_domain::app::{OAuthGrant, TokenAuthMethod};

    use super::*;

    fn oauth(margin: Option<u32>, keepalive: Option<u64>) -> OAuthConfig {
        OAuthConfig {
            grant: OAuthGrant::AuthorizationCode,
            authorization_url: None,
            token_url: None,
            request_token_url: None,
            revocation_url: None,
            issuer: None,
            authorization_response_iss_parameter_supported: false,
            default_scopes: vec![],
            scope_separator: " ".into(),
            pkce: true,
            authorization_params: BTreeMap::new(),
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
            refresh_margin_seconds: margin,
            keepalive_seconds: keepalive,
        }
    }

    #[test]
    fn margins_never_exceed_half_the_lifetime() {
        assert_eq!(margin_ms(&oauth(None, None), 3_600_000), DEFAULT_MARGIN_MS);
        assert_eq!(
            margin_ms(&oauth(None, None), 60_000),
            30_000,
            "a 1-minute token refreshes at 30 s"
        );
        assert_eq!(margin_ms(&oauth(Some(900), None), 3_600_000), 900_000);
    }

    #[test]
    fn schedules_before_expiry_with_bounded_jitter_and_keepalive() {
        let s = schedule(&oauth(None, None), 0, Some(3600), true);
        assert_eq!(s.expires_at, Some(3_600_000));
        let next = s.next_refresh_at.unwrap();
        assert!(
            (3_600_000 - DEFAULT_MARGIN_MS - DEFAULT_MARGIN_MS / 10
                ..=3_600_000 - DEFAULT_MARGIN_MS)
                .contains(&next),
            "{next}"
        );
        assert_eq!(
            schedule(&oauth(None, None), 0, Some(3600), false).next_refresh_at,
            None
        );
        let unknown = schedule(&oauth(None, None), 0, None, true);
        assert_eq!(unknown.expires_at, None);
        assert!(
            unknown.next_refresh_at.is_some(),
            "unknown lifetimes are refreshed on the default schedule"
        );
        let idle = schedule(&oauth(None, Some(600)), 0, Some(86_400), true);
        assert_eq!(idle.next_refresh_at, Some(600_000));
    }
}
