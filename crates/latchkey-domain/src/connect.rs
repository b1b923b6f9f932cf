//! Connect (PRODUCT.md F12): the rules about projects, environments, end users and connect
//! tokens that do not depend on storage.

use crate::ValidationError;

/// A project's environment. Accounts, end users and tokens of one never show in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// For building and testing.
    Development,
    /// For real end users.
    Production,
}

impl Environment {
    /// Parses the `x-pd-environment` header value.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "development" => Some(Self::Development),
            "production" => Some(Self::Production),
            _ => None,
        }
    }

    /// The wire and storage form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

/// Longest `external_user_id` (API.md §3 #8).
pub const MAX_EXTERNAL_ID_LEN: usize = 250;

/// Longest connect token lifetime: 4 hours (API.md §1.3).
pub const MAX_TOKEN_TTL_SECONDS: i64 = 4 * 3600;

/// Checks an end user's id: 1..=250 characters, no control characters.
///
/// # Errors
/// [`ValidationError`] on `field`.
pub fn validate_external_id(field: &str, value: &str) -> Result<String, ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if value.chars().count() > MAX_EXTERNAL_ID_LEN {
        return Err(ValidationError::new(
            field,
            "must be at most 250 characters",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Checks a project name: 1..=100 characters, no control characters.
///
/// # Errors
/// [`ValidationError`] on `name`.
pub fn validate_project_name(value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 100 {
        return Err(ValidationError::new("name", "must be 1 to 100 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Whether `token` has the connect token shape: `ctok_` and 32 lowercase hex digits.
#[must_use]
pub fn is_connect_token(token: &str) -> bool {
    token.strip_prefix("ctok_").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Checks a connect token's requested lifetime (default 4 h, 1 s..=4 h).
///
/// # Errors
/// [`ValidationError`] on `expires_in`.
pub fn token_ttl_seconds(requested: Option<i64>) -> Result<i64, ValidationError> {
    match requested {
        None => Ok(MAX_TOKEN_TTL_SECONDS),
        Some(s) if (1..=MAX_TOKEN_TTL_SECONDS).contains(&s) => Ok(s),
        Some(_) => Err(ValidationError::new(
            "expires_in",
            "must be between 1 and 14400 seconds",
        )),
    }
}

/// Checks an allowed origin: `scheme://host[:port]` with nothing after it.
///
/// # Errors
/// [`ValidationError`] on `allowed_origins`.
pub fn validate_origin(origin: &str) -> Result<String, ValidationError> {
    let bad = || {
        ValidationError::new(
            "allowed_origins",
            "entries must be origins like https://example.com",
        )
    };
    let parsed = url::Url::parse(origin).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(bad());
    }
    let canonical = parsed.origin().ascii_serialization();
    if canonical != origin.trim_end_matches('/') {
        return Err(bad());
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_round_trip() {
        for e in [Environment::Development, Environment::Production] {
            assert_eq!(Environment::parse(e.as_str()), Some(e));
        }
        assert_eq!(Environment::parse("Production"), None);
        assert_eq!(Environment::parse(""), None);
    }

    #[test]
    fn external_ids_are_bounded() {
        assert!(validate_external_id("x", &"a".repeat(250)).is_ok());
        assert!(validate_external_id("x", &"é".repeat(250)).is_ok());
        assert!(validate_external_id("x", &"a".repeat(251)).is_err());
        assert!(validate_external_id("x", "").is_err());
        assert!(validate_external_id("x", "a\nb").is_err());
        assert_eq!(validate_external_id("x", "user 1/x").unwrap(), "user 1/x");
    }

    #[test]
    fn token_shape_and_ttl() {
        assert!(is_connect_token("ctok_0123456789abcdef0123456789abcdef"));
        assert!(!is_connect_token("ctok_0123456789ABCDEF0123456789abcdef"));
        assert!(!is_connect_token("ctok_0123"));
        assert!(!is_connect_token("lk_key_0123456789abcdef0123456789abcdef"));
        assert_eq!(token_ttl_seconds(None).unwrap(), 14_400);
        assert_eq!(token_ttl_seconds(Some(600)).unwrap(), 600);
        assert!(token_ttl_seconds(Some(0)).is_err());
        assert!(token_ttl_seconds(Some(14_401)).is_err());
    }

    #[test]
    fn origins_must_be_bare_origins() {
        assert_eq!(
            validate_origin("https://example.com").unwrap(),
            "https://example.com"
        );
        assert_eq!(
            validate_origin("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        for bad in [
            "example.com",
            "https://example.com/path",
            "javascript:alert(1)",
            "*",
        ] {
            assert!(validate_origin(bad).is_err(), "{bad}");
        }
    }
}
