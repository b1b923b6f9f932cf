//! Connect events for the product's webhook (API.md §7): the outcome of a connection, queued
//! for the connect token's `webhook_uri`. Never with credentials or the token itself.

use latchkey_domain::connect::Environment;
use latchkey_store::Project;

use super::{tokens, TokenGrant};
use crate::{
    service::{accounts::AccountDetails, webhooks},
    App,
};

/// Queues `CONNECTION_SUCCESS` for the token's `webhook_uri` (API.md §7), without credentials.
pub(crate) async fn connection_success(
    ctx: &App,
    project: &Project,
    environment: Environment,
    grant: &TokenGrant,
    details: &AccountDetails,
) {
    let Some(url) = &grant.settings.webhook_uri else {
        return;
    };
    let account = serde_json::to_value(crate::views::account(details, &[])).unwrap_or_default();
    let payload = serde_json::json!({
        "event": "CONNECTION_SUCCESS",
        "connect_session_id": tokens::session_id(&grant.token_hash),
        "environment": environment.as_str(),
        "project_id": project.id,
        "external_user_id": grant.external_id,
        "account": account,
    });
    webhooks::enqueue(
        ctx,
        &project.workspace_id,
        url,
        "CONNECTION_SUCCESS",
        &payload,
    )
    .await;
}

/// Queues `CONNECTION_ERROR` for the token's `webhook_uri`.
pub(crate) async fn connection_error(
    ctx: &App,
    project: &Project,
    environment: Environment,
    grant: &TokenGrant,
    error: &str,
) {
    let Some(url) = &grant.settings.webhook_uri else {
        return;
    };
    let payload = serde_json::json!({
        "event": "CONNECTION_ERROR",
        "connect_session_id": tokens::session_id(&grant.token_hash),
        "environment": environment.as_str(),
        "project_id": project.id,
        "external_user_id": grant.external_id,
        "error": error,
    });
    webhooks::enqueue(
        ctx,
        &project.workspace_id,
        url,
        "CONNECTION_ERROR",
        &payload,
    )
    .await;
}
