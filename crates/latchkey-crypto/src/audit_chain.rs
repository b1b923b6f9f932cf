//! The audit log's tamper evidence: each event carries an HMAC-SHA256 over the previous
//! event's MAC and its own canonical bytes. Editing, deleting or reordering any event breaks
//! every MAC after it, and without the key (derived from the master key) nobody can forge a
//! consistent chain — unlike a plain hash chain, which whoever can write the table can
//! recompute.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The MAC that precedes the first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The chain key. No `Clone` on purpose beyond what the server needs; zeroized on drop.
pub struct ChainKey {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey([redacted])")
    }
}

impl ChainKey {
    /// Derives the chain key from key material (the master key's bytes).
    pub(crate) fn derive(master: &[u8; 32]) -> Self {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes keys of any length");
        mac.update(b"latchkey audit chain v1");
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&mac.finalize().into_bytes());
        Self { key }
    }

    pub(crate) fn duplicate(&self) -> Self {
        Self {
            key: Zeroizing::new(*self.key),
        }
    }

    /// The MAC of an event whose canonical bytes are `event`, following `previous`.
    #[must_use]
    pub fn link(&self, previous: &[u8; 32], event: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_ref())
            .expect("HMAC takes keys of any length");
        mac.update(previous);
        mac.update(event);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_depend_on_key_previous_and_event() {
        let a = ChainKey::derive(&[1; 32]);
        let b = ChainKey::derive(&[2; 32]);
        let first = a.link(&GENESIS, b"event 1");
        assert_eq!(first, a.link(&GENESIS, b"event 1"));
        assert_ne!(first, b.link(&GENESIS, b"event 1"), "another key");
        assert_ne!(first, a.link(&GENESIS, b"event 2"), "another event");
        assert_ne!(
            a.link(&first, b"event 2"),
            a.link(&GENESIS, b"event 2"),
            "another predecessor"
        );
    }
}
