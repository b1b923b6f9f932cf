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

/// Turns the `limit + 1` rows a keyset query fetched into a page: the extra row only says that
/// there is more, and `end_cursor` is `None` on the last page.
pub(crate) fn page<T>(
    mut items: Vec<T>,
    limit: i64,
    total_count: i64,
    key: impl Fn(&T) -> (i64, &str),
) -> crate::models::Page<T> {
    let has_more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(100));
    let cursor_of = |item: &T| {
        let (created_at, id) = key(item);
        encode(created_at, id)
    };
    let start_cursor = items.first().map(cursor_of);
    let end_cursor = if has_more {
        items.last().map(cursor_of)
    } else {
        None
    };
    crate::models::Page {
        items,
        total_count,
        start_cursor,
        end_cursor,
    }
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
