//! The keyring: data keys (wrapped by the master key in storage) that seal every record.

use std::collections::HashMap;

use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use rand::{rngs::OsRng, RngCore};
use zeroize::Zeroizing;

use crate::{CryptoError, Envelope, MasterKey, RecordRef};

/// A data key as stored: its id and its bytes sealed by the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    /// Key id, written into every envelope the key seals. Grows with each rotation.
    pub id: u32,
    /// The key, sealed by the master key with the id as AAD.
    pub wrapped: Vec<u8>,
}

fn wrap_aad(id: u32) -> Vec<u8> {
    let mut aad = b"latchkey-data-key:v1".to_vec();
    aad.extend_from_slice(&id.to_be_bytes());
    aad
}

/// The unwrapped data keys, ready to seal and open records. Writes always use the newest key;
/// reads use whichever key the envelope names, so rotation is online.
pub struct Keyring {
    current: u32,
    ciphers: HashMap<u32, Aes256Gcm>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("key_ids", &self.ciphers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Makes a new random data key with `id`, wrapped for storage.
    #[must_use]
    pub fn new_data_key(master: &MasterKey, id: u32) -> DataKeyRecord {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        DataKeyRecord {
            id,
            wrapped: master.seal(&wrap_aad(id), bytes.as_ref()),
        }
    }

    /// Unwraps stored data keys. The key with the highest id becomes the current one.
    ///
    /// # Errors
    /// [`CryptoError::KeyMismatch`] if a key does not unwrap (wrong master key or tampering),
    /// [`CryptoError::Malformed`] if there are no keys.
    pub fn unwrap_all(master: &MasterKey, records: &[DataKeyRecord]) -> Result<Self, CryptoError> {
        let mut ciphers = HashMap::with_capacity(records.len());
        for record in records {
            let bytes = master
                .open(&wrap_aad(record.id), &record.wrapped)
                .map_err(|_| CryptoError::KeyMismatch)?;
            let key: &[u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::Malformed)?;
            ciphers.insert(record.id, Aes256Gcm::new(key.into()));
        }
        let current = *ciphers.keys().max().ok_or(CryptoError::Malformed)?;
        Ok(Self { current, ciphers })
    }

    /// Id of the key new writes use.
    #[must_use]
    pub fn current_key_id(&self) -> u32 {
        self.current
    }

    /// Seals `plaintext` for `record` under the current key with a fresh random nonce.
    #[must_use]
    pub fn encrypt(&self, record: RecordRef<'_>, plaintext: &[u8]) -> Vec<u8> {
        let cipher = &self.ciphers[&self.current];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = record.aad(self.current);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of a bounded buffer cannot fail");
        Envelope::assemble(self.current, &nonce, &sealed)
    }

    /// Opens a blob written for `record`.
    ///
    /// # Errors
    /// [`CryptoError::Malformed`], [`CryptoError::UnknownKey`], or [`CryptoError::Decrypt`] when
    /// the blob was tampered with or belongs to another record.
    pub fn decrypt(
        &self,
        record: RecordRef<'_>,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let envelope = Envelope::parse(blob)?;
        let cipher = self
            .ciphers
            .get(&envelope.key_id)
            .ok_or(CryptoError::UnknownKey(envelope.key_id))?;
        let aad = record.aad(envelope.key_id);
        cipher
            .decrypt(
                Nonce::from_slice(envelope.nonce),
                Payload {
                    msg: envelope.sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn master() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32])
    }

    fn record<'a>(ws: &'a str, row: &'a str, field: &'a str) -> RecordRef<'a> {
        RecordRef {
            table: "accounts",
            workspace_id: ws,
            row_id: row,
            field,
        }
    }

    fn ring(ids: &[u32]) -> Keyring {
        let m = master();
        let records: Vec<_> = ids
            .iter()
            .map(|id| Keyring::new_data_key(&m, *id))
            .collect();
        Keyring::unwrap_all(&m, &records).unwrap()
    }

    #[test]
    fn moving_a_ciphertext_to_another_row_fails() {
        let ring = ring(&[1]);
        let blob = ring.encrypt(record("o_1", "apn_1", "credentials"), b"sk-secret");
        assert_eq!(
            &*ring
                .decrypt(record("o_1", "apn_1", "credentials"), &blob)
                .unwrap(),
            b"sk-secret"
        );
        for other in [
            record("o_2", "apn_1", "credentials"),
            record("o_1", "apn_2", "credentials"),
            record("o_1", "apn_1", "other"),
        ] {
            assert_eq!(ring.decrypt(other, &blob), Err(CryptoError::Decrypt));
        }
    }

    #[test]
    fn same_plaintext_encrypts_differently() {
        let ring = ring(&[1]);
        let r = record("o", "apn", "f");
        assert_ne!(ring.encrypt(r, b"x"), ring.encrypt(r, b"x"));
    }

    #[test]
    fn rotation_keeps_old_blobs_readable_and_writes_with_the_new_key() {
        let m = master();
        let k1 = Keyring::new_data_key(&m, 1);
        let old = Keyring::unwrap_all(&m, std::slice::from_ref(&k1)).unwrap();
        let r = record("o", "apn", "f");
        let blob = old.encrypt(r, b"v");
        let new = Keyring::unwrap_all(&m, &[k1, Keyring::new_data_key(&m, 2)]).unwrap();
        assert_eq!(new.current_key_id(), 2);
        assert_eq!(&*new.decrypt(r, &blob).unwrap(), b"v");
        assert_eq!(Envelope::parse(&new.encrypt(r, b"v")).unwrap().key_id, 2);
    }

    #[test]
    fn a_wrong_master_key_cannot_unwrap() {
        let record = Keyring::new_data_key(&master(), 1);
        let other = MasterKey::from_bytes(&[8u8; 32]);
        assert_eq!(
            Keyring::unwrap_all(&other, &[record]).unwrap_err(),
            CryptoError::KeyMismatch
        );
    }

    #[test]
    fn unknown_key_ids_are_reported() {
        let blob = ring(&[5]).encrypt(record("o", "a", "f"), b"v");
        assert_eq!(
            ring(&[1]).decrypt(record("o", "a", "f"), &blob),
            Err(CryptoError::UnknownKey(5))
        );
    }

    proptest! {
        #[test]
        fn round_trips(plain in proptest::collection::vec(any::<u8>(), 0..2048), ws in "[a-z0-9_]{1,20}", row in "[a-z0-9_]{1,20}") {
            let ring = ring(&[1, 2]);
            let r = record(&ws, &row, "credentials");
            let blob = ring.encrypt(r, &plain);
            prop_assert_eq!(&*ring.decrypt(r, &blob).unwrap(), plain.as_slice());
        }

        #[test]
        fn any_single_bit_flip_is_detected(plain in proptest::collection::vec(any::<u8>(), 1..256), bit in 0usize..8, pos in any::<prop::sample::Index>()) {
            let ring = ring(&[1]);
            let r = record("o", "a", "f");
            let mut blob = ring.encrypt(r, &plain);
            let i = pos.index(blob.len());
            blob[i] ^= 1 << bit;
            prop_assert!(ring.decrypt(r, &blob).is_err());
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = ring(&[1]).decrypt(record("o", "a", "f"), &blob);
        }
    }
}
