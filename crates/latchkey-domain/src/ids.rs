//! Public identifiers: a short type prefix (`apn_`, `o_`, …) and a random base62 body.
//!
//! The prefixes are part of the API contract (they match the Pipedream-compatible API); never
//! change the prefix of an existing kind of id.

use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};
use sha2::{Digest, Sha256};

/// Workspace ids: `o_…`.
pub const WORKSPACE: &str = "o_";
/// User (member) ids: `u_…`.
pub const USER: &str = "u_";
/// Account ids: `apn_…`.
pub const ACCOUNT: &str = "apn_";
/// App ids: `app_…`.
pub const APP: &str = "app_";
/// Member API key record ids (not the key itself): `key_…`.
pub const API_KEY: &str = "key_";
/// Workspace API client ids: `lkc_…`.
pub const API_CLIENT: &str = "lkc_";
/// App request ids: `areq_…`.
pub const APP_REQUEST: &str = "areq_";
/// Connect project ids: `proj_…`.
pub const PROJECT: &str = "proj_";
/// Connect end-user ids: `exu_…`.
pub const EXTERNAL_USER: &str = "exu_";

/// Length of the random part: 20 base62 characters carry about 119 bits, plenty for ids that are
/// not secrets but must never collide.
const BODY_LEN: usize = 20;

/// A new random id with the given prefix.
#[must_use]
pub fn generate(prefix: &str) -> String {
    let body: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(BODY_LEN)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

/// A stable id derived from a name, for catalog entries that must have the same id on every
/// instance and after every restart (built-in apps are not stored in the database).
#[must_use]
pub fn derived(prefix: &str, name: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::digest(name.as_bytes());
    let body: String = digest
        .iter()
        .take(10)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{prefix}{body}")
}

/// True when `id` has the prefix and a non-empty alphanumeric body: the shape check done before
/// an id from a request is used in a lookup.
#[must_use]
pub fn is_valid(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|body| {
        !body.is_empty() && body.len() <= 64 && body.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = generate(ACCOUNT);
        let b = generate(ACCOUNT);
        assert!(is_valid(ACCOUNT, &a));
        assert_ne!(a, b);
        assert!(!is_valid(WORKSPACE, &a));
    }

    #[test]
    fn derived_ids_are_stable() {
        assert_eq!(derived(APP, "slack"), derived(APP, "slack"));
        assert_ne!(derived(APP, "slack"), derived(APP, "github"));
        assert!(is_valid(APP, &derived(APP, "slack")));
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in ["", "apn_", "apn_a-b", "apn_../x", "APN_abc", "apn_ä"] {
            assert!(!is_valid(ACCOUNT, bad), "{bad}");
        }
    }
}
