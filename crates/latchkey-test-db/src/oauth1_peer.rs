//! The OAuth 1.0a peer: a provider built on `oauthlib` (`tests/peers/oauth1`, installed into
//! its own virtualenv by `scripts/test.sh`) run as a child process.

use std::process::Command;

use crate::peer_process::PeerProcess;

/// The consumer registered at the peer.
pub const CONSUMER_KEY: &str = "latchkey-consumer";
/// Its secret.
pub const CONSUMER_SECRET: &str = "latchkey-consumer-secret";

/// A running peer; killed on drop.
pub struct OAuth1Peer {
    _process: PeerProcess,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub base: String,
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
        let mut command = Command::new(python);
        command
            .arg("server.py")
            .current_dir(dir)
            .env("PEER_CALLBACK_URIS", callback)
            .env("PEER_CONSUMER_KEY", CONSUMER_KEY)
            .env("PEER_CONSUMER_SECRET", CONSUMER_SECRET)
            .envs(env.iter().copied());
        let process = PeerProcess::spawn(command);
        let base = process.field("base");
        Self {
            _process: process,
            base,
        }
    }
}
