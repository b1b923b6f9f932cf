//! The master key: wraps data keys and seals the key check. Never encrypts user data directly.

use std::{io::Write, path::Path};

use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use rand::{rngs::OsRng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::{
    envelope::{NONCE_LEN, TAG_LEN},
    CryptoError,
};

const KEY_CHECK_AAD: &[u8] = b"latchkey-key-check:v1";
const KEY_CHECK_PLAINTEXT: &[u8] = b"latchkey master key check";

/// The 256-bit key-encryption key.
///
/// **No `Clone`, no `Serialize`, ever**: one copy lives in the running server, zeroized on drop
/// (`Aes256Gcm` is built with the `zeroize` feature).
pub struct MasterKey {
    cipher: Aes256Gcm,
    /// Derived at construction so the raw key bytes are not kept.
    audit_chain: crate::audit_chain::ChainKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Builds the key from raw bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(bytes.into()),
            audit_chain: crate::audit_chain::ChainKey::derive(bytes),
        }
    }

    /// Parses base64 (standard alphabet, surrounding whitespace ignored) holding exactly 32 bytes.
    ///
    /// # Errors
    /// [`CryptoError::BadMasterKey`] when the text is not base64 or not 32 bytes.
    pub fn from_base64(text: &SecretString) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.expose_secret().trim())
                .map_err(|_| CryptoError::BadMasterKey("not valid base64"))?,
        );
        let bytes: &[u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadMasterKey("wrong length"))?;
        Ok(Self::from_bytes(bytes))
    }

    /// Reads a key file holding the base64 key.
    ///
    /// # Errors
    /// [`CryptoError::KeyFile`] if unreadable, [`CryptoError::BadMasterKey`] if malformed.
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        let text = std::fs::read_to_string(path).map_err(|e| CryptoError::KeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_base64(&SecretString::from(text))
    }

    /// Generates a fresh random key and writes it (base64) to a new file with mode 0600. Refuses
    /// to overwrite an existing file.
    ///
    /// # Errors
    /// [`CryptoError::KeyFile`] if the file exists or cannot be written.
    pub fn generate_file(path: &Path) -> Result<Self, CryptoError> {
        let io_err = |e: std::io::Error| CryptoError::KeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        let text = Zeroizing::new(STANDARD.encode(bytes.as_ref()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io_err)?;
        file.write_all(text.as_bytes()).map_err(io_err)?;
        file.write_all(b"\n").map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// A fresh random base64 key, for `latchkey keys generate`.
    #[must_use]
    pub fn generate_base64() -> SecretString {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        SecretString::from(STANDARD.encode(bytes.as_ref()))
    }

    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of a bounded buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub(crate) fn open(&self, aad: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Decrypt)
    }

    /// The audit log's chain key, derived from this key (a copy for the audit writer).
    #[must_use]
    pub fn audit_chain_key(&self) -> crate::audit_chain::ChainKey {
        self.audit_chain.duplicate()
    }

    /// The key-check record to store when a database is first initialised.
    #[must_use]
    pub fn key_check(&self) -> Vec<u8> {
        self.seal(KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT)
    }

    /// Verifies that this key opens the stored key check.
    ///
    /// # Errors
    /// [`CryptoError::KeyMismatch`] when it does not.
    pub fn verify_key_check(&self, stored: &[u8]) -> Result<(), CryptoError> {
        match self.open(KEY_CHECK_AAD, stored) {
            Ok(plain) if plain.as_slice() == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(CryptoError::KeyMismatch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_check_detects_a_different_key() {
        let a = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        let b = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        let check = a.key_check();
        a.verify_key_check(&check).unwrap();
        assert_eq!(b.verify_key_check(&check), Err(CryptoError::KeyMismatch));
    }

    #[test]
    fn rejects_short_or_garbled_keys() {
        let short = SecretString::from(STANDARD.encode([0u8; 16]));
        assert_eq!(
            MasterKey::from_base64(&short).unwrap_err(),
            CryptoError::BadMasterKey("wrong length")
        );
        let garbled = SecretString::from("not base64!".to_owned());
        assert!(MasterKey::from_base64(&garbled).is_err());
    }

    #[test]
    fn generated_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let key = MasterKey::generate_file(&path).unwrap();
        let check = key.key_check();
        MasterKey::from_file(&path)
            .unwrap()
            .verify_key_check(&check)
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            MasterKey::generate_file(&path).is_err(),
            "must never overwrite a key"
        );
        assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
    }
}
