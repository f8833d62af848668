//! Small process helpers for the tasks.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

/// A task failure, printed as one line.
#[derive(Debug)]
pub struct Fail(pub String);

/// The workspace root (xtask lives one level below it).
///
/// From `CARGO_MANIFEST_DIR` as `cargo run` sets it for this run, not as it was when xtask was
/// compiled: cargo hashes workspace paths relative to the workspace, so a `target/` copied
/// from another checkout (a git worktree) keeps a fresh xtask built there, and the compiled-in
/// path would build and run that other checkout.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|d| d.join("Cargo.toml").is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().unwrap().to_path_buf()
}

/// Prints a step heading so a CI log reads as a list of what was checked.
pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// `cargo ARGS` in the workspace root, with the same cargo that runs xtask.
pub fn cargo(args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(cargo);
    c.args(args).current_dir(root());
    c
}

/// `program ARGS` with `~/.cargo/bin` on PATH (where bootstrap installs tools).
pub fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).env("PATH", path_with_cargo_bin());
    c
}

/// PATH with the project's tool directories first: binaryen from npm, then cargo's bin.
pub fn path_with_cargo_bin() -> String {
    let mut dirs = vec![binaryen_dir().join("node_modules/.bin")];
    dirs.extend(cargo_bin_dir());
    dirs.push(std::env::var("PATH").unwrap_or_default().into());
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Where bootstrap installs binaryen (npm package) for Trunk's `wasm-opt`.
pub fn binaryen_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| root().join("target"));
    cache.join("dialdeck-tools/binaryen")
}

/// Where `cargo install` puts binaries.
pub fn cargo_bin_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Some(PathBuf::from(home).join("bin"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"))
}

/// Runs a command to completion and captures its stdout (trimmed); `None` if it cannot run or
/// fails.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = cmd(program, args).stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `c` (stderr inherited) and returns its stdout; fails if it exits non-zero.
pub fn cmd_output(mut c: Command) -> Result<String, Fail> {
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Fail(format!("cannot run {}: {e}", describe(&c))))?;
    if !out.status.success() {
        return Err(Fail(format!("{} failed ({})", describe(&c), out.status)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Extension: run and turn a non-zero exit into a [`Fail`] naming the command.
pub trait StatusOk {
    /// Runs the command, inheriting stdio; fails unless it exits 0.
    fn status_ok(&mut self) -> Result<(), Fail>;
}

impl StatusOk for Command {
    fn status_ok(&mut self) -> Result<(), Fail> {
        let status = self
            .status()
            .map_err(|e| Fail(format!("cannot run {:?}: {e}", self.get_program())))?;
        if status.success() {
            Ok(())
        } else {
            Err(Fail(format!("{} failed ({status})", describe(self))))
        }
    }
}

fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Adds up `cargo test` results across several runs for one closing line.
#[derive(Default)]
pub struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Runs a `cargo test` command, echoing its output and counting `test result:` lines.
    pub fn run(&mut self, mut c: Command) -> Result<(), Fail> {
        let mut child = c
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Fail(format!("cannot run {}: {e}", describe(&c))))?;
        let stdout = child.stdout.take().unwrap();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            println!("{line}");
            if let Some(rest) = line.trim().strip_prefix("test result: ") {
                self.passed += count(rest, "passed");
                self.failed += count(rest, "failed");
                self.ignored += count(rest, "ignored");
            }
        }
        let status = child.wait().map_err(|e| Fail(e.to_string()))?;
        if status.success() {
            Ok(())
        } else {
            Err(Fail(format!(
                "{} failed ({status}); so far {} passed, {} failed",
                describe(&c),
                self.passed,
                self.failed
            )))
        }
    }

    /// Prints the closing line and fails if anything failed or nothing ran.
    pub fn finish(&self, took: Duration) -> Result<(), Fail> {
        println!(
            "\nxtask test: all checks done in {:.0} s",
            took.as_secs_f64()
        );
        println!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        );
        if self.failed > 0 || self.passed == 0 {
            return Err(Fail("tests failed or none ran".into()));
        }
        Ok(())
    }
}

/// In `ok. 12 passed; 0 failed; 1 ignored; ...` finds the number before the word `what`.
fn count(summary: &str, what: &str) -> u64 {
    summary
        .split(';')
        .filter_map(|part| {
            let part = part.trim();
            let part = part
                .strip_prefix("ok.")
                .or_else(|| part.strip_prefix("FAILED."))
                .unwrap_or(part);
            let mut words = part.split_whitespace();
            let n = words.next()?.parse().ok()?;
            (words.next()? == what).then_some(n)
        })
        .next()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{count, root};

    #[test]
    fn the_workspace_is_the_one_cargo_runs_not_the_one_xtask_was_built_in() {
        // A checkout whose target/ came from another one: cargo sets CARGO_MANIFEST_DIR for
        // this run to this checkout's xtask.
        let checkout = std::env::temp_dir().join(format!("xtask-root-{}", std::process::id()));
        let xtask = checkout.join("xtask");
        std::fs::create_dir_all(&xtask).unwrap();
        std::fs::write(xtask.join("Cargo.toml"), "[package]\n").unwrap();
        let compiled_in = std::env::var_os("CARGO_MANIFEST_DIR");
        std::env::set_var("CARGO_MANIFEST_DIR", &xtask);
        let found = root();
        // A folder without the manifest is not taken.
        std::env::set_var("CARGO_MANIFEST_DIR", checkout.join("nowhere"));
        let fallback = root();
        match compiled_in {
            Some(v) => std::env::set_var("CARGO_MANIFEST_DIR", v),
            None => std::env::remove_var("CARGO_MANIFEST_DIR"),
        }
        std::fs::remove_dir_all(&checkout).unwrap();
        assert_eq!(found, checkout);
        assert_eq!(
            fallback,
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
        );
    }

    #[test]
    fn counts_cargo_test_summary() {
        let s = "ok. 12 passed; 1 failed; 3 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(count(s, "passed"), 12);
        assert_eq!(count(s, "failed"), 1);
        assert_eq!(count(s, "ignored"), 3);
        assert_eq!(count("FAILED. 2 passed; 5 failed; 0 ignored", "failed"), 5);
    }
}
