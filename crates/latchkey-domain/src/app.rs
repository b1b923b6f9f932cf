//! App definitions: what the catalog knows about a third-party service.
//!
//! The format is documented in `docs/APP-DEFINITIONS.md`. Definitions come from the built-in
//! catalog (TOML files compiled into the binary), from `<data dir>/apps/`, or from the admin API
//! (the same structure as JSON). All three go through [`AppDefinition::validate`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{template, ValidationError};

/// The categories an app may list. Kept closed so that the UI's category filter stays useful.
pub const CATEGORIES: &[&str] = &[
    "AI",
    "Analytics",
    "Calendar",
    "Communication",
    "CRM",
    "Database",
    "Design",
    "Developer Tools",
    "Documents",
    "E-commerce",
    "Email",
    "Finance",
    "Forms",
    "HR",
    "Maps",
    "Marketing",
    "Monitoring",
    "Music",
    "Payments",
    "Productivity",
    "Project Management",
    "Security",
    "Social Media",
    "Storage",
    "Support",
    "Video",
    "Weather",
];

/// How accounts of an app authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    /// OAuth (see [`OAuthConfig::grant`]).
    Oauth,
    /// Keys and other custom fields typed in by the user.
    Keys,
    /// No credentials at all.
    None,
}

impl AuthType {
    /// The wire form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Oauth => "oauth",
            AuthType::Keys => "keys",
            AuthType::None => "none",
        }
    }
}

/// The OAuth flavour of an `oauth` app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthGrant {
    /// OAuth 2 authorization code (with PKCE unless disabled).
    AuthorizationCode,
    /// OAuth 2 client credentials; the client id and secret are the account's fields.
    ClientCredentials,
    /// OAuth 1.0a three-legged flow with HMAC-SHA1 signatures.
    Oauth1,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1's preferred method).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// The `[oauth]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// Which flow.
    pub grant: OAuthGrant,
    /// Where the user consents (authorization code, OAuth 1 authorize URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// Token endpoint (OAuth 1: the access token URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// OAuth 1 temporary credentials URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_token_url: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<String>,
    /// Expected issuer (RFC 9207 `iss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Scopes requested unless a client overrides them.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Separator used to join scopes in the authorize request.
    #[serde(default = "default_scope_separator")]
    pub scope_separator: String,
    /// PKCE S256; off only where the provider rejects it.
    #[serde(default = "default_true")]
    pub pkce: bool,
    /// Extra authorize-request parameters (e.g. `access_type=offline`).
    #[serde(default)]
    pub authorization_params: BTreeMap<String, String>,
    /// Client authentication at the token endpoint.
    #[serde(default)]
    pub token_auth_method: TokenAuthMethod,
    /// Refresh this long before expiry (capped at half the token's lifetime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_margin_seconds: Option<u32>,
    /// Refresh idle accounts at least this often (providers that expire unused refresh tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_seconds: Option<u64>,
}

fn default_scope_separator() -> String {
    " ".to_owned()
}

fn default_true() -> bool {
    true
}

/// Types of custom fields; they drive the form widget and input validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Free text, shown.
    String,
    /// A secret, never shown again.
    Password,
    /// An absolute http(s) URL.
    Url,
    /// An email address.
    Email,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
}

impl FieldType {
    /// The wire form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Password => "password",
            FieldType::Url => "url",
            FieldType::Email => "email",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
        }
    }
}

/// One `[[custom_fields]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomField {
    /// The field's key in `cfmap` and in templates.
    pub name: String,
    /// Form label.
    pub label: String,
    /// Widget and validation.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// May be left empty.
    #[serde(default)]
    pub optional: bool,
    /// Value used when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// HTTP Basic credentials built from templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthTemplate {
    /// Username template.
    pub username: String,
    /// Password template (may be empty).
    #[serde(default)]
    pub password: String,
}

/// The `[request]` section: how calls to the app's API carry the credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTemplate {
    /// API base URL; may contain placeholders.
    pub base_url: String,
    /// Hosts the credentials may be sent to (`*.example.com` allows subdomains).
    pub allowed_domains: Vec<String>,
    /// Header templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameter templates.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// HTTP Basic templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuthTemplate>,
}

/// The `[test]` section: a cheap authenticated request proving the credentials work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `GET`, `HEAD` or `POST`.
    #[serde(default = "default_method")]
    pub method: String,
    /// Path relative to the base URL, starting with `/`.
    pub path: String,
    /// The status that means "credentials work".
    #[serde(default = "default_status")]
    pub expect_status: u16,
}

fn default_method() -> String {
    "GET".to_owned()
}

fn default_status() -> u16 {
    200
}

/// One app of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDefinition {
    /// Unique slug, e.g. `slack`.
    pub name_slug: String,
    /// Display name.
    pub name: String,
    /// How accounts authenticate.
    pub auth_type: AuthType,
    /// One sentence.
    #[serde(default)]
    pub description: String,
    /// Categories from [`CATEGORIES`].
    #[serde(default)]
    pub categories: Vec<String>,
    /// Logo URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub img_src: Option<String>,
    /// The provider documentation the definition was checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    /// Popularity, higher first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub featured_weight: Option<f64>,
    /// OAuth settings (`auth_type = "oauth"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthConfig>,
    /// Fields the user fills in.
    #[serde(default)]
    pub custom_fields: Vec<CustomField>,
    /// How requests are authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestTemplate>,
    /// Credential check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestRequest>,
}

/// Placeholders filled from OAuth grants rather than custom fields.
pub const OAUTH_FIELDS: &[&str] = &["oauth_access_token", "oauth_uid"];

fn err(field: &str, message: &str) -> ValidationError {
    ValidationError::new(field, message)
}

fn is_field_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.len() <= 64
}

/// `^[a-z0-9_]{2,64}$`.
#[must_use]
pub fn is_slug(slug: &str) -> bool {
    (2..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks an endpoint URL: absolute http(s), no credentials or fragment. `https_only` is set for
/// the built-in catalog; custom apps may point at plain-http services on private networks, which
/// the egress policy then governs.
fn check_url(field: &str, raw: &str, https_only: bool) -> Result<(), ValidationError> {
    // Placeholders (e.g. a subdomain) are checked with a neutral stand-in.
    let concrete =
        template::render(raw, |_| Some("placeholder")).map_err(|e| err(field, &e.to_string()))?;
    let url = url::Url::parse(&concrete).map_err(|_| err(field, "must be an absolute URL"))?;
    let scheme_ok = url.scheme() == "https" || (!https_only && url.scheme() == "http");
    if !scheme_ok {
        return Err(err(
            field,
            if https_only {
                "must use https"
            } else {
                "must use http or https"
            },
        ));
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(err(field, "must have a host and no user info"));
    }
    if url.fragment().is_some() && field != "docs_url" {
        return Err(err(field, "must not have a fragment"));
    }
    Ok(())
}

impl AppDefinition {
    /// Parses a TOML app file.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the file's problem (syntax, unknown key, broken rule).
    pub fn from_toml(source: &str) -> Result<Self, ValidationError> {
        let app: Self = toml::from_str(source).map_err(|e| err("toml", e.message()))?;
        Ok(app)
    }

    /// Checks every rule of the format. `builtin` adds the catalog's rules: `docs_url` and a
    /// description are required and every URL must be https.
    ///
    /// # Errors
    /// The first broken rule, with its field path.
    pub fn validate(&self, builtin: bool) -> Result<(), ValidationError> {
        let strict = builtin;
        if !is_slug(&self.name_slug) {
            return Err(err("name_slug", "must match ^[a-z0-9_]{2,64}$"));
        }
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err(err("name", "must be 1 to 100 characters"));
        }
        if self.description.len() > 2000 {
            return Err(err("description", "must be at most 2000 characters"));
        }
        if strict && self.description.trim().is_empty() {
            return Err(err("description", "is required"));
        }
        for (i, category) in self.categories.iter().enumerate() {
            if !CATEGORIES.contains(&category.as_str()) {
                return Err(err(&format!("categories[{i}]"), "is not a known category"));
            }
        }
        if strict && self.categories.is_empty() {
            return Err(err("categories", "needs at least one category"));
        }
        match (&self.docs_url, strict) {
            (Some(url), _) => check_url("docs_url", url, strict)?,
            (None, true) => return Err(err("docs_url", "is required")),
            (None, false) => {}
        }
        if let Some(img) = &self.img_src {
            check_url("img_src", img, strict)?;
        }
        self.validate_fields()?;
        self.validate_oauth(strict)?;
        self.validate_request(strict)?;
        self.validate_test()
    }

    fn validate_fields(&self) -> Result<(), ValidationError> {
        let mut seen = BTreeSet::new();
        for (i, field) in self.custom_fields.iter().enumerate() {
            let path = format!("custom_fields[{i}]");
            if !is_field_name(&field.name) {
                return Err(err(&format!("{path}.name"), "must match ^[a-z][a-z0-9_]*$"));
            }
            if OAUTH_FIELDS.contains(&field.name.as_str()) {
                return Err(err(&format!("{path}.name"), "is reserved for OAuth grants"));
            }
            if !seen.insert(field.name.as_str()) {
                return Err(err(&format!("{path}.name"), "is declared twice"));
            }
            if field.label.trim().is_empty() {
                return Err(err(&format!("{path}.label"), "is required"));
            }
        }
        if self.auth_type == AuthType::Keys && self.custom_fields.is_empty() {
            return Err(err("custom_fields", "a keys app needs at least one field"));
        }
        Ok(())
    }

    fn validate_oauth(&self, strict: bool) -> Result<(), ValidationError> {
        let Some(oauth) = &self.oauth else {
            if self.auth_type == AuthType::Oauth {
                return Err(err("oauth", "is required when auth_type is oauth"));
            }
            return Ok(());
        };
        if self.auth_type != AuthType::Oauth {
            return Err(err("oauth", "is only allowed when auth_type is oauth"));
        }
        let need = |name: &str, value: &Option<String>| -> Result<(), ValidationError> {
            match value {
                Some(url) => check_url(&format!("oauth.{name}"), url, strict),
                None => Err(err(&format!("oauth.{name}"), "is required for this grant")),
            }
        };
        match oauth.grant {
            OAuthGrant::AuthorizationCode => {
                need("authorization_url", &oauth.authorization_url)?;
                need("token_url", &oauth.token_url)?;
            }
            OAuthGrant::ClientCredentials => {
                need("token_url", &oauth.token_url)?;
                for required in ["client_id", "client_secret"] {
                    if !self.custom_fields.iter().any(|f| f.name == required) {
                        return Err(err(
                            "custom_fields",
                            "client_credentials apps need client_id and client_secret fields",
                        ));
                    }
                }
            }
            OAuthGrant::Oauth1 => {
                need("request_token_url", &oauth.request_token_url)?;
                need("authorization_url", &oauth.authorization_url)?;
                need("token_url", &oauth.token_url)?;
            }
        }
        if let Some(url) = &oauth.revocation_url {
            check_url("oauth.revocation_url", url, strict)?;
        }
        if oauth.scope_separator.is_empty() {
            return Err(err("oauth.scope_separator", "must not be empty"));
        }
        for (i, scope) in oauth.default_scopes.iter().enumerate() {
            if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(err(
                    &format!("oauth.default_scopes[{i}]"),
                    "must be a non-empty scope without spaces",
                ));
            }
        }
        Ok(())
    }

    fn validate_request(&self, strict: bool) -> Result<(), ValidationError> {
        let Some(request) = &self.request else {
            if self.auth_type == AuthType::None {
                return Ok(());
            }
            return Err(err("request", "is required unless auth_type is none"));
        };
        check_url("request.base_url", &request.base_url, strict)?;
        if request.allowed_domains.is_empty() {
            return Err(err("request.allowed_domains", "needs at least one domain"));
        }
        for (i, domain) in request.allowed_domains.iter().enumerate() {
            let host = domain.strip_prefix("*.").unwrap_or(domain);
            let valid = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !valid {
                return Err(err(
                    &format!("request.allowed_domains[{i}]"),
                    "must be a host name, optionally starting with *.",
                ));
            }
        }
        let mut templates: Vec<(String, &str)> =
            vec![("request.base_url".into(), &request.base_url)];
        templates.extend(
            request
                .headers
                .iter()
                .map(|(k, v)| (format!("request.headers.{k}"), v.as_str())),
        );
        templates.extend(
            request
                .query
                .iter()
                .map(|(k, v)| (format!("request.query.{k}"), v.as_str())),
        );
        if let Some(basic) = &request.basic_auth {
            templates.push(("request.basic_auth.username".into(), &basic.username));
            templates.push(("request.basic_auth.password".into(), &basic.password));
        }
        for (path, template) in templates {
            let names = template::placeholders(template).map_err(|e| err(&path, &e.to_string()))?;
            for name in names {
                if !self.has_field(name) {
                    return Err(err(
                        &path,
                        &format!("uses {{{{{name}}}}}, which is not a field of this app"),
                    ));
                }
            }
        }
        for name in request.headers.keys() {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(err(
                    &format!("request.headers.{name}"),
                    "is not a valid header name",
                ));
            }
        }
        Ok(())
    }

    fn validate_test(&self) -> Result<(), ValidationError> {
        let Some(test) = &self.test else {
            return Ok(());
        };
        if self.request.is_none() {
            return Err(err("test", "needs a [request] section"));
        }
        if !test.path.starts_with('/') || test.path.starts_with("//") {
            return Err(err("test.path", "must be a path starting with a single /"));
        }
        if !["GET", "HEAD", "POST"].contains(&test.method.as_str()) {
            return Err(err("test.method", "must be GET, HEAD or POST"));
        }
        if !(100..=599).contains(&test.expect_status) {
            return Err(err("test.expect_status", "must be an HTTP status"));
        }
        Ok(())
    }

    /// Whether `name` is a credential field of this app (custom field, or an OAuth field for
    /// OAuth apps).
    #[must_use]
    pub fn has_field(&self, name: &str) -> bool {
        self.custom_fields.iter().any(|f| f.name == name)
            || (self.auth_type == AuthType::Oauth && OAUTH_FIELDS.contains(&name))
    }

    /// The stable public id of this app (`app_…`), derived from its slug, and from the
    /// workspace for custom apps so two workspaces' apps never share an id.
    #[must_use]
    pub fn id(&self, workspace_id: Option<&str>) -> String {
        match workspace_id {
            None => crate::ids::derived(crate::ids::APP, &self.name_slug),
            Some(ws) => crate::ids::derived(crate::ids::APP, &format!("{ws}/{}", self.name_slug)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI: &str = r#"
        name_slug = "openai"
        name = "OpenAI"
        auth_type = "keys"
        description = "Models."
        categories = ["AI"]
        docs_url = "https://platform.openai.com/docs/api-reference/authentication"
        [[custom_fields]]
        name = "api_key"
        label = "API key"
        type = "password"
        [request]
        base_url = "https://api.openai.com/v1"
        allowed_domains = ["api.openai.com"]
        headers = { Authorization = "Bearer {{api_key}}" }
        [test]
        path = "/models"
    "#;

    #[test]
    fn parses_and_validates_a_keys_app() {
        let app = AppDefinition::from_toml(OPENAI).unwrap();
        app.validate(true).unwrap();
        assert_eq!(app.test.as_ref().unwrap().expect_status, 200);
    }

    #[test]
    fn rejects_unknown_keys_and_undeclared_placeholders() {
        let typo = OPENAI.replace("docs_url", "doc_url");
        assert!(AppDefinition::from_toml(&typo).is_err());
        let bad = OPENAI.replace("Bearer {{api_key}}", "Bearer {{token}}");
        let e = AppDefinition::from_toml(&bad)
            .unwrap()
            .validate(true)
            .unwrap_err();
        assert_eq!(e.field, "request.headers.Authorization");
    }

    #[test]
    fn builtin_apps_need_https() {
        let http = OPENAI.replace("https://api.openai.com/v1", "http://api.openai.com/v1");
        let app = AppDefinition::from_toml(&http).unwrap();
        assert_eq!(app.validate(true).unwrap_err().field, "request.base_url");
        app.validate(false).unwrap();
    }
}
