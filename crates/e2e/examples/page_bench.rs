//! The page and memory figures of `cargo xtask bench`, against the real release binary:
//!
//! - first load: exactly what headless Chromium fetched to show the login page (the
//!   navigation entry and the Resource Timing entries of dialdeck's origin), each fetched
//!   again from the server and compressed with gzip -9, per kind and in total against the
//!   104 KB budget (SIP.js 0.21.2 + React); then the same for what loads after logging the
//!   seeded agent in through the form. Generic: whatever the page fetched, one module or
//!   several;
//! - navigation → interactive login (the user input and the Continue button exist and are
//!   enabled: the wasm has mounted), median of several cold runs, against a minimal static
//!   login page served by a trivial axum server (`crates/server/examples/bench_baseline.rs`);
//! - server RSS per open event stream (`/api/agent/events` of one logged-in agent, with
//!   `DIALDECK_MAX_STREAMS_PER_AGENT` raised for the bench) with 0, 200 and 1,000 open,
//!   against the trivial axum server holding as many idle event streams.
//!
//! The agent logs in against a real MariaDB with VICIdial's schema and seed and the VICIdial
//! simulator, as the desk's end-to-end test does. Needs chromium and chromedriver, and an
//! open-files limit above 2,500 (`cargo xtask bench` raises it).
//!
//! `cargo run -p dialdeck-e2e --example page_bench -- <dialdeck binary> <bench_baseline binary>`

use std::{
    collections::BTreeMap,
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};
use dialdeck_e2e::{
    process::{DialdeckOptions, Guard},
    webdriver::key,
    Browser, ChromeDriver, DialdeckServer,
};
use dialdeck_vicidial_sim::{mariadb::MariaDb, seed, SimOptions, VicidialSim};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// What SIP.js 0.21.2 plus React weigh, gzip -9: the first load's budget.
const BUDGET_GZIP: usize = 104 * 1024;
/// Most server memory an open event stream may cost.
const GOAL_KB_PER_STREAM: f64 = 50.0;
/// Stream counts measured (after 0).
const STREAMS: [usize; 2] = [200, 1_000];
/// Cold navigations timed per page.
const RUNS: usize = 7;
const WAIT: Duration = Duration::from_secs(30);

/// True once the login form can be used.
const INTERACTIVE: &str = "(() => { const u = document.getElementById('login-user'); \
    const c = document.getElementById('login-continue'); \
    return !!(u && !u.disabled && c && !c.disabled); })()";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dialdeck_bin), Some(baseline_bin)) = (args.next(), args.next()) else {
        bail!("usage: page_bench <dialdeck binary> <bench_baseline binary>");
    };
    let logs = tempfile::tempdir()?;

    let maria = MariaDb::start().context("MariaDB")?;
    let name = maria.seeded_database().await?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .connect_with(maria.options(&name))
        .await?;
    let sim = VicidialSim::start(pool.clone(), SimOptions::default()).await?;
    let max_streams = (STREAMS[1] + 10).to_string();
    let env = [
        ("DIALDECK_VICIDIAL_DB_URL", maria.url(&name)),
        ("DIALDECK_VICIDIAL_WEB_URL", sim.base_url()),
        ("DIALDECK_VICIDIAL_API_USER", seed::API_USER.into()),
        ("DIALDECK_VICIDIAL_API_PASS", seed::API_PASS.into()),
        ("DIALDECK_MAX_STREAMS_PER_AGENT", max_streams),
        // Info lines per request would cost the log, not the server: warnings only.
        ("DIALDECK_LOG", "warn".into()),
    ];
    let server = DialdeckServer::start_with(DialdeckOptions {
        binary: PathBuf::from(&dialdeck_bin),
        listen: None,
        log: Some(logs.path().join("dialdeck.log")),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    })
    .await
    .context("dialdeck")?;
    let baseline = Baseline::start(&baseline_bin)?;
    let driver = ChromeDriver::start().await?;

    first_load(&driver, &server.url).await?;
    interactive(&driver, &server.url, &baseline.url).await?;
    drop(driver);
    memory(&server, &baseline).await?;
    Ok(())
}

/// The trivial axum server (static login page, idle event streams).
struct Baseline {
    process: Guard,
    url: String,
}

impl Baseline {
    fn start(bin: &str) -> anyhow::Result<Baseline> {
        let mut cmd = Command::new(bin);
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut process = Guard::spawn("bench_baseline", &mut cmd)?;
        let out = process.take_stdout().context("the baseline's stdout")?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)?;
        let url = line
            .trim()
            .strip_prefix("listening=")
            .with_context(|| format!("the baseline printed {line:?}"))?
            .to_string();
        Ok(Baseline { process, url })
    }
}

/// The login page's mark when it is interactive; what it fetches after (the desk, prefetched
/// while the agent types) is not part of the first load.
const LOGIN_READY_MARK: &str = "dialdeck:login-ready";

/// What a page fetched from `origin`: the document and its resources, by URL without the
/// fragment, in the order fetched, each with whether it started before the login page's
/// ready mark (all of them when the page set no mark).
async fn fetched(b: &Browser, origin: &str) -> anyhow::Result<Vec<(String, bool)>> {
    let v = b
        .execute(
            "const mark = performance.getEntriesByName(arguments[0], 'mark')[0]; \
             const ready = mark ? mark.startTime : Infinity; \
             return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')) \
               .map(e => [e.name, e.startTime <= ready]);",
            json!([LOGIN_READY_MARK]),
        )
        .await?;
    let mut out: Vec<(String, bool)> = Vec::new();
    for entry in v.as_array().context("entries")? {
        let url = entry[0].as_str().unwrap_or("");
        let url = url.split('#').next().unwrap_or(url).to_string();
        let before_ready = entry[1].as_bool().unwrap_or(true);
        if url.starts_with(origin) && !out.iter().any(|(u, _)| *u == url) {
            out.push((url, before_ready));
        }
    }
    Ok(out)
}

/// Entries of the page's timeline until none has come for `quiet`.
async fn settled(
    b: &Browser,
    origin: &str,
    quiet: Duration,
) -> anyhow::Result<Vec<(String, bool)>> {
    let mut last = fetched(b, origin).await?;
    loop {
        tokio::time::sleep(quiet).await;
        let now = fetched(b, origin).await?;
        if now.len() == last.len() {
            return Ok(now);
        }
        last = now;
    }
}

/// One fetched URL, as the server sends it and gzip -9.
struct Fetched {
    kind: &'static str,
    raw: usize,
    gzip: usize,
}

/// Fetches `url` again (no `Accept-Encoding`: the bytes as stored) and compresses it.
async fn weigh(url: &str) -> anyhow::Result<Fetched> {
    let res = reqwest::get(url).await?;
    if !res.status().is_success() {
        bail!("{url}: {}", res.status());
    }
    let kind = match res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
    {
        t if t.starts_with("text/html") => "html",
        t if t.contains("javascript") => "js",
        t if t.starts_with("text/css") => "css",
        t if t.starts_with("application/wasm") => "wasm",
        _ => "other",
    };
    let body = res.bytes().await?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&body)?;
    Ok(Fetched {
        kind,
        raw: body.len(),
        gzip: gz.finish()?.len(),
    })
}

fn kb(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// Weighs `urls` (API calls are listed, not counted: they are data, not the app) and prints
/// them per kind and in total against the budget, as `<name>_…` lines. Returns the total gzip.
async fn report(name: &str, urls: &[String], origin: &str) -> anyhow::Result<usize> {
    let mut kinds: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut api = Vec::new();
    for url in urls {
        let path = &url[origin.len()..];
        if path.starts_with("/api/") {
            api.push(path.to_string());
            continue;
        }
        let f = weigh(url).await?;
        println!(
            "  {name}: {path} ({}, {:.1} KB raw, {:.1} KB gzip -9)",
            f.kind,
            kb(f.raw),
            kb(f.gzip)
        );
        let e = kinds.entry(f.kind).or_default();
        e.0 += 1;
        e.1 += f.raw;
        e.2 += f.gzip;
    }
    for (kind, (n, raw, gzip)) in &kinds {
        println!(
            "{name}_{kind}_gzip_kb={:.1} ({n} file(s), {:.1} KB raw)",
            kb(*gzip),
            kb(*raw)
        );
    }
    let total: usize = kinds.values().map(|k| k.2).sum();
    println!(
        "{name}_gzip_kb={:.1} (baseline {:.0} KB = SIP.js 0.21.2 + React, ratio {:.2}x, goal {})",
        kb(total),
        kb(BUDGET_GZIP),
        total as f64 / BUDGET_GZIP as f64,
        if name == "first_load" {
            "<= 1x"
        } else {
            "none: loads after login"
        }
    );
    if !api.is_empty() {
        println!("  {name}: API calls, not counted: {}", api.join(" "));
    }
    Ok(total)
}

/// The first load of `/` in a fresh browser, then what logging in loads.
async fn first_load(driver: &ChromeDriver, url: &str) -> anyhow::Result<()> {
    let b = driver.browser(&[]).await?;
    b.goto(url).await?;
    b.wait_for(INTERACTIVE, WAIT, "the login form").await?;
    let loaded = settled(&b, url, Duration::from_millis(750)).await?;
    let first: Vec<String> = loaded
        .iter()
        .filter(|(_, before_ready)| *before_ready)
        .map(|(u, _)| u.clone())
        .collect();
    let first_gzip = report("first_load", &first, url).await?;

    b.type_into("#login-user", stack_user()).await?;
    b.type_into("#login-password", seed::PLAIN_PASSWORD).await?;
    b.press(&[], key::ENTER).await?;
    b.wait_for(
        "document.querySelector('#login-campaign option[value=\"TESTCAMP\"]')",
        WAIT,
        "the campaign step",
    )
    .await?;
    b.execute(
        "const s = document.querySelector('#login-campaign'); s.value = 'TESTCAMP'; s.dispatchEvent(new Event('change', {bubbles: true})); return true;",
        json!([]),
    )
    .await?;
    b.click("#login-submit").await?;
    b.wait_for(
        "document.querySelector('#check-continue') || document.querySelector('#dial-number')",
        WAIT,
        "the readiness check or the desk after login",
    )
    .await?;
    let all = settled(&b, url, Duration::from_millis(1_500)).await?;
    // After login: the desk prefetched while the agent typed, and whatever logging in added.
    let after: Vec<String> = all
        .into_iter()
        .map(|(u, _)| u)
        .filter(|u| !first.contains(u))
        .collect();
    let after_gzip = report("after_login", &after, url).await?;
    println!(
        "first_load_plus_after_login_gzip_kb={:.1}",
        kb(first_gzip + after_gzip)
    );
    b.close().await
}

/// The seeded agent the desk's test logs in.
fn stack_user() -> &'static str {
    dialdeck_e2e::stack::DEMO_USER
}

/// Marks, in the page itself, the moment the login form becomes usable (milliseconds since
/// the navigation started), so the figure does not depend on when WebDriver looks.
const MARK_INTERACTIVE: &str = "(() => {
  const ready = () => { const u = document.getElementById('login-user');
    const c = document.getElementById('login-continue');
    return u && !u.disabled && c && !c.disabled; };
  let obs, tick;
  const mark = () => {
    if (window.__benchInteractiveAt === undefined && ready()) {
      window.__benchInteractiveAt = performance.now();
      obs.disconnect(); clearInterval(tick);
    }
  };
  obs = new MutationObserver(mark);
  obs.observe(document, { childList: true, subtree: true, attributes: true });
  // A property set without an attribute (disabled=false) is not a mutation: look often too.
  tick = setInterval(mark, 2);
})();";

/// Milliseconds from navigation to a usable login form in a fresh (cold) browser.
async fn time_to_interactive(driver: &ChromeDriver, url: &str) -> anyhow::Result<f64> {
    let b = driver.browser(&[]).await?;
    b.on_new_document(MARK_INTERACTIVE).await?;
    b.goto(url).await?;
    let at = b
        .wait_for("window.__benchInteractiveAt", WAIT, "the login form usable")
        .await?;
    b.close().await?;
    at.as_f64().context("a time")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Navigation → interactive login, dialdeck against the static page, runs interleaved.
async fn interactive(driver: &ChromeDriver, url: &str, baseline: &str) -> anyhow::Result<()> {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    // One of each first, not timed: the browser binary and the servers' first answers warm.
    time_to_interactive(driver, url).await?;
    time_to_interactive(driver, baseline).await?;
    for _ in 0..RUNS {
        ours.push(time_to_interactive(driver, url).await?);
        theirs.push(time_to_interactive(driver, baseline).await?);
    }
    let (o, t) = (median(ours.clone()), median(theirs.clone()));
    println!(
        "  navigation to interactive login, ms, cold browser each run: dialdeck {ours:.1?}, static page {theirs:.1?}"
    );
    println!(
        "login_interactive_ms={o:.1} (baseline {t:.1} ms for a minimal static login page on a trivial axum server, ratio {:.1}x, median of {RUNS})",
        o / t
    );
    Ok(())
}

/// Resident memory of process `pid`, in KB.
fn rss_kb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?)
}

/// Opens one event stream with `request` and waits for its `200` head; the stream stays open
/// while the socket lives.
async fn open_stream(addr: &str, request: &str) -> anyhow::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            bail!("closed before its head: {}", String::from_utf8_lossy(&head));
        }
        head.extend_from_slice(&buf[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        bail!("event stream refused: {}", String::from_utf8_lossy(&head));
    }
    Ok(s)
}

/// RSS of `pid` with 0 and then [`STREAMS`] event streams open, in KB.
async fn rss_with_streams(pid: u32, addr: &str, request: &str) -> anyhow::Result<Vec<f64>> {
    let settle = Duration::from_millis(1_500);
    // One stream opened and closed first, so code paths are paged in before the zero point.
    drop(open_stream(addr, request).await?);
    tokio::time::sleep(settle).await;
    let mut rss = vec![rss_kb(pid)?];
    let mut open = Vec::new();
    for n in STREAMS {
        while open.len() < n {
            let batch = (n - open.len()).min(50);
            let opened = open_many(addr, request, batch).await?;
            open.extend(opened);
        }
        tokio::time::sleep(settle).await;
        rss.push(rss_kb(pid)?);
    }
    drop(open);
    Ok(rss)
}

/// `n` streams opened at once.
async fn open_many(addr: &str, request: &str, n: usize) -> anyhow::Result<Vec<TcpStream>> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (addr, request) = (addr.to_string(), request.to_string());
        tasks.push(tokio::spawn(
            async move { open_stream(&addr, &request).await },
        ));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

/// Logs the seeded agent in over HTTP and returns the session cookie.
async fn log_in(url: &str) -> anyhow::Result<String> {
    let res = reqwest::Client::new()
        .post(format!("{url}/api/login"))
        .header("origin", url)
        .json(&json!({
            "user": stack_user(),
            "password": seed::PLAIN_PASSWORD,
            "campaign": "TESTCAMP"
        }))
        .send()
        .await?;
    let status = res.status();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("dialdeck_session="))
        .map(|c| c.split(';').next().unwrap_or(c).to_string());
    match cookie {
        Some(c) if status.is_success() => Ok(c),
        _ => {
            let body: Value = res.json().await.unwrap_or(Value::Null);
            bail!("login refused: {status} {body}")
        }
    }
}

/// Server RSS per open event stream, dialdeck against the trivial server.
async fn memory(server: &DialdeckServer, baseline: &Baseline) -> anyhow::Result<()> {
    let cookie = log_in(&server.url).await?;
    let addr = server.url.trim_start_matches("http://").to_string();
    let ours = rss_with_streams(
        server.process.pid(),
        &addr,
        &format!(
            "GET /api/agent/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n"
        ),
    )
    .await
    .context("dialdeck's event streams")?;
    let base_addr = baseline.url.trim_start_matches("http://").to_string();
    let theirs = rss_with_streams(
        baseline.process.pid(),
        &base_addr,
        &format!("GET /events HTTP/1.1\r\nHost: {base_addr}\r\nAccept: text/event-stream\r\n\r\n"),
    )
    .await
    .context("the baseline's event streams")?;
    println!(
        "  server RSS, KB, with 0/{}/{} event streams open: dialdeck {ours:.0?}, trivial axum server {theirs:.0?}",
        STREAMS[0], STREAMS[1]
    );
    for (i, n) in STREAMS.iter().enumerate() {
        let per = (ours[i + 1] - ours[0]) / *n as f64;
        let base = (theirs[i + 1] - theirs[0]) / *n as f64;
        println!(
            "rss_per_stream_kb_{n}={per:.1} (baseline {base:.1} KB per idle stream of a trivial axum server, ratio {:.1}x, goal <= {GOAL_KB_PER_STREAM:.0} KB)",
            per / base
        );
    }
    Ok(())
}
