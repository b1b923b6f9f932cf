//! The OAuth peer: a real, OpenID-certified authorization server (`oidc-provider`, in
//! `tests/peers/oidc`, installed by `scripts/test.sh`) run as a child process.

use std::process::Command;

use crate::peer_process::PeerProcess;

/// The client registered at the peer (HTTP Basic client authentication).
pub const CLIENT_ID: &str = "latchkey-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "latchkey-test-secret";

/// A running peer; killed on drop.
pub struct OidcPeer {
    _process: PeerProcess,
    /// Its issuer URL (`http://127.0.0.1:PORT`).
    pub issuer: String,
}

impl OidcPeer {
    /// Starts `node server.mjs` accepting `redirect_uri`, with extra `PEER_*` settings.
    ///
    /// # Panics
    /// If the peer is not installed or does not start.
    #[must_use]
    pub fn start(redirect_uri: &str, env: &[(&str, &str)]) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers/oidc");
        PeerProcess::require_node_modules(dir);
        let mut command = Command::new("node");
        command
            .arg("server.mjs")
            .current_dir(dir)
            .env("PEER_REDIRECT_URIS", redirect_uri)
            .env("PEER_CLIENT_ID", CLIENT_ID)
            .env("PEER_CLIENT_SECRET", CLIENT_SECRET)
            .envs(env.iter().copied());
        let process = PeerProcess::spawn(command);
        let issuer = process.field("issuer");
        Self {
            _process: process,
            issuer,
        }
    }

    /// Writes the operator app file `apps/peer.toml` (the peer as an OAuth app, its protected
    /// API as the app's API) into a data directory.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_app_file(&self, data_dir: &std::path::Path) {
        let issuer = &self.issuer;
        let apps = data_dir.join("apps");
        std::fs::create_dir_all(&apps).unwrap();
        std::fs::write(
            apps.join("peer.toml"),
            format!(
                r#"name_slug = "peer"
name = "Peer"
auth_type = "oauth"
[oauth]
grant = "authorization_code"
authorization_url = "{issuer}/auth"
token_url = "{issuer}/token"
revocation_url = "{issuer}/token/revocation"
issuer = "{issuer}"
authorization_response_iss_parameter_supported = true
default_scopes = ["api:read"]
token_auth_method = "client_secret_basic"
[request]
base_url = "{issuer}/api"
allowed_domains = ["127.0.0.1"]
headers = {{ Authorization = "Bearer {{{{oauth_access_token}}}}" }}
[test]
path = "/me"
"#
            ),
        )
        .unwrap();
    }

    /// The peer's request counters (`/test/stats`).
    ///
    /// # Panics
    /// If the peer does not answer.
    pub async fn stats(&self) -> serde_json::Value {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .expect("client")
            .get(format!("{}/test/stats", self.issuer))
            .send()
            .await
            .expect("peer answers")
            .json()
            .await
            .expect("JSON stats")
    }
}

/// A browser for tests: a cookie jar, redirects followed by hand (as the peer's interaction
/// needs: five redirects with cookies, some of them relative).
///
/// # Panics
/// If the client cannot be built.
#[must_use]
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Opens `start` in `browser` (confirming Latchkey's connect page) and follows redirects until
/// one points at `callback_prefix`; returns that URL without visiting it.
///
/// # Panics
/// On anything but a redirect along the way, or more than twelve of them.
pub async fn follow_to_callback(
    browser: &reqwest::Client,
    start: &str,
    callback_prefix: &str,
) -> url::Url {
    let mut url = url::Url::parse(start).expect("absolute start URL");
    for _ in 0..12 {
        if url.as_str().starts_with(callback_prefix) {
            return url;
        }
        let mut response = browser.get(url.clone()).send().await.expect("request");
        if response.status() == reqwest::StatusCode::OK
            && url.path().starts_with("/oauth/authorize/")
        {
            // Latchkey's confirmation page: press "Continue".
            response = browser.post(url.clone()).send().await.expect("request");
        }
        assert!(
            response.status().is_redirection(),
            "{url} answered {}",
            response.status()
        );
        let location = response.headers()["location"]
            .to_str()
            .expect("ASCII location")
            .to_owned();
        url = url.join(&location).expect("valid location");
    }
    panic!("too many redirects");
}
