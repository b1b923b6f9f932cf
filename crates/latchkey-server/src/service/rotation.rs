//! `latchkey keys rotate`: add a data key and re-encrypt every account, OAuth client secret
//! and environment variable with it, online.
//!
//! - **Resumable.** The target key id is recorded in `meta.rotation_target` before any row is
//!   touched and removed when every row is on it; running the command again while it is set
//!   continues that rotation instead of adding yet another key.
//! - **Online.** Each row is re-sealed with an optimistic version check, so a concurrent change
//!   by a running server is never overwritten (that row is simply visited again). Servers check
//!   for a newer data key before every write (`Vault::seal`), so nothing new is sealed with the
//!   old key once the new one exists.
//! - **Robust.** A row that cannot be decrypted (tampered, or sealed under a key this master key
//!   does not have) is reported and skipped, never blocking the others.

use latchkey_crypto::RecordRef;
use latchkey_store::Store;

use crate::vault::{Vault, VaultError};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The data key everything is sealed with now.
    pub key_id: i64,
    /// Whether an unfinished rotation was continued instead of adding a key.
    pub resumed: bool,
    /// Rows re-encrypted by this run.
    pub reencrypted: u64,
    /// Rows that could not be decrypted and stay on their old key (ids in the log).
    pub failed: u64,
}

const BATCH: u32 = 200;
const TARGET: &str = "rotation_target";

/// Rotates (or resumes a rotation). `progress(done, total)` is called after every batch.
///
/// # Errors
/// On database failure (the rotation can be resumed afterwards).
pub async fn rotate(
    store: &dyn Store,
    vault: &Vault,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RotationReport, VaultError> {
    vault.reload().await?;
    let pending_target = store
        .get_meta(TARGET)
        .await?
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse::<i64>().ok());
    let (key_id, resumed) = match pending_target {
        Some(target) if target == vault.current_key_id().await => (target, true),
        _ => {
            let key_id = vault.add_data_key().await?;
            store
                .put_meta(TARGET, key_id.to_string().as_bytes())
                .await?;
            (key_id, false)
        }
    };
    let total = u64::try_from(store.count_accounts_not_on_key(key_id).await?).unwrap_or(0);
    let (mut done, mut failed) = (0, 0);
    progress(done, total);
    // Pass over the table in id order; a row skipped because it changed concurrently is picked
    // up by the next pass, which only starts if the previous one re-sealed something.
    loop {
        let mut after = String::new();
        let mut progressed = false;
        loop {
            let batch = store.accounts_not_on_key(key_id, &after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after.clone_from(&last.id);
            for account in batch {
                let credentials = match vault.open_account(&account).await {
                    Ok(c) => c,
                    Err(e) => {
                        failed += 1;
                        tracing::error!(account.id = %account.id, error = %e, "cannot re-encrypt: credentials do not decrypt");
                        continue;
                    }
                };
                let (blob, sealed_with) = vault
                    .seal(&account.workspace_id, &account.id, &credentials)
                    .await;
                if sealed_with != key_id {
                    // A newer rotation started meanwhile; it finishes the job.
                    return Ok(RotationReport {
                        key_id: sealed_with,
                        resumed,
                        reencrypted: done,
                        failed,
                    });
                }
                if store
                    .reseal_account(
                        &account.workspace_id,
                        &account.id,
                        account.version,
                        &blob,
                        key_id,
                    )
                    .await?
                {
                    done += 1;
                    progressed = true;
                }
            }
            progress(done, total.max(done + failed));
        }
        let remaining = u64::try_from(store.count_accounts_not_on_key(key_id).await?).unwrap_or(0);
        if remaining <= failed || !progressed {
            break;
        }
    }
    // Then the other sealed values: OAuth client secrets and environment variables (few rows;
    // a concurrent change re-seals with the new key by itself, so a lost race is fine).
    for record in store.sealed_records_not_on_key(key_id).await? {
        let at = RecordRef {
            table: record.table,
            workspace_id: &record.workspace_id,
            row_id: &record.row_id,
            field: record.field,
        };
        let plain = match vault.open_record(at, &record.ciphertext).await {
            Ok(plain) => plain,
            Err(e) => {
                failed += 1;
                tracing::error!(table = record.table, row = %record.row_id, error = %e, "cannot re-encrypt: the value does not decrypt");
                continue;
            }
        };
        if vault.current_key_id().await != key_id {
            break; // a newer rotation started meanwhile; it finishes the job
        }
        let blob = vault.seal_record(at, &plain).await;
        if store.reseal_record(&record, &blob, key_id).await? {
            done += 1;
        }
    }
    if failed == 0 {
        store.delete_meta(TARGET).await?;
    }
    Ok(RotationReport {
        key_id,
        resumed,
        reencrypted: done,
        failed,
    })
}
