//! Latchkey processes for a scenario: commands with a clean environment, servers that are
//! stopped (SIGTERM) when dropped.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context as _;

/// How to run `latchkey` for one scenario.
pub struct Latchkey {
    /// The binary.
    pub bin: PathBuf,
    /// `LATCHKEY_*` settings shared by every command and instance.
    pub env: Vec<(String, String)>,
}

impl Latchkey {
    fn command(&self, data_dir: &Path) -> Command {
        let mut command = Command::new(&self.bin);
        for (key, _) in std::env::vars() {
            if key.starts_with("LATCHKEY_") {
                command.env_remove(key);
            }
        }
        command
            .env("LATCHKEY_DATA_DIR", data_dir)
            .env("LATCHKEY_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs a command to completion and parses its `--json` output.
    pub fn run_json(&self, data_dir: &Path, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let out = self
            .command(data_dir)
            .args(args)
            .output()
            .with_context(|| format!("running {}", self.bin.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "latchkey {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// Starts `latchkey serve` on a free port, logging to `<data dir>/server.log`.
    pub fn serve(&self, data_dir: &Path) -> anyhow::Result<Instance> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        std::fs::create_dir_all(data_dir)?;
        let log = std::fs::File::create(data_dir.join("server.log"))?;
        let child = self
            .command(data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(Instance {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }
}

/// A running `latchkey serve`.
pub struct Instance {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Instance {
    /// Resident memory of the process now, in MiB (Linux `/proc`).
    #[must_use]
    pub fn rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = reqwest::get(format!("{}/readyz", self.base)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} never became ready",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throw-away database for a scenario: a SQLite file, or a new database on the PostgreSQL
/// server at `pg_url` (`None` when that server cannot be used).
///
/// # Errors
/// On an unknown backend name.
pub async fn database(
    pg_url: &str,
    backend: &str,
) -> anyhow::Result<Option<latchkey_test_db::TestDb>> {
    use latchkey_test_db::TestDb;
    Ok(match backend {
        "sqlite" => Some(TestDb::sqlite()),
        "postgres" => {
            if std::env::var_os(latchkey_test_db::POSTGRES_ENV).is_none() {
                std::env::set_var(latchkey_test_db::POSTGRES_ENV, format!("{pg_url}/postgres"));
            }
            TestDb::postgres().await
        }
        other => anyhow::bail!("unknown backend {other}"),
    })
}

/// The owner's password of every benchmark workspace.
pub const OWNER_PASSWORD: &str = "bench-password-0123456789";

/// A scenario's installation: `latchkey` configured for `db` with a new master key, and a
/// first workspace whose owner is `owner@bench.test`.
pub struct Installation {
    /// How to run `latchkey` for it.
    pub latchkey: Latchkey,
    /// The data directory to serve from.
    pub data_dir: PathBuf,
    /// `latchkey init --json`'s output (`workspace_id`, `user_id`, `api_key`).
    pub init: serde_json::Value,
    dir: tempfile::TempDir,
}

impl Installation {
    /// A scratch directory that lives as long as the installation (more instances' data
    /// directories, files to import).
    #[must_use]
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Generates a master key, configures `db` plus `extra_env`, and runs `latchkey init`.
    ///
    /// # Errors
    /// When a command fails.
    pub fn new(
        bin: &Path,
        db: &latchkey_test_db::TestDb,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut latchkey = Latchkey {
            bin: bin.to_owned(),
            env: vec![],
        };
        let master = latchkey.run_json(dir.path(), &["keys", "generate", "--json"])?["master_key"]
            .as_str()
            .context("no master key")?
            .to_owned();
        latchkey.env = vec![
            ("LATCHKEY_DATABASE_URL".into(), db.url.expose().to_owned()),
            ("LATCHKEY_MASTER_KEY".into(), master),
        ];
        latchkey.env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let password = dir.path().join("password");
        std::fs::write(&password, OWNER_PASSWORD)?;
        let data_dir = dir.path().join("data");
        let init = latchkey.run_json(
            &data_dir,
            &[
                "init",
                "--email",
                "owner@bench.test",
                "--password-file",
                &password.display().to_string(),
                "--json",
            ],
        )?;
        Ok(Self {
            latchkey,
            data_dir,
            init,
            dir,
        })
    }
}
