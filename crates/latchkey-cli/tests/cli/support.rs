//! Running the `latchkey` binary: commands with a clean environment, servers as child processes.

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// A command with a clean environment: only what the test passes, so the developer's
/// `LATCHKEY_*` variables never leak in.
pub fn latchkey(data_dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LATCHKEY_DATA_DIR", data_dir)
        .env("LATCHKEY_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub fn run(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    latchkey(data_dir, env)
        .args(args)
        .output()
        .expect("run latchkey")
}

pub fn run_json(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Value {
    let out = run(data_dir, env, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn keys_of(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_on(data_dir, env, free_port()).await
    }

    pub async fn start_on(data_dir: &Path, env: &[(&str, &str)], port: u16) -> Self {
        let child = latchkey(data_dir, env)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wrapped at once so that Drop reaps the process on every path, panics included.
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = client(Duration::from_secs(2))
                .get(format!("{}/readyz", server.base))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then wait: the server must shut down cleanly by itself.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("server ignored SIGTERM");
    }

    /// SIGKILL: no shutdown at all, as in a crash or an OOM kill.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = client(Duration::from_secs(90))
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A client with a total timeout: a server that never answers fails the test with a message
/// instead of hanging it.
fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("HTTP client")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn password_file(dir: &Path) -> String {
    let path = dir.join("pw.txt");
    std::fs::write(&path, "correct horse battery\n").unwrap();
    path.display().to_string()
}

/// `latchkey init` for ada@example.com (the first workspace and its owner) in `data_dir`;
/// returns its `--json` output.
pub fn init_ada(data_dir: &Path, env: &[(&str, &str)], password_file: &str) -> Value {
    run_json(
        data_dir,
        env,
        &[
            "init",
            "--email",
            "ada@example.com",
            "--password-file",
            password_file,
            "--json",
        ],
    )
}
