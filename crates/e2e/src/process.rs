//! Child processes owned by a test: started here, stopped by PID on drop.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for one test run).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// A process this test started, in a process group of its own; on drop the whole group
/// (the process and anything it started, such as chromedriver's Chromium) gets SIGKILL and the
/// process is reaped.
pub struct Guard {
    name: String,
    child: Child,
}

impl Guard {
    /// Spawns `cmd` and names it for error messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> anyhow::Result<Guard> {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        Ok(Guard {
            name: name.to_string(),
            child,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its standard output, when it was piped (once).
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Fails if the process has already exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early: {status}", self.name);
        }
        Ok(())
    }

    /// Waits up to `timeout` for the process to exit by itself; returns its exit status.
    pub fn wait_timeout(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} still running after {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        // kill(1) by PID keeps this crate free of unsafe code.
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} did not stop within {timeout:?} of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // The group id is the child's PID (`process_group(0)`): this reaches only processes
        // this guard started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real `dialdeck` binary on a random port with a fresh data directory.
pub struct DialdeckServer {
    /// The running process.
    pub process: Guard,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The data directory (removed on drop).
    pub data_dir: tempfile::TempDir,
}

/// How [`DialdeckServer::start_with`] runs the binary.
#[derive(Clone, Debug)]
pub struct DialdeckOptions {
    /// The binary.
    pub binary: PathBuf,
    /// Where it listens (port 0: a free one); a free port on 127.0.0.1 when `None`.
    pub listen: Option<std::net::SocketAddr>,
    /// Where its log (stderr) goes; inherited when `None`.
    pub log: Option<PathBuf>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl DialdeckServer {
    /// The binary under test: `DIALDECK_BIN`, set by `cargo xtask test`.
    pub fn binary() -> PathBuf {
        let bin = std::env::var_os("DIALDECK_BIN").map(PathBuf::from).expect(
            "DIALDECK_BIN is not set: run the end-to-end tests with `cargo xtask test`, \
             which builds the release binary first",
        );
        assert!(
            bin.is_file(),
            "DIALDECK_BIN={} does not exist",
            bin.display()
        );
        bin
    }

    /// Starts the server with extra environment variables and waits until `/healthz` answers.
    pub async fn start(env: &[(&str, &str)]) -> anyhow::Result<DialdeckServer> {
        Self::start_with(DialdeckOptions {
            binary: Self::binary(),
            listen: None,
            log: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
        .await
    }

    /// Starts the server as `opts` says, with a fresh data directory and only the environment
    /// given (plus `PATH`), and waits until `/healthz` answers.
    pub async fn start_with(opts: DialdeckOptions) -> anyhow::Result<DialdeckServer> {
        // Port 0 means "any free one", resolved here so the URL is known.
        let wanted = opts.listen.unwrap_or(([127, 0, 0, 1], 0).into());
        let listen = TcpListener::bind(wanted)
            .and_then(|l| l.local_addr())
            .with_context(|| {
                format!(
                    "cannot listen on {wanted}: stop what listens there or choose another address"
                )
            })?;
        let data_dir = tempfile::tempdir()?;
        let mut cmd = Command::new(&opts.binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DIALDECK_LISTEN", listen.to_string())
            .env("DIALDECK_DATA_DIR", data_dir.path())
            .env("DIALDECK_LOG", "info")
            .stdout(Stdio::null());
        match &opts.log {
            Some(path) => cmd.stderr(std::fs::File::create(path)?),
            None => cmd.stderr(Stdio::inherit()),
        };
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut process = Guard::spawn("dialdeck", &mut cmd)?;
        let url = format!("http://{listen}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            process.check_running()?;
            if let Ok(res) = reqwest::get(format!("{url}/healthz")).await {
                if res.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("dialdeck did not answer /healthz within 15 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(DialdeckServer {
            process,
            url,
            data_dir,
        })
    }
}
