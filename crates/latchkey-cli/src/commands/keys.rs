//! `latchkey keys generate | rotate`

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use latchkey_crypto::MasterKey;
use latchkey_server::{app::KeyPolicy, service::rotation};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::{output, Global};

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Print a new random master key (base64) for LATCHKEY_MASTER_KEY.
    Generate,
    /// Add a data key and re-encrypt every account with it, online. Run it again to resume an
    /// interrupted rotation.
    Rotate,
}

pub(crate) async fn run(global: &Global, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Generate => {
            let key = MasterKey::generate_base64();
            output::print(
                global.json,
                &json!({ "master_key": key.expose_secret() }),
                || key.expose_secret().to_owned(),
            );
            Ok(())
        }
        KeysCommand::Rotate => {
            let app = super::app(global, KeyPolicy::RequireExisting).await?;
            let bar = if global.json {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(0)
            };
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} accounts ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message("re-encrypting");
            let progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let report = rotation::rotate(&*app.store, &app.vault, &progress).await?;
            bar.finish_and_clear();
            let failed = report.failed;
            output::print(
                global.json,
                &json!({
                    "key_id": report.key_id,
                    "reencrypted": report.reencrypted,
                    "resumed": report.resumed,
                    "failed": report.failed,
                }),
                || {
                    format!(
                        "{} data key {}: {} account(s) re-encrypted{}. Running servers use the new key for new writes at once.",
                        if report.resumed { "Resumed rotation to" } else { "Rotated to" },
                        report.key_id,
                        report.reencrypted,
                        if report.failed > 0 {
                            format!("; {} could not be decrypted (see the log) — run again after fixing them", report.failed)
                        } else {
                            String::new()
                        }
                    )
                },
            );
            if failed > 0 {
                return Err(crate::output::AlreadyReported.into());
            }
            Ok(())
        }
    }
}
