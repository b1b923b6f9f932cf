//! `latchkey accounts list` — account metadata (never credentials) — and
//! `latchkey accounts import` — legacy accounts from a JSON Lines file.

use clap::Subcommand;
use latchkey_store::{prelude::*, AccountQuery};
use serde_json::json;

use crate::{output, Global};

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// List accounts of a workspace (all of them: this is an operator's view).
    List {
        /// Workspace id or name; optional when there is only one workspace.
        #[arg(long)]
        workspace: Option<String>,
        /// Only accounts of this app slug.
        #[arg(long)]
        app: Option<String>,
    },
    /// Import legacy accounts (no owner, shared with the whole workspace) from a JSON Lines
    /// file: one `{"app", "name"?, "credentials", "expires_at"?, "authorized_scopes"?}` per
    /// line. Every line is checked before anything is stored.
    Import {
        /// Workspace id or name; optional when there is only one workspace.
        #[arg(long)]
        workspace: Option<String>,
        /// The file, or `-` for standard input.
        #[arg(long)]
        file: std::path::PathBuf,
    },
}

pub(crate) async fn find_workspace(
    store: &dyn Store,
    key: Option<&str>,
) -> anyhow::Result<latchkey_store::Workspace> {
    match key {
        Some(key) => store
            .find_workspace(key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("workspace {key} not found")),
        None => {
            let mut all = store.list_workspaces().await?;
            anyhow::ensure!(
                all.len() == 1,
                "there are {} workspaces: pass --workspace",
                all.len()
            );
            Ok(all.remove(0))
        }
    }
}

async fn import(
    global: &Global,
    workspace: Option<String>,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use latchkey_server::service::import::{self, ImportRecord};

    let text = if file == std::path::Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // The line holds secrets and serde's messages can quote values: name the line and
        // column, never echo any of it.
        let record: ImportRecord = serde_json::from_str(line).map_err(|e| {
            let kind = match e.classify() {
                serde_json::error::Category::Data => "fields or types do not match",
                _ => "not valid JSON",
            };
            anyhow::anyhow!(
                "line {}, column {}: not an import record ({kind}); expected {{\"app\", \"name\"?, \"credentials\", \"expires_at\"?, \"authorized_scopes\"?}}",
                i + 1,
                e.column()
            )
        })?;
        records.push(record);
    }
    let app = super::app(global, latchkey_server::app::KeyPolicy::RequireExisting).await?;
    let workspace = find_workspace(&*app.store, workspace.as_deref()).await?;
    let ids = import::import(&app, &workspace.id, records)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    output::print(
        global.json,
        &json!({ "workspace_id": workspace.id, "imported": ids.len(), "account_ids": ids }),
        || format!("imported {} accounts into {}", ids.len(), workspace.name),
    );
    Ok(())
}

pub(crate) async fn run(global: &Global, cmd: AccountsCommand) -> anyhow::Result<()> {
    let (workspace, app) = match cmd {
        AccountsCommand::List { workspace, app } => (workspace, app),
        AccountsCommand::Import { workspace, file } => {
            return import(global, workspace, &file).await
        }
    };
    let (_, store) = super::store(global).await?;
    let workspace = find_workspace(&store, workspace.as_deref()).await?;
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_accounts(&AccountQuery {
                workspace_id: workspace.id.clone(),
                app_slug: app.clone(),
                after,
                limit: 100,
                ..Default::default()
            })
            .await?;
        rows.extend(page.items);
        match page.end_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    let data: Vec<_> = rows
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "name": a.name, "app": a.app_slug, "owner_id": a.owner_id,
                "sharing": a.sharing.as_str(), "healthy": a.healthy, "dead": a.dead,
                "created_at": latchkey_server::clock::iso(a.created_at),
                "expires_at": a.expires_at.map(latchkey_server::clock::iso),
                "last_refreshed_at": a.last_refreshed_at.map(latchkey_server::clock::iso),
                "next_refresh_at": a.next_refresh_at.map(latchkey_server::clock::iso),
            })
        })
        .collect();
    output::print(
        global.json,
        &json!({ "workspace_id": workspace.id, "data": data }),
        || {
            let mut lines = vec![format!(
                "{:<26} {:<20} {:<10} {:<8} NAME",
                "ID", "APP", "SHARING", "HEALTH"
            )];
            lines.extend(rows.iter().map(|a| {
                let health = if a.dead {
                    "dead"
                } else if a.healthy {
                    "healthy"
                } else {
                    "unhealthy"
                };
                format!(
                    "{:<26} {:<20} {:<10} {:<8} {}",
                    a.id,
                    a.app_slug,
                    a.sharing.as_str(),
                    health,
                    a.name
                )
            }));
            lines.join("\n")
        },
    );
    Ok(())
}
