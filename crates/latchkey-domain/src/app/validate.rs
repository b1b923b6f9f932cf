//! The rules every app definition must follow (`AppDefinition::validate`).

use std::collections::BTreeSet;

use super::{is_slug, AppDefinition, AuthType, OAuthGrant, CATEGORIES, OAUTH_FIELDS};
use crate::{template, ValidationError};

fn err(field: &str, message: &str) -> ValidationError {
    ValidationError::new(field, message)
}

fn is_field_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.len() <= 64
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
        if oauth.authorization_response_iss_parameter_supported && oauth.issuer.is_none() {
            return Err(err(
                "oauth.issuer",
                "is required when authorization_response_iss_parameter_supported is set",
            ));
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
