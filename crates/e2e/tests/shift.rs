//! An agent's whole shift, from login to the next call, on the demo stack
//! (`dialdeck_e2e::stack`: MariaDB with VICIdial's schema and seed, the VICIdial simulator with
//! its telephony stand-in, the GoHighLevel simulator, Kamailio, rtpengine, SIPp's echo room and
//! the real dialdeck binary) in a network namespace with only `lo`, driven in headless Chromium
//! with fake media devices and real key presses and clicks:
//!
//! 1. login in two steps (user and password, then the campaign);
//! 2. the phone check all green (microphone level, test tone on the chosen speaker, phone
//!    server, ICE);
//! 3. the phone in VICIdial's session conference by itself (`live_sip_channels`, the header);
//! 4. a lead's number dialled through the dial box (country, E.164 check), the lead on screen,
//!    the call clock counting from VICIdial's answer, audio both ways on the phone's leg;
//! 5. Hang up (F8) through VICIdial: the disposition modal;
//! 6. the modal kept through Escape, Tab cycling, a click outside, Back and a reload (which
//!    asks for no password);
//! 7. a callback for the agent at a date in the agent's own zone (not the server's), with
//!    notes;
//! 8. VICIdial's tables and GHL's store hold it;
//! 9. recent calls and my callbacks show it, and the due callback is dialled in one click,
//!    dispositioned, and leaves the list;
//! 10. a break with a pause code;
//! 11. logout ends VICIdial's session.
//!
//! A screenshot of every step (1366×768) is saved under `target/e2e-artifacts/shift/`.

mod softphone_lab;

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, ensure, Context};
use dialdeck_e2e::{
    lab,
    stack::{Stack, StackOptions, DEMO_PASSWORD, DEMO_USER},
    webdriver::key,
    ChromeDriver, DialdeckServer,
};
use serde_json::json;
use softphone_lab::{login_campaign, login_credentials, runtime, Phone, CHECK_HOOKS};

/// How long any one thing may take to show.
const WAIT: Duration = Duration::from_secs(20);

/// The agent's zone: not the server's (UTC here), so a callback time read in the wrong zone
/// lands at the wrong hour.
const AGENT_ZONE: &str = "America/Chicago";

/// The lead dialled: lead 1 of the seed.
const LEAD_NUMBER: &str = "(312) 555-1001";

/// Where the screenshots go: `<target>/e2e-artifacts/shift`.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("e2e-artifacts/shift")
}

/// The screenshots of one run, numbered in order.
struct Shots {
    dir: PathBuf,
    n: u32,
}

impl Shots {
    fn new() -> anyhow::Result<Shots> {
        let dir = artifacts();
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Shots { dir, n: 0 })
    }

    /// Saves `NN-name.png` and checks it is the size agents' laptops have.
    async fn take(&mut self, phone: &Phone, name: &str) -> anyhow::Result<()> {
        self.n += 1;
        let path = self.dir.join(format!("{:02}-{name}.png", self.n));
        phone.browser.screenshot(&path).await?;
        let png = std::fs::read(&path)?;
        ensure!(
            png.len() > 24 && &png[1..4] == b"PNG",
            "{} is a PNG",
            path.display()
        );
        let size = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
        ensure!(
            (size(16), size(20)) == (1366, 768),
            "{} is 1366×768, not {}×{}",
            path.display(),
            size(16),
            size(20)
        );
        Ok(())
    }
}

/// Polls `sql` (one text column) until it answers `want`, for up to [`WAIT`]; fails with the
/// last answer.
async fn db_wait(stack: &Stack, sql: &str, want: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let got: Option<String> = sqlx::query_scalar(sql).fetch_optional(&stack.db).await?;
        if got.as_deref() == Some(want) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("{sql} answered {got:?}, not {want:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the disposition modal with the campaign's statuses and focus inside it.
async fn wait_modal(phone: &Phone) -> anyhow::Result<()> {
    phone
        .browser
        .wait_for(
            "document.getElementById('dispo-modal') \
             && document.querySelectorAll('#dispo-modal .status-option').length > 3 \
             && document.activeElement && document.activeElement.name === 'status'",
            WAIT,
            "the disposition modal with focus on its statuses",
        )
        .await
        .map(|_| ())
}

/// Saves the modal (Ctrl+Enter) and waits until it is gone and the page is live again.
async fn save_modal(phone: &Phone) -> anyhow::Result<()> {
    phone.browser.press(&[key::CONTROL], key::ENTER).await?;
    if let Err(e) = phone
        .browser
        .wait_for(
            "!document.getElementById('dispo-modal') && !document.querySelector('.app').inert",
            WAIT,
            "the modal saved and closed",
        )
        .await
    {
        bail!(
            "{e:#}; the modal says {:?}",
            phone.browser.text("#dispo-error").await?
        );
    }
    Ok(())
}

/// `mm:ss` (or `h:mm:ss`) as seconds.
fn clock_secs(clock: &str) -> anyhow::Result<i64> {
    clock.trim().split(':').try_fold(0i64, |acc, part| {
        Ok(acc * 60
            + part
                .parse::<i64>()
                .with_context(|| format!("clock {clock:?}"))?)
    })
}

#[test]
fn an_agents_whole_shift_from_login_to_the_next_call() {
    let Some(_ns) = lab::run_in_netns("an_agents_whole_shift_from_login_to_the_next_call") else {
        return;
    };
    runtime()
        .block_on(async {
            let stack = Stack::start(StackOptions::new(DialdeckServer::binary())).await?;
            let driver = ChromeDriver::start().await?;
            let browser = driver
                .browser_without(&["--window-size=1280,900"], &["--window-size=1366,768"])
                .await?;
            let phone = Phone {
                browser,
                name: "cc1001",
            };
            let result = shift(&stack, &phone).await;
            if result.is_err() {
                // What the agent saw when it went wrong.
                let failed = artifacts().join("failed.png");
                if phone.browser.screenshot(&failed).await.is_ok() {
                    eprintln!("the page at the failure: {}", failed.display());
                }
            }
            phone.browser.close().await?;
            if let Err(e) = &result {
                bail!("{e:#}\n{}", stack.log_tails(30));
            }
            println!(
                "screenshots of every step: {}",
                artifacts().canonicalize()?.display()
            );
            result
        })
        .unwrap();
}

async fn shift(stack: &Stack, phone: &Phone) -> anyhow::Result<()> {
    let mut shots = Shots::new()?;
    let b = &phone.browser;

    // The viewport of an agent's laptop (the window size includes headless Chromium's frame).
    b.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": false }),
    )
    .await?;

    // 1. Login: user and password, then the campaign.
    b.goto(&stack.url).await?;
    b.cdp(
        "Emulation.setTimezoneOverride",
        json!({ "timezoneId": AGENT_ZONE }),
    )
    .await?;
    b.wait_for(
        "document.getElementById('login-user')",
        WAIT,
        "the login page",
    )
    .await?;
    shots.take(phone, "login").await?;
    ensure!(
        login_credentials(b, DEMO_USER, DEMO_PASSWORD).await?,
        "the two-step login"
    );
    b.wait_for(
        "document.querySelectorAll('#login-campaign option[value=TESTCAMP]').length === 1",
        WAIT,
        "the campaigns VICIdial lets 1001 log into",
    )
    .await?;
    shots.take(phone, "campaign").await?;
    login_campaign(b, Some("TESTCAMP")).await?;

    // 2. The phone check gates the desk: every item green with the fake devices.
    b.wait_for(
        "document.getElementById('phone-check')",
        WAIT,
        "the phone check",
    )
    .await?;
    b.execute(CHECK_HOOKS, json!([])).await?;
    let speaker = b
        .wait_for(
            "[...document.querySelectorAll('#check-output option')].map((o) => o.value) \
               .filter((v) => v && v !== 'default' && v !== 'communications').pop()",
            WAIT,
            "the fake speakers",
        )
        .await?;
    let speaker = speaker.as_str().context("a speaker id")?.to_string();
    b.execute(
        "const s = document.getElementById('check-output'); s.value = arguments[0]; \
         s.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([speaker]),
    )
    .await?;
    let (heard, _) = phone.wait_check("mic", "ok", WAIT).await?;
    ensure!(heard == "We hear you", "{heard}");
    b.wait_for(
        "Number(document.getElementById('check-mic-level')?.dataset.level) > 0",
        WAIT,
        "the microphone level moving",
    )
    .await?;
    let (socket, _) = phone.wait_check("socket", "ok", WAIT).await?;
    ensure!(socket.contains(&stack.ws_url()), "{socket}");
    let (ice, _) = phone.wait_check("ice", "ok", WAIT).await?;
    ensure!(ice.contains("host"), "{ice}");
    b.click("#check-tone").await?;
    b.wait_for(
        "window.__check.audios.some((e) => !e.paused && e.srcObject)",
        WAIT,
        "the test tone playing",
    )
    .await?;
    let sinks = b
        .execute(
            "return window.__check.audios.map((e) => e.sinkId);",
            json!([]),
        )
        .await?;
    // The tone's element (and the phone's own, which plays on the same output) on the
    // speaker chosen.
    let sinks = sinks.as_array().context("sink ids")?;
    ensure!(
        !sinks.is_empty() && sinks.iter().all(|s| s == &json!(speaker)),
        "the tone on the chosen speaker {speaker}: {sinks:?}"
    );
    phone
        .wait_check_status("speaker", "Did you hear the tone?", WAIT)
        .await?;
    shots.take(phone, "phone-check").await?;
    b.click("#check-heard").await?;
    phone.wait_desk().await?;
    ensure!(
        phone.browser.text("#phone-check-warning").await?.is_empty(),
        "the check passed: no warning kept"
    );

    // 3. The webphone dials VICIdial's session conference by itself; the telephony stand-in
    // reports its channel, and the header says so.
    let conf_exten: String =
        sqlx::query_scalar("SELECT conf_exten FROM vicidial_live_agents WHERE user = ?")
            .bind(DEMO_USER)
            .fetch_one(&stack.db)
            .await?;
    let channel = {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let c: Option<String> = sqlx::query_scalar(
                "SELECT channel FROM live_sip_channels WHERE extension = ? AND server_ip = ?",
            )
            .bind(&conf_exten)
            .bind(dialdeck_e2e::stack::TELEPHONY_SERVER_IP)
            .fetch_optional(&stack.db)
            .await?;
            if let Some(c) = c {
                break c;
            }
            if std::time::Instant::now() > deadline {
                bail!("no live_sip_channels row for room {conf_exten}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    ensure!(channel.starts_with("SIP/cc1001-"), "{channel}");
    phone.wait_call("established", WAIT).await?;
    b.wait_for(
        "document.getElementById('phone-session')?.textContent === 'In session' \
         && !document.getElementById('warn-phone-session')",
        WAIT,
        "the header saying the phone is in the session",
    )
    .await?;
    b.wait_for(
        "document.getElementById('agent-state').textContent === 'Paused'",
        WAIT,
        "VICIdial's session paused, waiting for a dial",
    )
    .await?;
    shots.take(phone, "in-session").await?;

    // 4. Dial lead 1's number: country, the server's E.164 reading, then Enter.
    b.press(&[], key::F2).await?;
    ensure!(
        phone.browser.focus_within("dispo-modal").await?.0 == "dial-number",
        "F2 focuses the number"
    );
    b.click("#dial-country option[value=US]").await?;
    b.type_into("#dial-number", LEAD_NUMBER).await?;
    b.wait_for(
        "document.getElementById('dial-check').textContent === '✓ +1 312-555-1001' \
         && !document.getElementById('dial-button').disabled",
        WAIT,
        "the number read as E.164 and Dial on",
    )
    .await?;
    shots.take(phone, "dial-box").await?;
    b.press(&[], key::ENTER).await?;
    b.wait_for(
        "document.getElementById('lead-panel')?.textContent.includes('Grace Hopper') \
         && document.getElementById('agent-state').textContent === 'In call' \
         && document.getElementById('call-clock')",
        WAIT,
        "the lead on screen and the call answered",
    )
    .await?;
    let panel = phone.browser.text("#lead-panel").await?;
    ensure!(
        panel.contains("+1 312-555-1001") && panel.contains("grace@example.com"),
        "VICIdial's lead 1: {panel}"
    );
    let banner = phone.browser.text("#call-banner").await?;
    ensure!(
        banner.starts_with("In call") && banner.contains("+1 312-555-1001"),
        "{banner}"
    );
    // Audio both ways on the phone's leg (the room echoes it).
    let (packets_in, level_in) = phone.wait_audio_in(WAIT).await?;
    let packets_out: u64 = phone.quality("packetsSent").await?.parse().unwrap_or(0);
    println!("in the call: {packets_in} packets in (level {level_in}), {packets_out} out");
    ensure!(packets_out > 0, "packets sent");
    // The clock counts from VICIdial's answer (its call log's start).
    b.wait_for(
        "document.getElementById('call-clock')?.textContent >= '00:02'",
        WAIT,
        "the clock counting",
    )
    .await?;
    let shown = clock_secs(&phone.browser.text("#call-clock").await?)?;
    let since_answer: i64 = sqlx::query_scalar(
        "SELECT CAST(UNIX_TIMESTAMP() - start_epoch AS SIGNED) FROM vicidial_log \
         WHERE lead_id = 1 AND user = ? ORDER BY start_epoch DESC LIMIT 1",
    )
    .bind(DEMO_USER)
    .fetch_one(&stack.db)
    .await?;
    ensure!(
        (shown - since_answer).abs() <= 2,
        "the clock shows {shown} s, VICIdial answered {since_answer} s ago"
    );
    shots.take(phone, "in-call").await?;

    // 5. F8 hangs up through VICIdial: the disposition modal.
    b.press(&[], key::F8).await?;
    wait_modal(phone).await?;
    let who = phone.browser.text("#dispo-who").await?;
    ensure!(who.contains("Grace Hopper"), "{who}");
    shots.take(phone, "disposition").await?;

    // 6. Nothing but a saved disposition closes it: Escape, Tab round its ends, a click
    // outside, Back, and a reload (which needs no password).
    b.press(&[], key::ESCAPE).await?;
    let mut seen = Vec::new();
    for _ in 0..25 {
        b.press(&[], key::TAB).await?;
        let (id, inside) = phone.browser.focus_within("dispo-modal").await?;
        ensure!(inside, "Tab left the modal for {id}");
        seen.push(id);
    }
    ensure!(
        seen.iter().any(|i| i == "dispo-submit") && seen.iter().any(|i| i == "dispo-notes"),
        "Tab cycles through the modal: {seen:?}"
    );
    b.press(&[key::SHIFT], key::TAB).await?;
    ensure!(
        phone.browser.focus_within("dispo-modal").await?.1,
        "Shift+Tab stays inside"
    );
    b.click_at(8, 400).await?;
    b.back().await?;
    b.wait_for(
        "document.getElementById('dispo-modal') \
         && document.getElementById('dispo-modal').contains(document.activeElement) \
         && document.getElementById('dial-button').disabled",
        WAIT,
        "the modal still there after Escape, Tab, a click outside and Back",
    )
    .await?;
    b.refresh().await?;
    wait_modal(phone).await?;
    let after_reload = b
        .execute(
            "return [!!document.getElementById('login-form'), \
               Intl.DateTimeFormat().resolvedOptions().timeZone];",
            json!([]),
        )
        .await?;
    ensure!(
        after_reload == json!([false, AGENT_ZONE]),
        "the desk came back without a login, in the agent's zone: {after_reload}"
    );
    shots.take(phone, "disposition-after-reload").await?;

    // 7. A callback: its hotkey (3), tomorrow 10:30 in the agent's zone, for me, notes.
    b.press(&[], "3").await?;
    b.wait_for(
        "document.getElementById('callback-fields') \
         && document.querySelector('input[name=status]:checked')?.value === 'CB'",
        WAIT,
        "the callback fields for CB",
    )
    .await?;
    let zone = phone.browser.text("#cb-zone").await?;
    ensure!(zone.contains(AGENT_ZONE), "{zone}");
    let picked = b
        .execute(
            "const d = new Date(); d.setDate(d.getDate() + 1); \
             const p = (n) => String(n).padStart(2, '0'); \
             const at = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T10:30`; \
             const el = document.getElementById('cb-at'); el.value = at; \
             el.dispatchEvent(new Event('input', {bubbles: true})); \
             return [at, new Date(at).getTime() / 1000, document.getElementById('cb-me').checked];",
            json!([]),
        )
        .await?;
    let at_local = picked[0].as_str().context("the callback time")?.to_string();
    let at_epoch = picked[1].as_i64().context("the callback instant")?;
    ensure!(picked[2] == json!(true), "Me is chosen: {picked}");
    let comments = "Call after her 10 am meeting";
    let notes = "Interested in the premium plan; wants to ask her husband";
    b.type_into("#cb-comments", comments).await?;
    b.type_into("#dispo-notes", notes).await?;
    shots.take(phone, "callback").await?;
    save_modal(phone).await?;
    b.wait_for(
        "document.getElementById('toasts').textContent.includes('Saved: Call Back Later')",
        WAIT,
        "the saved toast",
    )
    .await?;

    // 8. VICIdial and GHL hold the result.
    db_wait(
        stack,
        "SELECT status FROM vicidial_list WHERE lead_id = 1",
        "CBHOLD",
    )
    .await?;
    db_wait(
        stack,
        "SELECT status FROM vicidial_log WHERE lead_id = 1 ORDER BY start_epoch DESC LIMIT 1",
        "CB",
    )
    .await?;
    db_wait(
        stack,
        "SELECT call_notes FROM vicidial_call_notes WHERE lead_id = 1 ORDER BY notesid DESC LIMIT 1",
        notes,
    )
    .await?;
    let cb: (String, String, String, String, i64) = sqlx::query_as(
        "SELECT status, recipient, user, comments, \
           CAST(UNIX_TIMESTAMP(callback_time) AS SIGNED) FROM vicidial_callbacks \
         WHERE lead_id = 1 ORDER BY callback_id DESC LIMIT 1",
    )
    .fetch_one(&stack.db)
    .await?;
    let local: String = sqlx::query_scalar(
        "SELECT CAST(callback_time AS CHAR) FROM vicidial_callbacks WHERE lead_id = 1 \
         ORDER BY callback_id DESC LIMIT 1",
    )
    .fetch_one(&stack.db)
    .await?;
    println!("callback: {at_local} in {AGENT_ZONE} is {local} in VICIdial's time: {cb:?}");
    ensure!(
        (cb.0.as_str(), cb.1.as_str(), cb.2.as_str(), cb.3.as_str())
            == ("ACTIVE", "USERONLY", DEMO_USER, comments),
        "VICIdial's callback: {cb:?}"
    );
    ensure!(
        cb.4 == at_epoch,
        "VICIdial's callback_time {local} is the instant the agent chose ({at_local} in \
         {AGENT_ZONE}): {} vs {at_epoch}",
        cb.4
    );
    let (contact, task) = {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let contact = stack
                .ghl
                .sim
                .contacts()
                .into_iter()
                .find(|c| c.phone.as_deref() == Some("+13125551001"));
            let task = contact.as_ref().and_then(|c| {
                stack
                    .ghl
                    .sim
                    .tasks()
                    .into_iter()
                    .find(|t| t.contact_id == c.id)
            });
            if let (Some(c), Some(t)) = (contact, task) {
                break (c, t);
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "GHL has no callback task for +13125551001: {:?}",
                    stack.ghl.sim.contacts()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    ensure!(
        (contact.first_name.as_deref(), contact.last_name.as_deref())
            == (Some("Grace"), Some("Hopper")),
        "{contact:?}"
    );
    let due = chrono::DateTime::parse_from_rfc3339(&task.due_date)
        .with_context(|| format!("GHL task due date {:?}", task.due_date))?;
    ensure!(
        due.timestamp() == at_epoch,
        "GHL's task is due at the callback's instant: {task:?}"
    );
    ensure!(
        task.body.as_deref().is_some_and(|b| b.contains(notes)),
        "the task carries the agent's notes: {task:?}"
    );

    // 9. Recent calls with each target's sync state, and my callbacks.
    b.wait_for(
        "[...document.querySelectorAll('#recent-list .recent-call')].some((c) => \
           c.textContent.includes('Grace Hopper') && c.textContent.includes('Call Back Later') \
           && c.textContent.includes('Saved in VICIdial') && c.textContent.includes('Saved in GHL'))",
        WAIT,
        "the call in recent calls, saved in VICIdial and GHL",
    )
    .await?;
    let items: Vec<String> = serde_json::from_value(
        b.wait_for(
            "[...document.querySelectorAll('#callback-list .callback-item')] \
               .some((i) => i.textContent.includes('Grace Hopper')) \
             && [...document.querySelectorAll('#callback-list .callback-item')] \
               .map((i) => i.textContent)",
            WAIT,
            "the new callback in my callbacks",
        )
        .await?,
    )?;
    let new = items
        .iter()
        .find(|t| t.contains("Grace Hopper"))
        .context("the new callback")?;
    ensure!(
        !new.contains("Due") && new.contains("Me") && new.contains(&at_local.replace('T', " ")),
        "upcoming, mine, at the time chosen: {new}"
    );
    let seeded = items
        .iter()
        .find(|t| t.contains("Wants the premium plan"))
        .context("lead 6's seeded callback")?;
    ensure!(
        seeded.contains("Katherine Johnson") && seeded.contains("Due"),
        "{seeded}"
    );
    shots.take(phone, "lists").await?;

    // The due one in one click.
    b.wait_for(
        "!document.querySelector('#callback-list .callback-item.due .callback-dial')?.disabled",
        WAIT,
        "the due callback's Call now enabled",
    )
    .await?;
    b.click("#callback-list .callback-item.due .callback-dial")
        .await?;
    b.wait_for(
        "document.getElementById('lead-panel')?.textContent.includes('Katherine Johnson') \
         && document.getElementById('agent-state').textContent === 'In call' \
         && document.getElementById('call-clock')",
        WAIT,
        "the callback's call answered, lead 6 on screen",
    )
    .await?;
    b.wait_for(
        "![...document.querySelectorAll('#callback-list .callback-item')] \
           .some((i) => i.textContent.includes('Wants the premium plan'))",
        WAIT,
        "the taken callback gone from my callbacks",
    )
    .await?;
    shots.take(phone, "callback-call").await?;
    b.click("#hangup-button").await?;
    wait_modal(phone).await?;
    b.press(&[], "2").await?;
    let chosen = b
        .execute(
            "return document.querySelector('input[name=status]:checked')?.value;",
            json!([]),
        )
        .await?;
    ensure!(
        chosen == json!("NI"),
        "hotkey 2 is Not Interested: {chosen}"
    );
    shots.take(phone, "callback-disposition").await?;
    save_modal(phone).await?;
    db_wait(
        stack,
        "SELECT status FROM vicidial_list WHERE lead_id = 6",
        "NI",
    )
    .await?;
    b.wait_for(
        "document.querySelectorAll('#recent-list .recent-call').length === 2 \
         && [...document.querySelectorAll('#recent-list .recent-call')].some((c) => \
              c.textContent.includes('Katherine Johnson') && c.textContent.includes('Not Interested') \
              && c.textContent.includes('Saved in VICIdial'))",
        WAIT,
        "both calls in recent calls",
    )
    .await?;
    let left = phone.browser.text("#my-callbacks").await?;
    ensure!(
        !left.contains("Wants the premium plan") && left.contains("Grace Hopper"),
        "{left}"
    );
    shots.take(phone, "after-callback").await?;

    // 10. A break with a pause code, once VICIdial has the agent paused again after the
    // wrap-up (the codes are offered then).
    b.wait_for(
        "document.getElementById('agent-state').textContent === 'Paused' \
         && !document.getElementById('pause-code')?.disabled",
        WAIT,
        "paused after the wrap-up, the pause codes offered",
    )
    .await?;
    b.click("#pause-code option[value=LUNCH]").await?;
    b.wait_for(
        "document.getElementById('agent-state').textContent === 'On break: Lunch'",
        WAIT,
        "the header saying On break: Lunch",
    )
    .await?;
    db_wait(
        stack,
        "SELECT pause_code FROM vicidial_live_agents WHERE user = '1001'",
        "LUNCH",
    )
    .await?;
    db_wait(
        stack,
        "SELECT sub_status FROM vicidial_agent_log WHERE user = '1001' \
         ORDER BY agent_log_id DESC LIMIT 1",
        "LUNCH",
    )
    .await?;
    shots.take(phone, "on-break").await?;

    // 11. Log out: VICIdial's session ends, the login page is back.
    b.click("#logout-button").await?;
    b.wait_for(
        "document.getElementById('login-user') && !document.getElementById('agent-state')",
        WAIT,
        "the login page",
    )
    .await?;
    db_wait(
        stack,
        "SELECT CAST(COUNT(*) AS CHAR) FROM vicidial_live_agents WHERE user = '1001'",
        "0",
    )
    .await?;
    shots.take(phone, "logged-out").await?;

    let console = b.console().await?;
    let panics: Vec<&str> = console
        .iter()
        .map(|e| e.message.as_str())
        .filter(|m| m.contains("panicked"))
        .collect();
    ensure!(panics.is_empty(), "the app panicked: {panics:#?}");
    Ok(())
}
