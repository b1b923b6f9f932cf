//! Printing results: JSON for scripts (`--json`), text for people.

use serde_json::Value;

/// Prints `value` as JSON, or `text` for people.
pub(crate) fn print(json: bool, value: &Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// An error whose details were already printed (as JSON or text): exit non-zero, print nothing
/// more, so `--json` output stays a single document.
#[derive(Debug)]
pub(crate) struct AlreadyReported;

impl std::fmt::Display for AlreadyReported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed (details above)")
    }
}

impl std::error::Error for AlreadyReported {}
