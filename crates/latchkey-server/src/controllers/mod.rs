//! Thin HTTP handlers: authenticate (the `Caller` extractor), call a service, shape the JSON.

pub(crate) mod accounts;
pub(crate) mod apps;
pub(crate) mod audit;
pub(crate) mod connect;
pub(crate) mod connect_page;
pub(crate) mod env_vars;
pub(crate) mod oauth_apps;
pub(crate) mod oauth_pages;
pub(crate) mod oauth_token;
pub(crate) mod ops;
pub(crate) mod proxy;
pub(crate) mod sharing;
pub(crate) mod webhooks;
pub(crate) mod workflows;

use crate::error::ApiError;

/// Parses the Pipedream-style boolean query flag (`true`/`1`, `false`/`0`).
pub(crate) fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(ApiError::invalid(name, "must be true, false, 1 or 0")),
    }
}

/// Parses `limit` (default 10, 1..=100).
pub(crate) fn limit(value: Option<&str>) -> Result<u32, ApiError> {
    match value {
        None => Ok(10),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "must be a whole number from 1 to 100")),
    }
}
