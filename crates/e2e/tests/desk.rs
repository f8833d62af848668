//! An agent's whole call in the browser, against the real binary, a real MariaDB with
//! VICIdial's schema and the VICIdial simulator: log in, VICIdial's own screen logs in inside
//! the hidden frame and polls, manual dial, the lead on screen, hang up, the mandatory
//! disposition modal (Escape does not close it; dialling is refused meanwhile), save, and
//! VICIdial's tables show the disposition.

use std::time::Duration;

use dialdeck_e2e::{Browser, ChromeDriver, DialdeckServer};
use dialdeck_vicidial_sim::{mariadb::MariaDb, seed, SimOptions, VicidialSim};
use serde_json::json;
use sqlx::ConnectOptions;

const SET_VALUE: &str = "const el = document.querySelector(arguments[0]); el.value = arguments[1]; \
    el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true;";

/// Clicks the element `selector` finds.
async fn click(browser: &Browser, selector: &str) -> anyhow::Result<()> {
    browser
        .execute(
            "document.querySelector(arguments[0]).click(); return true;",
            json!([selector]),
        )
        .await
        .map(|_| ())
}

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
async fn an_agents_call_from_login_to_saved_disposition() -> anyhow::Result<()> {
    let maria = MariaDb::shared();
    let name = maria.fresh_database().await?;
    let mut conn = maria.options(&name).connect().await?;
    seed::seed(&mut conn, false).await?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .connect_with(maria.options(&name))
        .await?;
    // The browser's screen polls about once a second, as VICIdial's does; no virtual screen.
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
    let browser = driver.browser(&[]).await?;
    browser.goto(&server.url).await?;
    browser
        .wait_for(
            "!document.querySelector('#login-form button').disabled",
            Duration::from_secs(15),
            "login enabled",
        )
        .await?;
    browser
        .execute(SET_VALUE, json!(["#login-user", "1001"]))
        .await?;
    browser
        .execute(SET_VALUE, json!(["#login-password", seed::PLAIN_PASSWORD]))
        .await?;
    click(&browser, "#login-form button").await?;
    browser
        .wait_for(
            "document.querySelector('#agent-name')",
            Duration::from_secs(10),
            "the desk",
        )
        .await?;
    // VICIdial's own screen logged in inside the hidden frame and polls: the agent is ready.
    browser
        .wait_for(
            "document.querySelector('#agent-state').textContent.includes('Ready to dial')",
            Duration::from_secs(20),
            "VICIdial's session (hidden frame login)",
        )
        .await?;
    let live: (String,) =
        sqlx::query_as("SELECT status FROM vicidial_live_agents WHERE user = '1001'")
            .fetch_one(&pool)
            .await?;
    assert_eq!(live.0, "PAUSED");

    browser
        .execute(SET_VALUE, json!(["#dial-number", "(312) 555-1001"]))
        .await?;
    browser
        .wait_for(
            "!document.querySelector('#dial-button').disabled",
            Duration::from_secs(5),
            "dial enabled",
        )
        .await?;
    click(&browser, "#dial-button").await?;
    browser
        .wait_for(
            "(document.querySelector('#lead-panel')||{}).textContent && document.querySelector('#lead-panel').textContent.includes('Grace Hopper')",
            Duration::from_secs(15),
            "the lead on screen",
        )
        .await?;
    browser
        .wait_for(
            "document.querySelector('#agent-state').textContent.includes('In call')",
            Duration::from_secs(10),
            "the call answered",
        )
        .await?;
    click(&browser, "#hangup-button").await?;
    browser
        .wait_for(
            "document.querySelector('#dispo-modal')",
            Duration::from_secs(15),
            "the disposition modal",
        )
        .await?;
    // The modal cannot be escaped, and dialling is off meanwhile.
    browser
        .execute(
            "document.querySelector('#dispo-modal').dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})); return true;",
            json!([]),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = browser
        .execute("return !!document.querySelector('#dispo-modal') && document.querySelector('#dial-button').disabled", json!([]))
        .await?;
    assert_eq!(still, json!(true));
    // The statuses are VICIdial's: the campaign's SALE override is offered, non-selectable ones are not.
    let labels = browser
        .wait_for(
            "document.querySelectorAll('.status-option').length > 3 && [...document.querySelectorAll('.status-option')].map(l => l.textContent).join('|')",
            Duration::from_secs(10),
            "the statuses",
        )
        .await?;
    let labels = labels.as_str().unwrap_or_default().to_string();
    assert!(labels.contains("Sale - Campaign"), "{labels}");
    assert!(!labels.contains("XFERX"), "{labels}");
    // Saving without a choice is refused on the spot.
    click(&browser, "#dispo-submit").await?;
    browser
        .wait_for(
            "(document.querySelector('#dispo-error')||{}).textContent",
            Duration::from_secs(5),
            "the missing-choice error",
        )
        .await?;
    click(&browser, "input[name=status][value=SALE]").await?;
    browser
        .execute(
            SET_VALUE,
            json!(["#dispo-notes", "Premium plan, paid by card"]),
        )
        .await?;
    click(&browser, "#dispo-submit").await?;
    browser
        .wait_for(
            "!document.querySelector('#dispo-modal')",
            Duration::from_secs(10),
            "the modal to close",
        )
        .await?;
    // VICIdial's screen (in the frame) applied it: lead, call log and notes.
    let status = poll_db(
        &pool,
        "SELECT status FROM vicidial_list WHERE lead_id = 1",
        "SALE",
    )
    .await?;
    assert_eq!(status.as_deref(), Some("SALE"));
    // The server stores the notes once it has seen the screen apply the disposition.
    let notes = "Premium plan, paid by card";
    let stored = poll_db(
        &pool,
        "SELECT call_notes FROM vicidial_call_notes WHERE lead_id = 1",
        notes,
    )
    .await?;
    assert_eq!(stored.as_deref(), Some(notes));
    browser
        .wait_for(
            "document.querySelector('#agent-state').textContent.includes('Ready to dial')",
            Duration::from_secs(15),
            "ready for the next call",
        )
        .await?;
    // This test has no SIP server (the softphone tests have Kamailio): the phone's WebSocket to
    // the seeded `wss://dialer.example` fails, and the panel says so. Nothing else may fail.
    let phone = browser
        .execute(
            "return (document.getElementById('phone-registration')||{}).textContent || ''",
            json!([]),
        )
        .await?;
    assert_ne!(phone, json!("Registered"), "{phone}");
    let errors: Vec<_> = browser
        .console()
        .await?
        .into_iter()
        .filter(|e| e.level == "SEVERE" && !e.message.contains("'wss://dialer.example:8089/ws'"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await?;
    Ok(())
}
