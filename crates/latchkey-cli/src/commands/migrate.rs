//! `latchkey migrate`

use serde_json::json;

use crate::{output, Global};

pub(crate) async fn run(global: &Global) -> anyhow::Result<()> {
    // Connecting runs the migrations.
    let (config, store) = super::store(global).await?;
    let backend = format!("{:?}", store.backend()).to_lowercase();
    store.close().await;
    output::print(
        global.json,
        &json!({ "migrated": true, "backend": backend }),
        || {
            format!(
                "database is up to date ({backend}, {})",
                config.database().map(|u| u.redacted()).unwrap_or_default()
            )
        },
    );
    Ok(())
}
