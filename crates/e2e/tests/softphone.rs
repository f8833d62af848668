//! The softphone end to end: the real frontend, served by the real dialdeck binary, in
//! headless Chromium with a fake microphone, registering and calling through a real Kamailio
//! (with rtpengine and SIPp where a plain-RTP party is needed). Each test runs in a network
//! namespace of its own that has only `lo` (see `dialdeck_e2e::lab`).
//!
//! Agents log in through the real login form: the server reads them and their phones from a
//! real MariaDB with VICIdial's schema and seed (the phones' server pointed at the lab's
//! Kamailio), and the desk's hidden frame opens a session on the VICIdial simulator.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dialdeck_e2e::{
    lab::{self, Lab, Sipp},
    Browser, ChromeDriver, DialdeckServer,
};
use dialdeck_vicidial_sim::{mariadb::MariaDb, seed, SimOptions, VicidialSim};
use serde_json::json;
use sqlx::ConnectOptions;

const SECS: fn(u64) -> Duration = Duration::from_secs;

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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The real binary, logged-in agents from VICIdial's tables, and VICIdial's simulator for the
/// desk's hidden agent screen.
struct Server {
    dialdeck: DialdeckServer,
    db: sqlx::MySqlPool,
    _sim: VicidialSim,
}

impl std::ops::Deref for Server {
    type Target = DialdeckServer;
    fn deref(&self) -> &DialdeckServer {
        &self.dialdeck
    }
}

/// The agent whose phone is `extension`, and the password the seed gives them here.
fn agent_of(extension: &str) -> (&'static str, &'static str) {
    match extension {
        "cc1001" => ("1001", seed::PLAIN_PASSWORD),
        "cc1002" => ("1002", "agentpass2"),
        other => panic!("no lab agent for {other}"),
    }
}

async fn server() -> anyhow::Result<Server> {
    let maria = MariaDb::shared();
    let name = maria.fresh_database().await?;
    let mut conn = maria.options(&name).connect().await?;
    seed::seed(&mut conn, false).await?;
    let db = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(4)
        .connect_with(maria.options(&name))
        .await?;
    // The telephony server is the lab's Kamailio; its phones are called into the session by
    // VICIdial (not webphones), so the phone does not dial the conference itself here.
    for sql in [
        format!(
            "UPDATE servers SET server_ip = '{}', web_socket_url = '{}'",
            lab::DOMAIN,
            lab::WS_URL
        ),
        format!(
            "UPDATE phones SET server_ip = '{}', is_webphone = 'N'",
            lab::DOMAIN
        ),
        "UPDATE vicidial_users SET pass = 'agentpass2' WHERE user = '1002'".to_string(),
    ] {
        sqlx::query(&sql).execute(&db).await?;
    }
    let sim = VicidialSim::start(db.clone(), SimOptions::default()).await?;
    let db_url = maria.url(&name);
    let web_url = sim.base_url();
    let dialdeck = DialdeckServer::start(&[
        ("DIALDECK_PHONE_WS_ORIGINS", lab::WS_URL),
        ("DIALDECK_VICIDIAL_DB_URL", db_url.as_str()),
        ("DIALDECK_VICIDIAL_WEB_URL", web_url.as_str()),
        ("DIALDECK_VICIDIAL_API_USER", seed::API_USER),
        ("DIALDECK_VICIDIAL_API_PASS", seed::API_PASS),
    ])
    .await?;
    Ok(Server {
        dialdeck,
        db,
        _sim: sim,
    })
}

/// One agent's browser with the phone panel open.
struct Phone {
    browser: Browser,
    name: &'static str,
}

impl Phone {
    async fn open(
        driver: &ChromeDriver,
        server: &Server,
        user: &'static str,
        auto_answer: bool,
        omit_flags: &[&str],
    ) -> anyhow::Result<Phone> {
        sqlx::query("UPDATE phones SET webphone_auto_answer = ? WHERE extension = ?")
            .bind(if auto_answer { "Y" } else { "N" })
            .bind(user)
            .execute(&server.db)
            .await?;
        let (agent, password) = agent_of(user);
        let browser = driver.browser_without(omit_flags, &[]).await?;
        browser.goto(&server.url).await?;
        browser
            .wait_for(
                "document.querySelector('#login-form button') && !document.querySelector('#login-form button').disabled",
                SECS(15),
                "the login form",
            )
            .await?;
        browser
            .execute(
                "for (const [id, v] of [['login-user', arguments[0]], ['login-password', arguments[1]]]) { \
                   const i = document.getElementById(id); i.value = v; \
                   i.dispatchEvent(new Event('input', {bubbles: true})); } \
                 document.querySelector('#login-form button').click();",
                json!([agent, password]),
            )
            .await?;
        browser
            .wait_for(
                "document.getElementById('phone-registration')",
                SECS(15),
                &format!("{user} logged in"),
            )
            .await?;
        Ok(Phone {
            browser,
            name: user,
        })
    }

    async fn text(&self, id: &str) -> anyhow::Result<String> {
        let v = self
            .browser
            .execute(
                "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
                json!([id]),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    async fn wait_registered(&self) -> anyhow::Result<()> {
        self.browser
            .wait_for(
                "document.getElementById('phone-registration')?.textContent === 'Registered'",
                SECS(15),
                &format!("{} registered", self.name),
            )
            .await
            .map(|_| ())
    }

    async fn wait_call(&self, state: &str, timeout: Duration) -> anyhow::Result<String> {
        let expr = format!(
            "document.getElementById('phone-call')?.dataset.state === '{state}' \
             && document.getElementById('phone-call').textContent"
        );
        let res = self
            .browser
            .wait_for(&expr, timeout, &format!("{} call state {state}", self.name))
            .await;
        match res {
            Ok(v) => Ok(v.as_str().unwrap_or_default().to_string()),
            Err(e) => {
                let now = self.text("phone-call").await.unwrap_or_default();
                let notice = self.text("phone-notice").await.unwrap_or_default();
                bail!("{e:#}; the phone shows {now:?} (notice: {notice:?})")
            }
        }
    }

    async fn dial(&self, target: &str) -> anyhow::Result<()> {
        self.browser
            .execute(
                "const i = document.getElementById('phone-dial'); i.value = arguments[0]; \
                 i.dispatchEvent(new Event('input', {bubbles: true})); \
                 document.getElementById('phone-dial-button').click();",
                json!([target]),
            )
            .await
            .map(|_| ())
    }

    async fn click(&self, id: &str) -> anyhow::Result<()> {
        self.browser
            .execute(
                "document.getElementById(arguments[0]).click();",
                json!([id]),
            )
            .await
            .map(|_| ())
    }

    /// Waits until getStats shows audio arriving (packets and a non-zero level: the fake
    /// microphone beeps) over a connected DTLS transport; returns (packets, level).
    async fn wait_audio_in(&self, timeout: Duration) -> anyhow::Result<(u64, f64)> {
        let expr = "(() => { const q = document.getElementById('phone-quality'); \
             if (!q) return false; const d = q.dataset; \
             return Number(d.packetsReceived) > 0 && Number(d.levelIn) > 0 \
               && d.dtls === 'connected' && [d.packetsReceived, d.levelIn]; })()";
        let v = self
            .browser
            .wait_for(expr, timeout, &format!("{} hears audio", self.name))
            .await?;
        let packets = v[0].as_str().unwrap_or("0").parse()?;
        let level = v[1].as_str().unwrap_or("0").parse()?;
        Ok((packets, level))
    }
}

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

impl Phone {
    /// The quality panel's data attribute `name` (camelCase), or "" before the first sample.
    async fn quality(&self, name: &str) -> anyhow::Result<String> {
        let v = self
            .browser
            .execute(
                "const q = document.getElementById('phone-quality'); \
                 return q ? (q.dataset[arguments[0]] || '') : '';",
                json!([name]),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }
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
