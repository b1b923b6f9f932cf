//! Workspace environment variables (PRODUCT.md F17): named values for services that are not in
//! the catalog, sealed like credentials, managed by admins. A variable marked secret is
//! write-only from then on. Code steps see them as process environment variables, HTTP steps as
//! `{{env.NAME}}`; every value is redacted from run logs like credentials.

use latchkey_crypto::RecordRef;
use latchkey_domain::ValidationError;
use latchkey_store::EnvVar;
use secrecy::{ExposeSecret, SecretString};

use super::{Caller, ServiceError};
use crate::{clock, App};

/// A variable as the API shows it: the value only when it is not secret.
#[derive(Debug)]
pub struct EnvVarView {
    /// Name.
    pub name: String,
    /// Write-only?
    pub secret: bool,
    /// The value of a non-secret variable.
    pub value: Option<String>,
    /// Last change.
    pub updated_at: i64,
}

fn record<'a>(workspace_id: &'a str, name: &'a str) -> RecordRef<'a> {
    RecordRef {
        table: "env_vars",
        workspace_id,
        row_id: name,
        field: "value",
    }
}

/// `NAME`: an upper-case identifier, and none of the names the runner itself sets.
fn check_name(name: &str) -> Result<(), ValidationError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(ValidationError::new(
            "name",
            "must be an upper-case identifier (A-Z, 0-9, _; up to 64)",
        ));
    }
    if ["PATH", "HOME"].contains(&name) || name.starts_with("LK_") {
        return Err(ValidationError::new(
            "name",
            "is reserved for the step runner",
        ));
    }
    Ok(())
}

async fn open(ctx: &App, var: &EnvVar) -> Result<String, ServiceError> {
    let plain = ctx
        .vault
        .open_record(record(&var.workspace_id, &var.name), &var.value_ciphertext)
        .await?;
    String::from_utf8(plain.to_vec())
        .map_err(|_| ServiceError::Internal("an environment variable is not UTF-8".into()))
}

/// The workspace's variables (any member; secret values are never shown).
///
/// # Errors
/// 403 for API clients; database or vault failure.
pub async fn list(ctx: &App, caller: &Caller) -> Result<Vec<EnvVarView>, ServiceError> {
    caller.require_member()?;
    let mut out = Vec::new();
    for var in ctx.store.list_env_vars(caller.workspace_id()).await? {
        let value = if var.secret {
            None
        } else {
            Some(open(ctx, &var).await?)
        };
        out.push(EnvVarView {
            name: var.name,
            secret: var.secret,
            value,
            updated_at: var.updated_at,
        });
    }
    Ok(out)
}

/// Sets a variable (admins). A secret variable cannot be made visible again.
///
/// # Errors
/// 400 for a bad name or value, 403 for non-admins.
pub async fn put(
    ctx: &App,
    caller: &Caller,
    name: &str,
    value: &SecretString,
    secret: Option<bool>,
) -> Result<EnvVarView, ServiceError> {
    caller.require_admin()?;
    check_name(name)?;
    let text = value.expose_secret();
    if text.len() > 32 * 1024 || text.contains('\0') {
        return Err(ValidationError::new("value", "must be at most 32 KiB without NUL").into());
    }
    let existing = ctx
        .store
        .list_env_vars(caller.workspace_id())
        .await?
        .into_iter()
        .find(|v| v.name == name);
    let was_secret = existing.as_ref().is_some_and(|v| v.secret);
    if was_secret && secret == Some(false) {
        return Err(ValidationError::new(
            "secret",
            "a secret variable stays secret (delete it to start over)",
        )
        .into());
    }
    let secret = was_secret || secret.unwrap_or(false);
    let now = clock::now_ms();
    let var = EnvVar {
        workspace_id: caller.workspace_id().to_owned(),
        name: name.to_owned(),
        value_ciphertext: ctx
            .vault
            .seal_record(record(caller.workspace_id(), name), text.as_bytes())
            .await,
        key_id: ctx.vault.current_key_id().await,
        secret,
        created_at: existing.map_or(now, |v| v.created_at),
        updated_at: now,
    };
    ctx.store.put_env_var(&var).await?;
    caller
        .audit(
            ctx,
            "env.set",
            None,
            "allowed",
            Some(serde_json::json!({"name": name, "secret": secret})),
        )
        .await;
    Ok(EnvVarView {
        name: var.name,
        secret,
        value: (!secret).then(|| text.to_owned()),
        updated_at: now,
    })
}

/// Deletes a variable (admins).
///
/// # Errors
/// 403, 404.
pub async fn delete(ctx: &App, caller: &Caller, name: &str) -> Result<(), ServiceError> {
    caller.require_admin()?;
    ctx.store
        .delete_env_var(caller.workspace_id(), name)
        .await
        .map_err(|e| match e {
            latchkey_store::StoreError::NotFound => ServiceError::NotFound("environment variable"),
            other => other.into(),
        })?;
    caller
        .audit(
            ctx,
            "env.delete",
            None,
            "allowed",
            Some(serde_json::json!({"name": name})),
        )
        .await;
    Ok(())
}

/// Every variable of a workspace with its value, for a run.
///
/// # Errors
/// Database or vault failure.
pub async fn for_run(ctx: &App, workspace_id: &str) -> Result<Vec<(String, String)>, ServiceError> {
    let mut out = Vec::new();
    for var in ctx.store.list_env_vars(workspace_id).await? {
        let value = open(ctx, &var).await?;
        out.push((var.name, value));
    }
    Ok(out)
}

/// Replaces `{{env.NAME}}` in `text`.
///
/// # Errors
/// A message naming an unknown variable.
pub fn substitute(text: &str, vars: &[(String, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{env.") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{{env.".len()..];
        let end = after
            .find("}}")
            .ok_or("an {{env.…}} reference is not closed")?;
        let name = after[..end].trim();
        let value = vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("there is no environment variable {name}"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_replaced_and_unknown_ones_refused() {
        let vars = vec![("API_TOKEN".to_owned(), "t0k3n".to_owned())];
        assert_eq!(
            substitute("Bearer {{env.API_TOKEN}}!", &vars).unwrap(),
            "Bearer t0k3n!"
        );
        assert_eq!(substitute("plain", &vars).unwrap(), "plain");
        assert!(substitute("{{env.NOPE}}", &vars)
            .unwrap_err()
            .contains("NOPE"));
        assert!(substitute("{{env.API_TOKEN", &vars).is_err());
        assert!(check_name("STRIPE_KEY").is_ok());
        assert!(check_name("lower").is_err() && check_name("PATH").is_err());
    }
}
