//! Secrets Latchkey issues (API keys, client secrets, access tokens) and their stored hashes.

use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Random characters after the prefix: 40 base62 characters ≈ 238 bits, above RFC 6749's
/// "SHOULD be ≤ 2^-160" guessing probability.
const SECRET_LEN: usize = 40;

/// A new random secret with a recognisable `prefix` (e.g. `lk_key_`), so secret scanners and
/// people can tell what leaked. NEVER change the prefix of an existing kind of secret.
#[must_use]
pub fn generate_secret(prefix: &str) -> SecretString {
    let body: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    SecretString::from(format!("{prefix}{body}"))
}

/// The stored form of an issued secret: lowercase hex SHA-256. High-entropy secrets need no salt
/// or slow hash; lookups by hash keep verification a single indexed query.
#[must_use]
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = generate_secret("lk_key_");
        let b = generate_secret("lk_key_");
        assert!(a.expose_secret().starts_with("lk_key_"));
        assert_eq!(a.expose_secret().len(), 7 + SECRET_LEN);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!format!("{a:?}").contains("lk_key_"));
    }
}
