//! App definitions: what the catalog knows about a third-party service.
//!
//! The format is documented in `docs/APP-DEFINITIONS.md`. Definitions come from the built-in
//! catalog (TOML files compiled into the binary), from `<data dir>/apps/`, or from the admin API
//! (the same structure as JSON). All three go through [`AppDefinition::validate`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod validate;

use crate::ValidationError;

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
    /// The provider advertises RFC 9207 (`authorization_response_iss_parameter_supported` in
    /// its metadata): a callback without `iss` is then refused. Needs `issuer`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
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

/// `^[a-z0-9_]{2,64}$`.
#[must_use]
pub fn is_slug(slug: &str) -> bool {
    (2..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl AppDefinition {
    /// Parses a TOML app file.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the file's problem (syntax, unknown key, broken rule).
    pub fn from_toml(source: &str) -> Result<Self, ValidationError> {
        let app: Self =
            toml::from_str(source).map_err(|e| ValidationError::new("toml", e.message()))?;
        Ok(app)
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
