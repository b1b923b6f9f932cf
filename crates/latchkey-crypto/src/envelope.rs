//! The stored-secret format and the AAD that binds a ciphertext to its row.

use crate::CryptoError;

/// Current envelope format version (first byte of every blob).
pub const ENVELOPE_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// AES-GCM nonce length (96 bits).
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// The row a secret belongs to. Its fields become the AAD, so a ciphertext only decrypts in
/// the exact place it was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Table (or kind of record), e.g. `accounts`.
    pub table: &'a str,
    /// Owning workspace.
    pub workspace_id: &'a str,
    /// Row id, e.g. the account id.
    pub row_id: &'a str,
    /// Field within the row, e.g. `credentials`.
    pub field: &'a str,
}

impl RecordRef<'_> {
    /// AAD bytes: a domain tag, then each component length-prefixed (so no two different records
    /// can produce the same bytes), then the key id and format version.
    pub(crate) fn aad(&self, key_id: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"latchkey-record");
        for part in [self.table, self.workspace_id, self.row_id, self.field] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(&key_id.to_be_bytes());
        out.push(ENVELOPE_VERSION);
        out
    }
}

/// A parsed (still encrypted) blob: `version | key id | nonce | ciphertext+tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Data key that sealed it.
    pub key_id: u32,
    /// The 96-bit nonce.
    pub nonce: &'a [u8],
    /// Ciphertext followed by the GCM tag.
    pub sealed: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parses a stored blob without decrypting it. Never panics, whatever the input.
    ///
    /// # Errors
    /// [`CryptoError::Malformed`] for a truncated blob or an unknown version.
    pub fn parse(blob: &'a [u8]) -> Result<Self, CryptoError> {
        if blob.len() < HEADER_LEN + TAG_LEN || blob[0] != ENVELOPE_VERSION {
            return Err(CryptoError::Malformed);
        }
        let key_id = u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]);
        Ok(Self {
            key_id,
            nonce: &blob[5..HEADER_LEN],
            sealed: &blob[HEADER_LEN..],
        })
    }

    /// Serialises the parts into a blob.
    pub(crate) fn assemble(key_id: u32, nonce: &[u8], sealed: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(&key_id.to_be_bytes());
        out.extend_from_slice(nonce);
        out.extend_from_slice(sealed);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_components_cannot_be_shifted() {
        let a = RecordRef {
            table: "accounts",
            workspace_id: "o_a",
            row_id: "bc",
            field: "x",
        };
        let b = RecordRef {
            table: "accounts",
            workspace_id: "o_ab",
            row_id: "c",
            field: "x",
        };
        assert_ne!(a.aad(1), b.aad(1));
        assert_ne!(a.aad(1), a.aad(2));
    }

    #[test]
    fn parse_rejects_short_and_unknown_versions() {
        assert_eq!(Envelope::parse(&[]), Err(CryptoError::Malformed));
        assert_eq!(Envelope::parse(&[1; 32]), Err(CryptoError::Malformed));
        let mut blob = vec![1u8; 40];
        assert!(Envelope::parse(&blob).is_ok());
        blob[0] = 2;
        assert_eq!(Envelope::parse(&blob), Err(CryptoError::Malformed));
    }
}
