//! The one place that reads the wall clock, so time-dependent rules have a single seam.

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 / ISO-8601 with milliseconds and `Z`, the API's date-time format.
#[must_use]
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_iso_with_millis() {
        assert_eq!(super::iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
