//! The authorization request (RFC 6749 §4.1.1) and the issuer check on its response (RFC 9207).

use latchkey_domain::app::OAuthConfig;

/// What goes into one authorization request (deliberately not `Debug`: it carries the state).
pub struct AuthorizeParams<'a> {
    /// The client id.
    pub client_id: &'a str,
    /// Exactly the redirect URI registered with the provider.
    pub redirect_uri: &'a str,
    /// Scopes to request (joined with the app's separator).
    pub scopes: &'a [String],
    /// The flow's `state`.
    pub state: &'a str,
    /// The PKCE S256 challenge, unless the app disables PKCE.
    pub code_challenge: Option<&'a str>,
}

/// The provider's authorization URL for these parameters. Extra `authorization_params` of the
/// app are added, but never override the protocol parameters.
///
/// # Errors
/// When the app has no (valid) authorization URL.
pub fn authorize_url(
    oauth: &OAuthConfig,
    params: &AuthorizeParams<'_>,
) -> Result<url::Url, String> {
    let base = oauth
        .authorization_url
        .as_deref()
        .ok_or("the app has no authorization URL")?;
    let mut url =
        url::Url::parse(base).map_err(|_| "the app's authorization URL is invalid".to_owned())?;
    const PROTOCOL: &[&str] = &[
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ];
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", params.client_id)
            .append_pair("redirect_uri", params.redirect_uri)
            .append_pair("state", params.state);
        if !params.scopes.is_empty() {
            query.append_pair("scope", &params.scopes.join(&oauth.scope_separator));
        }
        if let Some(challenge) = params.code_challenge {
            query
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
        for (key, value) in &oauth.authorization_params {
            if !PROTOCOL.contains(&key.as_str()) {
                query.append_pair(key, value);
            }
        }
    }
    Ok(url)
}

/// Why an authorization response's issuer was refused (mix-up defence).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// The response names another issuer.
    #[error("the authorization response came from an unexpected issuer")]
    Mismatch,
    /// The provider advertises `iss` but the response lacks it.
    #[error("the authorization response is missing the issuer")]
    Missing,
}

/// RFC 9207 §2.4: compare `iss` by exact string match with the expected issuer; when the
/// provider advertises `authorization_response_iss_parameter_supported`, a missing `iss` is
/// refused.
///
/// # Errors
/// [`IssuerError`].
pub fn check_issuer(
    expected: Option<&str>,
    advertised: bool,
    received: Option<&str>,
) -> Result<(), IssuerError> {
    match (expected, received) {
        (Some(expected), Some(received)) if expected == received => Ok(()),
        (Some(_), Some(_)) => Err(IssuerError::Mismatch),
        (Some(_), None) if advertised => Err(IssuerError::Missing),
        // No expected issuer recorded, but the response names one: nothing to compare against
        // except the flow itself, which only an expected issuer can do.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use latchkey_domain::app::{OAuthGrant, TokenAuthMethod};

    use super::*;

    fn oauth(separator: &str) -> OAuthConfig {
        OAuthConfig {
            grant: OAuthGrant::AuthorizationCode,
            authorization_url: Some("https://provider.test/authorize?tenant=x".into()),
            token_url: Some("https://provider.test/token".into()),
            request_token_url: None,
            revocation_url: None,
            issuer: None,
            authorization_response_iss_parameter_supported: false,
            default_scopes: vec![],
            scope_separator: separator.into(),
            pkce: true,
            authorization_params: BTreeMap::from([
                ("access_type".into(), "offline".into()),
                ("state".into(), "evil".into()),
            ]),
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
            refresh_margin_seconds: None,
            keepalive_seconds: None,
        }
    }

    #[test]
    fn builds_the_authorization_request() {
        let scopes = vec!["a:read".to_owned(), "b".to_owned()];
        let url = authorize_url(
            &oauth(","),
            &AuthorizeParams {
                client_id: "cid",
                redirect_uri: "https://lk.test/oauth/callback",
                scopes: &scopes,
                state: "s1",
                code_challenge: Some("ch"),
            },
        )
        .unwrap();
        let q: BTreeMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "x", "existing query parameters are kept");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "a:read,b");
        assert_eq!(
            q["state"], "s1",
            "app parameters never override protocol ones"
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["redirect_uri"], "https://lk.test/oauth/callback");
    }

    #[test]
    fn issuer_checks_follow_rfc_9207() {
        assert_eq!(
            check_issuer(Some("https://as"), true, Some("https://as")),
            Ok(())
        );
        assert_eq!(
            check_issuer(Some("https://as"), false, Some("https://evil")),
            Err(IssuerError::Mismatch)
        );
        assert_eq!(
            check_issuer(Some("https://as"), true, None),
            Err(IssuerError::Missing)
        );
        assert_eq!(check_issuer(Some("https://as"), false, None), Ok(()));
        assert_eq!(
            check_issuer(Some("https://as"), false, Some("https://as/")),
            Err(IssuerError::Mismatch),
            "exact match only"
        );
    }
}
