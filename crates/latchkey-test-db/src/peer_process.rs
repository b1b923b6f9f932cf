//! A test peer run as a child process that announces itself with one JSON line on stdout.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

/// A running child process; killed (and reaped) on drop.
pub struct PeerProcess {
    child: Child,
    /// The JSON object the peer printed first.
    pub hello: serde_json::Value,
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PeerProcess {
    /// Runs `command` and reads its first line as JSON.
    ///
    /// # Panics
    /// If it does not start or its first line is not a JSON object.
    #[must_use]
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        // Read on a thread with a deadline: a peer that never prints must fail the test, not
        // hang it. The thread keeps draining stdout afterwards so the peer never blocks (or
        // dies of a closed pipe) on a later write.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line).map(|_| line);
            let _ = sender.send(read);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match receiver.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(read) => read.expect("the peer prints its address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{command:?} did not announce itself within 30 s");
            }
        };
        let hello: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("unexpected first line from a peer {line:?}: {e}"));
        Self { child, hello }
    }

    /// A string field of the first line.
    ///
    /// # Panics
    /// If it is missing.
    #[must_use]
    pub fn field(&self, name: &str) -> String {
        self.hello[name]
            .as_str()
            .unwrap_or_else(|| panic!("the peer did not announce {name}: {}", self.hello))
            .to_owned()
    }

    /// Checks that a Node.js peer's packages are installed.
    ///
    /// # Panics
    /// When they are not, naming the command that installs them.
    pub fn require_node_modules(dir: &str) {
        assert!(
            std::path::Path::new(dir).join("node_modules").exists(),
            "a test peer is not installed: run `npm ci --prefix {dir}` (scripts/test.sh does)"
        );
    }
}
