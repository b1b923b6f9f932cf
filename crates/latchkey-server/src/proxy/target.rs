//! Where a proxied request goes (API.md §6; SECURITY.md T-26): the `{url}` path segment is
//! percent-decoded once and Base64-decoded (either alphabet, padding optional); a relative
//! target is a path under the app's base URL, an absolute one must be within the app's allowed
//! domains. Anything that could steer the injected credential elsewhere is refused, never
//! "fixed".

use base64::{
    alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    Engine,
};

use crate::outbound::host_allowed;

/// Why a target was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not Base64 of UTF-8 text.
    #[error("the target is not a Base64-encoded URL")]
    Encoding,
    /// A scheme other than http(s), or user info.
    #[error("the target must be an http(s) URL without user info, or a path")]
    Scheme,
    /// A relative target that is not a plain path under the base.
    #[error("a relative target must be a plain path under the app's base URL ({0})")]
    Path(&'static str),
    /// An absolute target outside the app's allowed domains.
    #[error("the target is outside the app's allowed domains")]
    Domain,
    /// The app's base URL is unusable with these credentials.
    #[error("the app's base URL is invalid")]
    Base,
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(false)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes the raw (still percent-encoded) path segment into the target text.
///
/// # Errors
/// [`TargetError::Encoding`].
pub fn decode_segment(raw: &str) -> Result<String, TargetError> {
    let once = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| TargetError::Encoding)?;
    let bytes = STANDARD_ANY_PAD
        .decode(once.as_bytes())
        .or_else(|_| URL_SAFE_ANY_PAD.decode(once.as_bytes()))
        .map_err(|_| TargetError::Encoding)?;
    let text = String::from_utf8(bytes).map_err(|_| TargetError::Encoding)?;
    if text.is_empty() || text.len() > 8192 || text.chars().any(char::is_control) {
        return Err(TargetError::Encoding);
    }
    // The SDK appends its `params` with a second `?`; read any later `?` as `&`.
    Ok(match text.split_once('?') {
        Some((head, query)) => format!("{head}?{}", query.replace('?', "&")),
        None => text,
    })
}

/// Whether `target` starts with a URL scheme (`name:`), i.e. is not a relative path.
fn has_scheme(target: &str) -> bool {
    let head = target.split(['/', '?', '#']).next().unwrap_or("");
    head.split_once(':').is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Checks a relative target's path: no authority, no traversal, nothing encoded that could
/// become a separator or a dot after the upstream decodes it.
fn check_relative(target: &str) -> Result<(), TargetError> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if path.starts_with("//") || path.starts_with("/\\") {
        return Err(TargetError::Path("no host"));
    }
    if path.contains('\\') || path.contains('@') {
        return Err(TargetError::Path("no backslashes or @"));
    }
    let lower = path.to_ascii_lowercase();
    if ["%2f", "%5c", "%2e", "%40", "%25"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return Err(TargetError::Path("no encoded slashes, dots or @"));
    }
    if path
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err(TargetError::Path("no dot segments"));
    }
    Ok(())
}

/// The URL to call: `target` resolved against `base` (the app's rendered base URL) and checked
/// against `allowed` domains.
///
/// # Errors
/// [`TargetError`].
pub fn resolve(target: &str, base: &str, allowed: &[String]) -> Result<url::Url, TargetError> {
    if has_scheme(target) {
        let url = url::Url::parse(target).map_err(|_| TargetError::Scheme)?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(TargetError::Scheme);
        }
        if !host_allowed(&url, allowed) {
            return Err(TargetError::Domain);
        }
        return Ok(url);
    }
    check_relative(target)?;
    let base_url = url::Url::parse(base).map_err(|_| TargetError::Base)?;
    let joined = if target.starts_with('/') {
        format!("{}{target}", base.trim_end_matches('/'))
    } else {
        format!("{}/{target}", base.trim_end_matches('/'))
    };
    let url = url::Url::parse(&joined).map_err(|_| TargetError::Path("not a valid path"))?;
    // Whatever the parser made of it: same origin as the base, under the base's path.
    let base_path = base_url.path().trim_end_matches('/');
    let under_base = url.path() == base_path
        || url.path().starts_with(&format!("{base_path}/"))
        || base_path.is_empty();
    if url.origin() != base_url.origin() || !under_base {
        return Err(TargetError::Path("it leaves the base URL"));
    }
    if !host_allowed(&url, allowed) {
        return Err(TargetError::Domain);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    use super::*;

    fn allowed() -> Vec<String> {
        vec!["slack.com".into(), "*.slack.com".into()]
    }

    #[test]
    fn both_alphabets_with_or_without_padding_and_percent_encoding() {
        let url = "https://slack.com/api/chat.postMessage";
        // What SDK 3.1.6 sends: standard, padded, then encodeURIComponent.
        assert_eq!(
            decode_segment("aHR0cHM6Ly9zbGFjay5jb20vYXBpL2NoYXQucG9zdE1lc3NhZ2U%3D").unwrap(),
            url
        );
        // What the docs and SDK 1.x send: URL-safe, unpadded.
        assert_eq!(
            decode_segment("aHR0cHM6Ly9zbGFjay5jb20vYXBpL2NoYXQucG9zdE1lc3NhZ2U").unwrap(),
            url
        );
        let tricky = "https://slack.com/api/x?q=>>>?&a=~~~";
        let std = STANDARD.encode(tricky);
        assert!(std.contains('+') || std.contains('/'), "{std}");
        let encoded: String = url::form_urlencoded::byte_serialize(std.as_bytes()).collect();
        assert_eq!(
            decode_segment(&encoded).unwrap(),
            "https://slack.com/api/x?q=>>>&&a=~~~"
        );
        assert_eq!(
            decode_segment(&URL_SAFE_NO_PAD.encode(tricky)).unwrap(),
            "https://slack.com/api/x?q=>>>&&a=~~~"
        );
        assert_eq!(
            decode_segment(
                &URL_SAFE_NO_PAD.encode("https://slack.com/api/users.list?x=1?limit=10")
            )
            .unwrap(),
            "https://slack.com/api/users.list?x=1&limit=10"
        );
        for bad in [
            "",
            "!!!",
            "%ZZ",
            &STANDARD.encode([0xff, 0xfe]),
            &STANDARD.encode("a\r\nb"),
        ] {
            assert!(decode_segment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_targets_stay_under_the_base() {
        let base = "https://slack.com/api";
        let ok = |t: &str| resolve(t, base, &allowed()).map(|u| u.to_string());
        assert_eq!(
            ok("/users.list?limit=1").unwrap(),
            "https://slack.com/api/users.list?limit=1"
        );
        assert_eq!(
            ok("users.list").unwrap(),
            "https://slack.com/api/users.list"
        );
        for bad in [
            "//evil.com/x",
            "/\\evil.com",
            "/..//evil.com",
            "/../admin",
            "/a/./b",
            "/%2e%2e/admin",
            "/a%2Fb",
            "/a%5cb",
            "@evil.com",
            "/x@evil.com",
            "/%40evil.com",
            "/%252e%252e/admin",
        ] {
            assert!(ok(bad).is_err(), "{bad} must be refused");
        }
    }

    proptest::proptest! {
        /// Whatever the caller sends, a target that resolves stays on the app's origin under its
        /// base path, or (absolute) on an allowed host: the credential cannot be steered away.
        #[test]
        fn no_target_leaves_the_app(
            target in proptest::string::string_regex("[a-z0-9/.:@%?#&=\\\\-]{0,40}").unwrap(),
            absolute in proptest::bool::ANY,
        ) {
            let target = if absolute { format!("https://{target}") } else { target };
            let base = "https://slack.com/api";
            if let Ok(url) = resolve(&target, base, &allowed()) {
                let host = url.host_str().unwrap_or("");
                proptest::prop_assert!(host == "slack.com" || host.ends_with(".slack.com"), "{target} -> {url}");
                proptest::prop_assert!(url.username().is_empty() && url.password().is_none());
                if !absolute {
                    proptest::prop_assert!(url.as_str().starts_with("https://slack.com/api"), "{target} -> {url}");
                }
            }
        }

        /// Every target round-trips through either Base64 alphabet, padded or not.
        #[test]
        fn base64_in_either_alphabet_round_trips(target in "https://slack\\.com/[a-z0-9/_.-]{0,30}") {
            use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
            let std: String = url::form_urlencoded::byte_serialize(STANDARD.encode(&target).as_bytes()).collect();
            let from_standard = decode_segment(&std).unwrap();
            proptest::prop_assert_eq!(from_standard.as_str(), target.as_str());
            let from_url_safe = decode_segment(&URL_SAFE_NO_PAD.encode(&target)).unwrap();
            proptest::prop_assert_eq!(from_url_safe.as_str(), target.as_str());
        }
    }

    #[test]
    fn absolute_targets_only_within_allowed_domains() {
        let base = "https://slack.com/api";
        let ok = |t: &str| resolve(t, base, &allowed());
        assert!(ok("https://slack.com/api/chat.postMessage").is_ok());
        assert!(ok("https://files.slack.com/x").is_ok());
        for bad in [
            "https://evil.com/",
            "https://slack.com.evil.com/",
            "https://slack.com@evil.com/",
            "https://user:pw@slack.com/",
            "http://169.254.169.254/latest/meta-data",
            "https://127.0.0.1/",
            "https://[::ffff:127.0.0.1]/",
            "file:///etc/passwd",
            "gopher://slack.com/",
            "javascript:alert(1)",
            "HTTPS://evil.com/",
        ] {
            assert!(ok(bad).is_err(), "{bad} must be refused");
        }
    }
}
