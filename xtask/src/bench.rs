//! `cargo xtask bench`: size, speed and memory figures, each printed as
//! `name=value (baseline …, ratio …x, goal …)` against a baseline measured or stated in the same
//! run.
//!
//! - first load and after-login weight, navigation → interactive login, and server RSS per event
//!   stream: `crates/e2e/examples/page_bench.rs` (the release binary in headless Chromium, the
//!   VICIdial simulator over a real MariaDB, `crates/server/examples/bench_baseline.rs` as the
//!   baseline server);
//! - SIP parse throughput against SIP.js 0.21.2's parser on the same messages;
//! - outbox delivery to instant targets against the acceptance rate
//!   (`crates/server/examples/outbox_delivery.rs`);
//! - dispositions accepted per second and latency (`crates/server/examples/disposition_load.rs`);
//! - softphone call set-up in the SIP lab (the two-softphone end-to-end test; needs root).

use std::{ffi::OsString, path::PathBuf, process::Command};

use crate::util::{self, root, Fail, StatusOk};

/// What the SIP parser must reach, as a multiple of SIP.js 0.21.2's on the same messages.
const SIP_GOAL_RATIO: f64 = 100.0;

/// Runs every benchmark and prints the figures.
pub fn run() -> Result<(), Fail> {
    let reference = crate::reference_env()?;
    crate::build()?;
    util::step("benchmark programs (release examples of the server, page_bench)");
    crate::util::cargo(&[
        "build",
        "--release",
        "-p",
        "dialdeck-server",
        "--example",
        "bench_baseline",
        "--example",
        "outbox_delivery",
        "--example",
        "disposition_load",
    ])
    .status_ok()?;
    // It only drives the browser and holds sockets: the figures are the release servers'.
    crate::util::cargo(&["build", "-p", "dialdeck-e2e", "--example", "page_bench"]).status_ok()?;

    util::step("first load, after login, navigation → interactive login, RSS per event stream");
    let release = root().join("target/release");
    let mut page = with_open_files(root().join("target/debug/examples/page_bench"));
    page.arg(release.join("dialdeck"))
        .arg(release.join("examples/bench_baseline"))
        .envs(reference.iter().map(|(k, v)| (*k, v)));
    print!("{}", util::cmd_output(page)?);

    util::step("SIP parser throughput: dialdeck vs SIP.js 0.21.2, same messages, same run");
    sip_parser(&reference)?;

    util::step("outbox delivery to instant targets vs acceptance (SQLite store)");
    print!(
        "{}",
        util::cmd_output(Command::new(release.join("examples/outbox_delivery")))?
    );

    util::step("dispositions accepted per second, 500 concurrent agents (SQLite store)");
    let mut load = Command::new(release.join("examples/disposition_load"));
    load.args(["500", "5"]);
    print!("{}", util::cmd_output(load)?);

    util::step("softphone call set-up in the SIP lab (Dial → INVITE leaves → 200 OK)");
    call_setup()?;
    Ok(())
}

/// `program` run with the open-files limit raised to the hard limit (a thousand event streams
/// are a thousand sockets on each side).
fn with_open_files(program: PathBuf) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$@\"")
        .arg("sh")
        .arg(program);
    c
}

/// Runs the two-softphone e2e test (real binary, Kamailio, Chromium in a network namespace;
/// needs root) and prints its timing line.
fn call_setup() -> Result<(), Fail> {
    let mut cmd = crate::util::cargo(&[
        "test",
        "--quiet",
        "-p",
        "dialdeck-e2e",
        "--test",
        "softphone",
        "calls_another_softphone",
        "--",
        "--nocapture",
    ]);
    cmd.env("DIALDECK_BIN", root().join("target/release/dialdeck"));
    let out = util::cmd_output(cmd)?;
    let line = out
        .lines()
        .find_map(|l| l.split("bench: ").nth(1))
        .ok_or_else(|| Fail("the softphone test printed no timing".into()))?;
    println!("{line}");
    Ok(())
}

/// Runs `crates/sip/examples/parse_throughput` and SIP.js's parser on the same trace messages
/// (`DIALDECK_SIP_TRACES`, else `sip-traces/` beside VICIdial's schema in the reference folder)
/// and prints the ratio.
fn sip_parser(reference: &[(&'static str, PathBuf)]) -> Result<(), Fail> {
    let traces: OsString = match std::env::var_os("DIALDECK_SIP_TRACES") {
        Some(t) => t,
        None => reference
            .iter()
            .find(|(k, _)| *k == "DIALDECK_VICIDIAL_SCHEMA")
            .and_then(|(_, schema)| schema.parent())
            .map(|dir| dir.join("sip-traces").into_os_string())
            .ok_or_else(|| Fail("no reference folder for the SIP traces".into()))?,
    };
    let mut ours = crate::util::cargo(&[
        "run",
        "--quiet",
        "--release",
        "-p",
        "dialdeck-sip",
        "--example",
        "parse_throughput",
    ]);
    ours.env("DIALDECK_SIP_TRACES", &traces);
    let ours = util::cmd_output(ours)?;
    let sipjs_dir = root().join("crates/sip/benches/sipjs");
    util::cmd("npm", &["ci", "--no-audit", "--no-fund"])
        .current_dir(&sipjs_dir)
        .stdout(std::process::Stdio::null())
        .status_ok()?;
    let mut node = util::cmd("node", &["bench.mjs"]);
    node.current_dir(&sipjs_dir)
        .env("DIALDECK_SIP_TRACES", &traces);
    let theirs = util::cmd_output(node)?;
    let messages = metric(&ours, "messages")?;
    let ours_rate = metric(&ours, "dialdeck_msgs_per_sec")?;
    let print_rate = metric(&ours, "dialdeck_parse_print_msgs_per_sec")?;
    let theirs_rate = metric(&theirs, "sipjs_msgs_per_sec")?;
    if metric(&theirs, "messages")? != messages {
        return Err(Fail(format!(
            "SIP.js parsed another message set than dialdeck ({messages} messages):\n{theirs}"
        )));
    }
    println!(
        "sip_parse_msgs_per_sec={ours_rate:.0} (baseline SIP.js 0.21.2 Parser.parseMessage {theirs_rate:.0} msgs/s on the same {messages:.0} messages, ratio {:.0}x, goal >= {SIP_GOAL_RATIO:.0}x)",
        ours_rate / theirs_rate
    );
    println!("  sip_parse_print_msgs_per_sec={print_rate:.0} (parse and print again)");
    Ok(())
}

/// Reads `name=<number>` from a benchmark's output.
fn metric(output: &str, name: &str) -> Result<f64, Fail> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('=')?.trim().parse().ok())
        .ok_or_else(|| Fail(format!("benchmark printed no {name}=<n>")))
}
