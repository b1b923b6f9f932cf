//! `latchkey keys rotate`: add a data key and re-encrypt every account with it, online.
//!
//! Resumable by construction: progress is the set of rows still sealed with another key, so an
//! interrupted run is continued by running the command again (it notices the unfinished
//! rotation and does not add yet another key). Each row is re-sealed with an optimistic
//! version check, so a concurrent change by a running server is never overwritten; such a row
//! is simply picked up again in the next batch.

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
}

const BATCH: u32 = 200;

/// Rotates (or resumes a rotation). `progress(done, total)` is called after every batch.
///
/// # Errors
/// On database or crypto failure (the rotation can be resumed afterwards).
pub async fn rotate(
    store: &dyn Store,
    vault: &Vault,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RotationReport, VaultError> {
    vault.reload().await?;
    let current = vault.current_key_id().await;
    let pending = store.count_accounts_not_on_key(current).await?;
    let resumed = pending > 0 && current > 1;
    let key_id = if resumed {
        current
    } else {
        vault.add_data_key().await?
    };
    let mut total = u64::try_from(store.count_accounts_not_on_key(key_id).await?).unwrap_or(0);
    let mut done = 0;
    progress(done, total);
    loop {
        let batch = store.accounts_not_on_key(key_id, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for account in batch {
            let credentials = vault.open_account(&account).await?;
            let (blob, sealed_with) = vault
                .seal(&account.workspace_id, &account.id, &credentials)
                .await;
            if sealed_with != key_id {
                // Another rotation started meanwhile; let it finish the job.
                return Ok(RotationReport {
                    key_id: sealed_with,
                    resumed,
                    reencrypted: done,
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
            }
        }
        total = total.max(done);
        progress(done, total);
    }
    Ok(RotationReport {
        key_id,
        resumed,
        reencrypted: done,
    })
}
