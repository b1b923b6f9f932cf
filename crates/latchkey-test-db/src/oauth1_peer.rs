//! The OAuth 1.0a peer: a provider built on `oauthlib` (`tests/peers/oauth1`, installed into
//! its own virtualenv by `scripts/test.sh`) run as a child process.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

/// The consumer registered at the peer.
pub const CONSUMER_KEY: &str = "latchkey-consumer";
/// Its secret.
pub const CONSUMER_SECRET: &str = "latchkey-consumer-secret";

/// A running peer; killed on drop.
pub struct OAuth1Peer {
    child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub base: String,
}

impl Drop for OAuth1Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OAuth1Peer {
    /// Starts `server.py` accepting `callback`, with extra `PEER_*` settings.
    ///
    /// # Panics
    /// If the peer is not installed or does not start.
    #[must_use]
    pub fn start(callback: &str, env: &[(&str, &str)]) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers/oauth1");
        let python = format!("{dir}/.venv/bin/python");
        assert!(
            std::path::Path::new(&python).exists(),
            "the OAuth 1 peer is not installed: see tests/peers/oauth1/README.md (scripts/test.sh does it)"
        );
        let mut child = Command::new(python)
            .arg("server.py")
            .current_dir(dir)
            .env("PEER_CALLBACK_URIS", callback)
            .env("PEER_CONSUMER_KEY", CONSUMER_KEY)
            .env("PEER_CONSUMER_SECRET", CONSUMER_SECRET)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the peer prints its address");
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("peer said {line:?}: {e}"));
        let base = value["base"].as_str().expect("base").to_owned();
        Self { child, base }
    }
}
