//! The softphone's call controls end to end, in the same lab as `softphone.rs` (the real
//! binary and frontend, headless Chromium with fake devices, Kamailio, rtpengine and SIPp in a
//! network namespace with only `lo`): mute, hold, the trace download, RFC 4733 DTMF, the
//! one-way-audio alarm, device selection remembered across page loads, the warning when
//! the browser blocks the call audio, and the phone check's test tone unlocking it.
//!
//! What the page does not show on screen (the peer connection's own statistics, the remote
//! audio element, the downloaded file) is read through [`PAGE_HOOKS`], installed in the page
//! before the call: they watch the browser's own objects and never feed anything back.

mod softphone_lab;

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use anyhow::{bail, Context};
use dialdeck_e2e::{
    lab::{self, Lab, Sipp},
    ChromeDriver,
};
use serde_json::{json, Value};
use softphone_lab::{runtime, server, Phone, SECS};

/// Watches the page's own browser objects: every RTCPeerConnection the app creates, every
/// microphone stream it opens, every media element it plays, every Blob it turns into a URL, and download links clicked (recorded,
/// not followed: headless Chromium has nowhere to save them).
const PAGE_HOOKS: &str = r"
  if (window.__hooks) return true;
  const H = { pcs: [], audios: [], blobs: [], downloads: [], streams: [] };
  window.__hooks = H;
  const P = window.RTCPeerConnection;
  const W = function (...a) { const pc = new P(...a); H.pcs.push(pc); return pc; };
  W.prototype = P.prototype;
  Object.setPrototypeOf(W, P);
  window.RTCPeerConnection = W;
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!H.audios.includes(this)) H.audios.push(this);
    return play.call(this);
  };
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => gum(c).then((s) => { H.streams.push(s); return s; });
  const blobUrl = URL.createObjectURL;
  URL.createObjectURL = function (b) { H.blobs.push(b); return blobUrl.call(URL, b); };
  HTMLAnchorElement.prototype.click = function () { H.downloads.push(this.download); };
  return true;";

/// Sums the inbound audio energy and packets of the newest peer connection (async script).
const INBOUND: &str = r"
  const done = arguments[arguments.length - 1];
  const pc = window.__hooks.pcs[window.__hooks.pcs.length - 1];
  pc.getStats().then((r) => {
    let energy = 0, packets = 0;
    r.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        energy += s.totalAudioEnergy || 0; packets += s.packetsReceived || 0;
      }
    });
    done([energy, packets]);
  }, (e) => done(String(e)));";

async fn hooks(phone: &Phone) -> anyhow::Result<()> {
    phone.browser.execute(PAGE_HOOKS, json!([])).await?;
    Ok(())
}

/// (total inbound audio energy, packets received) of the phone's current peer connection.
async fn inbound(phone: &Phone) -> anyhow::Result<(f64, u64)> {
    let v = phone.browser.execute_async(INBOUND, json!([])).await?;
    match (v[0].as_f64(), v[1].as_u64()) {
        (Some(e), Some(p)) => Ok((e, p)),
        _ => bail!("{} getStats: {v}", phone.name),
    }
}

/// What arrives during `span`: (audio energy, packets).
async fn inbound_over(phone: &Phone, span: Duration) -> anyhow::Result<(f64, u64)> {
    let (e0, p0) = inbound(phone).await?;
    tokio::time::sleep(span).await;
    let (e1, p1) = inbound(phone).await?;
    Ok((e1 - e0, p1.saturating_sub(p0)))
}

async fn attr(phone: &Phone, id: &str, name: &str) -> anyhow::Result<String> {
    let v = phone
        .browser
        .execute(
            "const e = document.getElementById(arguments[0]); \
             return e ? (e.getAttribute(arguments[1]) || '') : '';",
            json!([id, name]),
        )
        .await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

async fn has_alarm(phone: &Phone) -> anyhow::Result<bool> {
    Ok(phone
        .browser
        .execute(
            "return !!document.getElementById('phone-alarm');",
            json!([]),
        )
        .await?
        == json!(true))
}

/// Mute stops our voice reaching the other side and unmute brings it back; hold sends a
/// `sendonly` re-INVITE, shows "On hold" only after the 200, stops the other side's audio to
/// us without raising the one-way-audio alarm on either side, and resume brings it back; the
/// call's trace downloads as a text file with the SIP and ICE/DTLS history and no secret.
#[test]
fn mute_hold_and_the_trace_download() {
    let Some(_ns) = lab::run_in_netns("mute_hold_and_the_trace_download") else {
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
            b.pass_check().await?;
            hooks(&a).await?;
            hooks(&b).await?;
            a.dial("cc1002").await?;
            a.wait_call("established", SECS(15)).await?;
            b.wait_call("established", SECS(10)).await?;
            a.wait_audio_in(SECS(15)).await?;
            b.wait_audio_in(SECS(15)).await?;

            a.browser
                .execute(
                    "document.querySelector('.quality-meter')?.focus();",
                    json!([]),
                )
                .await?;
            a.screenshot("in-call-quality").await?;

            // Mute: packets still flow (the track is only disabled), but silent ones.
            let (heard, _) = inbound_over(&b, SECS(2)).await?;
            assert!(heard > 0.0, "B hears A before the mute: {heard}");
            a.click("phone-mute").await?;
            assert_eq!(attr(&a, "phone-mute", "aria-pressed").await?, "true");
            assert_eq!(a.text("phone-mute").await?, "Unmute");
            a.screenshot("muted").await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (muted, packets) = inbound_over(&b, SECS(3)).await?;
            println!("muted: B got {packets} packets with energy {muted}");
            assert!(packets > 50, "the call goes on while muted: {packets}");
            assert!(
                muted < heard / 100.0,
                "B hears nothing from a muted A: {muted} (before: {heard})"
            );
            a.click("phone-mute").await?;
            assert_eq!(attr(&a, "phone-mute", "aria-pressed").await?, "false");
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (back, _) = inbound_over(&b, SECS(3)).await?;
            assert!(back > 0.0, "B hears A again after unmute: {back}");

            // Hold.
            a.click("phone-hold").await?;
            let held = a
                .browser
                .wait_for(
                    "document.getElementById('phone-call').textContent.startsWith('On hold') \
                     && document.getElementById('phone-call').textContent",
                    SECS(10),
                    "A on hold",
                )
                .await?;
            println!("A shows {held}");
            assert_eq!(attr(&a, "phone-hold", "aria-pressed").await?, "true");
            assert_eq!(a.text("phone-hold").await?, "Resume");
            a.screenshot("on-hold").await?;
            tokio::time::sleep(SECS(1)).await;
            let (_, during_hold) = inbound_over(&a, SECS(3)).await?;
            assert_eq!(during_hold, 0, "the held side sends A nothing");
            let (_, a_still_sends) = inbound_over(&b, SECS(1)).await?;
            assert!(a_still_sends > 0, "sendonly: A still sends");
            // Long enough for the one-way-audio alarm (5 s), which a hold must not raise.
            tokio::time::sleep(SECS(4)).await;
            assert!(
                !has_alarm(&a).await?,
                "no one-way alarm on the holding side"
            );
            assert!(!has_alarm(&b).await?, "no one-way alarm on the held side");
            a.click("phone-hold").await?;
            a.browser
                .wait_for(
                    "document.getElementById('phone-call').textContent.startsWith('In call')",
                    SECS(10),
                    "A resumed",
                )
                .await?;
            tokio::time::sleep(SECS(1)).await;
            let (energy, resumed) = inbound_over(&a, SECS(2)).await?;
            assert!(
                resumed > 50 && energy > 0.0,
                "B's audio returns after the resume: {resumed} packets, energy {energy}"
            );
            assert!(!has_alarm(&a).await?);

            let dump = lab.sip_dump();
            let reinvites: Vec<&str> = dump
                .split("INVITE sip:")
                .filter(|m| m.contains("a=sendonly"))
                .collect();
            assert!(
                !reinvites.is_empty(),
                "a sendonly re-INVITE crossed Kamailio"
            );
            assert!(
                dump.contains("a=recvonly"),
                "the held side answered recvonly"
            );

            // The trace of this call.
            a.click("phone-hangup").await?;
            a.wait_call("ended", SECS(10)).await?;
            b.wait_call("ended", SECS(10)).await?;
            // Every browser resource of the call is released.
            for p in [&a, &b] {
                let left = p
                    .browser
                    .wait_for(
                        "(() => { const H = window.__hooks; \
                           const open = H.pcs.filter((pc) => pc.signalingState !== 'closed').length; \
                           const live = H.streams.flatMap((s) => s.getTracks()) \
                             .filter((t) => t.readyState !== 'ended').length; \
                           const playing = H.audios.filter((a) => a.srcObject || a.isConnected).length; \
                           return open + live + playing === 0 && [H.pcs.length, H.streams.length]; })()",
                        SECS(5),
                        "peer connections closed, microphones stopped, audio elements gone",
                    )
                    .await?;
                println!("{}: released {left} (peer connections, microphone streams)", p.name);
            }
            a.click("phone-trace").await?;
            let trace = a
                .browser
                .execute_async(
                    "const done = arguments[arguments.length - 1]; const H = window.__hooks; \
                     if (!H.downloads.length) { done(null); return; } \
                     H.blobs[H.blobs.length - 1].text().then((t) => \
                       done([H.downloads[H.downloads.length - 1], t]));",
                    json!([]),
                )
                .await?;
            let (Some(name), Some(text)) = (trace[0].as_str(), trace[1].as_str()) else {
                bail!("the trace was not downloaded: {trace}");
            };
            println!("trace {name}: {} lines", text.lines().count());
            assert!(
                name.starts_with("dialdeck-call-") && name.ends_with(".txt"),
                "{name}"
            );
            for needle in [
                "INVITE sip:cc1002",
                "SIP/2.0 407",
                "SIP/2.0 200 OK",
                "a=sendonly",
                "BYE sip:",
                "connected",
            ] {
                assert!(text.contains(needle), "the trace has {needle:?}:\n{text}");
            }
            assert!(
                !text.contains("sip-secret-1001"),
                "no password in the trace"
            );
            anyhow::Ok(())
        })
        .unwrap();
}

/// One RTP packet as the test's own RTP party saw it.
#[derive(Clone, Debug)]
struct Rtp {
    payload_type: u8,
    payload: Vec<u8>,
}

fn parse_rtp(b: &[u8]) -> Option<Rtp> {
    if b.len() < 12 || b[0] >> 6 != 2 {
        return None;
    }
    let csrc = usize::from(b[0] & 0x0f);
    let mut at = 12 + 4 * csrc;
    if b[0] & 0x10 != 0 {
        let words = usize::from(u16::from_be_bytes([*b.get(at + 2)?, *b.get(at + 3)?]));
        at += 4 + 4 * words;
    }
    Some(Rtp {
        payload_type: b[1] & 0x7f,
        payload: b.get(at..)?.to_vec(),
    })
}

/// Whether a packet looks like an RFC 4733 event: a dynamic payload type with the event
/// payload's four bytes (whatever number the offer and answer gave telephone-event).
fn is_event(p: &Rtp) -> bool {
    (96..=127).contains(&p.payload_type) && p.payload.len() == 4
}

/// The digits in a run of RFC 4733 telephone-event packets, each once (an event is sent in
/// several packets, the end ones three times).
fn digits(packets: &[Rtp]) -> String {
    const EVENTS: &[u8; 16] = b"0123456789*#ABCD";
    let mut out = String::new();
    let mut ended = true;
    for p in packets.iter().filter(|p| is_event(p)) {
        let (Some(&event), Some(&flags)) = (p.payload.first(), p.payload.get(1)) else {
            continue;
        };
        let end = flags & 0x80 != 0;
        if ended && !end {
            if let Some(&d) = EVENTS.get(usize::from(event)) {
                out.push(char::from(d));
            }
        }
        ended = end;
    }
    out
}

/// RFC 4733 DTMF when the answer offers telephone-event (no SIP INFO), proven by the RTP that
/// reaches the far party; and the one-way-audio alarm: a party that sends nothing back
/// raises it within seconds, and it clears once audio comes back.
#[test]
fn rfc4733_dtmf_and_the_one_way_audio_alarm() {
    let Some(_ns) = lab::run_in_netns("rfc4733_dtmf_and_the_one_way_audio_alarm") else {
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

            // The far party's media: what SIPp's answer points rtpengine at.
            let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:6100").await?);
            let received: Arc<Mutex<Vec<Rtp>>> = Arc::default();
            let echo = Arc::new(AtomicBool::new(false));
            let party = {
                let (socket, received, echo) = (socket.clone(), received.clone(), echo.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                        let from: SocketAddr = from;
                        if let Some(p) = parse_rtp(&buf[..n]) {
                            let is_voice = p.payload_type == 0;
                            received.lock().unwrap().push(p);
                            if is_voice && echo.load(Ordering::Relaxed) {
                                let _ = socket.send_to(&buf[..n], from).await;
                            }
                        }
                    }
                })
            };
            let sipp = Sipp::start(
                &lab,
                "party",
                include_str!("../lab/sipp/uas-rtp-party.xml"),
                false,
            )?;
            a.dial("sipp").await?;
            a.wait_call("established", SECS(15)).await?;

            // Nothing comes back: the alarm.
            let alarm = a
                .browser
                .wait_for(
                    "document.getElementById('phone-alarm')?.textContent",
                    SECS(15),
                    "the one-way audio alarm",
                )
                .await?;
            println!("alarm: {alarm}");
            a.screenshot("one-way-alarm").await?;
            assert!(
                alarm
                    .as_str()
                    .is_some_and(|t| t.contains("nothing comes back")),
                "{alarm}"
            );
            assert!(
                alarm.as_str().is_some_and(|t| t.contains("Ask the other side to speak")),
                "the alarm says what to do: {alarm}"
            );
            // The header's meter does not call a silent line excellent.
            let meter = "(() => { const m = document.querySelector('.quality-meter'); \
                 return m ? [m.dataset.grade, m.querySelector('.quality-word').textContent] : null; })()";
            let shown = a.browser.execute(&format!("return {meter};"), json!([])).await?;
            assert_eq!(shown, json!(["bad", "No audio in"]), "the meter during the alarm");
            let voice = received
                .lock()
                .unwrap()
                .iter()
                .filter(|p| p.payload_type == 0)
                .count();
            assert!(voice > 100, "our PCMU reached the party: {voice} packets");

            // Audio comes back: the alarm clears and the echo is heard.
            echo.store(true, Ordering::Relaxed);
            a.browser
                .wait_for(
                    "!document.getElementById('phone-alarm')",
                    SECS(10),
                    "the alarm to clear",
                )
                .await?;
            a.wait_audio_in(SECS(10)).await?;
            let shown = a
                .browser
                .wait_for(
                    &format!("{meter}?.[0] !== 'bad' && {meter}"),
                    SECS(5),
                    "the meter back to a grade",
                )
                .await?;
            println!("meter after the alarm: {shown}");

            // DTMF by RFC 4733.
            for d in ["1", "2", "3"] {
                a.click(&format!("phone-dtmf-{d}")).await?;
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            a.browser
                .wait_for(
                    "document.getElementById('phone-dtmf-sent')?.textContent === '123'",
                    SECS(5),
                    "digits shown as sent",
                )
                .await?;
            tokio::time::sleep(SECS(1)).await;
            let got = digits(&received.lock().unwrap());
            assert_eq!(got, "123", "the telephone-events that reached the party");
            a.click("phone-hangup").await?;
            a.wait_call("ended", SECS(10)).await?;
            let summary = a.text("phone-summary").await?;
            assert!(
                summary.contains("one-way audio alarms: 1"),
                "the summary counts the alarm: {summary}"
            );
            sipp.wait(SECS(10)).context("SIPp party scenario")?;
            party.abort();
            assert!(
                !lab.sip_dump().contains("INFO sip:"),
                "no SIP INFO when telephone-event is negotiated"
            );
            anyhow::Ok(())
        })
        .unwrap();
}

/// The devices as the page lists them: (input ids, output ids), without the "default" and
/// "communications" aliases.
async fn devices(phone: &Phone) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let v: Value = phone
        .browser
        .execute(
            "const ids = (id) => [...document.querySelectorAll('#' + id + ' option')] \
               .map((o) => o.value).filter((v) => v && v !== 'default' && v !== 'communications'); \
             return [ids('phone-input'), ids('phone-output')];",
            json!([]),
        )
        .await?;
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok((list(&v[0]), list(&v[1])))
}

async fn select(phone: &Phone, id: &str, value: &str) -> anyhow::Result<()> {
    phone
        .browser
        .execute(
            "const s = document.getElementById(arguments[0]); s.value = arguments[1]; \
             s.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([id, value]),
        )
        .await?;
    Ok(())
}

/// The microphone the newest call sends (its track's deviceId) and the speaker its audio
/// plays on (the element's sinkId).
async fn devices_in_use(phone: &Phone) -> anyhow::Result<(String, String)> {
    let v = phone
        .browser
        .execute(
            "const H = window.__hooks; const pc = H.pcs[H.pcs.length - 1]; \
             const t = pc.getSenders().map((s) => s.track).find((t) => t); \
             const a = H.audios[H.audios.length - 1]; \
             return [t ? t.getSettings().deviceId : '', a ? a.sinkId : ''];",
            json!([]),
        )
        .await?;
    Ok((
        v[0].as_str().unwrap_or_default().to_string(),
        v[1].as_str().unwrap_or_default().to_string(),
    ))
}

/// A, the caller, at the desk with the phone check open (its raw SIP dial), and B
/// (auto-answer), whose browser keeps Chromium's autoplay policy: no sound before a user
/// gesture, still in the phone check that gates the desk; both registered.
async fn caller_and_gesture_bound_callee(
    driver: &ChromeDriver,
    server: &softphone_lab::Server,
) -> anyhow::Result<(Phone, Phone)> {
    let a = Phone::open(driver, server, "cc1001", false, &[]).await?;
    let b = Phone::open(
        driver,
        server,
        "cc1002",
        true,
        &["--autoplay-policy=no-user-gesture-required"],
    )
    .await?;
    a.wait_registered().await?;
    b.wait_registered().await?;
    a.desk_with_check().await?;
    Ok((a, b))
}

/// The agent's microphone and speaker choice is used for the call (and a change mid-call
/// takes effect without renegotiation), remembered across page loads, and the lists follow
/// devices coming and going; and when the browser
/// refuses to play the call audio without a user gesture, the agent sees a warning until
/// their first click, which starts the audio.
#[test]
fn devices_are_remembered_and_blocked_audio_is_announced() {
    let Some(_ns) = lab::run_in_netns("devices_are_remembered_and_blocked_audio_is_announced")
    else {
        return;
    };
    runtime()
        .block_on(async {
            let lab = Lab::start(false)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let (a, b) = caller_and_gesture_bound_callee(&driver, &server).await?;
            // The phone check is left without a click (a script's click is no gesture): while
            // it listens to the microphone, Chromium lets the page play audio anyway.
            b.wait_check_status(
                "mic",
                "Click anywhere in the page to start listening",
                SECS(10),
            )
            .await?;
            b.click("check-continue").await?;
            b.wait_desk().await?;
            b.browser
                .wait_for(
                    "document.querySelectorAll('#phone-input option').length > 1 \
                     && document.querySelectorAll('#phone-output option').length > 1",
                    SECS(5),
                    "the device lists",
                )
                .await?;

            let (inputs, outputs) = devices(&b).await?;
            println!("inputs {inputs:?}, outputs {outputs:?}");
            let (Some(mic), Some(speaker)) = (inputs.last(), outputs.last()) else {
                bail!("the fake devices are listed: {inputs:?} {outputs:?}");
            };
            select(&b, "phone-input", mic).await?;
            select(&b, "phone-output", speaker).await?;

            // Remembered: a new page load (same browser profile) starts with them selected.
            b.browser.goto(&server.url).await?;
            b.wait_registered().await?;
            // The check was done in this tab: the desk comes back without it.
            b.wait_desk().await?;
            assert_eq!(
                b.check_outcome().await?,
                "",
                "no phone check after the reload"
            );
            b.browser
                .wait_for(
                    "document.querySelectorAll('#phone-input option').length > 1 \
                     && document.querySelectorAll('#phone-output option').length > 1",
                    SECS(5),
                    "the device lists",
                )
                .await?;
            let shown = b
                .browser
                .execute(
                    "return [document.getElementById('phone-input').value, \
                             document.getElementById('phone-output').value];",
                    json!([]),
                )
                .await?;
            assert_eq!(shown, json!([mic, speaker]), "remembered after a reload");
            hooks(&b).await?;

            a.dial("cc1002").await?;
            a.wait_call("established", SECS(15)).await?;
            b.wait_call("established", SECS(10)).await?;
            let warning = b
                .browser
                .wait_for(
                    "document.getElementById('phone-audio-blocked')?.textContent",
                    SECS(10),
                    "the blocked-audio warning",
                )
                .await?;
            println!("B warns: {warning}");
            b.screenshot("audio-blocked").await?;
            let (in_use_mic, in_use_speaker) = devices_in_use(&b).await?;
            assert_eq!(&in_use_mic, mic, "the call uses the chosen microphone");
            assert_eq!(&in_use_speaker, speaker, "and plays on the chosen speaker");
            let paused = b
                .browser
                .execute(
                    "return document.getElementById('phone-remote-audio').paused;",
                    json!([]),
                )
                .await?;
            assert_eq!(paused, json!(true), "the browser did block playback");
            let active = b
                .browser
                .execute("return navigator.userActivation.hasBeenActive;", json!([]))
                .await?;
            assert_eq!(active, json!(false), "no gesture so far");

            // The agent's first click anywhere starts the audio and removes the warning.
            b.browser.click("#phone-registration").await?;
            b.browser
                .wait_for(
                    "!document.getElementById('phone-audio-blocked') && \
                     !document.getElementById('phone-remote-audio').paused",
                    SECS(5),
                    "playback after the click",
                )
                .await?;

            // A different microphone mid-call: replaced in place, no re-INVITE.
            let other = inputs
                .iter()
                .find(|i| *i != mic)
                .context("a second fake microphone")?;
            let invites_before = lab.sip_dump().matches("INVITE sip:").count();
            select(&b, "phone-input", other).await?;
            let track_is = format!(
                "(() => {{ const H = window.__hooks; const pc = H.pcs[H.pcs.length - 1]; \
                   const t = pc.getSenders().map((s) => s.track).find((t) => t); \
                   return t && t.getSettings().deviceId === {other:?}; }})()"
            );
            b.browser
                .wait_for(&track_is, SECS(5), "the new microphone on the call")
                .await?;
            a.wait_audio_in(SECS(10)).await?;
            assert_eq!(
                lab.sip_dump().matches("INVITE sip:").count(),
                invites_before,
                "switching the microphone does not renegotiate"
            );
            a.click("phone-hangup").await?;
            b.wait_call("ended", SECS(10)).await?;

            // A microphone unplugged (`devicechange`): the list follows.
            b.browser
                .execute(
                    "const md = navigator.mediaDevices; const list = md.enumerateDevices.bind(md); \
                     md.enumerateDevices = () => list().then((ds) => \
                       ds.filter((d) => d.deviceId !== arguments[0])); \
                     md.dispatchEvent(new Event('devicechange'));",
                    json!([other]),
                )
                .await?;
            b.browser
                .wait_for(
                    &format!("!document.querySelector('#phone-input option[value={other:?}]')"),
                    SECS(5),
                    "the unplugged microphone to leave the list",
                )
                .await?;
            let (left, _) = devices(&b).await?;
            assert!(left.contains(mic) && !left.contains(other), "{left:?}");
            anyhow::Ok(())
        })
        .unwrap();
}

/// The phone check's test tone is the agent's first click: in a browser that keeps audio
/// stopped until a gesture, the check waits for it to start its level meter; the click plays
/// the tone, starts the meter, and unlocks audio for the page, so the call that follows plays
/// at once (without that click, the test above shows the warning instead).
#[test]
fn the_test_tone_click_unlocks_audio_for_the_page() {
    let Some(_ns) = lab::run_in_netns("the_test_tone_click_unlocks_audio_for_the_page") else {
        return;
    };
    runtime()
        .block_on(async {
            let _lab = Lab::start(false)?;
            let server = server().await?;
            let driver = ChromeDriver::start().await?;
            let (a, b) = caller_and_gesture_bound_callee(&driver, &server).await?;
            b.wait_check_status(
                "mic",
                "Click anywhere in the page to start listening",
                SECS(10),
            )
            .await?;
            b.screenshot("check-waiting-for-click").await?;

            b.browser.click("#check-tone").await?;
            b.wait_check_status("speaker", "Did you hear the tone?", SECS(5))
                .await?;
            let (heard, _) = b.wait_check("mic", "ok", SECS(5)).await?;
            assert_eq!(heard, "We hear you", "the click started the level meter");
            b.click("check-heard").await?;
            b.wait_desk().await?;

            hooks(&b).await?;
            a.dial("cc1002").await?;
            a.wait_call("established", SECS(15)).await?;
            b.wait_call("established", SECS(10)).await?;
            b.browser
                .wait_for(
                    "document.getElementById('phone-remote-audio') \
                       && !document.getElementById('phone-remote-audio').paused",
                    SECS(5),
                    "the call audio playing",
                )
                .await?;
            b.wait_audio_in(SECS(15)).await?;
            assert_eq!(
                b.text("phone-audio-blocked").await?,
                "",
                "no blocked-audio warning after the tone's click"
            );
            a.click("phone-hangup").await?;
            b.wait_call("ended", SECS(10)).await?;
            anyhow::Ok(())
        })
        .unwrap();
}

#[test]
fn rtp_and_telephone_events_are_read_as_rfc_3550_and_4733_say() {
    // Header with one CSRC and a one-word extension, then a telephone-event payload.
    let mut p = vec![
        0x80 | 0x10 | 0x01,
        0x80 | 101,
        0,
        1,
        0,
        0,
        0,
        160,
        1,
        2,
        3,
        4,
    ];
    p.extend([9, 9, 9, 9]); // CSRC
    p.extend([0xbe, 0xde, 0, 1, 0, 0, 0, 0]); // extension header + one word
    p.extend([5, 0x0a, 0, 160]);
    let rtp = parse_rtp(&p).expect("valid RTP");
    assert_eq!(rtp.payload_type, 101);
    assert_eq!(rtp.payload, vec![5, 0x0a, 0, 160]);
    assert!(parse_rtp(&p[..8]).is_none(), "too short");
    assert!(parse_rtp(&[0x40; 20]).is_none(), "version 1");

    let ev = |event: u8, end: bool| Rtp {
        payload_type: 101,
        payload: vec![event, if end { 0x8a } else { 0x0a }, 0, 160],
    };
    let voice = Rtp {
        payload_type: 0,
        payload: vec![0xff; 160],
    };
    let run = vec![
        ev(1, false),
        voice.clone(),
        ev(1, false),
        ev(1, true),
        ev(1, true),
        ev(1, true),
        ev(11, false),
        ev(11, true),
        ev(0, false),
        ev(0, true),
        voice,
    ];
    assert_eq!(digits(&run), "1#0");
    let voice_only: Vec<Rtp> = run.into_iter().filter(|p| p.payload_type == 0).collect();
    assert_eq!(digits(&voice_only), "");
}
