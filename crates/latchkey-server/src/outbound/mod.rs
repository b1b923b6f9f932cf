//! Outbound HTTP: the one way Latchkey talks to third parties (credential checks, token
//! exchange, refresh, revocation, and later the proxy).
//!
//! Safe defaults for a credential broker (SECURITY.md finding 4): redirects are never followed
//! (a redirect could carry credentials to another host), the system's proxy variables are
//! ignored (an explicit egress proxy can be configured instead), every request has a connect and
//! a total timeout, response bodies read by Latchkey are size-capped, and every destination
//! passes the egress policy (`egress.rs`).

mod egress;

use std::{net::IpAddr, sync::Arc, time::Duration};

use base64::{engine::general_purpose::STANDARD, Engine};
use latchkey_domain::{
    app::{AppDefinition, RequestTemplate},
    template,
};
use serde::Serialize;

pub use self::egress::{EgressError, EgressPolicy};
use crate::vault::Credentials;

/// Largest response body Latchkey itself reads (token responses, checks): 1 MiB.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Egress settings from the configuration.
#[derive(Debug, Clone, Default)]
pub struct EgressSettings {
    /// Comma-separated CIDR ranges allowed besides public addresses (`LATCHKEY_EGRESS_ALLOW`).
    pub allow: String,
    /// An HTTP CONNECT proxy all outbound traffic goes through (`LATCHKEY_EGRESS_PROXY`). The
    /// proxy then resolves names, so it is responsible for refusing internal destinations.
    pub proxy: Option<String>,
    /// Local address to send from (`LATCHKEY_EGRESS_BIND`), for a fixed source address.
    pub bind: Option<IpAddr>,
    /// Total timeout of a request.
    pub timeout: Duration,
}

/// The outbound clients and the policy they enforce.
#[derive(Clone)]
pub struct Outbound {
    policy: EgressPolicy,
    https: reqwest::Client,
    plain: reqwest::Client,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn build_client(
    settings: &EgressSettings,
    resolver: EgressPolicy,
    https_only: bool,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .https_only(https_only)
        .connect_timeout(Duration::from_secs(10))
        .timeout(settings.timeout)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")));
    if let Some(proxy) = &settings.proxy {
        builder = builder.proxy(
            reqwest::Proxy::all(proxy)
                .map_err(|_| "egress_proxy is not a valid proxy URL".to_owned())?,
        );
    }
    if let Some(bind) = settings.bind {
        builder = builder.local_address(bind);
    }
    builder
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))
}

impl Outbound {
    /// Builds the clients.
    ///
    /// # Errors
    /// A bad allow list or proxy URL.
    pub fn new(settings: &EgressSettings) -> Result<Self, String> {
        let policy = EgressPolicy::parse(&settings.allow)?;
        Ok(Self {
            https: build_client(settings, policy.clone(), true)?,
            plain: build_client(settings, policy.explicit_only(), false)?,
            policy,
        })
    }

    /// A request to `url`, if the egress policy allows it.
    ///
    /// # Errors
    /// [`EgressError`] for a refused scheme or address.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: url::Url,
    ) -> Result<reqwest::RequestBuilder, EgressError> {
        self.policy.check_url(&url)?;
        let client = if url.scheme() == "https" {
            &self.https
        } else {
            &self.plain
        };
        Ok(client.request(method, url))
    }
}

/// Reads a response body, refusing more than `max` bytes.
///
/// # Errors
/// A message when the body is too large or the connection fails.
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err("the response is too large".to_owned());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "the response was cut off".to_owned())?
    {
        if body.len() + chunk.len() > max {
            return Err("the response is too large".to_owned());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Result of an app's credential check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckResult {
    /// `passed`, `failed` or `skipped`.
    pub status: &'static str,
    /// The provider's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// What happened, for people. Never contains credentials or response bodies.
    pub message: String,
}

impl CheckResult {
    fn skipped(message: &str) -> Self {
        Self {
            status: "skipped",
            http_status: None,
            message: message.to_owned(),
        }
    }

    /// Whether the credentials are known to work or at least not known to fail.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        self.status == "failed"
    }
}

/// What an app's request template adds to a request: headers (basic auth included) and query
/// parameters, rendered with `credentials`.
pub struct Injection {
    /// Headers; they replace any header of the same name.
    pub headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// Query parameters, appended.
    pub query: Vec<(String, String)>,
}

impl std::fmt::Debug for Injection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The values are credentials.
        f.debug_struct("Injection")
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "query",
                &self.query.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Renders a template string with credential fields.
fn render_with(template_text: &str, credentials: &Credentials) -> Result<String, String> {
    template::render(template_text, |name| credentials.get(name)).map_err(|e| e.to_string())
}

/// The app's base URL rendered with `credentials` (placeholders such as a subdomain).
///
/// # Errors
/// A message when a placeholder names a field the credentials lack.
pub fn render_base_url(
    request: &RequestTemplate,
    credentials: &Credentials,
) -> Result<String, String> {
    render_with(&request.base_url, credentials)
}

/// Renders the template's credential injection.
///
/// # Errors
/// A message when a template needs a field the credentials lack or renders an invalid header.
pub fn injection(
    request: &RequestTemplate,
    credentials: &Credentials,
) -> Result<Injection, String> {
    let mut headers = Vec::new();
    for (name, value) in &request.headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("the app's header {name} is not a valid name"))?;
        let mut value = reqwest::header::HeaderValue::from_str(&render_with(value, credentials)?)
            .map_err(|_| format!("the app's header {name} renders an invalid value"))?;
        value.set_sensitive(true);
        headers.push((name, value));
    }
    if let Some(basic) = &request.basic_auth {
        let pair = format!(
            "{}:{}",
            render_with(&basic.username, credentials)?,
            render_with(&basic.password, credentials)?
        );
        let mut value =
            reqwest::header::HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
                .map_err(|_| "the basic credentials render an invalid header".to_owned())?;
        value.set_sensitive(true);
        headers.push((reqwest::header::AUTHORIZATION, value));
    }
    let query = request
        .query
        .iter()
        .map(|(k, v)| Ok((k.clone(), render_with(v, credentials)?)))
        .collect::<Result<_, String>>()?;
    Ok(Injection { headers, query })
}

/// An authenticated request to `path` under the app's base URL, built from the app's request
/// template with `credentials`.
///
/// # Errors
/// A message when a template needs a field the credentials lack or the URL is invalid.
pub fn authenticated_request(
    http: &Outbound,
    app: &AppDefinition,
    credentials: &Credentials,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let request = app
        .request
        .as_ref()
        .ok_or("the app has no request template")?;
    let base = render_base_url(request, credentials)?;
    let url = format!("{}{}", base.trim_end_matches('/'), path);
    let url = url::Url::parse(&url).map_err(|_| "the app's base URL is invalid".to_owned())?;
    // Field values are spliced into the base URL (e.g. a subdomain); whatever they contain, the
    // credentials may only go to the app's allowed domains (SECURITY.md T-26).
    if !host_allowed(&url, &request.allowed_domains) {
        return Err("the request would leave the app's allowed domains".to_owned());
    }
    let injection = injection(request, credentials)?;
    let mut builder = http.request(method, url).map_err(|e| e.to_string())?;
    for (name, value) in injection.headers {
        builder = builder.header(name, value);
    }
    if !injection.query.is_empty() {
        builder = builder.query(&injection.query);
    }
    Ok(builder)
}

/// Whether `url` has no user info and its host is one of `allowed` (`*.example.com` allows
/// subdomains of example.com, not example.com itself).
#[must_use]
pub fn host_allowed(url: &url::Url, allowed: &[String]) -> bool {
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|domain| {
        let domain = domain.to_ascii_lowercase();
        match domain.strip_prefix("*.") {
            Some(parent) => {
                host.len() > parent.len() + 1
                    && host.ends_with(parent)
                    && host.as_bytes()[host.len() - parent.len() - 1] == b'.'
            }
            None => host == domain,
        }
    })
}

/// Runs the app's `[test]` request with `credentials`.
pub async fn check_credentials(
    http: &Outbound,
    app: &AppDefinition,
    credentials: &Credentials,
) -> CheckResult {
    let Some(test) = &app.test else {
        return CheckResult::skipped("this app has no credential check");
    };
    let method =
        reqwest::Method::from_bytes(test.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let request = match authenticated_request(http, app, credentials, method, &test.path) {
        Ok(r) => r,
        Err(message) => {
            return CheckResult {
                status: "failed",
                http_status: None,
                message,
            }
        }
    };
    match request.send().await {
        Ok(response) if response.status().as_u16() == test.expect_status => CheckResult {
            status: "passed",
            http_status: Some(response.status().as_u16()),
            message: "the credentials work".to_owned(),
        },
        Ok(response) => CheckResult {
            status: "failed",
            http_status: Some(response.status().as_u16()),
            message: format!(
                "{} answered {} (expected {})",
                app.name,
                response.status().as_u16(),
                test.expect_status
            ),
        },
        Err(e) => CheckResult {
            status: "failed",
            http_status: None,
            message: if e.is_timeout() {
                format!("{} did not answer in time", app.name)
            } else {
                format!("could not reach {}", app.name)
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn hosts_must_be_allowed_domains() {
        let allowed = vec!["api.example.com".to_owned(), "*.zendesk.com".to_owned()];
        let ok = |u: &str| host_allowed(&url::Url::parse(u).unwrap(), &allowed);
        assert!(ok("https://api.example.com/v1"));
        assert!(ok("https://acme.zendesk.com/api/v2"));
        assert!(ok("https://API.EXAMPLE.COM./x"));
        for bad in [
            "https://zendesk.com/",
            "https://evilzendesk.com/",
            "https://169.254.169.254/#.zendesk.com",
            "https://evil.com/?.zendesk.com",
            "https://acme.zendesk.com@evil.com/",
            "https://user:pw@api.example.com/",
            "https://api.example.com.evil.com/",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn credential_checks_obey_the_egress_policy() {
        let app = AppDefinition::from_toml(
            r#"
            name_slug = "internal"
            name = "Internal"
            auth_type = "keys"
            [[custom_fields]]
            name = "token"
            label = "Token"
            type = "password"
            [request]
            base_url = "http://127.0.0.1:9"
            allowed_domains = ["127.0.0.1"]
            headers = { Authorization = "Bearer {{token}}" }
            [test]
            path = "/me"
            "#,
        )
        .unwrap();
        let credentials = Credentials::from_map(BTreeMap::from([("token".into(), "t".into())]));
        let strict = Outbound::new(&EgressSettings {
            timeout: Duration::from_secs(2),
            ..Default::default()
        })
        .unwrap();
        let result = check_credentials(&strict, &app, &credentials).await;
        assert_eq!(result.status, "failed");
        assert!(
            result.message.contains("egress") || result.message.contains("https"),
            "{}",
            result.message
        );
        let open = Outbound::new(&EgressSettings {
            allow: "127.0.0.0/8".into(),
            timeout: Duration::from_secs(2),
            ..Default::default()
        })
        .unwrap();
        let result = check_credentials(&open, &app, &credentials).await;
        assert_eq!(
            result.message, "could not reach Internal",
            "allowed, but nothing listens on port 9"
        );
    }
}
