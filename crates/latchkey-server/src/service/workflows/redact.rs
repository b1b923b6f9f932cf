//! Removes credential values from what a run stores and returns (F6, issue item 7): every value
//! of every account (or external credential) the run used, also base64-encoded in either
//! alphabet with or without padding, becomes `[redacted]` in exports, logs and errors.

use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use serde_json::Value;
use zeroize::Zeroizing;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// The secrets of one run, longest first (so a secret containing another is replaced whole).
#[derive(Default)]
pub struct Redactor {
    needles: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.needles.len())
            .finish()
    }
}

impl Redactor {
    /// Adds a secret value (and its base64 forms). Values shorter than 4 characters are not
    /// redacted: they would blank out ordinary text and protect nothing.
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < 4 {
            return;
        }
        let bytes = secret.as_bytes();
        for form in [
            secret.to_owned(),
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
        ] {
            if !self.needles.iter().any(|n| **n == form) {
                self.needles.push(Zeroizing::new(form));
            }
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// A string with every secret replaced.
    #[must_use]
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }

    /// A JSON value with every string (keys included) redacted.
    #[must_use]
    pub fn json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.text(k), self.json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_base64_forms_are_redacted_everywhere() {
        let mut r = Redactor::default();
        r.add("s3cr3t-token?");
        r.add("abc");
        let b64 = STANDARD.encode("s3cr3t-token?");
        let url = URL_SAFE_NO_PAD.encode("s3cr3t-token?");
        let value = serde_json::json!({
            "log": format!("Bearer s3cr3t-token? and {b64} and {url}"),
            "s3cr3t-token?": ["x", "abc"],
        });
        let out = r.json(&value).to_string();
        assert!(!out.contains("s3cr3t"), "{out}");
        assert!(!out.contains(&b64) && !out.contains(&url), "{out}");
        assert!(
            out.contains("\"abc\""),
            "short values are left alone: {out}"
        );
        assert_eq!(r.text("nothing here"), "nothing here");
    }
}
