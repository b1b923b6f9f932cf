//! The one error type of the domain: input that breaks a rule, naming the offending field.

/// Input that breaks a domain rule. `field` names the offending input so that the HTTP layer can
/// answer a 400 that tells the caller exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// Dotted path of the offending input, e.g. `cfmap.api_key` or `oauth.token_url`.
    pub field: String,
    /// What is wrong, in a sentence fragment (never contains the offending value if it may be secret).
    pub message: String,
}

impl ValidationError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Prefixes the field path, e.g. `api_key` inside `cfmap` becomes `cfmap.api_key`.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}
