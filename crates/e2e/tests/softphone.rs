//! The softphone end to end: the real frontend, served by the real dialdeck binary, in
//! headless Chromium with a fake microphone, registering and calling through a real Kamailio
//! (with rtpengine and SIPp where a plain-RTP party is needed). Each test runs in a network
//! namespace of its own that has only `lo` (see `dialdeck_e2e::lab`).
//!
//! Agents log in through the real login form: the server reads them and their phones from a
//! real MariaDB with VICIdial's schema and seed (the phones' server pointed at the lab's
//! Kamailio), and the desk's hidden frame opens a session on the VICIdial simulator.

mod softphone_lab;

use std::time::{Duration, Instant};

use anyhow::Context;
use dialdeck_e2e::{
    lab::{self, Lab, Sipp},
    ChromeDriver,
};
use serde_json::json;
use softphone_lab::{runtime, server, Phone, SECS};

/// Records, in the page, when Dial is clicked, when the first INVITE leaves on the WebSocket,
/// when the first answer to it arrives (the proxy's round trip: the lab's baseline) and when the
/// 200 OK to the INVITE arrives, in ms after the click (`window.__dialTiming`).
const TIMING_HOOK: &str = r"
  const t = { click: null, invite: null, first: null, ok: null };
  window.__dialTiming = t;
  document.getElementById('phone-dial-button').addEventListener('click',
    () => { if (t.click === null) t.click = performance.now(); }, { capture: true });
  const rel = () => performance.now() - t.click;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    if (typeof d === 'string' && d.startsWith('INVITE ') && t.invite === null && t.click !== null) {
      t.invite = rel();
      this.addEventListener('message', (e) => {
        const m = String(e.data);
        if (!/^SIP\/2\.0 /.test(m) || !/\r\nCSeq:\s*\d+ INVITE/i.test(m)) return;
        if (t.first === null) t.first = rel();
        if (t.ok === null && m.startsWith('SIP/2.0 200')) t.ok = rel();
      });
    }
    return send.call(this, d);
  };
  return true;";

/// Test 1: the phone registers through Kamailio's 401 challenge and says "Registered".
#[test]
fn registers_through_401_and_shows_registered() {
    let Some(_ns) = lab::run_in_netns("registers_through_401_and_shows_registered") else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(false)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            let started = Instant::now();
            a.wait_registered().await?;
            println!("registered {:?} after the page opened", started.elapsed());
            let dump = lab.sip_dump();
            assert!(
                dump.contains("SIP/2.0 401 Unauthorized"),
                "Kamailio challenged REGISTER with 401:\n{dump}"
            );
            assert!(
                dump.contains("Authorization: Digest ") && dump.contains("username=\"cc1001\"")
            );
            assert!(
                !dump.contains("sip-secret-1001"),
                "the password never goes on the wire"
            );
            assert_eq!(a.text("phone-call").await?, "No call");
            anyhow::Ok(())
        })
        .unwrap();
}

/// Test 2: a call to a second softphone (auto-answer) through Kamailio's 407, with audio
/// both ways proven by getStats on both sides; BYE from either side ends both.
#[test]
fn calls_another_softphone_with_audio_both_ways_and_bye_from_either_side() {
    let Some(_ns) =
        lab::run_in_netns("calls_another_softphone_with_audio_both_ways_and_bye_from_either_side")
    else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(false)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            let b = Phone::open(&driver, &server, "cc1002", true, &[]).await?;
            a.wait_registered().await?;
            b.wait_registered().await?;

            for (round, hangs_up) in [(1, &a), (2, &b)] {
                if round == 1 {
                    a.browser.execute(TIMING_HOOK, json!([])).await?;
                }
                a.dial("cc1002").await?;
                let dialled = Instant::now();
                a.wait_call("established", SECS(15)).await?;
                println!(
                    "call {round} established {:?} after Dial",
                    dialled.elapsed()
                );
                if round == 1 {
                    // Timings inside the page (`cargo xtask bench` prints this line).
                    let t = a
                        .browser
                        .execute("return window.__dialTiming", json!([]))
                        .await?;
                    let ms = |k: &str| t[k].as_f64().unwrap_or(f64::NAN);
                    let (invite, first, ok) = (ms("invite"), ms("first"), ms("ok"));
                    assert!(invite >= 0.0 && first >= invite && ok >= first, "{t}");
                    println!(
                        "bench: dial_to_invite_ms={invite:.1} dial_to_200_ms={ok:.1} \
                         proxy_round_trip_ms={:.1} dial_to_200_ratio_to_round_trip={:.1}",
                        first - invite,
                        ok / (first - invite).max(0.1)
                    );
                }
                b.wait_call("established", SECS(10)).await?;
                let (pa, la) = a.wait_audio_in(SECS(15)).await?;
                let (pb, lb) = b.wait_audio_in(SECS(15)).await?;
                println!("call {round}: A got {pa} packets (level {la}), B got {pb} (level {lb})");
                hangs_up.click("phone-hangup").await?;
                let other = if round == 1 { &b } else { &a };
                let mine = hangs_up.wait_call("ended", SECS(10)).await?;
                let theirs = other.wait_call("ended", SECS(10)).await?;
                assert!(mine.contains("You hung up"), "{mine}");
                assert!(theirs.contains("The other side hung up"), "{theirs}");
                let summary = a.text("phone-summary").await?;
                assert!(
                    summary.contains("MOS"),
                    "a quality summary after the call: {summary:?}"
                );
            }
            let dump = lab.sip_dump();
            assert!(
                dump.contains("SIP/2.0 407 Proxy Authentication Required"),
                "Kamailio challenged INVITE with 407"
            );
            assert!(dump.contains("Proxy-Authorization: Digest "));
            anyhow::Ok(())
        })
        .unwrap();
}

/// Test 6: a busy party (SIPp answering 486) and an unanswered call cancelled by the caller
/// (the callee softphone rings without auto-answer) end with the right reason on screen.
#[test]
fn busy_and_cancelled_calls_show_their_reason() {
    let Some(_ns) = lab::run_in_netns("busy_and_cancelled_calls_show_their_reason") else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(true)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            let b = Phone::open(&driver, &server, "cc1002", false, &[]).await?;
            a.wait_registered().await?;
            b.wait_registered().await?;

            let sipp = Sipp::start(
                &lab,
                "busy",
                include_str!("../lab/sipp/uas-busy.xml"),
                false,
            )?;
            a.dial("9001").await?;
            let busy = a.wait_call("ended", SECS(15)).await?;
            assert!(busy.contains("Busy") && busy.contains("486"), "{busy}");
            sipp.wait(SECS(10)).context("SIPp busy scenario")?;

            a.dial("cc1002").await?;
            a.wait_call("ringing", SECS(15)).await?;
            let incoming = b.wait_call("incoming", SECS(10)).await?;
            assert!(incoming.contains("cc1001"), "{incoming}");
            a.click("phone-hangup").await?;
            let cancelled = a.wait_call("ended", SECS(10)).await?;
            assert!(cancelled.contains("Cancelled"), "{cancelled}");
            let missed = b.wait_call("ended", SECS(10)).await?;
            assert!(missed.contains("Cancelled"), "{missed}");
            let dump = lab.sip_dump();
            assert!(dump.contains("CANCEL sip:"), "a CANCEL crossed Kamailio");
            assert!(dump.contains("SIP/2.0 487"), "the INVITE ended with 487");
            anyhow::Ok(())
        })
        .unwrap();
}

/// Test 7: a browser that gathers no ICE candidate (no loopback candidates in a namespace
/// with only `lo`) fails the call fast with the "no ICE candidates" error, and no INVITE
/// leaves.
#[test]
fn without_candidates_the_call_fails_fast_with_a_clear_error() {
    let Some(_ns) = lab::run_in_netns("without_candidates_the_call_fails_fast_with_a_clear_error")
    else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(false)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(
                &driver,
                &server,
                "cc1001",
                false,
                &["--allow-loopback-in-peer-connection"],
            )
            .await?;
            a.wait_registered().await?;
            let dialled = Instant::now();
            a.dial("cc1002").await?;
            let ended = a.wait_call("ended", SECS(8)).await?;
            let took = dialled.elapsed();
            println!("failed after {took:?}: {ended}");
            assert!(ended.contains("No ICE candidates"), "{ended}");
            assert!(
                took < SECS(6),
                "fails fast, not after a long wait: {took:?}"
            );
            assert!(
                !lab.sip_dump().contains("INVITE sip:"),
                "no INVITE without a usable offer"
            );
            anyhow::Ok(())
        })
        .unwrap();
}

/// Test 3: a call to a plain-RTP SIPp party through rtpengine, negotiated to PCMU; the echo
/// of our own (beeping) microphone comes back.
#[test]
fn calls_a_plain_rtp_party_through_rtpengine_with_pcmu_and_hears_the_echo() {
    let Some(_ns) =
        lab::run_in_netns("calls_a_plain_rtp_party_through_rtpengine_with_pcmu_and_hears_the_echo")
    else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(true)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            a.wait_registered().await?;
            let sipp = Sipp::start(&lab, "echo", include_str!("../lab/sipp/uas-echo.xml"), true)?;
            a.dial("sipp").await?;
            a.wait_call("established", SECS(15)).await?;
            let (packets, level) = a.wait_audio_in(SECS(15)).await?;
            println!("echo: {packets} packets back, level {level}");
            assert_eq!(a.quality("codec").await?, "PCMU");
            a.click("phone-hangup").await?;
            a.wait_call("ended", SECS(10)).await?;
            let messages = sipp.wait(SECS(10)).context("SIPp echo scenario")?;
            assert!(
                messages.contains("RTP/AVP"),
                "SIPp got a plain-RTP offer from rtpengine"
            );
            assert!(!messages.contains("a=fingerprint"), "no DTLS towards SIPp");
            anyhow::Ok(())
        })
        .unwrap();
}

/// Test 4: DTMF 1, 2, 3 arrive at SIPp (which answers without telephone-event, so the phone
/// sends SIP INFO; the scenario fails unless each digit arrives in order).
#[test]
fn dtmf_digits_arrive_at_sipp() {
    let Some(_ns) = lab::run_in_netns("dtmf_digits_arrive_at_sipp") else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(true)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            a.wait_registered().await?;
            let sipp = Sipp::start(
                &lab,
                "dtmf",
                include_str!("../lab/sipp/uas-dtmf-info.xml"),
                true,
            )?;
            a.dial("sipp").await?;
            a.wait_call("established", SECS(15)).await?;
            for d in ["1", "2", "3"] {
                a.click(&format!("phone-dtmf-{d}")).await?;
            }
            a.browser
                .wait_for(
                    "document.getElementById('phone-dtmf-sent')?.textContent === '123'",
                    SECS(5),
                    "digits shown as sent",
                )
                .await?;
            // The INFOs go one at a time; give the last one its 200 before hanging up.
            tokio::time::sleep(Duration::from_millis(700)).await;
            a.click("phone-hangup").await?;
            a.wait_call("ended", SECS(10)).await?;
            let messages = sipp.wait(SECS(10)).context("SIPp DTMF scenario")?;
            let infos = messages.matches("INFO sip:").count();
            assert_eq!(infos, 3, "three INFO requests reached SIPp");
            anyhow::Ok(())
        })
        .unwrap();
}

/// Test 5: Kamailio (and with it the phone's WebSocket) is killed mid-call and started
/// again: the phone shows "reconnecting", registers again, and recovers the call with an ICE
/// restart re-INVITE (through rtpengine to SIPp), after which audio flows again.
#[test]
fn a_call_survives_kamailio_restarting_mid_call() {
    let Some(_ns) = lab::run_in_netns("a_call_survives_kamailio_restarting_mid_call") else {
        return;
    };
    runtime()
        .block_on(async {
            let mut lab = Lab::start(true)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            a.wait_registered().await?;
            let sipp = Sipp::start(
                &lab,
                "reinvite",
                include_str!("../lab/sipp/uas-echo-reinvite.xml"),
                true,
            )?;
            a.dial("sipp").await?;
            a.wait_call("established", SECS(15)).await?;
            a.wait_audio_in(SECS(15)).await?;

            lab.restart_kamailio(Duration::from_secs(2))?;
            let shown = a.wait_call("reconnecting", SECS(10)).await?;
            assert!(shown.starts_with("Reconnecting"), "{shown}");
            a.wait_registered().await?;
            let recovered = Instant::now();
            a.wait_call("established", SECS(20)).await?;
            println!("recovered {:?} after registering again", recovered.elapsed());
            let notice = a.text("phone-notice").await?;
            assert!(notice.contains("recovered"), "{notice}");
            let before: u64 = a.quality("packetsReceived").await?.parse().unwrap_or(0);
            a.browser
                .wait_for(
                    &format!(
                        "Number(document.getElementById('phone-quality')?.dataset.packetsReceived) > {}",
                        before + 50
                    ),
                    SECS(10),
                    "audio flowing after the ICE restart",
                )
                .await?;
            a.click("phone-hangup").await?;
            a.wait_call("ended", SECS(10)).await?;
            sipp.wait(SECS(10)).context("SIPp re-INVITE scenario")?;
            assert!(lab.sip_dump().matches("REGISTER sip:").count() >= 4);
            anyhow::Ok(())
        })
        .unwrap();
}
