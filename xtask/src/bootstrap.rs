//! `cargo xtask bootstrap`: installs everything the project needs, idempotently and pinned.
//!
//! These machines reach only the package registries (crates.io, Debian, npm), so every tool
//! comes from one of them: the wasm32 target through rustup, Trunk and wasm-bindgen-cli from
//! crates.io at pinned versions (wasm-bindgen-cli exactly the `wasm-bindgen` of Cargo.lock),
//! and Debian packages through apt-get when running as root. A second run checks versions
//! and installs nothing.

use crate::util::{self, output, root, Fail, StatusOk};

/// Trunk, pinned. Installed with `--locked`.
const TRUNK_VERSION: &str = "0.21.14";
/// binaryen from the npm registry, pinned; Trunk.toml's `[tools] wasm_opt` must match.
/// (Debian's binaryen 108 writes wasm-bindgen's externref table as `anyref`, which browsers
/// reject at start-up: `WebAssembly.Table.set(): Argument 1 is invalid`.)
const BINARYEN_VERSION: &str = "132.0.0";

/// What the caller is about to do, and so what it needs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Build the product: wasm target, Trunk, wasm-bindgen-cli, wasm-opt (npm).
    Build,
    /// Also what the demo runs beside the binary (`cargo xtask run`): MariaDB, Kamailio with
    /// its WebSocket module, rtpengine, SIPp. (The browser is the newcomer's own.)
    Run,
    /// Also everything the tests start: Chromium and its driver, Kamailio's TLS and extra
    /// modules, network namespaces.
    Test,
}

/// Debian packages by level.
fn apt_packages(level: Level) -> Vec<&'static str> {
    let mut pkgs = vec![];
    if output("npm", &["--version"]).is_none() {
        pkgs.extend(["nodejs", "npm"]);
    }
    if level >= Level::Run {
        pkgs.extend([
            "mariadb-server",
            "kamailio",
            "kamailio-websocket-modules",
            "rtpengine-daemon",
            "sip-tester",
        ]);
    }
    if level >= Level::Test {
        pkgs.extend([
            "chromium",
            "chromium-driver",
            "kamailio-tls-modules",
            "kamailio-extra-modules",
            "iproute2",
        ]);
    }
    pkgs
}

/// Installs what `level` needs; prints one line per tool and installs only what is missing.
pub fn run(level: Level) -> Result<(), Fail> {
    util::step("bootstrap");
    apt(level)?;
    wasm_target()?;
    trunk()?;
    wasm_bindgen()?;
    wasm_opt()?;
    Ok(())
}

fn apt(level: Level) -> Result<(), Fail> {
    let missing: Vec<&str> = apt_packages(level)
        .into_iter()
        .filter(|p| {
            output("dpkg-query", &["-W", "-f=${Status}", p]).as_deref()
                != Some("install ok installed")
        })
        .collect();
    if missing.is_empty() {
        println!("apt packages: all present");
        return Ok(());
    }
    let line = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        return Err(Fail(format!(
            "missing Debian packages: {}. Run as root:\n    {line}",
            missing.join(" ")
        )));
    }
    println!("installing Debian packages: {}", missing.join(" "));
    util::cmd("apt-get", &["update", "-qq"]).status_ok()?;
    let mut install = util::cmd(
        "apt-get",
        &["install", "-y", "-qq", "--no-install-recommends"],
    );
    install
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    install.status_ok()
}

fn is_root() -> bool {
    output("id", &["-u"]).as_deref() == Some("0")
}

fn wasm_target() -> Result<(), Fail> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        println!("rust target wasm32-unknown-unknown: present");
        return Ok(());
    }
    util::cmd("rustup", &["target", "add", "wasm32-unknown-unknown"]).status_ok()
}

fn trunk() -> Result<(), Fail> {
    let want = format!("trunk {TRUNK_VERSION}");
    if output("trunk", &["--version"]).as_deref() == Some(want.as_str()) {
        println!("{want}: present");
        return Ok(());
    }
    println!("installing {want} from crates.io (a few minutes, once)");
    util::cargo(&["install", "--locked", "trunk", "--version", TRUNK_VERSION]).status_ok()
}

fn wasm_bindgen() -> Result<(), Fail> {
    let version = locked_version("wasm-bindgen")?;
    let want = format!("wasm-bindgen {version}");
    if output("wasm-bindgen", &["--version"]).as_deref() == Some(want.as_str()) {
        println!("{want}: present");
        return Ok(());
    }
    // Not `--locked`: wasm-bindgen-cli's own lock file pins a webpki-roots release the
    // registry here does not serve (see shared/reference/toolchain.md).
    println!("installing wasm-bindgen-cli {version} from crates.io (a few minutes, once)");
    util::cargo(&[
        "install",
        "--force",
        "wasm-bindgen-cli",
        "--version",
        &version,
    ])
    .status_ok()
}

fn wasm_opt() -> Result<(), Fail> {
    let major = BINARYEN_VERSION.split('.').next().unwrap_or_default();
    let want = format!("wasm-opt version {major} (version_{major})");
    if output("wasm-opt", &["--version"]).as_deref() == Some(want.as_str()) {
        println!("{want}: present");
        return Ok(());
    }
    let dir = util::binaryen_dir();
    println!(
        "installing binaryen {BINARYEN_VERSION} from npm into {}",
        dir.display()
    );
    std::fs::create_dir_all(&dir)
        .map_err(|e| Fail(format!("cannot create {}: {e}", dir.display())))?;
    let spec = format!("binaryen@{BINARYEN_VERSION}");
    util::cmd(
        "npm",
        &[
            "install",
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--prefix",
        ],
    )
    .arg(&dir)
    .arg(&spec)
    .status_ok()?;
    match output("wasm-opt", &["--version"]) {
        Some(got) if got == want => Ok(()),
        got => Err(Fail(format!(
            "wasm-opt after install reports {got:?}, expected {want:?}"
        ))),
    }
}

/// The version of `package` in Cargo.lock.
fn locked_version(package: &str) -> Result<String, Fail> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| Fail(format!("cannot read Cargo.lock: {e}")))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"") {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                return Ok(v.trim_matches('"').to_string());
            }
        }
    }
    Err(Fail(format!("{package} is not in Cargo.lock")))
}
