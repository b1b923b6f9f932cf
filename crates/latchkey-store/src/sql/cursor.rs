//! Opaque pagination cursors: base64url of `created_at.id` (the listing's sort key).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

/// Encodes the sort key of a row.
pub(crate) fn encode(created_at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{created_at}.{id}"))
}

/// Decodes a cursor; `None` for anything this module did not produce.
pub(crate) fn decode(cursor: &str) -> Option<(i64, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (created_at, id) = text.split_once('.')?;
    Some((created_at.parse().ok()?, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        assert_eq!(decode(&encode(42, "apn_x")), Some((42, "apn_x".into())));
        assert_eq!(decode("!!"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("nodot")), None);
    }
}
