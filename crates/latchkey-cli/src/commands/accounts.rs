//! `latchkey accounts list` — account metadata (never credentials).

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
}

pub(crate) async fn run(global: &Global, cmd: AccountsCommand) -> anyhow::Result<()> {
    let AccountsCommand::List { workspace, app } = cmd;
    let (_, store) = super::store(global).await?;
    let workspace = match workspace {
        Some(key) => store
            .find_workspace(&key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("workspace {key} not found"))?,
        None => {
            let mut all = store.list_workspaces().await?;
            anyhow::ensure!(
                all.len() == 1,
                "there are {} workspaces: pass --workspace",
                all.len()
            );
            all.remove(0)
        }
    };
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
