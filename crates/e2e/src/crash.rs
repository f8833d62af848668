//! Crash-test helpers: the real `dialdeck` binary that a test kills with SIGKILL and starts
//! again on the same data directory and port, as a supervisor (systemd) would after a crash.
//!
//! Only processes started here are ever signalled, by their own PID.

use std::{
    fs::OpenOptions,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use crate::process::{free_port, DialdeckServer, Guard};

/// A `dialdeck` server that survives `kill -9`: same port, same data directory, same settings
/// on every start. Its log (all starts, appended) is `log_path()`.
pub struct CrashableServer {
    /// `http://127.0.0.1:<port>`, the same across restarts.
    pub url: String,
    port: u16,
    env: Vec<(String, String)>,
    data_dir: tempfile::TempDir,
    process: Option<Guard>,
    starts: u32,
}

impl CrashableServer {
    /// Starts the server with extra environment variables on a random loopback port and a
    /// fresh data directory, and waits until `/healthz` answers.
    pub async fn start(env: &[(&str, &str)]) -> anyhow::Result<CrashableServer> {
        let mut server = CrashableServer {
            url: String::new(),
            port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            data_dir: tempfile::tempdir()?,
            process: None,
            starts: 0,
        };
        server.url = format!("http://127.0.0.1:{}", server.port);
        server.spawn().await?;
        Ok(server)
    }

    /// The data directory (the SQLite store lives here).
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.path().to_path_buf()
    }

    /// The server's SQLite store (read it only while the server is down).
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.path().join("dialdeck.sqlite3")
    }

    /// The server's stderr, every start appended.
    pub fn log_path(&self) -> PathBuf {
        self.data_dir.path().join("server.log")
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The running process's PID.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Guard::pid)
    }

    /// The last `lines` lines of the log (for a failure message).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("server log")?;
        let mut cmd = Command::new(DialdeckServer::binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DIALDECK_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("DIALDECK_DATA_DIR", self.data_dir.path())
            .env("DIALDECK_LOG", "info")
            .stdout(Stdio::from(log.try_clone().context("server log")?))
            .stderr(Stdio::from(log));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut process = Guard::spawn("dialdeck", &mut cmd)?;
        self.starts += 1;
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        loop {
            if let Err(e) = process.check_running() {
                bail!("{e:#}; log tail:\n{}", self.log_tail(30));
            }
            if let Ok(res) = http.get(format!("{}/healthz", self.url)).send().await {
                if res.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "dialdeck (start {}) did not answer /healthz within 30 s; log tail:\n{}",
                    self.starts,
                    self.log_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.process = Some(process);
        Ok(())
    }

    /// `kill -9 <pid>`: no shutdown handler runs. Waits until the process is reaped (its port
    /// is free again).
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        let Some(process) = self.process.take() else {
            bail!("the server is not running");
        };
        let status = Command::new("kill")
            .args(["-KILL", &process.pid().to_string()])
            .status()
            .context("kill(1)")?;
        if !status.success() {
            bail!("kill -KILL {} failed: {status}", process.pid());
        }
        // Dropping the guard reaps the process (and anything in its group).
        drop(process);
        Ok(())
    }

    /// Kills the server (if running) and keeps its data directory and log on disk for a
    /// person to look at; returns the directory.
    pub fn stop_and_keep_data(mut self) -> PathBuf {
        drop(self.process.take());
        let dir = std::mem::replace(
            &mut self.data_dir,
            tempfile::tempdir().expect("temporary directory"),
        );
        dir.keep()
    }

    /// Starts the server again on the same port and data directory; waits for `/healthz`.
    pub async fn restart(&mut self) -> anyhow::Result<Duration> {
        if self.process.is_some() {
            bail!("the server is still running; kill it first");
        }
        let t = Instant::now();
        self.spawn().await?;
        Ok(t.elapsed())
    }
}
