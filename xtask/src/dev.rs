//! `cargo xtask dev`: the product against the simulators, for local development and demos.
//! Starts `vicidial-sim` (a MariaDB with VICIdial's schema and seed, plus the VICIdial
//! simulator) and `dialdeck-ghl-sim`, then the release server configured for both. Agents from
//! the seed: `1001` / `agentpass1`, `1005` / `agentpass5` (no manual dial). Ctrl-C stops all
//! three (each child is killed by its PID when this process ends).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use crate::util::{self, root, Fail, StatusOk};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` and returns it with the first stdout line containing `marker`.
fn start_until(
    mut cmd: Command,
    marker: &'static str,
    what: &str,
) -> Result<(Kill, Vec<String>), Fail> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Fail(format!("cannot start {what}: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("  {line}");
            if tx.send(line).is_err() {
                // Keep draining so the child never blocks on a full pipe.
                continue;
            }
        }
    });
    let guard = Kill(child);
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .map_err(|_| Fail(format!("{what} did not start")))?;
        let found = line.contains(marker);
        lines.push(line);
        if found {
            // Collect what it prints right after (the URLs).
            while let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
                lines.push(l);
            }
            return Ok((guard, lines));
        }
    }
}

fn url_after<'a>(lines: &'a [String], label: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .and_then(|rest| rest.split_whitespace().last())
}

pub fn run() -> Result<(), Fail> {
    crate::build()?;
    util::step("simulators (release builds)");
    crate::util::cargo(&[
        "build",
        "--release",
        "-p",
        "dialdeck-vicidial-sim",
        "-p",
        "dialdeck-ghl-sim",
    ])
    .status_ok()?;
    let bin = |name: &str| root().join("target/release").join(name);

    let mut vici = Command::new(bin("vicidial-sim"));
    vici.current_dir(root());
    let (_vici, lines) = start_until(vici, "database", "vicidial-sim")?;
    let web = lines
        .iter()
        .find_map(|l| l.strip_prefix("vicidial-sim: "))
        .map(str::to_string)
        .ok_or_else(|| Fail("vicidial-sim printed no URL".into()))?;
    let db = url_after(&lines, "database")
        .map(str::to_string)
        .ok_or_else(|| Fail("vicidial-sim printed no database URL".into()))?;

    let mut ghl = Command::new(bin("dialdeck-ghl-sim"));
    ghl.arg("127.0.0.1:0").current_dir(root());
    let (_ghl, lines) = start_until(ghl, "listening on", "dialdeck-ghl-sim")?;
    let ghl_url = lines
        .iter()
        .find_map(|l| l.split("listening on ").nth(1))
        .map(str::trim)
        .map(str::to_string)
        .ok_or_else(|| Fail("dialdeck-ghl-sim printed no URL".into()))?;

    util::step("dialdeck against the simulators");
    println!("  log in as 1001 / agentpass1");
    let mut cmd = Command::new(bin("dialdeck"));
    cmd.current_dir(root())
        .env("DIALDECK_DATA_DIR", root().join("target/dialdeck-dev-data"))
        .env("DIALDECK_VICIDIAL_DB_URL", &db)
        .env("DIALDECK_VICIDIAL_WEB_URL", &web)
        .env("DIALDECK_VICIDIAL_API_USER", "apiuser")
        .env("DIALDECK_VICIDIAL_API_PASS", "apipass")
        .env("DIALDECK_GHL_BASE_URL", &ghl_url)
        .env("DIALDECK_GHL_LOCATION_ID", "devLocation")
        .env("DIALDECK_GHL_PRIVATE_TOKEN", "dev-token");
    cmd.status_ok()
}
