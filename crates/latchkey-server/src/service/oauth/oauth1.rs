//! The OAuth 1.0a three-legged flow (RFC 5849) for the providers that still use it: temporary
//! credentials, the user's authorization, and the token exchange — each request signed with
//! HMAC-SHA1. The temporary token doubles as the flow's `state` (the provider sends it back).

use std::collections::BTreeMap;

use latchkey_domain::app::OAuthConfig;
use latchkey_oauth::{oauth1::Signer, random_token};
use secrecy::{ExposeSecret, SecretString};

use super::{
    connect::{flow_error, FlowError},
    ClientCredentials,
};
use crate::{
    clock,
    outbound::{read_capped, Outbound, MAX_RESPONSE_BYTES},
};

/// Temporary or access credentials from a token endpoint.
pub struct TokenPair {
    /// `oauth_token`.
    pub token: String,
    /// `oauth_token_secret`.
    pub secret: SecretString,
    /// Other fields the provider sent (e.g. `user_id`).
    pub extra: BTreeMap<String, String>,
}

async fn signed_post(
    http: &Outbound,
    url: &str,
    client: &ClientCredentials,
    token: Option<(&str, &SecretString)>,
    extra: &[(&str, &str)],
) -> Result<TokenPair, String> {
    let url = url::Url::parse(url).map_err(|_| "the app's OAuth 1 URL is invalid".to_owned())?;
    let signer = Signer {
        consumer_key: &client.client_id,
        consumer_secret: &client.client_secret,
        token,
    };
    let timestamp = u64::try_from(clock::now_ms() / 1000).unwrap_or(0);
    let header = signer.authorization("POST", &url, &[], extra, &random_token(), timestamp);
    let response = http
        .request(reqwest::Method::POST, url)
        .map_err(|e| e.to_string())?
        .header(reqwest::header::AUTHORIZATION, header)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .send()
        .await
        .map_err(|_| "the provider could not be reached".to_owned())?;
    let status = response.status();
    let body = read_capped(response, MAX_RESPONSE_BYTES).await?;
    if !status.is_success() {
        return Err(format!("the provider answered {}", status.as_u16()));
    }
    let mut fields = latchkey_oauth::oauth1::parse_form(&body);
    let token = fields
        .remove("oauth_token")
        .ok_or("no oauth_token in the response")?;
    let secret = fields
        .remove("oauth_token_secret")
        .ok_or("no oauth_token_secret in the response")?;
    Ok(TokenPair {
        token,
        secret: SecretString::from(secret),
        extra: fields,
    })
}

/// First leg: temporary credentials bound to our callback.
///
/// # Errors
/// A message for people.
pub async fn request_token(
    http: &Outbound,
    oauth: &OAuthConfig,
    client: &ClientCredentials,
    callback: &str,
) -> Result<TokenPair, String> {
    let url = oauth
        .request_token_url
        .as_deref()
        .ok_or("the app has no request token URL")?;
    let pair = signed_post(http, url, client, None, &[("oauth_callback", callback)]).await?;
    if pair
        .extra
        .get("oauth_callback_confirmed")
        .map(String::as_str)
        != Some("true")
    {
        return Err("the provider did not confirm the callback".to_owned());
    }
    Ok(pair)
}

/// Where to send the browser for the second leg.
///
/// # Errors
/// When the app's authorization URL is invalid.
pub fn authorize_location(oauth: &OAuthConfig, temporary_token: &str) -> Result<String, String> {
    let base = oauth
        .authorization_url
        .as_deref()
        .ok_or("the app has no authorization URL")?;
    let mut url =
        url::Url::parse(base).map_err(|_| "the app's authorization URL is invalid".to_owned())?;
    url.query_pairs_mut()
        .append_pair("oauth_token", temporary_token);
    for (key, value) in &oauth.authorization_params {
        if key != "oauth_token" {
            url.query_pairs_mut().append_pair(key, value);
        }
    }
    Ok(url.to_string())
}

/// Seals-able form of the temporary credentials (`token` newline `secret`).
#[must_use]
pub fn pack(pair: &TokenPair) -> String {
    format!("{}\n{}", pair.token, pair.secret.expose_secret())
}

/// The inverse of [`pack`].
#[must_use]
pub fn unpack(packed: &str) -> Option<(String, SecretString)> {
    let (token, secret) = packed.split_once('\n')?;
    Some((token.to_owned(), SecretString::from(secret.to_owned())))
}

/// Third leg: exchanges the temporary credentials and the verifier for access credentials.
///
/// # Errors
/// [`FlowError`] for people.
pub async fn access_token(
    http: &Outbound,
    oauth: &OAuthConfig,
    client: &ClientCredentials,
    temporary: (&str, &SecretString),
    verifier: &str,
    app_name: &str,
) -> Result<TokenPair, FlowError> {
    let url = oauth
        .token_url
        .as_deref()
        .ok_or_else(|| flow_error("misconfigured", "The app has no access token URL."))?;
    signed_post(
        http,
        url,
        client,
        Some(temporary),
        &[("oauth_verifier", verifier)],
    )
    .await
    .map_err(|m| {
        flow_error(
            "invalid_grant",
            format!("{app_name} did not accept the sign-in ({m}). Start again."),
        )
    })
}
