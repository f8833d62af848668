//! `dialdeck-demo`: the product as an agent sees it, on one machine, in the foreground
//! (`cargo xtask run` builds and starts it). It runs [`dialdeck_e2e::stack`]: the real
//! `dialdeck` binary against the VICIdial and GoHighLevel simulators, with a SIP lab
//! (Kamailio, rtpengine, SIPp) as the telephony server, prints the URL and the demo login, and
//! stops every process it started on Ctrl-C, SIGTERM or SIGHUP (a closed terminal).
//!
//! `dialdeck-demo [--listen ADDR] [--dialdeck PATH] [--rtp-address IP]`:
//! - `--listen` (default `127.0.0.1:8080`): where dialdeck listens; port 0 picks a free one;
//! - `--dialdeck` (default `$DIALDECK_BIN`, else the `dialdeck` next to this binary);
//! - `--rtp-address` (default `127.0.0.1`): where rtpengine's media binds and what it offers
//!   in ICE; a browser that refuses loopback ICE candidates needs this machine's address.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{bail, Context};
use dialdeck_e2e::stack::{Stack, StackOptions, DEMO_PASSWORD, DEMO_USER};
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage: dialdeck-demo [--listen ADDR] [--dialdeck PATH] [--rtp-address IP]";

/// The command line.
struct Args {
    listen: SocketAddr,
    dialdeck: PathBuf,
    rtp_address: std::net::IpAddr,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut dialdeck = None;
    let mut rtp_address = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                listen = v
                    .parse()
                    .with_context(|| format!("--listen {v:?}: expected IP:PORT"))?;
            }
            "--dialdeck" => dialdeck = Some(PathBuf::from(value("--dialdeck")?)),
            "--rtp-address" => {
                let v = value("--rtp-address")?;
                rtp_address = Some(
                    v.parse()
                        .with_context(|| format!("--rtp-address {v:?}: expected an IP address"))?,
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let dialdeck = match dialdeck.or_else(|| std::env::var_os("DIALDECK_BIN").map(PathBuf::from)) {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("this binary's folder")?
            .join("dialdeck"),
    };
    if !dialdeck.is_file() {
        bail!(
            "no dialdeck binary at {} (build it with `cargo xtask build`, or pass --dialdeck)",
            dialdeck.display()
        );
    }
    Ok(Args {
        listen,
        dialdeck,
        rtp_address: rtp_address.unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dialdeck-demo: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dialdeck-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Signals first: one that arrives during start-up stops what has started so far.
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let opts = StackOptions {
        listen: Some(args.listen),
        rtp_interface: args.rtp_address,
        answer_after: Duration::from_secs(2),
        ..StackOptions::new(args.dialdeck)
    };
    println!("dialdeck-demo: starting MariaDB, the simulators, the SIP lab and dialdeck…");
    let mut stack = tokio::select! {
        s = Stack::start(opts) => s?,
        _ = int.recv() => return Ok(()),
        _ = term.recv() => return Ok(()),
        _ = hup.recv() => return Ok(()),
    };
    print_banner(&stack).await;
    let mut watch = tokio::time::interval(Duration::from_secs(1));
    let outcome = loop {
        tokio::select! {
            _ = int.recv() => break Ok("Ctrl-C"),
            _ = term.recv() => break Ok("SIGTERM"),
            _ = hup.recv() => break Ok("SIGHUP"),
            _ = watch.tick() => {
                if let Err(e) = stack.check_running() {
                    break Err(anyhow::anyhow!("{e:#}\n{}", stack.log_tails(20)));
                }
            }
        }
    };
    match &outcome {
        Ok(why) => println!("dialdeck-demo: {why}: stopping every process it started"),
        Err(_) => println!("dialdeck-demo: a part stopped; stopping the others"),
    }
    drop(stack);
    outcome.map(|_| println!("dialdeck-demo: stopped"))
}

async fn print_banner(stack: &Stack) {
    let lead: Option<(String, String, String)> = sqlx::query_as(
        "SELECT phone_number, first_name, last_name FROM vicidial_list WHERE status = 'NEW' \
         ORDER BY lead_id LIMIT 1",
    )
    .fetch_optional(&stack.db)
    .await
    .ok()
    .flatten();
    println!();
    println!("dialdeck is running: open {}", stack.url);
    println!("  log in as {DEMO_USER} / {DEMO_PASSWORD}");
    if let Some((number, first, last)) = lead {
        println!("  then dial {number} ({first} {last}, a lead of the demo campaign)");
    }
    println!("  the phone joins VICIdial's session conference, which echoes your microphone");
    println!();
    println!("  VICIdial simulator  {}", stack.vicidial.base_url());
    println!("  GHL simulator       {}", stack.ghl.url);
    println!("  SIP over WebSocket  {}", stack.ws_url());
    println!("  VICIdial database   {}", stack.db_url);
    println!("  logs                {}", stack.log_dir().display());
    let pids: Vec<String> = stack
        .pids()
        .into_iter()
        .map(|(name, pid)| format!("{name}={pid}"))
        .collect();
    println!("  processes           {}", pids.join(" "));
    println!();
    println!("Ctrl-C stops everything.");
}
