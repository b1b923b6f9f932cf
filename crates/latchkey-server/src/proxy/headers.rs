//! Which headers cross the proxy (SECURITY.md T-27). Upstream gets only what the caller sent as
//! `x-pd-proxy-<name>` (prefix stripped, `{{field}}` macros filled from the credentials), minus
//! hop-by-hop and connection-level headers; the app's own template is applied after, so a caller
//! cannot replace the injected credential. The caller gets the upstream's headers minus
//! hop-by-hop ones and cookies.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use latchkey_domain::template;

use crate::vault::Credentials;

const PREFIX: &str = "x-pd-proxy-";

/// Headers never forwarded in either direction: hop-by-hop (RFC 9110 §7.6.1) and framing.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Request headers a caller may not set upstream even with the prefix: they belong to the
/// connection Latchkey makes, or would leak the caller's context.
const REQUEST_BLOCKED: &[&str] = &[
    "host",
    "content-length",
    "cookie",
    "expect",
    "origin",
    "referer",
    "via",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "accept-encoding",
];

/// The headers to send upstream.
///
/// # Errors
/// A message naming a header whose macro names a field the credentials lack.
pub fn upstream_request_headers(
    incoming: &HeaderMap,
    credentials: &Credentials,
) -> Result<HeaderMap, String> {
    let mut out = HeaderMap::new();
    for (name, value) in incoming {
        let Some(stripped) = name.as_str().strip_prefix(PREFIX) else {
            continue;
        };
        if stripped.is_empty()
            || HOP_BY_HOP.contains(&stripped)
            || REQUEST_BLOCKED.contains(&stripped)
        {
            continue;
        }
        let Ok(name) = HeaderName::from_bytes(stripped.as_bytes()) else {
            continue;
        };
        let value = match value.to_str() {
            Ok(text) if text.contains("{{") => {
                let rendered =
                    template::render(text, |field| credentials.get(field)).map_err(|_| {
                        format!(
                            "the header {name} names a credential field this account does not have"
                        )
                    })?;
                HeaderValue::from_str(&rendered)
                    .map_err(|_| format!("the header {name} is not a valid value"))?
            }
            _ => value.clone(),
        };
        out.append(name, value);
    }
    // The real content type of the body the caller sent (the SDK sends JSON).
    if let Some(content_type) = incoming.get(axum::http::header::CONTENT_TYPE) {
        out.entry(axum::http::header::CONTENT_TYPE)
            .or_insert(content_type.clone());
    }
    Ok(out)
}

/// The upstream response headers to relay.
#[must_use]
pub fn downstream_response_headers(upstream: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower) || lower == "set-cookie" || lower == "content-length" {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn only_prefixed_headers_pass_with_macros_filled() {
        let credentials =
            Credentials::from_map(BTreeMap::from([("api_key".into(), "sk-1".into())]));
        let mut incoming = HeaderMap::new();
        incoming.insert(
            "authorization",
            HeaderValue::from_static("Bearer latchkey-key"),
        );
        incoming.insert("cookie", HeaderValue::from_static("session=1"));
        incoming.insert("x-pd-proxy-x-custom", HeaderValue::from_static("v"));
        incoming.insert(
            "x-pd-proxy-accept",
            HeaderValue::from_static("application/json"),
        );
        incoming.insert(
            "x-pd-proxy-x-api-key",
            HeaderValue::from_static("Key {{api_key}}"),
        );
        incoming.insert("x-pd-proxy-host", HeaderValue::from_static("evil.com"));
        incoming.insert(
            "x-pd-proxy-transfer-encoding",
            HeaderValue::from_static("chunked"),
        );
        incoming.insert("x-pd-proxy-cookie", HeaderValue::from_static("a=b"));
        incoming.insert("content-type", HeaderValue::from_static("application/json"));
        let out = upstream_request_headers(&incoming, &credentials).unwrap();
        assert_eq!(out.get("x-custom").unwrap(), "v");
        assert_eq!(out.get("accept").unwrap(), "application/json");
        assert_eq!(out.get("x-api-key").unwrap(), "Key sk-1");
        assert_eq!(out.get("content-type").unwrap(), "application/json");
        for gone in ["authorization", "cookie", "host", "transfer-encoding"] {
            assert!(out.get(gone).is_none(), "{gone} must not be forwarded");
        }
        let mut unknown = HeaderMap::new();
        unknown.insert(
            "x-pd-proxy-authorization",
            HeaderValue::from_static("Bearer {{nope}}"),
        );
        assert!(upstream_request_headers(&unknown, &credentials).is_err());
    }

    #[test]
    fn responses_lose_hop_by_hop_headers_and_cookies() {
        let mut upstream = reqwest::header::HeaderMap::new();
        upstream.insert("content-type", HeaderValue::from_static("application/json"));
        upstream.insert("set-cookie", HeaderValue::from_static("a=b"));
        upstream.insert("connection", HeaderValue::from_static("close"));
        upstream.insert("x-ratelimit-remaining", HeaderValue::from_static("9"));
        let out = downstream_response_headers(&upstream);
        assert_eq!(out.len(), 2);
        assert!(out.get("set-cookie").is_none() && out.get("connection").is_none());
    }
}
