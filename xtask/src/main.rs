//! `cargo xtask <task>`: dialdeck's build, run, test and bench entry points (the cargo-xtask
//! pattern). Plain std, so it compiles in seconds on a fresh machine.
//!
//! - `bootstrap`: installs what the project needs, idempotently (see [`bootstrap`]).
//! - `build`: release frontend (Trunk) embedded into the release server binary.
//! - `run [-- ARGS]`: build, then run the demo (`dialdeck-demo`): the release binary against
//!   the VICIdial and GHL simulators and the SIP lab, on http://127.0.0.1:8080; ARGS go to
//!   the demo (`--listen`, `--rtp-address`). `dev` is the same.
//! - `test`: everything CI checks: fmt, clippy, native tests, the release wasm build, and the
//!   end-to-end tests against the real binary in headless Chromium.
//! - `bench`: the figures of the README's Benchmarks section, each against a baseline of the
//!   same run (see [`bench`]).
//! - `trunk ARGS`: Trunk with the project's pinned tools on PATH (e.g. `cargo xtask trunk serve`).

mod bench;
mod bootstrap;
mod util;

use std::{os::unix::process::CommandExt, path::PathBuf, process::ExitCode};

use util::{cargo, root, Fail, StatusOk};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, rest)) => (t.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "bootstrap" => bootstrap::run(bootstrap::Level::Test).map(|_| ()),
        "build" => build(),
        "run" | "dev" => run(rest),
        "test" => test(),
        "bench" => bench::run(),
        "trunk" => trunk(rest),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <bootstrap|build|run|dev|test|bench|trunk> [args]");
            Ok(())
        }
        other => Err(Fail(format!(
            "unknown task {other:?}; try `cargo xtask help`"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the release frontend into `target/dist` (both browser modules: `index.html` names
/// the login page and the desk, see `crates/frontend`), then the release server that embeds it.
pub(crate) fn build() -> Result<(), Fail> {
    bootstrap::run(bootstrap::Level::Build)?;
    build_release()
}

fn build_release() -> Result<(), Fail> {
    build_frontend()?;
    util::step("release server binary (embeds target/dist)");
    cargo(&["build", "--release", "-p", "dialdeck-server"]).status_ok()
}

fn build_frontend() -> Result<(), Fail> {
    util::step("release wasm build (trunk build --release)");
    util::cmd("trunk", &["build", "--release"])
        .current_dir(root())
        .status_ok()
}

/// `cargo xtask trunk ARGS`: runs Trunk with the pinned wasm-bindgen and wasm-opt on PATH.
fn trunk(args: &[String]) -> Result<(), Fail> {
    bootstrap::run(bootstrap::Level::Build)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    util::cmd("trunk", &args).current_dir(root()).status_ok()
}

/// `cargo xtask run`: builds the release server and the demo, then becomes the demo
/// (`exec`), so Ctrl-C and SIGTERM reach it directly and it stops everything it started.
/// Extra arguments go to the demo.
fn run(args: &[String]) -> Result<(), Fail> {
    bootstrap::run(bootstrap::Level::Run)?;
    let reference = reference_env()?;
    build_release()?;
    util::step("the demo (simulators and SIP lab, release)");
    cargo(&[
        "build",
        "--release",
        "-p",
        "dialdeck-e2e",
        "--bin",
        "dialdeck-demo",
    ])
    .status_ok()?;
    let release = root().join("target/release");
    let args = args.iter().filter(|a| *a != "--");
    util::step("starting the demo");
    let mut cmd = std::process::Command::new(release.join("dialdeck-demo"));
    cmd.arg("--dialdeck")
        .arg(release.join("dialdeck"))
        .args(args)
        .envs(reference)
        .current_dir(root());
    let err = cmd.exec();
    Err(Fail(format!("cannot start the demo: {err}")))
}

/// The simulators read VICIdial's schema and GHL's OpenAPI files from `shared/reference/`
/// beside the repository (or where `DIALDECK_VICIDIAL_SCHEMA` and `DIALDECK_GHL_SPEC_DIR`
/// say): checked here so a missing folder is one clear line, and passed on explicitly.
fn reference_env() -> Result<Vec<(&'static str, PathBuf)>, Fail> {
    let shared = root().join("../shared/reference");
    let mut env = Vec::new();
    for (var, default, what) in [
        (
            "DIALDECK_VICIDIAL_SCHEMA",
            shared.join("vicidial-schema.sql"),
            "VICIdial's schema",
        ),
        (
            "DIALDECK_GHL_SPEC_DIR",
            shared.join("ghl"),
            "GHL's OpenAPI files",
        ),
    ] {
        let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
        if !path.exists() {
            return Err(Fail(format!(
                "{what} not found at {}: put the `shared/` folder next to the repository or set {var}",
                path.display()
            )));
        }
        env.push((var, path));
    }
    Ok(env)
}

/// `cargo xtask test`: the README's test command and exactly what CI runs.
fn test() -> Result<(), Fail> {
    let started = std::time::Instant::now();
    bootstrap::run(bootstrap::Level::Test)?;
    let mut tally = util::Tally::default();

    util::step("cargo fmt --check");
    cargo(&["fmt", "--all", "--check"]).status_ok()?;

    build_frontend()?;

    util::step("cargo clippy (native, every crate and target)");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])
    .status_ok()?;
    util::step("cargo clippy (the browser crates and sip for wasm32)");
    cargo(&[
        "clippy",
        "-p",
        "dialdeck-frontend",
        "-p",
        "dialdeck-desk",
        "-p",
        "dialdeck-web",
        "-p",
        "dialdeck-sip",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ])
    .status_ok()?;

    util::step("native tests of every crate");
    tally.run(cargo(&["test", "--workspace", "--exclude", "dialdeck-e2e"]))?;

    util::step("release server binary for the end-to-end tests");
    cargo(&["build", "--release", "-p", "dialdeck-server"]).status_ok()?;

    util::step("end-to-end tests (real binary, headless Chromium)");
    let mut e2e = cargo(&["test", "-p", "dialdeck-e2e", "--", "--test-threads=1"]);
    e2e.env("DIALDECK_BIN", root().join("target/release/dialdeck"));
    tally.run(e2e)?;

    tally.finish(started.elapsed())
}
