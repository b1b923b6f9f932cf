//! Errors of the crypto crate. None of them carries key material or plaintext.

/// Why a cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The blob is not a well-formed envelope (truncated, unknown version).
    #[error("ciphertext is malformed")]
    Malformed,
    /// The blob names a data key the keyring does not have.
    #[error("ciphertext uses unknown data key {0}")]
    UnknownKey(u32),
    /// Authentication failed: wrong key, tampered data, or a ciphertext moved to another row.
    #[error("ciphertext failed authentication")]
    Decrypt,
    /// The master key is not 32 bytes of valid base64.
    #[error("master key must be 32 bytes, base64-encoded: {0}")]
    BadMasterKey(&'static str),
    /// The master key does not open this database's key check.
    #[error("the master key does not match the one this database was created with")]
    KeyMismatch,
    /// Reading or writing a key file failed.
    #[error("key file {path}: {message}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}
