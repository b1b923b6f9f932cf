//! `init`, `workspaces create`, `members add`, `api-clients create`.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::Context;
use clap::{Args, Subcommand};
use latchkey_domain::role::Role;
use latchkey_server::{app::KeyPolicy, service::provisioning};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::{output, Global};

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The owner's email.
    #[arg(long)]
    email: String,
    /// File holding the owner's password (`-` for standard input).
    #[arg(long)]
    password_file: PathBuf,
    /// Workspace name.
    #[arg(long, default_value = "Default")]
    workspace: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WorkspacesCommand {
    /// Create another workspace and its owner.
    Create {
        /// Workspace name.
        #[arg(long)]
        name: String,
        /// The owner's email.
        #[arg(long)]
        owner_email: String,
        /// File holding the owner's password (`-` for standard input).
        #[arg(long)]
        password_file: PathBuf,
    },
    /// List workspaces.
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MembersCommand {
    /// Add a member; prints their API key (shown once).
    Add {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// The member's email.
        #[arg(long)]
        email: String,
        /// `admin` or `member`.
        #[arg(long, value_parser = ["admin", "member"])]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiClientsCommand {
    /// Create an API client; prints its id and secret (shown once).
    Create {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// Display name.
        #[arg(long, default_value = "API client")]
        name: String,
        /// Scopes (space- or comma-separated; default `*`).
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Revoke an API client and every token issued to it (running servers stop accepting them
    /// within the cache TTL, 2 s by default).
    Revoke {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// The client id (`lkc_…`).
        #[arg(long)]
        client_id: String,
    },
}

fn read_password(path: &Path) -> anyhow::Result<SecretString> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("could not read the password from standard input")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the password file {}", path.display()))?;
    }
    Ok(SecretString::from(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

async fn create_workspace(
    global: &Global,
    name: &str,
    email: &str,
    password_file: &Path,
) -> anyhow::Result<()> {
    let password = read_password(password_file)?;
    let app = super::app(global, KeyPolicy::GenerateOnFirstStart).await?;
    let issued = provisioning::create_workspace(&*app.store, name, email, Some(&password)).await?;
    let key = issued.api_key.expose_secret();
    output::print(
        global.json,
        &json!({ "workspace_id": issued.workspace_id, "user_id": issued.user_id, "api_key": key }),
        || {
            format!(
                "Workspace {name} ({}) created with owner {email} ({}).\nAPI key (shown once, store it now):\n{key}",
                issued.workspace_id, issued.user_id
            )
        },
    );
    Ok(())
}

pub(crate) async fn init(global: &Global, args: InitArgs) -> anyhow::Result<()> {
    create_workspace(global, &args.workspace, &args.email, &args.password_file).await
}

pub(crate) async fn workspaces(global: &Global, cmd: WorkspacesCommand) -> anyhow::Result<()> {
    match cmd {
        WorkspacesCommand::Create {
            name,
            owner_email,
            password_file,
        } => create_workspace(global, &name, &owner_email, &password_file).await,
        WorkspacesCommand::List => {
            let (_, store) = super::store(global).await?;
            let list = latchkey_store::WorkspaceStore::list_workspaces(&store).await?;
            let data: Vec<_> = list
                .iter()
                .map(|w| json!({ "id": w.id, "name": w.name }))
                .collect();
            output::print(global.json, &json!({ "data": data }), || {
                list.iter()
                    .map(|w| format!("{}\t{}", w.id, w.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
    }
}

pub(crate) async fn members(global: &Global, cmd: MembersCommand) -> anyhow::Result<()> {
    let MembersCommand::Add {
        workspace,
        email,
        role,
    } = cmd;
    let role = Role::parse(&role).context("role must be admin or member")?;
    let (_, store) = super::store(global).await?;
    let issued = provisioning::add_member(&store, &workspace, &email, role).await?;
    let key = issued.api_key.expose_secret();
    output::print(
        global.json,
        &json!({ "user_id": issued.user_id, "api_key": key }),
        || {
            format!(
                "{email} added as {} ({}).\nAPI key (shown once, store it now):\n{key}",
                role.as_str(),
                issued.user_id
            )
        },
    );
    Ok(())
}

pub(crate) async fn api_clients(global: &Global, cmd: ApiClientsCommand) -> anyhow::Result<()> {
    let (_, store) = super::store(global).await?;
    match cmd {
        ApiClientsCommand::Create {
            workspace,
            name,
            scopes,
        } => {
            let (client, secret) =
                provisioning::create_api_client(&store, &workspace, &name, &scopes.join(" "))
                    .await?;
            let secret = secret.expose_secret();
            output::print(
                global.json,
                &json!({ "client_id": client.id, "client_secret": secret, "scopes": client.scopes }),
                || {
                    format!(
                        "API client created.\nclient_id:     {}\nclient_secret: {secret} (shown once)\nscopes:        {}",
                        client.id,
                        client.scopes.join(" ")
                    )
                },
            );
        }
        ApiClientsCommand::Revoke {
            workspace,
            client_id,
        } => {
            // This process has no caches to clear; servers forget within their TTL.
            let caches = latchkey_server::cache::Caches::new(std::time::Duration::ZERO);
            provisioning::revoke_api_client(&store, &caches, &workspace, &client_id).await?;
            output::print(global.json, &json!({ "revoked": client_id }), || {
                format!("{client_id} revoked")
            });
        }
    }
    Ok(())
}
