//! `latchkey audit verify` — checks the audit log's chain; `latchkey audit list` — a
//! workspace's events, newest first.

use clap::Subcommand;
use latchkey_server::{app::KeyPolicy, clock};
use latchkey_store::AuditQuery;
use serde_json::{json, Value};

use crate::{output, Global};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check that no audit event was edited, removed or reordered (exit status 1 if one was).
    Verify,
    /// A workspace's audit events, newest first.
    List {
        /// Workspace id or name; optional when there is only one workspace.
        #[arg(long)]
        workspace: Option<String>,
        /// Only events about this account.
        #[arg(long)]
        account: Option<String>,
        /// How many (1..=1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

pub(crate) async fn run(global: &Global, cmd: AuditCommand) -> anyhow::Result<()> {
    let app = super::app(global, KeyPolicy::RequireExisting).await?;
    match cmd {
        AuditCommand::Verify => {
            let verification = app.audit.verify(&*app.store).await?;
            let broken = verification.broken.clone();
            output::print(
                global.json,
                &json!({
                    "ok": broken.is_none(),
                    "events": verification.events,
                    "first_bad_seq": broken.as_ref().map(|(seq, _)| *seq),
                    "problem": broken.as_ref().map(|(_, why)| why.clone()),
                }),
                || match &broken {
                    None => format!("audit log intact: {} events verified", verification.events),
                    Some((_, why)) => format!("AUDIT LOG TAMPERED: {why}"),
                },
            );
            if broken.is_some() {
                return Err(output::AlreadyReported.into());
            }
            Ok(())
        }
        AuditCommand::List {
            workspace,
            account,
            limit,
        } => {
            let workspace =
                super::accounts::find_workspace(&*app.store, workspace.as_deref()).await?;
            let events = app
                .store
                .list_audit(&AuditQuery {
                    workspace_id: workspace.id.clone(),
                    account_id: account,
                    limit: limit.clamp(1, 1000),
                    ..Default::default()
                })
                .await?;
            let data: Vec<Value> = events
                .iter()
                .map(|e| {
                    let ev = &e.event;
                    json!({
                        "seq": e.seq, "at": clock::iso(ev.at),
                        "actor": {"type": ev.actor_type, "id": ev.actor_id},
                        "action": ev.action, "account_id": ev.account_id, "outcome": ev.outcome,
                        "detail": ev.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
                    })
                })
                .collect();
            output::print(
                global.json,
                &json!({"workspace_id": workspace.id, "data": data}),
                || {
                    events
                        .iter()
                        .map(|e| {
                            let ev = &e.event;
                            format!(
                                "{:>6} {} {:<7} {:<24} {:<18} {:<26} {}",
                                e.seq,
                                clock::iso(ev.at),
                                ev.outcome,
                                ev.action,
                                ev.actor_id,
                                ev.account_id.as_deref().unwrap_or("-"),
                                ev.detail.as_deref().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
            Ok(())
        }
    }
}
