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
