//! The softphone end to end: the real frontend, served by the real dialdeck binary, in
//! headless Chromium with a fake microphone, registering and calling through a real Kamailio
//! (with rtpengine and SIPp where a plain-RTP party is needed). Each test runs in a network
//! namespace of its own that has only `lo` (see `dialdeck_e2e::lab`).
//!
//! The phone check that greets an agent before the first call (microphone, speaker, phone
//! server, ICE) is proven here too: green with fake devices, red with a fix for a denied
//! microphone, an unreachable phone server, a refused phone and a browser without candidates.
//!
//! Agents log in through the real login form: the server reads them and their phones from a
//! real MariaDB with VICIdial's schema and seed (the phones' server pointed at the lab's
//! Kamailio), and the desk's hidden frame opens a session on the VICIdial simulator.

mod softphone_lab;

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dialdeck_e2e::{
    lab::{self, Lab, Sipp},
    ChromeDriver,
};
use serde_json::json;
use softphone_lab::{runtime, server, Phone, CHECK_HOOKS, SECS};

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
            let (socket, _) = a.wait_check("socket", "ok", SECS(5)).await?;
            assert_eq!(
                socket,
                format!("Registered through {}", lab::WS_URL),
                "the check's phone-server item is the registration"
            );
            a.pass_check().await?;
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
            a.desk_with_check().await?;
            b.desk_with_check().await?;

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
            a.desk_with_check().await?;
            b.desk_with_check().await?;

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
            // The check cannot pass without candidates: the agent goes on anyway and opens
            // it again from the desk for its raw SIP dial.
            a.wait_check("ice", "failed", SECS(10)).await?;
            a.click("check-continue").await?;
            a.wait_desk().await?;
            a.open_check().await?;
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
            // The phone check said so before the call: its ICE probe found nothing either.
            let (why, fix) = a.wait_check("ice", "failed", SECS(5)).await?;
            assert!(why.contains("no network path"), "{why}");
            assert!(
                fix.contains("firewall") && fix.contains("STUN or TURN"),
                "{fix}"
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
            a.desk_with_check().await?;
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
            a.desk_with_check().await?;
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
            a.desk_with_check().await?;
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

/// (contexts, streams, peer connections, media elements) the check opened since the hooks,
/// once every one of them is released: contexts closed, tracks ended, connections closed,
/// elements emptied.
async fn check_released(phone: &Phone) -> anyhow::Result<serde_json::Value> {
    phone
        .browser
        .wait_for(
            "(() => { const H = window.__check; \
               const ok = H.contexts.every((c) => c.state === 'closed') \
                 && H.streams.flatMap((s) => s.getTracks()).every((t) => t.readyState === 'ended') \
                 && H.pcs.every((pc) => pc.signalingState === 'closed') \
                 && H.audios.every((a) => !a.srcObject); \
               return ok && [H.contexts.length, H.streams.length, H.pcs.length, H.audios.length]; })()",
            SECS(5),
            "the check's AudioContext closed, microphone stopped, probe closed, tone element emptied",
        )
        .await
}

/// The phone check with Chromium's fake devices: the microphone is heard (the fake one
/// beeps, so the level meter moves), the phone server item is the registration, ICE finds the
/// loopback host candidate, and the speaker waits for the agent: the test tone plays on the
/// speaker chosen in the check, and "Yes, I heard it" makes every item green. The run then
/// ends by itself and releases everything it opened; "Run again" starts a fresh run.
#[test]
fn the_phone_check_turns_green_and_releases_what_it_opened() {
    let Some(_ns) = lab::run_in_netns("the_phone_check_turns_green_and_releases_what_it_opened")
    else {
        return;
    };
    runtime()
        .block_on(async {
            let _lab = Lab::start(false)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            a.wait_registered().await?;
            assert_eq!(a.check_outcome().await?, "running");
            a.browser.execute(CHECK_HOOKS, json!([])).await?;
            // A speaker other than the default, so the tone must follow the choice.
            let speaker = a
                .browser
                .wait_for(
                    "[...document.querySelectorAll('#check-output option')].map((o) => o.value) \
                       .filter((v) => v && v !== 'default' && v !== 'communications').pop()",
                    SECS(5),
                    "the fake speakers",
                )
                .await?;
            let speaker = speaker.as_str().context("a speaker id")?.to_string();
            a.browser
                .execute(
                    "const s = document.getElementById('check-output'); s.value = arguments[0]; \
                     s.dispatchEvent(new Event('change', {bubbles: true}));",
                    json!([speaker]),
                )
                .await?;
            a.browser.click("#check-rerun").await?;

            let (heard, _) = a.wait_check("mic", "ok", SECS(10)).await?;
            assert_eq!(heard, "We hear you");
            a.browser
                .wait_for(
                    "Number(document.getElementById('check-mic-level')?.dataset.level) > 0",
                    SECS(5),
                    "the level meter moving",
                )
                .await?;
            let (socket, _) = a.wait_check("socket", "ok", SECS(10)).await?;
            assert!(socket.contains(lab::WS_URL), "{socket}");
            let (ice, _) = a.wait_check("ice", "ok", SECS(10)).await?;
            assert!(ice.contains("host"), "{ice}");
            let (state, status, _) = a.check_item("speaker").await?;
            assert_eq!(
                (state.as_str(), status.as_str()),
                ("pending", "Play the test tone and listen"),
                "the speaker waits for the agent"
            );
            assert_eq!(a.check_outcome().await?, "running");
            a.screenshot("check-running").await?;

            a.browser.click("#check-tone").await?;
            a.browser
                .wait_for(
                    "window.__check.audios.some((e) => !e.paused && e.srcObject \
                       && e.srcObject.getAudioTracks().length === 1)",
                    SECS(5),
                    "the test tone playing",
                )
                .await?;
            let sink = a
                .browser
                .execute(
                    "return window.__check.audios.map((e) => e.sinkId);",
                    json!([]),
                )
                .await?;
            assert_eq!(
                sink,
                json!([speaker]),
                "one tone element, on the chosen speaker"
            );
            a.wait_check_status("speaker", "Did you hear the tone?", SECS(5))
                .await?;
            a.screenshot("check-asking").await?;
            // Every item green: the check gives way to the desk.
            a.browser.click("#check-heard").await?;
            a.wait_desk().await?;
            a.screenshot("check-passed").await?;
            let released = check_released(&a).await?;
            println!("released (contexts, streams, peer connections, elements): {released}");
            assert_eq!(
                released,
                json!([1, 1, 1, 1]),
                "one run: one context, one microphone, one probe, one tone"
            );
            assert_eq!(a.text("phone-check-warning").await?, "", "no warning kept");

            // Opened again from the desk's header: a fresh run with its own objects, beside
            // the desk, which stays open once every item is green again.
            a.open_check().await?;
            a.wait_check("mic", "ok", SECS(10)).await?;
            assert_eq!(a.check_outcome().await?, "running");
            let open = a
                .browser
                .execute(
                    "const H = window.__check; return [H.contexts.length, \
                       H.contexts[H.contexts.length - 1].state !== 'closed'];",
                    json!([]),
                )
                .await?;
            assert_eq!(open, json!([2, true]), "the second run has its own context");
            for key in ["socket", "ice"] {
                a.wait_check(key, "ok", SECS(10)).await?;
            }
            a.browser.click("#check-tone").await?;
            a.wait_check_status("speaker", "Did you hear the tone?", SECS(5))
                .await?;
            a.browser.click("#check-heard").await?;
            a.wait_check_outcome("passed", SECS(5)).await?;
            let summary = a.text("check-summary").await?;
            assert!(summary.starts_with("All set"), "{summary}");
            a.screenshot("recheck-passed").await?;
            a.browser.click("#check-close").await?;
            a.browser
                .wait_for(
                    "!document.getElementById('phone-check')",
                    SECS(5),
                    "the check closed",
                )
                .await?;
            assert_eq!(
                check_released(&a).await?,
                json!([2, 2, 2, 2]),
                "the second run released what it opened too"
            );
            anyhow::Ok(())
        })
        .unwrap();
}

/// A browser that denies the microphone and a phone server that is not there: the check's
/// microphone item says how to allow it, the phone-server item names the URL, the badge
/// counts down to the next attempt and an alert says what to do; "Continue anyway" ends the
/// run and keeps a warning naming what was not green. When the phone server comes up, the
/// phone registers by itself and the alert goes.
#[test]
fn a_denied_microphone_and_an_unreachable_phone_server_turn_red_with_what_to_do() {
    let Some(_ns) = lab::run_in_netns(
        "a_denied_microphone_and_an_unreachable_phone_server_turn_red_with_what_to_do",
    ) else {
        return;
    };
    runtime()
        .block_on(async {
            // No lab yet: nothing listens on the phone's WebSocket URL.
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open_with(
                &driver,
                &server,
                "cc1001",
                false,
                &["--use-fake-ui-for-media-stream"],
                &["--deny-permission-prompts"],
            )
            .await?;
            let (why, fix) = a.wait_check("mic", "failed", SECS(10)).await?;
            assert!(
                why.contains("does not let this page use the microphone"),
                "{why}"
            );
            assert!(
                fix.contains("address bar") && fix.contains("Allow"),
                "{fix}"
            );
            let (why, fix) = a.wait_check("socket", "failed", SECS(15)).await?;
            assert!(why.contains(lab::WS_URL), "{why}");
            assert!(
                fix.contains(lab::WS_URL) && fix.contains("network"),
                "{fix}"
            );

            // The badge counts down to the next attempt, once a second.
            let count = "(() => { const m = /^Reconnecting in (\\d+) s$/.exec( \
                 document.getElementById('phone-registration')?.textContent || ''); \
                 return m ? Number(m[1]) : 0; })()";
            let first = a
                .browser
                .wait_for(
                    &format!("{count} >= 3 && {count}"),
                    SECS(20),
                    "a countdown of 3 s or more",
                )
                .await?
                .as_u64()
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            let second = a
                .browser
                .execute(&format!("return {count};"), json!([]))
                .await?;
            let second = second.as_u64().unwrap_or(99);
            println!("countdown {first} s, then {second} s");
            assert!(
                second < first && second + 3 > first,
                "counts down: {first} then {second}"
            );
            a.screenshot("check-red").await?;
            let lost = a.text("phone-socket-lost").await?;
            assert!(
                lost.contains("next try in") && lost.contains("network"),
                "{lost}"
            );

            a.click("check-continue").await?;
            a.wait_desk().await?;
            let warning = a.text("phone-check-warning").await?;
            println!("warning: {warning}");
            for item in ["Microphone", "Speaker", "Phone server"] {
                assert!(warning.contains(item), "{item} named in {warning:?}");
            }
            a.screenshot("check-continued").await?;

            let _lab = Lab::start(false)?;
            a.browser
                .wait_for(
                    "document.getElementById('phone-registration')?.textContent === 'Registered'",
                    SECS(30),
                    "registered once the phone server is up",
                )
                .await?;
            assert_eq!(a.text("phone-socket-lost").await?, "");
            anyhow::Ok(())
        })
        .unwrap();
}

/// A phone whose password the phone server refuses: the badge says why and what to do, the
/// check's phone-server item is red for the same reason, and Retry registers again.
#[test]
fn a_refused_phone_says_why_and_retries_on_request() {
    let Some(_ns) = lab::run_in_netns("a_refused_phone_says_why_and_retries_on_request") else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(false)?;
            let server = server().await?;
            sqlx::query("UPDATE phones SET conf_secret = 'not-the-secret' WHERE extension = ?")
                .bind("cc1001")
                .execute(&server.db)
                .await?;
            let driver = ChromeDriver::start().await?;
            let a = Phone::open(&driver, &server, "cc1001", false, &[]).await?;
            let failed =
                "document.getElementById('phone-registration')?.dataset.state === 'failed'";
            a.browser
                .wait_for(failed, SECS(15), "registration failed")
                .await?;
            let badge = a.text("phone-registration").await?;
            assert_eq!(
                badge,
                "Failed: the phone server refused the phone's password"
            );
            let fix = a.text("phone-registration-fix").await?;
            assert!(fix.contains("supervisor") && fix.contains("Retry"), "{fix}");
            let (why, _) = a.wait_check("socket", "failed", SECS(5)).await?;
            assert_eq!(why, "The phone server refused the phone's password");
            a.screenshot("registration-failed").await?;

            let before = lab.sip_dump().matches("REGISTER sip:").count();
            a.click("phone-retry").await?;
            let deadline = std::time::Instant::now() + SECS(10);
            let mut after = before;
            while after <= before && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
                after = lab.sip_dump().matches("REGISTER sip:").count();
            }
            println!("REGISTERs before Retry {before}, after {after}");
            if after <= before {
                bail!("Retry sent no REGISTER ({before} before, {after} after)");
            }
            a.browser
                .wait_for(failed, SECS(15), "refused again")
                .await?;
            anyhow::Ok(())
        })
        .unwrap();
}
