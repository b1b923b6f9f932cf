//! The quirky OAuth 2 peer: `oauth2-mock-server` (`tests/peers/mock`) with token responses
//! shaped like the odd providers' (no `expires_in`, no new refresh token, comma-separated
//! scopes), chosen by the client id a request authenticates with.

use std::process::Command;

use crate::peer_process::PeerProcess;

/// A running peer; killed on drop.
pub struct MockPeer {
    _process: PeerProcess,
    /// Its issuer URL (`http://127.0.0.1:PORT`).
    pub issuer: String,
}

impl MockPeer {
    /// Starts `node server.mjs`.
    ///
    /// # Panics
    /// If the peer is not installed or does not start.
    #[must_use]
    pub fn start() -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers/mock");
        PeerProcess::require_node_modules(dir);
        let mut command = Command::new("node");
        command.arg("server.mjs").current_dir(dir);
        let process = PeerProcess::spawn(command);
        let issuer = process.field("issuer");
        Self {
            _process: process,
            issuer,
        }
    }

    /// Token requests so far, by `"<client id> <grant type>"`.
    ///
    /// # Panics
    /// If the peer does not answer.
    pub async fn token_requests(&self, client_id: &str, grant_type: &str) -> u64 {
        let stats: serde_json::Value = reqwest::get(format!("{}/test/stats", self.issuer))
            .await
            .expect("peer answers")
            .json()
            .await
            .expect("JSON stats");
        stats[format!("{client_id} {grant_type}")]
            .as_u64()
            .unwrap_or(0)
    }
}
