//! Code steps (PRODUCT.md F8): Node.js, Python or shell, run as a subprocess with a timeout and
//! a memory limit, in an empty temporary directory with a minimal environment.
//!
//! The step receives its props (app props as `{ "$auth": { …credential fields… } }`) and the
//! earlier steps' exports; Node steps are `export default defineComponent({ async run({ steps,
//! $ }) { … this.<prop>.$auth … } })`, Python steps `def handler(pd): …` (`pd.inputs`,
//! `pd.steps`, `pd.export`), shell steps get `{"props", "steps"}` as JSON on stdin and may
//! write a JSON object of exports to `$LK_EXPORTS_FILE`. stdout and stderr become the logs.

use std::{process::Stdio, time::Duration};

use serde_json::{json, Map, Value};
use tokio::{io::AsyncWriteExt, process::Command};

const NODE_RUNNER: &str = include_str!("runners/run.mjs");
const PYTHON_RUNNER: &str = include_str!("runners/run.py");

/// Longest a step may run.
pub const MAX_TIMEOUT_SECONDS: u64 = 60;
/// Default timeout.
const DEFAULT_TIMEOUT_SECONDS: u64 = 30;
/// Memory limit of a step.
const MEMORY_MB: u64 = 512;
/// Largest log kept.
const MAX_LOG_BYTES: usize = 64 * 1024;

/// What a code step produced (before redaction).
pub struct CodeOutcome {
    /// Exports by name.
    pub exports: Value,
    /// Output lines.
    pub logs: Vec<String>,
    /// Why it failed.
    pub error: Option<String>,
}

fn failed(error: impl Into<String>, logs: Vec<String>) -> CodeOutcome {
    CodeOutcome {
        exports: json!({}),
        logs,
        error: Some(error.into()),
    }
}

fn lines(bytes: &[u8]) -> Vec<String> {
    let capped = &bytes[..bytes.len().min(MAX_LOG_BYTES)];
    let mut out: Vec<String> = String::from_utf8_lossy(capped)
        .lines()
        .map(str::to_owned)
        .collect();
    if bytes.len() > MAX_LOG_BYTES {
        out.push("[output truncated]".to_owned());
    }
    out
}

/// Runs `code` in `language` with `input` (`{"props", "steps"}`) on stdin and the workspace's
/// environment variables `env`.
pub async fn run(props: &Value, input: &Value, env: &[(String, String)]) -> CodeOutcome {
    let language = props
        .get("language")
        .and_then(Value::as_str)
        .unwrap_or("nodejs");
    let Some(code) = props.get("code").and_then(Value::as_str) else {
        return failed("props.code is required", vec![]);
    };
    let timeout = props
        .get("timeout_seconds")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
        .clamp(1, MAX_TIMEOUT_SECONDS);
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return failed(format!("could not prepare the step: {e}"), vec![]),
    };
    let exports_file = dir.path().join("exports.json");
    let written = match language {
        "nodejs" => std::fs::write(dir.path().join("step.mjs"), code)
            .and_then(|()| std::fs::write(dir.path().join("run.mjs"), NODE_RUNNER)),
        "python" => std::fs::write(dir.path().join("step.py"), code)
            .and_then(|()| std::fs::write(dir.path().join("run.py"), PYTHON_RUNNER)),
        "bash" => std::fs::write(dir.path().join("step.sh"), code),
        _ => return failed("props.language must be nodejs, python or bash", vec![]),
    };
    if let Err(e) = written {
        return failed(format!("could not prepare the step: {e}"), vec![]);
    }
    // Memory: V8 manages its own heap (an address-space limit breaks it); the others get one
    // from the shell's ulimit.
    let limit_kb = MEMORY_MB * 1024;
    let mut command = match language {
        "nodejs" => {
            let mut c = Command::new("node");
            c.arg(format!("--max-old-space-size={MEMORY_MB}"))
                .arg("run.mjs");
            c
        }
        "python" => {
            let mut c = Command::new("sh");
            c.args([
                "-c",
                &format!("ulimit -v {limit_kb} && exec python3 run.py"),
            ]);
            c
        }
        _ => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("ulimit -v {limit_kb} && exec bash step.sh")]);
            c
        }
    };
    // Nothing of the server's environment (its keys, its database URL) reaches the step.
    command
        .current_dir(dir.path())
        .env_clear()
        // The workspace's variables first, so the runner's own cannot be overridden.
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        )
        .env("HOME", dir.path())
        .env("LK_EXPORTS_FILE", &exports_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("could not start {language}: {e}"), vec![]),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let bytes = input.to_string().into_bytes();
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let output =
        match tokio::time::timeout(Duration::from_secs(timeout), child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return failed(format!("the step could not run: {e}"), vec![]),
            // The child is killed when dropped.
            Err(_) => return failed(format!("the step timed out after {timeout} s"), vec![]),
        };
    let mut logs = lines(&output.stdout);
    let stderr = lines(&output.stderr);
    logs.extend(stderr.iter().cloned());
    if !output.status.success() {
        let last = stderr
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| format!("exit status {}", output.status));
        return failed(format!("the step failed: {last}"), logs);
    }
    let exports = match std::fs::read(&exports_file) {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(_) | Err(_) => return failed("the step's exports are not a JSON object", logs),
        },
        Err(_) => Value::Object(Map::new()),
    };
    CodeOutcome {
        exports,
        logs,
        error: None,
    }
}
