//! OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), for the providers that still need it.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

/// RFC 5849 §3.6 percent-encoding: everything but the unreserved characters.
#[must_use]
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The signature base string (RFC 5849 §3.4.1): method, base URI, and every parameter (the
/// URL's query, the form body, and the `oauth_*` protocol parameters) encoded and sorted.
#[must_use]
pub fn base_string(method: &str, url: &url::Url, params: &[(String, String)]) -> String {
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (encode(&k), encode(&v)))
        .chain(params.iter().map(|(k, v)| (encode(k), encode(v))))
        .collect();
    pairs.sort();
    let normalized = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    // `Url` lower-cases scheme and host and drops default ports, as §3.4.1.2 requires.
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(base.as_str()),
        encode(&normalized)
    )
}

/// The consumer (client) and, after the first leg, the token.
pub struct Signer<'a> {
    /// Consumer key.
    pub consumer_key: &'a str,
    /// Consumer secret.
    pub consumer_secret: &'a SecretString,
    /// Token and token secret (temporary or access).
    pub token: Option<(&'a str, &'a SecretString)>,
}

impl Signer<'_> {
    /// The `Authorization: OAuth …` header for a request. `form` are the body parameters of a
    /// form-encoded request (they are signed too); `extra` are protocol parameters of this leg
    /// (`oauth_callback`, `oauth_verifier`).
    #[must_use]
    pub fn authorization(
        &self,
        method: &str,
        url: &url::Url,
        form: &[(String, String)],
        extra: &[(&str, &str)],
        nonce: &str,
        timestamp: u64,
    ) -> String {
        let mut oauth: Vec<(String, String)> = vec![
            ("oauth_consumer_key".into(), self.consumer_key.into()),
            ("oauth_nonce".into(), nonce.into()),
            ("oauth_signature_method".into(), "HMAC-SHA1".into()),
            ("oauth_timestamp".into(), timestamp.to_string()),
            ("oauth_version".into(), "1.0".into()),
        ];
        if let Some((token, _)) = self.token {
            oauth.push(("oauth_token".into(), token.into()));
        }
        oauth.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut signed = oauth.clone();
        signed.extend(form.iter().cloned());
        let base = base_string(method, url, &signed);
        let token_secret = self
            .token
            .map_or(String::new(), |(_, s)| encode(s.expose_secret()));
        let key = format!(
            "{}&{token_secret}",
            encode(self.consumer_secret.expose_secret())
        );
        let mut mac =
            Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
        mac.update(base.as_bytes());
        oauth.push((
            "oauth_signature".into(),
            STANDARD.encode(mac.finalize().into_bytes()),
        ));
        let fields = oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("OAuth {fields}")
    }
}

/// Parses a form-encoded token response (`oauth_token=…&oauth_token_secret=…`).
#[must_use]
pub fn parse_form(body: &[u8]) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_string_matches_rfc_5849_section_3_4_1_1() {
        let url =
            url::Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
        let params = vec![
            (
                "oauth_consumer_key".to_owned(),
                "9djdj82h48djs9d2".to_owned(),
            ),
            ("oauth_token".to_owned(), "kkk9d7dh3k39sjv7".to_owned()),
            ("oauth_signature_method".to_owned(), "HMAC-SHA1".to_owned()),
            ("oauth_timestamp".to_owned(), "137131201".to_owned()),
            ("oauth_nonce".to_owned(), "7d8f3e4a".to_owned()),
            ("c2".to_owned(), String::new()),
            ("a3".to_owned(), "2 q".to_owned()),
        ];
        assert_eq!(
            base_string("post", &url, &params),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn signs_like_the_twitter_documentation_example() {
        // The signing example of Twitter's "Creating a signature" guide (HMAC-SHA1).
        let url = url::Url::parse(
            "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        )
        .unwrap();
        let consumer_secret =
            SecretString::from("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw".to_owned());
        let token_secret =
            SecretString::from("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE".to_owned());
        let signer = Signer {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog",
            consumer_secret: &consumer_secret,
            token: Some((
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
                &token_secret,
            )),
        };
        let form = vec![(
            "status".to_owned(),
            "Hello Ladies + Gentlemen, a signed OAuth request!".to_owned(),
        )];
        let header = signer.authorization(
            "POST",
            &url,
            &form,
            &[],
            "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
            1_318_622_958,
        );
        // Twitter's example omits nothing but adds oauth_version="1.0", as here.
        assert!(
            header.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""),
            "{header}"
        );
    }

    #[test]
    fn parses_token_responses() {
        let parsed =
            parse_form(b"oauth_token=t&oauth_token_secret=s%2B&oauth_callback_confirmed=true");
        assert_eq!(parsed["oauth_token_secret"], "s+");
    }
}
