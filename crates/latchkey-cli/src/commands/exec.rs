//! `latchkey exec --account apn_… -- COMMAND [ARGS…]`: runs a command with an account's fresh
//! credentials in its environment (`LATCHKEY_<FIELD>`, e.g. `LATCHKEY_OAUTH_ACCESS_TOKEN`).
//!
//! The credentials come from a server (`LATCHKEY_URL`, default `http://127.0.0.1:8080`) through
//! the API with the member's key (`LATCHKEY_API_KEY`), so the access rules and the audit log
//! apply exactly as for any other read; the member's key itself is not passed on.

use std::process::Command;

use anyhow::Context as _;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The account (`apn_…`).
    #[arg(long)]
    account: String,
    /// Server base URL.
    #[arg(long, env = "LATCHKEY_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The member's API key.
    #[arg(long, env = "LATCHKEY_API_KEY", hide_env_values = true)]
    api_key: SecretString,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// `oauth_access_token` → `LATCHKEY_OAUTH_ACCESS_TOKEN` (the same mangling as the operator's
/// `LATCHKEY_OAUTH_<SLUG>_…` settings).
fn variable(field: &str) -> String {
    format!("LATCHKEY_{}", latchkey_server::config::env_slug(field))
}

pub(crate) async fn run(args: ExecArgs) -> anyhow::Result<()> {
    let url = format!(
        "{}/v1/accounts/{}?include_credentials=1",
        args.url.trim_end_matches('/'),
        args.account
    );
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(args.api_key.expose_secret())
        .send()
        .await
        .with_context(|| format!("could not reach {}", args.url))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!(
            "the server refused ({status}): {}",
            body["error"].as_str().unwrap_or("no details")
        );
    }
    let fields = body["data"]["credentials"]
        .as_object()
        .context("the server sent no credentials")?;
    let mut command = Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    // The member's own key stays here; the command gets only the account's credentials.
    command.env_remove("LATCHKEY_API_KEY");
    for (field, value) in fields {
        if let Some(value) = value.as_str() {
            command.env(variable(field), value);
        }
    }
    let status = command
        .status()
        .with_context(|| format!("could not run {}", args.command[0]))?;
    std::process::exit(status.code().unwrap_or(1));
}

#[cfg(test)]
mod tests {
    #[test]
    fn field_names_become_variables() {
        assert_eq!(
            super::variable("oauth_access_token"),
            "LATCHKEY_OAUTH_ACCESS_TOKEN"
        );
        assert_eq!(super::variable("api-key"), "LATCHKEY_API_KEY");
    }
}
