//! Outbound HTTP: one client for every call Latchkey makes to third parties (credential checks
//! now; token exchange, refresh and proxying later).
//!
//! Safe defaults for a credential broker (SECURITY.md finding 4): redirects are never followed
//! (a redirect could carry the credentials to another host), the system's proxy variables are
//! ignored, and every request has a connect and a total timeout.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use latchkey_domain::{app::AppDefinition, template};
use serde::Serialize;

use crate::vault::Credentials;

/// Builds the shared client.
///
/// # Panics
/// If the TLS backend cannot initialise (a broken build, not a runtime condition).
#[must_use]
pub fn client(total_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .timeout(total_timeout)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("HTTP client builds")
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

/// An authenticated request to `path` under the app's base URL, built from the app's request
/// template with `credentials`.
///
/// # Errors
/// A message when a template needs a field the credentials lack or the URL is invalid.
pub fn authenticated_request(
    http: &reqwest::Client,
    app: &AppDefinition,
    credentials: &Credentials,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let request = app
        .request
        .as_ref()
        .ok_or("the app has no request template")?;
    let render =
        |t: &str| template::render(t, |name| credentials.get(name)).map_err(|e| e.to_string());
    let base = render(&request.base_url)?;
    let url = format!("{}{}", base.trim_end_matches('/'), path);
    let url = url::Url::parse(&url).map_err(|_| "the app's base URL is invalid".to_owned())?;
    let mut builder = http.request(method, url);
    for (name, value) in &request.headers {
        builder = builder.header(name, render(value)?);
    }
    let query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| Ok((k.clone(), render(v)?)))
        .collect::<Result<_, String>>()?;
    if !query.is_empty() {
        builder = builder.query(&query);
    }
    if let Some(basic) = &request.basic_auth {
        let pair = format!("{}:{}", render(&basic.username)?, render(&basic.password)?);
        builder = builder.header(
            reqwest::header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(pair)),
        );
    }
    Ok(builder)
}

/// Runs the app's `[test]` request with `credentials`.
pub async fn check_credentials(
    http: &reqwest::Client,
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
