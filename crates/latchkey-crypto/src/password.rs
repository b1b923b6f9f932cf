//! Member passwords, hashed with Argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes).

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use secrecy::{ExposeSecret, SecretString};

/// A PHC-format Argon2id hash of `password`. CPU-heavy: call it from a blocking task.
#[must_use]
pub fn hash_password(password: &SecretString) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .expect("Argon2 with default parameters accepts any password")
        .to_string()
}

/// Checks `password` against a stored PHC hash; `false` for a malformed hash. CPU-heavy.
#[must_use]
pub fn verify_password(phc_hash: &str, password: &SecretString) -> bool {
    PasswordHash::new(phc_hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let hash = hash_password(&SecretString::from("correct horse".to_owned()));
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(
            &hash,
            &SecretString::from("correct horse".to_owned())
        ));
        assert!(!verify_password(
            &hash,
            &SecretString::from("wrong".to_owned())
        ));
        assert!(!verify_password(
            "garbage",
            &SecretString::from("x".to_owned())
        ));
    }
}
