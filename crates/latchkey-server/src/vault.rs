//! The vault: the keyring in memory, and sealing/opening account credentials with it.
//!
//! On a fresh database the vault stores a key check (sealed by the master key) and the first
//! data key. On every later start the master key must open that key check, or the server
//! refuses to start: there is no way to run without the right key, and no plaintext mode.

use std::{collections::BTreeMap, sync::Arc};

use latchkey_crypto::{CryptoError, DataKeyRecord, Keyring, MasterKey, RecordRef};
use latchkey_store::{Account, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::RwLock;
use zeroize::Zeroizing;

use crate::clock;

const KEY_CHECK: &str = "key_check";
const CREDENTIALS_FIELD: &str = "credentials";
const ACCOUNTS_TABLE: &str = "accounts";

/// Why the vault could not open or use a secret.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The master key does not match the database.
    #[error(
        "the master key does not match this database (it was created with a different key). \
         Start with the original key: LATCHKEY_MASTER_KEY, LATCHKEY_MASTER_KEY_FILE, or the \
         data directory's master.key, in that order of precedence"
    )]
    WrongMasterKey,
    /// A stored secret failed to decrypt (tampered, moved, or unknown key).
    #[error("stored credentials could not be decrypted: {0}")]
    Crypto(#[from] CryptoError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Credential fields of an account. Values are secrets: `Debug` prints only the field names.
#[derive(Clone, Default)]
pub struct Credentials {
    fields: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// Wraps plain field values.
    #[must_use]
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        Self {
            fields: map
                .into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        }
    }

    /// A copy without one field.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.fields.remove(name);
        self
    }

    /// The field names.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// One field's value.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(ExposeSecret::expose_secret)
    }

    /// The fields, serialisable as a JSON object: only for responses the access rules allow.
    #[must_use]
    pub fn exposed(&self) -> ExposedCredentials<'_> {
        ExposedCredentials(self)
    }

    fn to_sealable(&self) -> Zeroizing<Vec<u8>> {
        let plain: BTreeMap<&str, &str> = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        Zeroizing::new(serde_json::to_vec(&plain).expect("a string map always serialises"))
    }

    fn from_opened(bytes: &[u8]) -> Result<Self, CryptoError> {
        let map: BTreeMap<String, String> =
            serde_json::from_slice(bytes).map_err(|_| CryptoError::Malformed)?;
        Ok(Self::from_map(map))
    }
}

/// Credentials on their way into a response: serialises every field's value. Deliberately not
/// `Debug`.
pub struct ExposedCredentials<'a>(&'a Credentials);

impl serde::Serialize for ExposedCredentials<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.fields.iter().map(|(k, v)| (k, v.expose_secret())))
    }
}

/// The keyring plus what is needed to reload it.
pub struct Vault {
    master: MasterKey,
    store: Arc<dyn Store>,
    keyring: RwLock<Arc<Keyring>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

impl Vault {
    /// Opens the vault: verifies (or, on a fresh database, creates) the key check and the first
    /// data key, then unwraps the keyring.
    ///
    /// # Errors
    /// [`VaultError::WrongMasterKey`] when the key does not match the database.
    pub async fn open(store: Arc<dyn Store>, master: MasterKey) -> Result<Self, VaultError> {
        // Two instances may start on one fresh database at once: the first key check written
        // wins and both verify against it.
        store
            .put_meta_if_absent(KEY_CHECK, &master.key_check())
            .await?;
        let check = store
            .get_meta(KEY_CHECK)
            .await?
            .ok_or(StoreError::NotFound)?;
        master
            .verify_key_check(&check)
            .map_err(|_| VaultError::WrongMasterKey)?;
        if store.list_data_keys().await?.is_empty() {
            let first = Keyring::new_data_key(&master, 1);
            match store
                .insert_data_key(1, &first.wrapped, clock::now_ms())
                .await
            {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let keyring = load_keyring(&*store, &master).await?;
        Ok(Self {
            master,
            store,
            keyring: RwLock::new(Arc::new(keyring)),
        })
    }

    /// Whether the database has been initialised with a key check (used to decide whether a
    /// missing master key may be generated).
    ///
    /// # Errors
    /// On database failure.
    pub async fn is_initialised(store: &dyn Store) -> Result<bool, StoreError> {
        Ok(store.get_meta(KEY_CHECK).await?.is_some())
    }

    async fn current(&self) -> Arc<Keyring> {
        self.keyring.read().await.clone()
    }

    /// Re-reads the data keys (after a rotation by another process).
    ///
    /// # Errors
    /// On database failure or a key that does not unwrap.
    pub async fn reload(&self) -> Result<(), VaultError> {
        let keyring = load_keyring(&*self.store, &self.master).await?;
        *self.keyring.write().await = Arc::new(keyring);
        Ok(())
    }

    /// Id of the data key new writes use.
    pub async fn current_key_id(&self) -> i64 {
        i64::from(self.current().await.current_key_id())
    }

    /// Adds a data key with the next id and makes it current. Returns its id.
    ///
    /// # Errors
    /// On database failure.
    pub async fn add_data_key(&self) -> Result<i64, VaultError> {
        loop {
            let next = self
                .store
                .list_data_keys()
                .await?
                .iter()
                .map(|(id, _)| *id)
                .max()
                .unwrap_or(0)
                + 1;
            let id = u32::try_from(next).map_err(|_| CryptoError::Malformed)?;
            let record = Keyring::new_data_key(&self.master, id);
            match self
                .store
                .insert_data_key(next, &record.wrapped, clock::now_ms())
                .await
            {
                Ok(()) => {
                    self.reload().await?;
                    return Ok(next);
                }
                // Another process took the id first: try the next one.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Seals credentials for an account row with the newest data key. A key added by a
    /// rotation in another process is picked up first (one cheap query per write), so nothing
    /// new is sealed with a key being rotated away. Returns the blob and the key id used.
    pub async fn seal(
        &self,
        workspace_id: &str,
        account_id: &str,
        credentials: &Credentials,
    ) -> (Vec<u8>, i64) {
        let mut keyring = self.current().await;
        let newest = self.store.max_data_key_id().await.unwrap_or(0);
        if newest > i64::from(keyring.current_key_id()) {
            // Best effort: if the reload fails, sealing with the current key is still correct.
            if self.reload().await.is_ok() {
                keyring = self.current().await;
            }
        }
        let plain = credentials.to_sealable();
        let blob = keyring.encrypt(record(workspace_id, account_id), &plain);
        (blob, i64::from(keyring.current_key_id()))
    }

    /// Seals any other secret bound to its record (e.g. a flow's PKCE verifier), with the
    /// current data key.
    pub async fn seal_record(&self, record: RecordRef<'_>, plaintext: &[u8]) -> Vec<u8> {
        self.current().await.encrypt(record, plaintext)
    }

    /// Opens what [`Vault::seal_record`] sealed for the same record.
    ///
    /// # Errors
    /// [`VaultError::Crypto`] when the blob does not open for this record.
    pub async fn open_record(
        &self,
        record: RecordRef<'_>,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        match self.current().await.decrypt(record, blob) {
            Err(CryptoError::UnknownKey(_)) => {
                self.reload().await?;
                Ok(self.current().await.decrypt(record, blob)?)
            }
            other => Ok(other?),
        }
    }

    /// Opens an account's credentials. A blob sealed with a key this process has not seen yet
    /// (rotation by another process) triggers one keyring reload.
    ///
    /// # Errors
    /// [`VaultError::Crypto`] when the blob does not open for this row.
    pub async fn open_account(&self, account: &Account) -> Result<Credentials, VaultError> {
        let rec = record(&account.workspace_id, &account.id);
        let keyring = self.current().await;
        let opened = match keyring.decrypt(rec, &account.credentials_ciphertext) {
            Err(CryptoError::UnknownKey(_)) => {
                self.reload().await?;
                self.current()
                    .await
                    .decrypt(rec, &account.credentials_ciphertext)?
            }
            other => other?,
        };
        Ok(Credentials::from_opened(&opened)?)
    }
}

fn record<'a>(workspace_id: &'a str, account_id: &'a str) -> RecordRef<'a> {
    RecordRef {
        table: ACCOUNTS_TABLE,
        workspace_id,
        row_id: account_id,
        field: CREDENTIALS_FIELD,
    }
}

async fn load_keyring(store: &dyn Store, master: &MasterKey) -> Result<Keyring, VaultError> {
    let records: Vec<DataKeyRecord> = store
        .list_data_keys()
        .await?
        .into_iter()
        .filter_map(|(id, wrapped)| {
            u32::try_from(id)
                .ok()
                .map(|id| DataKeyRecord { id, wrapped })
        })
        .collect();
    Keyring::unwrap_all(master, &records).map_err(|e| match e {
        CryptoError::KeyMismatch => VaultError::WrongMasterKey,
        other => VaultError::Crypto(other),
    })
}
