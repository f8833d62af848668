//! The agent's desk in the browser, against the real binary, a real MariaDB with VICIdial's
//! schema and the VICIdial simulator: the two-step login and its refusals in words, VICIdial's
//! own screen logged in inside the hidden frame (and rejoined after a reload without the
//! password being typed or kept in the page), a manual dial through VICIdial with the number
//! checked by the server, the lead and the call clock, Hang up from the keyboard, the mandatory
//! disposition modal driven with real key presses (focus trapped, Escape, a click outside and
//! Back do nothing, a reload brings it back, hotkeys pick statuses), VICIdial's tables after
//! the save, the shift's recent calls with their sync state, a due callback dialled in one
//! click and a new one set in the modal, and Ready/Pause with a pause code where the campaign
//! dials by itself.
//!
//! These need the other engineers' routes (login with a campaign, the screen login, the
//! campaign, number checks, the shift's lists); `DIALDECK_E2E_SCREENSHOTS=dir` saves what the
//! agent sees at each step.

use std::time::Duration;

use dialdeck_e2e::{webdriver::key, Browser, ChromeDriver, DialdeckServer};
use dialdeck_vicidial_sim::{mariadb::MariaDb, seed, LedgerEntry, SimOptions, VicidialSim};
use serde_json::{json, Value};
use sqlx::ConnectOptions;

const WAIT: Duration = Duration::from_secs(20);

/// Everything one test drives.
struct Shift {
    pool: sqlx::MySqlPool,
    sim: VicidialSim,
    server: DialdeckServer,
    _driver: ChromeDriver,
    browser: Browser,
}

impl Shift {
    /// A fresh VICIdial database with the seed, the simulator (the browser's frame is the
    /// agent screen: no virtual screen), dialdeck configured for both, and a browser on the
    /// login page.
    async fn start() -> anyhow::Result<Shift> {
        Shift::start_with(&[]).await
    }

    /// Like [`Shift::start`], with `sql` run on VICIdial's database after the seed.
    async fn start_with(sql: &[&str]) -> anyhow::Result<Shift> {
        let maria = MariaDb::shared();
        let name = maria.fresh_database().await?;
        let mut conn = maria.options(&name).connect().await?;
        seed::seed(&mut conn, false).await?;
        for statement in sql {
            sqlx::query(statement).execute(&mut conn).await?;
        }
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .connect_with(maria.options(&name))
            .await?;
        let sim = VicidialSim::start(pool.clone(), SimOptions::default()).await?;
        let db_url = maria.url(&name);
        let web_url = sim.base_url();
        let server = DialdeckServer::start(&[
            ("DIALDECK_VICIDIAL_DB_URL", db_url.as_str()),
            ("DIALDECK_VICIDIAL_WEB_URL", web_url.as_str()),
            ("DIALDECK_VICIDIAL_API_USER", seed::API_USER),
            ("DIALDECK_VICIDIAL_API_PASS", seed::API_PASS),
            ("DIALDECK_VICIDIAL_POLL_MS", "250"),
        ])
        .await?;
        let driver = ChromeDriver::start().await?;
        let browser = driver.browser(&["--window-size=1366,768"]).await?;
        browser.goto(&server.url).await?;
        browser
            .wait_for(
                "document.querySelector('#login-continue') && !document.querySelector('#login-continue').disabled",
                WAIT,
                "login enabled",
            )
            .await?;
        Ok(Shift {
            pool,
            sim,
            server,
            _driver: driver,
            browser,
        })
    }

    /// Types user and password and continues to the campaign step.
    async fn credentials(&self, user: &str, password: &str) -> anyhow::Result<()> {
        let b = &self.browser;
        b.execute(CLEAR, json!(["#login-user"])).await?;
        b.type_into("#login-user", user).await?;
        b.execute(CLEAR, json!(["#login-password"])).await?;
        b.type_into("#login-password", password).await?;
        b.press(&[], key::ENTER).await
    }

    /// Logs 1001 in to TESTCAMP through the form, passes the readiness check and waits until
    /// VICIdial's screen (in the hidden frame) polls.
    async fn log_in(&self) -> anyhow::Result<()> {
        let b = &self.browser;
        self.credentials("1001", seed::PLAIN_PASSWORD).await?;
        let options = b
            .wait_for(
                "document.querySelector('#login-campaign') && [...document.querySelectorAll('#login-campaign option')].map(o => o.value).sort().join(',')",
                WAIT,
                "the campaigns VICIdial allows 1001",
            )
            .await?;
        assert_eq!(
            options,
            json!("DNCCAMP,TESTCAMP"),
            "user group AGENTS' campaigns"
        );
        b.execute(
            "const s = document.querySelector('#login-campaign'); s.value = 'TESTCAMP'; s.dispatchEvent(new Event('change', {bubbles: true})); return true;",
            json!([]),
        )
        .await?;
        b.click("#login-submit").await?;
        self.pass_readiness().await?;
        b.wait_for(
            "document.querySelector('#agent-state').textContent === 'Paused'",
            WAIT,
            "VICIdial's session (hidden frame login) and the agent paused",
        )
        .await?;
        Ok(())
    }

    /// The readiness check after login: this test has no SIP server, so the agent continues
    /// with the phone not registered (the check says so and lets them).
    async fn pass_readiness(&self) -> anyhow::Result<()> {
        self.browser
            .wait_for(
                "document.querySelector('#check-continue')",
                WAIT,
                "the readiness check",
            )
            .await?;
        self.browser.click("#check-continue").await?;
        self.browser
            .wait_for("document.querySelector('#dial-number')", WAIT, "the desk")
            .await?;
        Ok(())
    }

    /// The phone's channel enters VICIdial's session conference, as Asterisk (through
    /// AST_update) reports it: no SIP server here, so the simulator records it.
    async fn phone_joins(&self) -> anyhow::Result<()> {
        let res = reqwest::Client::new()
            .post(format!("{}/__sim/channel/1001/join", self.sim.base_url()))
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "channel join: {}", res.status());
        Ok(())
    }

    /// Dials a number through the dial box and waits for the call to be answered.
    async fn dial(&self, number: &str) -> anyhow::Result<()> {
        let b = &self.browser;
        b.press(&[], key::F2).await?;
        let (focused, _) = self.browser.focus_within("dispo-modal").await?;
        assert_eq!(focused, "dial-number", "F2 focuses the number");
        b.type_into("#dial-number", number).await?;
        b.wait_for(
            "document.querySelector('#dial-check').textContent.includes('+1 312-555-1001')",
            WAIT,
            "the server's reading of the number",
        )
        .await?;
        b.wait_for(
            "!document.querySelector('#dial-button').disabled",
            WAIT,
            "Dial enabled",
        )
        .await?;
        b.press(&[], key::ENTER).await?;
        b.wait_for(
            "(document.querySelector('#lead-panel')||{}).textContent && document.querySelector('#lead-panel').textContent.includes('Grace Hopper')",
            WAIT,
            "the lead on screen",
        )
        .await?;
        b.wait_for(
            "document.querySelector('#agent-state').textContent === 'In call' && document.querySelector('#call-clock')",
            WAIT,
            "the call answered, with its clock",
        )
        .await?;
        Ok(())
    }

    /// Saves a screenshot as `<name>.png` in `DIALDECK_E2E_SCREENSHOTS`, when that is set (to
    /// look at the desk as the agent sees it).
    async fn snap(&self, name: &str) -> anyhow::Result<()> {
        if let Some(dir) = std::env::var_os("DIALDECK_E2E_SCREENSHOTS") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir)?;
            self.browser
                .screenshot(&dir.join(format!("{name}.png")))
                .await?;
        }
        Ok(())
    }

    async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        // No SIP server here: the phone's WebSocket to the seeded `wss://dialer.example` fails.
        Ok(self
            .browser
            .console()
            .await?
            .into_iter()
            .filter(|e| e.level == "SEVERE" && !e.message.contains("dialer.example:8089"))
            .map(|e| e.message)
            .collect())
    }
}

const CLEAR: &str = "const el = document.querySelector(arguments[0]); el.value = ''; \
    el.dispatchEvent(new Event('input', {bubbles: true})); return true;";

/// Polls `sql` (one text column) for up to 10 s until it returns `want`; returns the last value.
async fn poll_db(pool: &sqlx::MySqlPool, sql: &str, want: &str) -> anyhow::Result<Option<String>> {
    let mut last = None;
    for _ in 0..100 {
        last = sqlx::query_scalar::<_, String>(sql)
            .fetch_optional(pool)
            .await?;
        if last.as_deref() == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(last)
}

#[tokio::test]
async fn login_refusals_are_sentences_and_the_password_stays_out_of_the_page() -> anyhow::Result<()>
{
    let shift = Shift::start().await?;
    let b = &shift.browser;
    shift.credentials("1001", "not-the-password").await?;
    b.wait_for(
        "document.querySelector('#login-error').textContent",
        WAIT,
        "the refusal",
    )
    .await?;
    assert_eq!(
        shift.browser.text("#login-error").await?,
        "Wrong user or password."
    );
    shift.snap("login-refused").await?;
    // An unknown user reads exactly the same (no enumeration from the page either).
    shift.credentials("9999", "whatever").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.wait_for(
        "document.querySelector('#login-error').textContent === 'Wrong user or password.'",
        WAIT,
        "the same refusal for an unknown user",
    )
    .await?;

    shift.log_in().await?;
    assert_eq!(shift.browser.text("#agent-name").await?, "Ada Agent");
    assert_eq!(
        shift.browser.text("#agent-campaign").await?,
        "Test campaign"
    );
    // A manual campaign: Ready is off and says why; the pause codes are the campaign's.
    let ready = b
        .execute(
            "return [document.querySelector('#ready-button').disabled, document.querySelector('#ready-why').textContent, \
             [...document.querySelectorAll('#pause-code option')].map(o => o.value).join(',')]",
            json!([]),
        )
        .await?;
    assert_eq!(ready[0], json!(true));
    assert!(
        ready[1].as_str().unwrap().contains("Manual campaign"),
        "{ready}"
    );
    assert_eq!(ready[2], json!(",BREAK,LUNCH,TRAIN"), "{ready}");
    // A break with a pause code is VICIdial's state, in words.
    b.execute(
        "const s = document.querySelector('#pause-code'); s.value = 'LUNCH'; s.dispatchEvent(new Event('change', {bubbles: true})); return true;",
        json!([]),
    )
    .await?;
    b.wait_for(
        "document.querySelector('#agent-state').textContent === 'On break: Lunch'",
        WAIT,
        "the break in words",
    )
    .await?;
    shift.snap("desk-on-break").await?;

    // The password never stays in the page, its storage or its URL.
    let leaks = b
        .execute(
            "const p = arguments[0]; return [document.documentElement.outerHTML.includes(p), \
             JSON.stringify(localStorage).includes(p), JSON.stringify(sessionStorage).includes(p), \
             location.href.includes(p), [...document.querySelectorAll('input')].some(i => i.value.includes(p))]",
            json!([seed::PLAIN_PASSWORD]),
        )
        .await?;
    assert_eq!(leaks, json!([false, false, false, false, false]));
    // The two refused attempts are the only failed requests (the browser logs each 401).
    let errors: Vec<String> = shift
        .console_errors()
        .await?
        .into_iter()
        .filter(|e| !(e.contains("/api/login/campaigns") && e.contains("401")))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    shift.browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn an_agents_call_from_login_to_saved_disposition() -> anyhow::Result<()> {
    let shift = Shift::start().await?;
    let b = &shift.browser;
    shift.log_in().await?;
    let live: (String,) =
        sqlx::query_as("SELECT status FROM vicidial_live_agents WHERE user = '1001'")
            .fetch_one(&shift.pool)
            .await?;
    assert_eq!(live.0, "PAUSED");

    // The phone is not in VICIdial's session yet: Dial is off and says why.
    b.type_into("#dial-number", "(312) 555-1001").await?;
    b.wait_for(
        "document.querySelector('#dial-reason').textContent.includes('phone is not in the VICIdial session')",
        WAIT,
        "the reason Dial is off",
    )
    .await?;
    assert_eq!(
        b.execute(
            "return document.querySelector('#dial-button').disabled",
            json!([])
        )
        .await?,
        json!(true)
    );
    // A number that is not one is refused by the server's check, in words.
    b.execute(CLEAR, json!(["#dial-number"])).await?;
    b.type_into("#dial-number", "555 12").await?;
    b.wait_for(
        "document.querySelector('#dial-reason').textContent.length > 0",
        WAIT,
        "the invalid number's reason",
    )
    .await?;
    b.execute(CLEAR, json!(["#dial-number"])).await?;

    shift.phone_joins().await?;
    shift.dial("(312) 555-1001").await?;
    let banner = shift.browser.text("#call-banner").await?;
    assert!(banner.starts_with("In call"), "{banner}");
    assert!(banner.contains("+1 312-555-1001"), "{banner}");
    shift.snap("in-call").await?;
    // The pad sends tones to the customer through VICIdial, pressed quickly or not.
    for key in ["1", "2", "hash"] {
        b.click(&format!("#pad-{key}")).await?;
    }
    b.wait_for(
        "document.querySelector('#dtmf-sent').textContent === 'Tones sent: 12#'",
        WAIT,
        "the tones listed",
    )
    .await?;
    let mut played = String::new();
    for _ in 0..100 {
        played = shift
            .sim
            .ledger()
            .into_iter()
            .filter_map(|e| match e {
                LedgerEntry::Dtmf { agent, digits, .. } if agent == "1001" => Some(digits),
                _ => None,
            })
            .collect();
        if played.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        played, "12P",
        "every tone reached VICIdial's screen (# is P)"
    );

    // F8 hangs up, through VICIdial; the modal opens with focus inside it.
    b.press(&[], key::F8).await?;
    b.wait_for(
        "document.querySelector('#dispo-modal')",
        WAIT,
        "the disposition modal",
    )
    .await?;
    b.wait_for(
        "document.querySelectorAll('.status-option').length > 3",
        WAIT,
        "the statuses",
    )
    .await?;
    b.wait_for(
        "document.querySelector('#dispo-modal').contains(document.activeElement)",
        WAIT,
        "focus in the modal",
    )
    .await?;
    let labels = shift.browser.text("#dispo-modal .statuses").await?;
    assert!(labels.contains("Sale - Campaign"), "{labels}");
    assert!(!labels.contains("XFERX"), "{labels}");
    // The page behind is inert.
    let inert = b
        .execute(
            "return [document.querySelector('.app').inert, document.querySelector('.app').contains(document.querySelector('#dispo-modal'))]",
            json!([]),
        )
        .await?;
    assert_eq!(inert, json!([true, false]));
    shift.snap("modal").await?;

    // Escape, Tab round the ends, a click outside, Back: the modal stays, focus stays in it.
    b.press(&[], key::ESCAPE).await?;
    let mut seen = Vec::new();
    for _ in 0..30 {
        b.press(&[], key::TAB).await?;
        let (id, inside) = shift.browser.focus_within("dispo-modal").await?;
        assert!(inside, "Tab left the modal for {id}");
        seen.push(id);
    }
    assert!(seen.iter().any(|i| i == "dispo-submit"), "{seen:?}");
    assert!(seen.iter().any(|i| i == "dispo-notes"), "{seen:?}");
    b.press(&[key::SHIFT], key::TAB).await?;
    assert!(
        shift.browser.focus_within("dispo-modal").await?.1,
        "Shift+Tab stays inside"
    );
    b.click_at(8, 400).await?;
    b.back().await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let still = b
        .execute(
            "return [!!document.querySelector('#dispo-modal'), document.querySelector('#dial-button').disabled, \
             document.querySelector('#dispo-modal').contains(document.activeElement)]",
            json!([]),
        )
        .await?;
    assert_eq!(
        still,
        json!([true, true, true]),
        "Escape/click outside/Back"
    );
    // A script cannot focus the inert page either.
    let focus_behind = b
        .execute(
            "document.querySelector('#dial-number').focus(); return document.activeElement.id",
            json!([]),
        )
        .await?;
    assert_ne!(focus_behind, json!("dial-number"));

    // A reload keeps the agent logged in and the wrap-up: the modal comes back.
    b.refresh().await?;
    b.wait_for(
        "document.querySelector('#dispo-modal') && document.querySelectorAll('.status-option').length > 3",
        WAIT,
        "the modal after a reload",
    )
    .await?;
    assert_eq!(
        b.execute("return !!document.querySelector('#login-form')", json!([]))
            .await?,
        json!(false),
        "no login after a reload"
    );

    // Saving without a choice is refused on the spot; the hotkey 1 picks SALE.
    b.wait_for(
        "document.activeElement && document.activeElement.name === 'status'",
        WAIT,
        "focus on the statuses after the reload",
    )
    .await?;
    b.press(&[key::CONTROL], key::ENTER).await?;
    b.wait_for(
        "document.querySelector('#dispo-error').textContent === 'Choose a disposition.'",
        WAIT,
        "the missing-choice error",
    )
    .await?;
    b.press(&[], "1").await?;
    let chosen = b
        .execute(
            "return document.querySelector('input[name=status]:checked').value",
            json!([]),
        )
        .await?;
    assert_eq!(chosen, json!("SALE"));
    let notes = "Premium plan, paid by card";
    b.type_into("#dispo-notes", notes).await?;
    shift.snap("modal-filled").await?;
    b.press(&[key::CONTROL], key::ENTER).await?;
    b.wait_for(
        "!document.querySelector('#dispo-modal') && !document.querySelector('.app').inert",
        WAIT,
        "the modal to close",
    )
    .await?;
    b.wait_for(
        "document.querySelector('#toasts').textContent.includes('Saved: Sale - Campaign')",
        WAIT,
        "the saved toast",
    )
    .await?;

    // VICIdial's screen (in the frame) applied it: lead, call log and notes.
    let status = poll_db(
        &shift.pool,
        "SELECT status FROM vicidial_list WHERE lead_id = 1",
        "SALE",
    )
    .await?;
    assert_eq!(status.as_deref(), Some("SALE"));
    let stored = poll_db(
        &shift.pool,
        "SELECT call_notes FROM vicidial_call_notes WHERE lead_id = 1",
        notes,
    )
    .await?;
    assert_eq!(stored.as_deref(), Some(notes));
    // The shift's calls list has it, with VICIdial's sync state in words.
    b.wait_for(
        "[...document.querySelectorAll('#recent-list .recent-call')].some(c => c.textContent.includes('Grace Hopper') && c.textContent.includes('Saved in VICIdial'))",
        WAIT,
        "the call in the recent calls, saved in VICIdial",
    )
    .await?;
    shift.snap("after-save").await?;
    b.wait_for(
        "document.querySelector('#agent-state').textContent === 'Paused'",
        WAIT,
        "paused for the next call",
    )
    .await?;
    let errors = shift.console_errors().await?;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    shift.browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_reload_rejoins_vicidials_screen_without_the_password() -> anyhow::Result<()> {
    let shift = Shift::start().await?;
    let b = &shift.browser;
    shift.log_in().await?;
    let first: (String,) =
        sqlx::query_as("SELECT conf_exten FROM vicidial_live_agents WHERE user = '1001'")
            .fetch_one(&shift.pool)
            .await?;
    let logins_before: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vicidial_user_log WHERE user = '1001' AND event = 'LOGIN'",
    )
    .fetch_one(&shift.pool)
    .await?;

    // The reload empties the frame: VICIdial's screen stops polling, the desk says it is
    // reconnecting and logs the screen in again by itself.
    b.refresh().await?;
    b.wait_for(
        "document.querySelector('#dial-number') && !document.querySelector('#login-form')",
        WAIT,
        "the desk straight after the reload",
    )
    .await?;
    b.wait_for(
        "(document.querySelector('#warn-screen')||{}).textContent && document.querySelector('#warn-screen').textContent.includes('Reconnecting VICIdial')",
        Duration::from_secs(30),
        "the reconnecting notice",
    )
    .await?;
    b.wait_for(
        "!document.querySelector('#warn-screen') && document.querySelector('#agent-state').textContent === 'Paused'",
        Duration::from_secs(30),
        "VICIdial's screen back",
    )
    .await?;
    let logins_after: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vicidial_user_log WHERE user = '1001' AND event = 'LOGIN'",
    )
    .fetch_one(&shift.pool)
    .await?;
    assert_eq!(
        logins_after,
        logins_before + 1,
        "one more screen login, no loop"
    );
    let again: (String,) =
        sqlx::query_as("SELECT conf_exten FROM vicidial_live_agents WHERE user = '1001'")
            .fetch_one(&shift.pool)
            .await?;
    assert!(!again.0.is_empty() && !first.0.is_empty());
    let leaks = b
        .execute(
            "const p = arguments[0]; return JSON.stringify(localStorage).includes(p) || JSON.stringify(sessionStorage).includes(p) || location.href.includes(p) || document.documentElement.outerHTML.includes(p)",
            json!([seed::PLAIN_PASSWORD]),
        )
        .await?;
    assert_eq!(leaks, json!(false));
    // Nothing was typed: the readiness check was done in this tab already.
    assert_eq!(
        b.execute("return !!document.querySelector('#phone-check')", json!([]))
            .await?,
        json!(false)
    );
    shift.browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_due_callback_is_dialled_in_one_click_and_a_new_one_set_in_the_modal(
) -> anyhow::Result<()> {
    let shift = Shift::start().await?;
    let b = &shift.browser;
    shift.log_in().await?;
    shift.phone_joins().await?;
    let list: Value = b
        .wait_for(
            "document.querySelectorAll('#callback-list .callback-item').length >= 1 && \
             [...document.querySelectorAll('#callback-list .callback-item')].map(i => i.textContent)",
            WAIT,
            "my callbacks",
        )
        .await?;
    let items: Vec<String> = serde_json::from_value(list)?;
    // Lead 6's callback is 1001's own and due; lead 7's is for anyone, tomorrow.
    let due = items
        .iter()
        .find(|t| t.contains("Wants the premium plan"))
        .expect("lead 6's callback");
    assert!(due.contains("Due") && due.contains("Me"), "{due}");
    if let Some(later) = items.iter().find(|t| t.contains("Call after 10am")) {
        assert!(
            later.contains("Anyone") && !later.contains("Due"),
            "{later}"
        );
    }
    b.wait_for(
        "document.querySelector('#callback-list .callback-item.due .callback-dial') && !document.querySelector('#callback-list .callback-item.due .callback-dial').disabled",
        WAIT,
        "the due callback's Call button enabled",
    )
    .await?;
    b.click("#callback-list .callback-item.due .callback-dial")
        .await?;
    b.wait_for(
        "document.querySelector('#agent-state').textContent === 'In call' && document.querySelector('#lead-panel')",
        WAIT,
        "the callback's call",
    )
    .await?;
    shift.snap("callback-call").await?;
    let lead: (String,) = sqlx::query_as("SELECT first_name FROM vicidial_list WHERE lead_id = 6")
        .fetch_one(&shift.pool)
        .await?;
    let panel = shift.browser.text("#lead-panel").await?;
    assert!(panel.contains(&lead.0), "{panel} should show lead 6");
    // VICIdial took the callback: it is no longer due in the list.
    b.wait_for(
        "![...document.querySelectorAll('#callback-list .callback-item')].some(i => i.textContent.includes('Wants the premium plan'))",
        WAIT,
        "the taken callback gone from the list",
    )
    .await?;

    // The call ends with a new callback, set in the agent's own time zone, for the agent
    // (this user may keep callbacks and the campaign checks "Me"; "Anyone" is always offered,
    // as VICIdial's screen always allows ANYONE).
    b.press(&[], key::F8).await?;
    b.wait_for(
        "document.querySelectorAll('#dispo-modal .status-option').length > 3 && document.activeElement.name === 'status'",
        WAIT,
        "the modal with focus on the statuses",
    )
    .await?;
    b.press(&[], "3").await?;
    b.wait_for(
        "document.querySelector('#callback-fields')",
        WAIT,
        "the callback fields for CB",
    )
    .await?;
    let picker = b
        .execute(
            "const at = document.querySelector('#cb-at');              return [at.min.length, at.max.slice(0, 10), !!document.querySelector('#cb-anyone'),              document.querySelector('#cb-me').checked, document.querySelector('#cb-zone').textContent];",
            json!([]),
        )
        .await?;
    let in_30_days = (chrono::Local::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(picker[0], json!(16), "min is now, to the minute: {picker}");
    assert_eq!(
        picker[1],
        json!(in_30_days),
        "callback_days_limit 30: {picker}"
    );
    assert_eq!(picker[2], json!(true), "Anyone is offered beside Me");
    assert_eq!(picker[3], json!(true), "Me is checked (my_callback_option)");
    assert!(picker[4].as_str().unwrap().starts_with('('), "{picker}");
    shift.snap("modal-callback").await?;
    b.press(&[key::CONTROL], key::ENTER).await?;
    b.wait_for(
        "document.querySelector('#dispo-error').textContent === 'Pick the callback date and time.'",
        WAIT,
        "the missing callback time",
    )
    .await?;
    let when = (chrono::Local::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT10:30")
        .to_string();
    b.execute(
        "const el = document.querySelector('#cb-at'); el.value = arguments[0];          el.dispatchEvent(new Event('input', {bubbles: true})); return true;",
        json!([when]),
    )
    .await?;
    b.type_into("#cb-comments", "Call after lunch").await?;
    b.press(&[key::CONTROL], key::ENTER).await?;
    b.wait_for(
        "!document.querySelector('#dispo-modal')",
        WAIT,
        "the modal to close",
    )
    .await?;
    let recipient = poll_db(
        &shift.pool,
        "SELECT recipient FROM vicidial_callbacks WHERE lead_id = 6 AND comments = 'Call after lunch' \
         AND status IN ('ACTIVE', 'LIVE')",
        "USERONLY",
    )
    .await?;
    assert_eq!(recipient.as_deref(), Some("USERONLY"));
    let _ = &shift.server;
    shift.browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn ready_and_pause_where_the_campaign_dials_by_itself() -> anyhow::Result<()> {
    let shift = Shift::start_with(&[
        "UPDATE vicidial_campaigns SET dial_method = 'RATIO', auto_dial_level = '1' WHERE campaign_id = 'TESTCAMP'",
    ])
    .await?;
    let b = &shift.browser;
    shift.log_in().await?;
    let status = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT status FROM vicidial_live_agents WHERE user = '1001'",
        )
        .fetch_one(&shift.pool)
        .await
    };
    b.wait_for(
        "document.querySelector('#ready-button') && !document.querySelector('#ready-button').disabled",
        WAIT,
        "Ready offered",
    )
    .await?;
    // F9 is Ready/Pause.
    b.press(&[], key::F9).await?;
    b.wait_for(
        "document.querySelector('#agent-state').textContent === 'Ready' && document.querySelector('#pause-button')",
        WAIT,
        "ready for VICIdial's calls",
    )
    .await?;
    assert_eq!(status().await?, "READY");
    // VICIdial takes manual dials only while paused: Dial says so.
    b.type_into("#dial-number", "(312) 555-1001").await?;
    b.wait_for(
        "document.querySelector('#dial-reason').textContent.startsWith('Pause first')",
        WAIT,
        "the reason Dial is off while ready",
    )
    .await?;
    shift.snap("ready").await?;
    // A pause with a code is a break, in words.
    b.execute(
        "const s = document.querySelector('#pause-code'); s.value = 'TRAIN'; s.dispatchEvent(new Event('change', {bubbles: true})); return true;",
        json!([]),
    )
    .await?;
    b.press(&[], key::F9).await?;
    b.wait_for(
        "document.querySelector('#agent-state').textContent === 'On break: Training'",
        WAIT,
        "the break",
    )
    .await?;
    assert_eq!(status().await?, "PAUSED");
    let errors = shift.console_errors().await?;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    shift.browser.close().await?;
    Ok(())
}
