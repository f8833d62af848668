//! `cargo xtask bench`: size and speed figures, each against a baseline measured or stated in
//! the same run.

use std::{fs, io::Write, path::Path};

use crate::util::{self, root, Fail, StatusOk};

/// What SIP.js 0.21.2 plus React weigh, gzip: the finished app's whole budget.
const BUNDLE_BUDGET_GZIP: usize = 104 * 1024;

/// Runs every benchmark and prints the figures.
pub fn run() -> Result<(), Fail> {
    crate::build()?;
    util::step("bundle size (target/dist)");
    bundle_size(&root().join("target/dist"))?;
    util::step("SIP parser throughput: dialdeck vs SIP.js 0.21.2, same messages, same run");
    sip_parser()?;
    util::step("dispositions accepted per second, 500 concurrent agents (SQLite store)");
    let out = util::cmd_output(crate::util::cargo(&[
        "run",
        "--quiet",
        "--release",
        "-p",
        "dialdeck-server",
        "--example",
        "disposition_load",
        "--",
        "500",
        "5",
    ]))?;
    print!("{out}");
    util::step("softphone call set-up in the SIP lab (Dial → INVITE leaves → 200 OK)");
    call_setup()?;
    Ok(())
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
/// and prints the ratio (target: at least 10x).
fn sip_parser() -> Result<(), Fail> {
    let ours = util::cmd_output(crate::util::cargo(&[
        "run",
        "--quiet",
        "--release",
        "-p",
        "dialdeck-sip",
        "--example",
        "parse_throughput",
    ]))?;
    let sipjs_dir = root().join("crates/sip/benches/sipjs");
    util::cmd("npm", &["ci", "--no-audit", "--no-fund"])
        .current_dir(&sipjs_dir)
        .stdout(std::process::Stdio::null())
        .status_ok()?;
    let mut node = util::cmd("node", &["bench.mjs"]);
    node.current_dir(&sipjs_dir);
    let theirs = util::cmd_output(node)?;
    print!("{ours}{theirs}");
    let ours = metric(&ours, "dialdeck_msgs_per_sec")?;
    let theirs = metric(&theirs, "sipjs_msgs_per_sec")?;
    println!(
        "sip_parse_ratio_vs_sipjs={:.0}x (target >= 10x)",
        ours / theirs
    );
    Ok(())
}

/// Reads `name=<number>` from a benchmark's output.
fn metric(output: &str, name: &str) -> Result<f64, Fail> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('=')?.trim().parse().ok())
        .ok_or_else(|| Fail(format!("benchmark printed no {name}=<n>")))
}

fn bundle_size(dist: &Path) -> Result<(), Fail> {
    let mut rows = Vec::new();
    for entry in fs::read_dir(dist).map_err(|e| Fail(format!("no {}: {e}", dist.display())))? {
        let path = entry.map_err(|e| Fail(e.to_string()))?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "wasm" | "js" | "css") {
            continue;
        }
        let raw = fs::read(&path).map_err(|e| Fail(e.to_string()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw).map_err(|e| Fail(e.to_string()))?;
        let gz = gz.finish().map_err(|e| Fail(e.to_string()))?.len();
        rows.push((ext.to_string(), raw.len(), gz));
    }
    rows.sort();
    let kb = |n: usize| n as f64 / 1024.0;
    println!("{:<6} {:>10} {:>10}", "kind", "raw KB", "gzip KB");
    for (ext, raw, gz) in &rows {
        println!("{ext:<6} {:>10.1} {:>10.1}", kb(*raw), kb(*gz));
    }
    let raw: usize = rows.iter().map(|r| r.1).sum();
    let gz: usize = rows.iter().map(|r| r.2).sum();
    println!("{:<6} {:>10.1} {:>10.1}", "total", kb(raw), kb(gz));
    println!(
        "bundle_gzip_ratio_to_budget={:.2} (budget {:.0} KB gzip = SIP.js 0.21.2 + React)",
        gz as f64 / BUNDLE_BUDGET_GZIP as f64,
        kb(BUNDLE_BUDGET_GZIP)
    );
    Ok(())
}
