//! The demo stack end to end (`dialdeck_e2e::stack`, `dialdeck-demo`), each test in a network
//! namespace of its own with only `lo` (see `dialdeck_e2e::lab`):
//! 1. the stack in-process: an agent logs in through the real login form in headless Chromium,
//!    the phone registers with the lab's Kamailio and dials VICIdial's session conference
//!    itself (a webphone), the telephony stand-in writes the phone's `live_sip_channels` row,
//!    the room echoes (audio both ways by getStats), the call and its row outlive a dropped
//!    WebSocket, the row goes when the phone hangs up, and also when the browser dies without
//!    hanging up;
//! 2. the `dialdeck-demo` binary as a process: it prints its URL and the demo login, serves,
//!    and SIGTERM stops it and every process below it.

mod softphone_lab;

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use dialdeck_e2e::{
    lab,
    stack::{Stack, StackOptions, DEMO_PASSWORD, DEMO_USER, TELEPHONY_SERVER_IP},
    ChromeDriver, DialdeckServer, Guard,
};
use softphone_lab::{runtime, Phone, SECS};

/// `live_sip_channels` rows: (channel, server_ip, extension).
async fn sip_channels(db: &sqlx::MySqlPool) -> anyhow::Result<Vec<(String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT channel, server_ip, COALESCE(extension, '') FROM live_sip_channels ORDER BY channel",
    )
    .fetch_all(db)
    .await?)
}

/// Polls `live_sip_channels` for up to `timeout` until `done` holds for its rows; returns them.
async fn wait_channels(
    stack: &Stack,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let deadline = Instant::now() + timeout;
    loop {
        let rows = sip_channels(&stack.db).await?;
        if done(&rows) {
            return Ok(rows);
        }
        if Instant::now() > deadline {
            bail!(
                "live_sip_channels never showed {what}: {rows:?}\n{}",
                stack.log_tails(30)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long the room keeps a phone whose WebSocket closed (short, so the test is quick).
const GRACE: Duration = Duration::from_secs(6);

/// Test 1: the stack puts the agent's phone into VICIdial's session conference: the room's
/// channel row comes and goes with the call, and the room echoes the phone's audio.
#[test]
fn the_stacks_phone_joins_the_session_conference_hears_the_echo_and_leaves() {
    let Some(_ns) = lab::run_in_netns(
        "the_stacks_phone_joins_the_session_conference_hears_the_echo_and_leaves",
    ) else {
        return;
    };
    runtime()
        .block_on(async {
            let mut stack = Stack::start(StackOptions {
                room_grace: GRACE,
                ..StackOptions::new(DialdeckServer::binary())
            })
            .await?;
            assert!(
                sip_channels(&stack.db).await?.is_empty(),
                "nobody in a room yet"
            );
            let driver = ChromeDriver::start().await?;
            let browser = driver.browser(&[]).await?;
            let phone =
                Phone::log_in(browser, &stack.url, "cc1001", DEMO_USER, DEMO_PASSWORD).await?;
            phone.wait_registered().await?;
            // The phone check gates the desk; opened again from the header, its diagnostics
            // hang up and dial the room by hand below.
            phone.desk_with_check().await?;
            // VICIdial's screen logs in in the hidden frame; the webphone then dials the room.
            if let Err(e) = phone.wait_call("established", SECS(30)).await {
                bail!("{e:#}\n{}", stack.log_tails(30));
            }
            let conf_exten: String =
                sqlx::query_scalar("SELECT conf_exten FROM vicidial_live_agents WHERE user = ?")
                    .bind(DEMO_USER)
                    .fetch_one(&stack.db)
                    .await?;
            assert!(
                conf_exten.starts_with("86000"),
                "a MeetMe room: {conf_exten}"
            );
            let rows =
                wait_channels(&stack, "the phone in its room", SECS(10), |r| !r.is_empty()).await?;
            assert_eq!(rows.len(), 1, "one channel: {rows:?}");
            let (channel, server_ip, extension) = &rows[0];
            assert!(channel.starts_with("SIP/cc1001-"), "{channel}");
            assert_eq!(channel.len(), "SIP/cc1001-".len() + 8, "{channel}");
            assert_eq!(server_ip, TELEPHONY_SERVER_IP, "the phone's server");
            assert_eq!(extension, &conf_exten, "the room is the session conference");

            // The room echoes: what comes back is what the phone sent, so audio went both ways.
            let (packets, level) = phone.wait_audio_in(SECS(15)).await?;
            let sent: u64 = phone.quality("packetsSent").await?.parse().unwrap_or(0);
            println!("echo: {packets} packets back (level {level}), {sent} sent");
            assert!(sent > 0 && packets > 0 && level > 0.0);
            assert_eq!(phone.quality("codec").await?, "PCMU", "plain RTP to SIPp");
            let dump = stack.lab.sip_dump();
            assert!(
                dump.contains(&format!("INVITE sip:{conf_exten}@")),
                "the phone dialled the room itself"
            );
            assert!(
                dump.contains("RTP/AVP"),
                "rtpengine offered plain RTP to the room"
            );

            // The network drops the phone's WebSocket: it reconnects and recovers the call
            // (re-INVITE), which keeps its room past the grace a closed connection gets. (Audio
            // after that ICE restart is the softphone suites' to prove.)
            assert!(stack.lab.drop_websockets().await? >= 1);
            phone.wait_call("reconnecting", SECS(10)).await?;
            phone.wait_call("established", SECS(20)).await?;
            tokio::time::sleep(GRACE + SECS(3)).await;
            assert_eq!(
                sip_channels(&stack.db).await?,
                rows,
                "the same call is still in the room"
            );
            // The recovery re-INVITE reached the room with one SDP (rewritten once).
            let dump = stack.lab.sip_dump();
            let reinvites: Vec<&str> = dump
                .split("====================")
                .filter(|m| m.contains("INVITE sip:room@") && m.contains("tag: snd"))
                .collect();
            assert!(!reinvites.is_empty(), "the phone re-INVITEd the room");
            for m in reinvites {
                assert_eq!(m.matches("\nv=0").count(), 1, "one SDP body:\n{m}");
            }

            phone.click("phone-hangup").await?;
            phone.wait_call("ended", SECS(10)).await?;
            wait_channels(&stack, "the row gone", SECS(10), |r| r.is_empty()).await?;

            // The rooms keep running for the next call: the agent dials the room again.
            stack.rooms.check_running()?;
            phone.dial(&conf_exten).await?;
            phone.wait_call("established", SECS(15)).await?;
            let again = wait_channels(&stack, "the phone back in its room", SECS(10), |r| {
                r.len() == 1
            })
            .await?;
            assert_ne!(&again[0].0, channel, "a new channel for the new call");
            assert_eq!(again[0].2, conf_exten);

            // The browser dies in the call (no BYE): the room lets the phone go after the grace.
            drop(phone);
            drop(driver);
            wait_channels(&stack, "the dead phone's row gone", GRACE + SECS(10), |r| {
                r.is_empty()
            })
            .await?;
            let errors = std::fs::read_to_string(&stack.rooms.errors).unwrap_or_default();
            assert!(
                !errors.contains("Aborting call"),
                "no room call aborted: {errors}"
            );
            anyhow::Ok(())
        })
        .unwrap();
}

/// Every process below `pid` now: PID → command name (from `/proc`).
fn descendants(pid: u32) -> BTreeMap<u32, String> {
    let mut parents: Vec<(u32, u32, String)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head
            .split_once('(')
            .map(|(_, c)| c)
            .unwrap_or("")
            .to_string();
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|v| v.parse().ok()) {
            parents.push((p, ppid, comm));
        }
    }
    let mut found = BTreeMap::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, ppid, comm) in &parents {
            if *ppid == parent && found.insert(*p, comm.clone()).is_none() {
                frontier.push(*p);
            }
        }
    }
    found
}

/// Whether `pid` is a live process (a zombie is dead: it only waits to be reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// Test 2: `dialdeck-demo` prints the URL and the demo login and serves the app there; SIGTERM
/// stops it and every process below it (dialdeck, Kamailio and its workers, rtpengine, SIPp,
/// MariaDB and its watchdog).
#[test]
fn the_demo_prints_its_url_and_login_and_sigterm_stops_every_child() {
    let Some(_ns) =
        lab::run_in_netns("the_demo_prints_its_url_and_login_and_sigterm_stops_every_child")
    else {
        return;
    };
    runtime()
        .block_on(async {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialdeck-demo"));
            cmd.arg("--dialdeck")
                .arg(DialdeckServer::binary())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            let mut demo = Guard::spawn("dialdeck-demo", &mut cmd)?;
            let pid = demo.pid();
            let stdout = demo.take_stdout().context("the demo's stdout")?;
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    println!("demo| {line}");
                    let _ = tx.send(line);
                }
            });
            let mut out = Vec::new();
            let deadline = Instant::now() + SECS(90);
            while !out
                .iter()
                .any(|l: &String| l.contains("Ctrl-C stops everything"))
            {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(line) => out.push(line),
                    Err(_) => {
                        demo.check_running()?;
                        bail!("the demo printed no banner within 90 s: {out:#?}");
                    }
                }
            }
            let text = out.join("\n");
            assert!(
                text.contains("dialdeck is running: open http://127.0.0.1:8080"),
                "the URL, on dialdeck's usual port: {text}"
            );
            assert!(
                text.contains(&format!("log in as {DEMO_USER} / {DEMO_PASSWORD}")),
                "{text}"
            );
            let page = reqwest::get("http://127.0.0.1:8080/").await?;
            assert!(page.status().is_success());
            assert!(page.text().await?.contains("<html"), "the app is served");

            let children = descendants(pid);
            println!("processes below the demo: {children:?}");
            let names: Vec<&str> = children.values().map(String::as_str).collect();
            for want in ["dialdeck", "kamailio", "rtpengine", "sipp", "mariadbd"] {
                assert!(
                    names.contains(&want),
                    "{want} runs below the demo: {names:?}"
                );
            }
            let printed = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("processes"))
                .context("the demo lists its processes")?;
            for pair in printed.split_whitespace().filter(|p| p.contains('=')) {
                let p: u32 = pair.rsplit('=').next().unwrap_or("").parse()?;
                assert!(children.contains_key(&p), "{pair} is one of them");
            }

            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
            let status = demo.wait_timeout(SECS(20))?;
            assert!(
                status.success(),
                "the demo exits cleanly on SIGTERM: {status}"
            );
            let deadline = Instant::now() + SECS(10);
            let mut left: Vec<(u32, String)>;
            loop {
                left = children
                    .iter()
                    .filter(|(p, _)| alive(**p))
                    .map(|(p, c)| (*p, c.clone()))
                    .collect();
                if left.is_empty() || Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !left.is_empty() {
                // Do not leave them running whatever the outcome.
                for (p, _) in &left {
                    let _ = Command::new("kill")
                        .args(["-KILL", &p.to_string()])
                        .status();
                }
                bail!("still running after the demo stopped: {left:?}");
            }
            anyhow::Ok(())
        })
        .unwrap();
}
