//! Calls to a provider's token and revocation endpoints, through the egress policy.

use latchkey_domain::app::OAuthConfig;
use latchkey_oauth::{client_auth, parse_token_response, TokenError, TokenSet};
use secrecy::{ExposeSecret, SecretString};

use super::ClientCredentials;
use crate::outbound::{read_capped, Outbound, MAX_RESPONSE_BYTES};

/// Posts a token request (`form` plus client authentication) and classifies the answer.
async fn token_request(
    http: &Outbound,
    oauth: &OAuthConfig,
    client: &ClientCredentials,
    mut form: Vec<(&'static str, String)>,
) -> Result<TokenSet, TokenError> {
    let url = oauth
        .token_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or_else(|| TokenError::Rejected("the app has no valid token URL".into()))?;
    let auth = client_auth(
        oauth.token_auth_method,
        &client.client_id,
        &client.client_secret,
    );
    form.extend(auth.form);
    let mut request = http
        .request(reqwest::Method::POST, url)
        .map_err(|e| TokenError::Rejected(e.to_string()))?
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form);
    if let Some(header) = auth.header {
        request = request.header(reqwest::header::AUTHORIZATION, header);
    }
    let response = request
        .send()
        .await
        .map_err(|_| TokenError::Transient { retry_after: None })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = read_capped(response, MAX_RESPONSE_BYTES)
        .await
        .map_err(|_| TokenError::Transient { retry_after })?;
    parse_token_response(status, &body, retry_after)
}

/// Exchanges an authorization code (with its PKCE verifier).
///
/// # Errors
/// [`TokenError`].
pub async fn exchange_code(
    http: &Outbound,
    oauth: &OAuthConfig,
    client: &ClientCredentials,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&SecretString>,
) -> Result<TokenSet, TokenError> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier.expose_secret().to_owned()));
    }
    token_request(http, oauth, client, form).await
}

/// Uses a refresh token.
///
/// # Errors
/// [`TokenError`].
pub async fn refresh(
    http: &Outbound,
    oauth: &OAuthConfig,
    client: &ClientCredentials,
    refresh_token: &str,
) -> Result<TokenSet, TokenError> {
    let form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.to_owned()),
    ];
    token_request(http, oauth, client, form).await
}

/// Client credentials grant (RFC 6749 §4.4): a token for the client itself.
///
/// # Errors
/// [`TokenError`].
pub async fn client_credentials(
    http: &Outbound,
    oauth: &OAuthConfig,
    client: &ClientCredentials,
) -> Result<TokenSet, TokenError> {
    let mut form = vec![("grant_type", "client_credentials".to_owned())];
    if !oauth.default_scopes.is_empty() {
        form.push(("scope", oauth.default_scopes.join(&oauth.scope_separator)));
    }
    token_request(http, oauth, client, form).await
}

/// Revokes a token (RFC 7009). Best effort: the caller reports failures but never blocks on
/// them.
///
/// # Errors
/// A message for people.
pub async fn revoke(
    http: &Outbound,
    oauth: &OAuthConfig,
    client: &ClientCredentials,
    token: &str,
    hint: &str,
) -> Result<(), String> {
    let url = oauth
        .revocation_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or("the app has no revocation endpoint")?;
    let auth = client_auth(
        oauth.token_auth_method,
        &client.client_id,
        &client.client_secret,
    );
    let mut form = vec![
        ("token", token.to_owned()),
        ("token_type_hint", hint.to_owned()),
    ];
    form.extend(auth.form);
    let mut request = http
        .request(reqwest::Method::POST, url)
        .map_err(|e| e.to_string())?
        .form(&form);
    if let Some(header) = auth.header {
        request = request.header(reqwest::header::AUTHORIZATION, header);
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!(
            "the provider answered {} to the revocation",
            r.status().as_u16()
        )),
        Err(_) => Err("the provider could not be reached to revoke the grant".to_owned()),
    }
}
