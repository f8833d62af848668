//! A throwaway MariaDB server for tests: one per test process, a fresh database per test.
//!
//! `mariadbd` runs as a child of a small `sh` watchdog whose standard input is a pipe from the
//! test process: when the test process exits, however it exits, the pipe closes and the
//! watchdog kills `mariadbd` by its PID and removes its data, so no server (and no data
//! directory) outlives its tests. It listens on a Unix socket in its own temporary directory
//! and on 127.0.0.1 (random port) only, and runs with `explicit_defaults_for_timestamp=0` as
//! VICIdial's schema expects.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use sqlx::{mysql::MySqlConnectOptions, ConnectOptions, Executor};

/// A running MariaDB server.
pub struct MariaDb {
    dir: tempfile::TempDir,
    port: u16,
    _watchdog: Child,
}

static SHARED: OnceLock<MariaDb> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl MariaDb {
    /// The server shared by this test process, started on first use.
    pub fn shared() -> &'static MariaDb {
        SHARED.get_or_init(|| {
            MariaDb::start().expect("MariaDB starts (is mariadb-server installed?)")
        })
    }

    /// Initialises a data directory and starts `mariadbd`, waiting until it accepts
    /// connections.
    pub fn start() -> anyhow::Result<MariaDb> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let out = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--user=root",
            ])
            .arg(format!("--datadir={}", data.display()))
            .output()
            .context("mariadb-install-db (Debian package mariadb-server)")?;
        if !out.status.success() {
            bail!(
                "mariadb-install-db failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = free_port()?;
        let sock = dir.path().join("mysqld.sock");
        let mariadbd = format!(
            "mariadbd --no-defaults --user=root --datadir={data} --socket={sock} --port={port} \
             --bind-address=127.0.0.1 --explicit-defaults-for-timestamp=0 --skip-name-resolve \
             --sql-mode=NO_ENGINE_SUBSTITUTION \
             --innodb-buffer-pool-size=32M --pid-file={dir}/mariadbd.pid --log-error={dir}/error.log",
            data = data.display(),
            sock = sock.display(),
            dir = dir.path().display(),
        );
        // The watchdog: start mariadbd, wait for our stdin to close, then stop it by PID and
        // remove its data directory (the shared server lives in a static, which is never
        // dropped, so the TempDir cannot clean up after it: some 200 MB a test binary).
        let script = format!(
            "{mariadbd} & pid=$!; cat >/dev/null; kill -9 $pid; wait $pid; rm -rf '{dir}'",
            dir = dir.path().display()
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start mariadbd")?;
        let db = MariaDb {
            dir,
            port,
            _watchdog: watchdog,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // The socket accepts connections once the server is ready for queries.
            let ready = std::os::unix::net::UnixStream::connect(db.socket());
            if ready.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(db.dir.path().join("error.log")).unwrap_or_default();
                bail!("MariaDB did not accept connections within 30 s: {ready:?}\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(db)
    }

    /// The Unix socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connection options for `database` as root over the socket.
    pub fn options(&self, database: &str) -> MySqlConnectOptions {
        MySqlConnectOptions::new()
            .socket(self.socket())
            .username("root")
            .database(database)
            // As VICIdial's PHP: no session time zone, the server's own.
            .timezone(None)
    }

    /// A `mysql://` URL for `database` (socket), as the server's configuration takes it.
    pub fn url(&self, database: &str) -> String {
        format!(
            "mysql://root@localhost/{database}?socket={}",
            self.socket().display()
        )
    }

    /// Creates a new empty database (no tables); returns its name.
    pub async fn empty_database(&self) -> anyhow::Result<String> {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = self.options("mysql").connect().await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        Ok(name)
    }

    /// Creates a new empty database with VICIdial's schema loaded; returns its name.
    pub async fn fresh_database(&self) -> anyhow::Result<String> {
        let name = self.empty_database().await?;
        let mut conn = self.options(&name).connect().await?;
        conn.execute("SET SESSION explicit_defaults_for_timestamp = 0")
            .await?;
        conn.execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")
            .await?;
        let schema = std::fs::read_to_string(schema_path())
            .with_context(|| format!("VICIdial schema at {}", schema_path().display()))?;
        sqlx::raw_sql(&schema)
            .execute(&mut conn)
            .await
            .context("loading vicidial-schema.sql")?;
        Ok(name)
    }

    /// [`fresh_database`](Self::fresh_database) filled with the demo seed ([`crate::seed::seed`],
    /// plain passwords); returns its name.
    pub async fn seeded_database(&self) -> anyhow::Result<String> {
        let name = self
            .fresh_database()
            .await
            .context("VICIdial's schema (DIALDECK_VICIDIAL_SCHEMA names the file)")?;
        let mut conn = self.options(&name).connect().await?;
        crate::seed::seed(&mut conn, false).await?;
        Ok(name)
    }
}

/// `shared/reference/vicidial-schema.sql` beside the repository (CI clones it with `shared/`
/// next to the repo), or `DIALDECK_VICIDIAL_SCHEMA`.
pub fn schema_path() -> PathBuf {
    std::env::var_os("DIALDECK_VICIDIAL_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/reference/vicidial-schema.sql")
        })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
