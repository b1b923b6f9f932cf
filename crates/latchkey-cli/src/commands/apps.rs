//! `latchkey apps validate [DIR]`

use std::path::PathBuf;

use clap::Subcommand;
use latchkey_server::catalog::{validate_dir, Catalog};
use serde_json::json;

use crate::{output, Global};

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// Validate app definitions: the built-in catalog, the data dir's `apps/`, and DIR if given.
    Validate {
        /// A directory of `*.toml` app files to check with the built-in catalog's strict rules.
        dir: Option<PathBuf>,
    },
}

pub(crate) async fn run(global: &Global, cmd: AppsCommand) -> anyhow::Result<()> {
    let AppsCommand::Validate { dir } = cmd;
    let config = super::config(global, None)?;
    let mut errors = Vec::new();
    let mut count = 0;
    match Catalog::load(Some(&config.data_dir.join("apps"))) {
        Ok(catalog) => count += catalog.global_apps().len(),
        Err(e) => errors.push(e.to_string()),
    }
    if let Some(dir) = dir {
        match validate_dir(&dir, true) {
            Ok(n) => count += n,
            Err(list) => errors.extend(list.iter().map(ToString::to_string)),
        }
    }
    output::print(
        global.json,
        &json!({ "valid": errors.is_empty(), "count": count, "errors": errors }),
        || {
            if errors.is_empty() {
                format!("{count} app definitions are valid")
            } else {
                errors.join("\n")
            }
        },
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(output::AlreadyReported.into())
    }
}
