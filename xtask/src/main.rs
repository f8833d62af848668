//! `cargo xtask <task>`: dialdeck's build, run, test and bench entry points (the cargo-xtask
//! pattern). Plain std, so it compiles in seconds on a fresh machine.
//!
//! - `bootstrap`: installs what the project needs, idempotently (see [`bootstrap`]).
//! - `build`: release frontend (Trunk) embedded into the release server binary.
//! - `run [-- ARGS]`: build, then run the single binary on its embedded defaults.
//! - `dev`: the release binary against the VICIdial and GHL simulators (local development).
//! - `test`: everything CI checks: fmt, clippy, native tests, the release wasm build, and the
//!   end-to-end tests against the real binary in headless Chromium.
//! - `bench`: bundle size (and the benchmarks other crates register).
//! - `trunk ARGS`: Trunk with the project's pinned tools on PATH (e.g. `cargo xtask trunk serve`).

mod bench;
mod bootstrap;
mod dev;
mod util;

use std::process::ExitCode;

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
        "run" => run(rest),
        "dev" => dev::run(),
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

/// Builds the release frontend into `target/dist`, then the release server that embeds it.
pub(crate) fn build() -> Result<(), Fail> {
    bootstrap::run(bootstrap::Level::Build)?;
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

/// `cargo xtask run`: builds and runs the single binary; extra arguments go to the server.
fn run(args: &[String]) -> Result<(), Fail> {
    build()?;
    let bin = root().join("target/release/dialdeck");
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--")
        .collect();
    util::step(&format!("starting {}", bin.display()));
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(&args).current_dir(root());
    if std::env::var_os("DIALDECK_DATA_DIR").is_none() {
        cmd.env("DIALDECK_DATA_DIR", root().join("target/dialdeck-data"));
    }
    cmd.status_ok()
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
    util::step("cargo clippy (frontend and sip for wasm32)");
    cargo(&[
        "clippy",
        "-p",
        "dialdeck-frontend",
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
