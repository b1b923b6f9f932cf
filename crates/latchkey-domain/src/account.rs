//! Rules for account input: nicknames and the custom-field map (`cfmap`) of key-based accounts.

use std::collections::BTreeMap;

use crate::{
    app::{AppDefinition, FieldType},
    ValidationError,
};

/// Longest accepted credential value: generous for PEM keys and JWTs, small enough to refuse abuse.
pub const MAX_FIELD_BYTES: usize = 16 * 1024;

/// Checks a nickname: 1 to 200 characters, no control characters.
///
/// # Errors
/// A [`ValidationError`] on field `name`.
pub fn validate_name(name: &str) -> Result<String, ValidationError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(ValidationError::new("name", "must be 1 to 200 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Checks a `cfmap` against the app's custom fields and returns the complete field map (with
/// defaults applied). Unknown fields are refused rather than stored, so a typo is reported.
/// Errors name the field but never echo the value, which may be a secret.
///
/// # Errors
/// A [`ValidationError`] on `cfmap.<field>`.
pub fn validate_cfmap(
    app: &AppDefinition,
    cfmap: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ValidationError> {
    for name in cfmap.keys() {
        if !app.custom_fields.iter().any(|f| &f.name == name) {
            return Err(ValidationError::new(
                format!("cfmap.{name}"),
                "is not a field of this app",
            ));
        }
    }
    let mut out = BTreeMap::new();
    for field in &app.custom_fields {
        let path = format!("cfmap.{}", field.name);
        let given = cfmap
            .get(&field.name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        let Some(value) = given.or(field.default.as_deref()) else {
            if field.optional {
                continue;
            }
            return Err(ValidationError::new(path, "is required"));
        };
        if value.len() > MAX_FIELD_BYTES {
            return Err(ValidationError::new(path, "is too long"));
        }
        if value.contains('\0') {
            return Err(ValidationError::new(path, "must not contain NUL"));
        }
        check_type(field.field_type, value).map_err(|m| ValidationError::new(path, m))?;
        out.insert(field.name.clone(), value.to_owned());
    }
    Ok(out)
}

fn check_type(field_type: FieldType, value: &str) -> Result<(), &'static str> {
    match field_type {
        FieldType::String | FieldType::Password => Ok(()),
        FieldType::Url => match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
            _ => Err("must be an http(s) URL"),
        },
        FieldType::Email => {
            let ok = value
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !value.contains(' '));
            if ok {
                Ok(())
            } else {
                Err("must be an email address")
            }
        }
        FieldType::Integer => value
            .parse::<i64>()
            .map(drop)
            .map_err(|_| "must be a whole number"),
        FieldType::Boolean => match value {
            "true" | "false" => Ok(()),
            _ => Err("must be true or false"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AuthType, CustomField};

    fn app() -> AppDefinition {
        let field = |name: &str, t, optional, default: Option<&str>| CustomField {
            name: name.into(),
            label: name.into(),
            field_type: t,
            optional,
            default: default.map(Into::into),
            description: None,
        };
        AppDefinition {
            name_slug: "demo".into(),
            name: "Demo".into(),
            auth_type: AuthType::Keys,
            description: String::new(),
            categories: vec![],
            img_src: None,
            docs_url: None,
            featured_weight: None,
            oauth: None,
            custom_fields: vec![
                field("api_key", FieldType::Password, false, None),
                field("region", FieldType::String, false, Some("us")),
                field("port", FieldType::Integer, true, None),
            ],
            request: None,
            test: None,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn applies_defaults_and_checks_types() {
        let out = validate_cfmap(&app(), &map(&[("api_key", "sk-1")])).unwrap();
        assert_eq!(out.get("region").unwrap(), "us");
        assert!(!out.contains_key("port"));
        let e = validate_cfmap(&app(), &map(&[("api_key", "k"), ("port", "x")])).unwrap_err();
        assert_eq!(e.field, "cfmap.port");
    }

    #[test]
    fn refuses_missing_and_unknown_fields_without_echoing_values() {
        assert_eq!(
            validate_cfmap(&app(), &map(&[])).unwrap_err().field,
            "cfmap.api_key"
        );
        let e = validate_cfmap(
            &app(),
            &map(&[("api_key", "k"), ("apikey", "secret-value")]),
        )
        .unwrap_err();
        assert_eq!(e.field, "cfmap.apikey");
        assert!(!e.to_string().contains("secret-value"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  Work  ").unwrap(), "Work");
        assert!(validate_name("").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_name(&"x".repeat(201)).is_err());
    }
}
