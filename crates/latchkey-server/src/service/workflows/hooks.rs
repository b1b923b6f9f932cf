//! A workflow's HTTP trigger (`POST /hooks/{workflow_id}`): authenticated by the workflow's
//! own secret (`lk_hook_…`, shown once, stored as a SHA-256 hash), not by a member's key.

use latchkey_crypto::{generate_secret, hash_token};
use latchkey_store::Workflow;
use secrecy::{ExposeSecret, SecretString};

use super::load;
use crate::{
    clock,
    service::{Caller, ServiceError},
    App,
};

/// A new secret and its hash.
pub(crate) fn new_secret() -> (SecretString, String) {
    let secret = generate_secret("lk_hook_");
    let hash = hash_token(secret.expose_secret());
    (secret, hash)
}

/// The workflow whose hook secret this is.
///
/// # Errors
/// 404 for an unknown workflow and for a wrong secret alike.
pub(crate) async fn authenticate(
    ctx: &App,
    workflow_id: &str,
    secret: &str,
) -> Result<Workflow, ServiceError> {
    let workflow = ctx
        .store
        .find_workflow(workflow_id)
        .await?
        .ok_or(ServiceError::NotFound("workflow"))?;
    // Comparing digests: the attacker controls the secret, not the digest's bytes.
    if hash_token(secret) != workflow.hook_secret_hash {
        return Err(ServiceError::NotFound("workflow"));
    }
    Ok(workflow)
}

/// Replaces a workflow's hook secret; the old one stops working at once.
///
/// # Errors
/// 404 for unknown workflows; 403 for API clients.
pub async fn rotate(
    ctx: &App,
    caller: &Caller,
    workflow_id: &str,
) -> Result<SecretString, ServiceError> {
    let workflow = load(ctx, caller, workflow_id).await?;
    let (secret, hash) = new_secret();
    ctx.store
        .set_hook_secret(&workflow.workspace_id, &workflow.id, &hash, clock::now_ms())
        .await?;
    Ok(secret)
}
