//! `{{field}}` templates used in app request definitions (headers, query, base URL).
//!
//! Deliberately tiny: a placeholder is a field name between double braces, nothing else (no
//! expressions, no filters), so a template can never execute anything.

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Errors in a template's syntax or when rendering it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without a matching `}}`, or an empty or malformed name.
    #[error("malformed placeholder in template")]
    Malformed,
    /// The template needs a field the account does not have.
    #[error("template needs the field `{0}`, which has no value")]
    MissingField(String),
}

fn parse(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Malformed)?;
        let name = after[..end].trim();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !valid {
            return Err(TemplateError::Malformed);
        }
        pieces.push(Piece::Field(name));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// The field names a template refers to, in order of appearance.
///
/// # Errors
/// [`TemplateError::Malformed`] for a syntax error.
pub fn placeholders(template: &str) -> Result<Vec<&str>, TemplateError> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Field(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Renders a template, looking each field up with `value_of`.
///
/// # Errors
/// [`TemplateError::Malformed`] for a syntax error, [`TemplateError::MissingField`] when
/// `value_of` has no value for a placeholder.
pub fn render<'v>(
    template: &str,
    value_of: impl Fn(&str) -> Option<&'v str>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 32);
    for piece in parse(template)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Field(name) => {
                let value =
                    value_of(name).ok_or_else(|| TemplateError::MissingField(name.to_owned()))?;
                out.push_str(value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fields() {
        let out = render("Bearer {{ api_key }}!", |n| {
            (n == "api_key").then_some("k1")
        })
        .unwrap();
        assert_eq!(out, "Bearer k1!");
    }

    #[test]
    fn reports_missing_and_malformed() {
        assert_eq!(
            render("{{x}}", |_| None),
            Err(TemplateError::MissingField("x".into()))
        );
        assert_eq!(placeholders("{{x"), Err(TemplateError::Malformed));
        assert_eq!(placeholders("{{}}"), Err(TemplateError::Malformed));
        assert_eq!(placeholders("{{a b}}"), Err(TemplateError::Malformed));
        assert_eq!(placeholders("a{{x}}b{{y}}").unwrap(), vec!["x", "y"]);
    }
}
