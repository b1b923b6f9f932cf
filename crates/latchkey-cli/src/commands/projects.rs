//! `latchkey projects …` — Connect projects, for operators and scripts.

use clap::Subcommand;
use serde_json::json;

use super::accounts::find_workspace;
use crate::{output, Global};

#[derive(Debug, Subcommand)]
pub(crate) enum ProjectsCommand {
    /// Create a Connect project; prints its id (`{"project_id"}` with --json).
    Create {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// Project name (unique in the workspace).
        #[arg(long)]
        name: String,
        /// Support email shown to end users on the connect page.
        #[arg(long)]
        support_email: Option<String>,
    },
    /// List a workspace's projects.
    List {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
    },
}

pub(crate) async fn run(global: &Global, cmd: ProjectsCommand) -> anyhow::Result<()> {
    let (_, store) = super::store(global).await?;
    match cmd {
        ProjectsCommand::Create {
            workspace,
            name,
            support_email,
        } => {
            let workspace = find_workspace(&store, Some(&workspace)).await?;
            let project = latchkey_server::service::connect::projects::create(
                &store,
                &workspace.id,
                &name,
                support_email.as_deref(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            output::print(global.json, &json!({ "project_id": project.id }), || {
                format!("Project {} created: {}", project.name, project.id)
            });
        }
        ProjectsCommand::List { workspace } => {
            let workspace = find_workspace(&store, Some(&workspace)).await?;
            let projects =
                latchkey_store::ConnectStore::list_projects(&store, &workspace.id).await?;
            let rows: Vec<_> = projects
                .iter()
                .map(|p| json!({"project_id": p.id, "name": p.name}))
                .collect();
            output::print(global.json, &json!({ "projects": rows }), || {
                projects
                    .iter()
                    .map(|p| format!("{}  {}", p.id, p.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
