//! Token requests and responses (RFC 6749 §4.1.3, §5, §6), with the quirks of real providers.

use base64::{engine::general_purpose::STANDARD, Engine};
use latchkey_domain::app::TokenAuthMethod;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Lifetime assumed for scheduling when a provider sends no `expires_in` (the token's own
/// `expires_at` stays unknown).
pub const DEFAULT_EXPIRES_IN_SECONDS: u64 = 3600;
/// Longest lifetime believed: anything beyond is treated as this (T-19 "clamp").
const MAX_EXPIRES_IN_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// How the client authenticates one token request.
pub struct ClientAuth {
    /// `Authorization: Basic …` (client_secret_basic).
    pub header: Option<String>,
    /// Form fields to add (client_secret_post, or the client id for basic).
    pub form: Vec<(&'static str, String)>,
}

/// Client authentication for the app's method. For HTTP Basic, RFC 6749 §2.3.1 requires the id
/// and secret to be form-urlencoded before base64.
#[must_use]
pub fn client_auth(
    method: TokenAuthMethod,
    client_id: &str,
    client_secret: &SecretString,
) -> ClientAuth {
    match method {
        TokenAuthMethod::ClientSecretBasic => {
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!(
                "{}:{}",
                encode(client_id),
                encode(client_secret.expose_secret())
            );
            ClientAuth {
                header: Some(format!("Basic {}", STANDARD.encode(pair))),
                form: vec![],
            }
        }
        TokenAuthMethod::ClientSecretPost => ClientAuth {
            header: None,
            form: vec![
                ("client_id", client_id.to_owned()),
                ("client_secret", client_secret.expose_secret().to_owned()),
            ],
        },
    }
}

/// Tokens from a successful response.
pub struct TokenSet {
    /// The access token.
    pub access_token: SecretString,
    /// A new refresh token, if the provider sent one (absent means: keep the old one).
    pub refresh_token: Option<SecretString>,
    /// Lifetime in seconds, clamped; `None` when the provider did not say.
    pub expires_in: Option<u64>,
    /// Granted scopes, if the provider said (space- or comma-separated, or an array).
    pub scopes: Option<Vec<String>>,
    /// The provider's user id, when it includes one (e.g. Slack's `authed_user.id`, `user_id`).
    pub uid: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Why a token request failed, classified for what to do next (SECURITY.md T-20).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is no longer valid (re-read before concluding
    /// the account is dead: a sibling may have just rotated it).
    #[error("the provider rejected the grant (invalid_grant)")]
    InvalidGrant,
    /// `invalid_client` / `unauthorized_client`: the OAuth client is misconfigured.
    #[error("the provider rejected the OAuth client ({0})")]
    InvalidClient(String),
    /// Any other OAuth error code (the request itself was wrong).
    #[error("the provider refused the request ({0})")]
    Rejected(String),
    /// 5xx, 429, timeouts, unreadable answers: try again later, after `retry_after` seconds if
    /// the provider said.
    #[error("the provider is unavailable (try again later)")]
    Transient {
        /// `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
}

#[derive(Deserialize)]
struct RawResponse {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<serde_json::Value>,
    error: Option<String>,
    user_id: Option<serde_json::Value>,
    authed_user: Option<AuthedUser>,
}

#[derive(Deserialize)]
struct AuthedUser {
    id: Option<String>,
}

fn number(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn scopes(value: &serde_json::Value) -> Option<Vec<String>> {
    let list: Vec<String> = match value {
        serde_json::Value::String(s) => s
            .split([' ', ','])
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return None,
    };
    Some(list)
}

fn classify_error(code: &str) -> TokenError {
    match code {
        "invalid_grant" => TokenError::InvalidGrant,
        "invalid_client" | "unauthorized_client" => TokenError::InvalidClient(code.to_owned()),
        "temporarily_unavailable" | "server_error" | "slow_down" => {
            TokenError::Transient { retry_after: None }
        }
        other => TokenError::Rejected(
            other
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect(),
        ),
    }
}

/// Interprets a token endpoint's answer. Some providers answer errors with 200 (GitHub), so the
/// body decides, not only the status.
///
/// # Errors
/// [`TokenError`], classified.
pub fn parse_token_response(
    status: u16,
    body: &[u8],
    retry_after: Option<u64>,
) -> Result<TokenSet, TokenError> {
    if status == 429 || status >= 500 {
        return Err(TokenError::Transient { retry_after });
    }
    let raw: RawResponse = match serde_json::from_slice(body) {
        Ok(raw) => raw,
        // A 2xx we cannot read is as useless as an outage; a 4xx without an OAuth error body
        // says nothing about the grant either.
        Err(_) => return Err(TokenError::Transient { retry_after }),
    };
    if let Some(code) = raw.error.as_deref() {
        return Err(classify_error(code));
    }
    if !(200..300).contains(&status) {
        return Err(TokenError::Transient { retry_after });
    }
    let access_token = raw
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Rejected("no access_token in the response".into()))?;
    Ok(TokenSet {
        access_token: SecretString::from(access_token),
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        // 0 (seen in the wild for "does not expire") is treated as unknown, not as "refresh on
        // every read".
        expires_in: raw
            .expires_in
            .as_ref()
            .and_then(number)
            .filter(|s| *s > 0)
            .map(|s| s.min(MAX_EXPIRES_IN_SECONDS)),
        scopes: raw.scope.as_ref().and_then(scopes),
        uid: raw.authed_user.and_then(|u| u.id).or_else(|| {
            raw.user_id
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_standard_and_quirky_responses() {
        let ok = parse_token_response(200, br#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","scope":"a b"}"#, None).unwrap();
        assert_eq!(ok.access_token.expose_secret(), "at");
        assert_eq!(ok.refresh_token.unwrap().expose_secret(), "rt");
        assert_eq!(
            (ok.expires_in, ok.scopes.unwrap()),
            (Some(3600), vec!["a".to_owned(), "b".to_owned()])
        );

        let quirky = parse_token_response(200, br#"{"access_token":"at","expires_in":"7200","scope":"chat:write,users:read","authed_user":{"id":"U1"}}"#, None).unwrap();
        assert!(
            quirky.refresh_token.is_none(),
            "absent means keep the old one"
        );
        assert_eq!(quirky.expires_in, Some(7200));
        assert_eq!(quirky.scopes.unwrap(), vec!["chat:write", "users:read"]);
        assert_eq!(quirky.uid.as_deref(), Some("U1"));

        let zero =
            parse_token_response(200, br#"{"access_token":"at","expires_in":0}"#, None).unwrap();
        assert_eq!(zero.expires_in, None);
        let bare = parse_token_response(200, br#"{"access_token":"at"}"#, None).unwrap();
        assert_eq!((bare.expires_in, bare.scopes.is_none()), (None, true));
        let huge = parse_token_response(
            200,
            br#"{"access_token":"at","expires_in":99999999999}"#,
            None,
        )
        .unwrap();
        assert_eq!(huge.expires_in, Some(MAX_EXPIRES_IN_SECONDS));
        assert!(!format!("{huge:?}").contains("at\""));
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(
            parse_token_response(
                400,
                br#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
                None
            )
            .err(),
            Some(TokenError::InvalidGrant)
        );
        assert_eq!(
            parse_token_response(200, br#"{"error":"bad_verification_code"}"#, None).err(),
            Some(TokenError::Rejected("bad_verification_code".into()))
        );
        assert_eq!(
            parse_token_response(401, br#"{"error":"invalid_client"}"#, None).err(),
            Some(TokenError::InvalidClient("invalid_client".into()))
        );
        assert_eq!(
            parse_token_response(503, b"down", Some(30)).err(),
            Some(TokenError::Transient {
                retry_after: Some(30)
            })
        );
        assert_eq!(
            parse_token_response(429, b"{}", None).err(),
            Some(TokenError::Transient { retry_after: None })
        );
        assert_eq!(
            parse_token_response(200, b"<html>", None).err(),
            Some(TokenError::Transient { retry_after: None })
        );
        assert_eq!(
            parse_token_response(200, br#"{"token_type":"bearer"}"#, None).err(),
            Some(TokenError::Rejected(
                "no access_token in the response".into()
            ))
        );
    }

    #[test]
    fn client_authentication_methods() {
        let secret = SecretString::from("s:é".to_owned());
        let basic = client_auth(TokenAuthMethod::ClientSecretBasic, "id 1", &secret);
        assert_eq!(
            basic.header.unwrap(),
            format!("Basic {}", STANDARD.encode("id+1:s%3A%C3%A9"))
        );
        assert!(basic.form.is_empty());
        let post = client_auth(TokenAuthMethod::ClientSecretPost, "id", &secret);
        assert!(post.header.is_none());
        assert_eq!(post.form[0], ("client_id", "id".to_owned()));
    }
}
