//! Logging in against a real MariaDB with VICIdial's schema and seed (and the VICIdial
//! simulator where VICIdial's own screen matters): campaigns from VICIdial's `LogiNCamPaigns`
//! rules, a refusal code per cause, the screen's login form kept sealed in the session so a
//! reload needs no password, VICIdial's failure counters, the throttles that keep dialdeck
//! from locking anyone out of VICIdial, and the server's load limits.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use dialdeck_server::session;
use dialdeck_shared::{AgentProfile, CampaignOption, ScreenLoginForm};
use dialdeck_vicidial_sim::{mariadb::MariaDb, SimOptions, VicidialSim};
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Connection, MySqlPool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::vicidial::{fresh_vicidial_db, spawn, App};

const CLOSED: &str = "http://127.0.0.1:9";

fn creds(user: &str, password: &str, campaign: Option<&str>) -> Value {
    json!({"user": user, "password": password, "campaign": campaign})
}

/// Logs `user` into `campaign` and returns the cookie and the profile.
async fn log_in(app: &App, user: &str, password: &str, campaign: &str) -> (String, Value) {
    let (code, body, headers) = app
        .post(None, "/api/login", &creds(user, password, Some(campaign)))
        .await;
    assert_eq!(code, 200, "{body}");
    let set = headers["set-cookie"].to_str().unwrap();
    (set.split(';').next().unwrap().to_string(), body)
}

/// `(status, code)` of one call.
async fn outcome(app: &App, path: &str, body: &Value) -> (u16, Option<String>) {
    let (status, body, _) = app.post(None, path, body).await;
    (status, body["code"].as_str().map(str::to_string))
}

async fn counters(db: &MySqlPool, user: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT CAST(failed_login_count AS SIGNED), \
         CAST(UNIX_TIMESTAMP() - UNIX_TIMESTAMP(last_login_date) AS SIGNED) FROM vicidial_users WHERE user = ?",
    )
    .bind(user)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn set_counters(db: &MySqlPool, user: &str, failed: i64, minutes_ago: i64) {
    sqlx::query(
        "UPDATE vicidial_users SET failed_login_count = ?, last_login_date = NOW() - INTERVAL ? MINUTE WHERE user = ?",
    )
    .bind(failed)
    .bind(minutes_ago)
    .bind(user)
    .execute(db)
    .await
    .unwrap();
}

async fn forget_dialdeck_failures(app: &App) {
    sqlx::query("DELETE FROM login_failures")
        .execute(app.state.store())
        .await
        .unwrap();
}

/// Captures every tracing event of the current thread (the test's runtime, and so the
/// server it spawned) at every level.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn campaigns_follow_vicidials_login_list_and_a_login_names_one() {
    let (url, db) = fresh_vicidial_db(false).await;
    sqlx::query(
        "INSERT INTO vicidial_campaigns (campaign_id, campaign_name, active, dial_method, no_hopper_leads_logins) VALUES \
         ('OFFCAMP', 'Retired', 'N', 'MANUAL', 'Y'), ('OTHER', 'Other team', 'Y', 'MANUAL', 'Y')",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("UPDATE vicidial_user_groups SET allowed_campaigns = ' TESTCAMP DNCCAMP OFFCAMP -' WHERE user_group = 'AGENTS'")
        .execute(&db)
        .await
        .unwrap();
    // No single-campaign default: every login names its campaign.
    let app = spawn(&url, db.clone(), CLOSED, &["--vicidial-campaign", ""]).await;

    let (code, list, headers) = app
        .post(
            None,
            "/api/login/campaigns",
            &creds("1001", "agentpass1", None),
        )
        .await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(headers["cache-control"], "no-store");
    let list: Vec<CampaignOption> = serde_json::from_value(list).unwrap();
    let ids: Vec<&str> = list.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(
        ids,
        ["DNCCAMP", "TESTCAMP"],
        "the group's active campaigns, by id"
    );
    assert_eq!(list[1].campaign_name, "Test campaign");
    // -ALL-CAMPAIGNS-: every active campaign.
    let (_, all, _) = app
        .post(
            None,
            "/api/login/campaigns",
            &creds("admin", "adminpass", None),
        )
        .await;
    let all: Vec<CampaignOption> = serde_json::from_value(all).unwrap();
    let ids: Vec<&str> = all.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(ids, ["DNCCAMP", "OTHER", "TESTCAMP"]);
    // The password is checked as for a login, counters and all.
    assert_eq!(
        outcome(&app, "/api/login/campaigns", &creds("1001", "nope", None)).await,
        (401, Some("invalid_credentials".into()))
    );
    assert_eq!(counters(&db, "1001").await.0, 1);

    // A login without a campaign is refused before the password is looked at.
    assert_eq!(
        outcome(&app, "/api/login", &creds("1001", "nope", None)).await,
        (400, Some("campaign_required".into()))
    );
    assert_eq!(
        counters(&db, "1001").await.0,
        1,
        "no attempt was spent on it"
    );
    for campaign in ["OTHER", "OFFCAMP", "NOSUCH", "x'; --"] {
        assert_eq!(
            outcome(
                &app,
                "/api/login",
                &creds("1001", "agentpass1", Some(campaign))
            )
            .await,
            (403, Some("campaign_not_allowed".into())),
            "{campaign}"
        );
    }
    // VICIdial's campaign ids are upper case; what the agent picked is what the session keeps.
    let (cookie, profile) = log_in(&app, "1001", "agentpass1", "dnccamp").await;
    let profile: AgentProfile = serde_json::from_value(profile).unwrap();
    assert_eq!(
        (profile.campaign_id.as_str(), profile.campaign_name.as_str()),
        ("DNCCAMP", "DNC campaign")
    );
    let stored: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT campaign_id FROM agent_sessions WHERE user = '1001'")
            .fetch_all(app.state.store())
            .await
            .unwrap();
    assert_eq!(stored, [(Some("DNCCAMP".to_string()),)]);
    let (code, me) = app.get(&cookie, "/api/me").await;
    assert_eq!(code, 200);
    assert_eq!(
        (me["campaign_id"].as_str(), me["campaign_name"].as_str()),
        (Some("DNCCAMP"), Some("DNC campaign"))
    );
}

#[tokio::test]
async fn every_refusal_has_its_own_code() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &[]).await;
    let login = |u: &str, p: &str| creds(u, p, Some("TESTCAMP"));
    let (wrong_code, wrong, _) = app.post(None, "/api/login", &login("1001", "nope")).await;
    assert_eq!(
        (wrong_code, wrong["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    // An unknown user gets the very same answer as a wrong password.
    let (ghost_code, ghost, _) = app
        .post(None, "/api/login", &login("ghost77", "nope"))
        .await;
    assert_eq!((ghost_code, &ghost), (wrong_code, &wrong));
    assert_eq!(
        outcome(&app, "/api/login", &login("1004", "locked1")).await,
        (403, Some("locked_out".into()))
    );
    assert_eq!(
        outcome(&app, "/api/login", &login("1003", "gone")).await,
        (403, Some("login_not_allowed".into()))
    );
    assert_eq!(
        outcome(&app, "/api/login", &login("apiuser", "apipass")).await,
        (403, Some("login_not_allowed".into()))
    );
    assert_eq!(
        outcome(&app, "/api/login", &login("admin", "adminpass")).await,
        (403, Some("no_phone".into()))
    );

    // VICIdial's database is down: every login route says so, with its own code.
    let down = "mysql://dialdeck:x@127.0.0.1:9/asterisk";
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy(down)
        .unwrap();
    let app = spawn(down, pool, CLOSED, &[]).await;
    for path in ["/api/login", "/api/login/campaigns", "/api/admin/login"] {
        let (code, body, _) = app.post(None, path, &login("1001", "agentpass1")).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (503, Some("vicidial_unreachable")),
            "{path}: {body}"
        );
        assert!(body["message"].as_str().unwrap().contains("VICIdial"));
    }
}

/// The VICIdial simulator (Agent API, screen) over `db`.
async fn simulator(db: &MySqlPool) -> VicidialSim {
    let opts = SimOptions {
        poll_interval: Duration::from_millis(100),
        answer_after: Duration::from_millis(200),
    };
    VicidialSim::start(db.clone(), opts).await.unwrap()
}

/// Logs VICIdial's own screen in as the browser does: the form posted to its URL.
async fn post_screen_form(form: &ScreenLoginForm) -> String {
    let fields: Vec<(String, String)> = form
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect();
    reqwest::Client::new()
        .post(&form.url)
        .form(&fields)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn screen_form(app: &App, cookie: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    app.post(Some(cookie), "/api/agent/screen-login", &json!({}))
        .await
}

#[tokio::test]
async fn a_reload_logs_vicidials_screen_in_without_the_password() {
    let (url, db) = fresh_vicidial_db(false).await;
    let sim = simulator(&db).await;
    let app = spawn(&url, db.clone(), &sim.base_url(), &[]).await;
    let (cookie, profile) = log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    // The password no longer travels in the profile.
    assert!(profile.get("screen").is_none(), "{profile}");
    assert!(!profile.to_string().contains("agentpass1"));
    let (_, me) = app.get(&cookie, "/api/me").await;
    assert!(me.get("screen").is_none() && !me.to_string().contains("agentpass1"));

    // A reload is a fresh page with only the cookie: it asks the server for the form.
    for _ in 0..2 {
        let (code, form, headers) = screen_form(&app, &cookie).await;
        assert_eq!(code, 200, "{form}");
        assert_eq!(headers["cache-control"], "no-store");
        let form: ScreenLoginForm = serde_json::from_value(form).unwrap();
        assert_eq!(form.url, format!("{}/agc/vicidial.php", sim.base_url()));
        let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            dialdeck_vicidial_sim::LOGIN_FORM_FIELDS,
            "VICIdial's own login form, in its order"
        );
        let value = |n: &str| {
            form.fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.as_str())
                .unwrap()
        };
        assert_eq!(
            [
                value("VD_login"),
                value("VD_pass"),
                value("VD_campaign"),
                value("phone_login"),
                value("phone_pass")
            ],
            ["1001", "agentpass1", "TESTCAMP", "cc1001", "phonepass"]
        );
        for size in ["JS_browser_width", "JS_browser_height"] {
            assert!(value(size).parse::<u32>().unwrap() >= 600, "{size}");
        }
        // VICIdial's screen accepts it: a session with a conference.
        let page = post_screen_form(&form).await;
        assert!(page.contains("session_id 86"), "{page}");
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_live_agents WHERE user = '1001' AND campaign_id = 'TESTCAMP'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn the_screen_password_is_sealed_in_the_store_and_never_logged() {
    let (logs, _guard) = Logs::capture();
    let (url, db) = fresh_vicidial_db(false).await;
    let password = "Zq7-unique.Pw42";
    sqlx::query("UPDATE vicidial_users SET pass = ? WHERE user = '1001'")
        .bind(password)
        .execute(&db)
        .await
        .unwrap();
    let app = spawn(&url, db, CLOSED, &[]).await;
    let (code, _, _) = app
        .post(None, "/api/login/campaigns", &creds("1001", password, None))
        .await;
    assert_eq!(code, 200);
    let (cookie, _) = log_in(&app, "1001", password, "TESTCAMP").await;
    let (code, form, _) = screen_form(&app, &cookie).await;
    assert_eq!(code, 200);
    assert!(form.to_string().contains(password), "the form carries it");
    assert_eq!(
        outcome(
            &app,
            "/api/login",
            &creds("1001", "Zq7-wrong", Some("TESTCAMP"))
        )
        .await
        .0,
        401
    );

    // The store has it only sealed: not in clear, not merely encoded.
    let rows: Vec<(String, String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT token_hash, user, campaign_id, screen_secret FROM agent_sessions")
            .fetch_all(app.state.store())
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let (hash, user, campaign, sealed) = &rows[0];
    let sealed = sealed
        .as_deref()
        .expect("the session keeps the password, sealed");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .unwrap();
    for column in [hash.as_str(), user, campaign.as_deref().unwrap(), sealed] {
        assert!(!column.contains(password), "{column}");
    }
    assert!(!String::from_utf8_lossy(&decoded).contains(password));
    assert!(
        decoded.len() >= 12 + password.len() + 16,
        "nonce, ciphertext, tag"
    );

    // Nothing logged it, at any level, though the requests were logged.
    let (code, _, _) = app.post(Some(&cookie), "/api/logout", &json!({})).await;
    assert_eq!(code, 204);
    let text = logs.text();
    assert!(
        text.contains("agent logged in"),
        "the capture works: {text}"
    );
    assert!(
        text.contains("/api/agent/screen-login"),
        "requests are traced"
    );
    assert!(!text.contains(password), "{text}");
    assert!(!text.contains("Zq7-wrong"), "{text}");
}

#[tokio::test]
async fn only_the_sessions_own_same_site_cookie_opens_the_screen_form_and_logout_destroys_it() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let (first, _) = log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    // The agent changes the password in VICIdial and logs in again in another browser.
    sqlx::query("UPDATE vicidial_users SET pass = 'newpass22' WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    let (second, _) = log_in(&app, "1001", "newpass22", "TESTCAMP").await;
    let pass_of = |form: &Value| {
        form["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "VD_pass")
            .map(|f| f["value"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(pass_of(&screen_form(&app, &first).await.1), "agentpass1");
    assert_eq!(pass_of(&screen_form(&app, &second).await.1), "newpass22");

    // Cross-site: refused, whatever the cookie.
    let res = app
        .http
        .post(format!("{}/api/agent/screen-login", app.url))
        .header("cookie", &first)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "cross_site_request");
    let res = app
        .http
        .post(format!("{}/api/agent/screen-login", app.url))
        .header("cookie", &first)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(screen_form(&app, "dialdeck_session=").await.0, 401);

    // The first session's sealed password copied into the second's row: the second cookie
    // cannot open it (the key is derived from the cookie, and the row is bound in).
    let hash = |cookie: &str| {
        use sha2::Digest;
        let token = cookie.trim_start_matches("dialdeck_session=");
        sha2::Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let sealed: Option<String> =
        sqlx::query_scalar("SELECT screen_secret FROM agent_sessions WHERE token_hash = ?")
            .bind(hash(&first))
            .fetch_one(app.state.store())
            .await
            .unwrap();
    sqlx::query("UPDATE agent_sessions SET screen_secret = ? WHERE token_hash = ?")
        .bind(&sealed)
        .bind(hash(&second))
        .execute(app.state.store())
        .await
        .unwrap();
    let (code, body, _) = screen_form(&app, &second).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("screen_login_unavailable")),
        "{body}"
    );
    assert!(!body.to_string().contains("agentpass1"));

    // An admin session keeps no password and has no screen.
    let (code, _, headers) = app
        .post(None, "/api/admin/login", &creds("admin", "adminpass", None))
        .await;
    assert_eq!(code, 200);
    let admin = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(screen_form(&app, &admin).await.0, 409);

    // Logout destroys it: the row is gone and the cookie opens nothing.
    let (code, _, _) = app.post(Some(&first), "/api/logout", &json!({})).await;
    assert_eq!(code, 204);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agent_sessions WHERE token_hash = ?")
        .bind(hash(&first))
        .fetch_one(app.state.store())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(screen_form(&app, &first).await.0, 401);
}

#[tokio::test]
async fn dialdeck_stops_checking_before_vicidial_would_lock_and_unknown_users_look_the_same() {
    let (url, db) = fresh_vicidial_db(false).await;
    let sim = simulator(&db).await;
    let app = spawn(&url, db.clone(), &sim.base_url(), &[]).await;
    // 1001 logged in a minute ago: from now on VICIdial would lock at 10 failures.
    let (cookie, _) = log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    let form: ScreenLoginForm = serde_json::from_value(screen_form(&app, &cookie).await.1).unwrap();
    let mut answers = Vec::new();
    for user in ["1001", "nobody42"] {
        for i in 1..=5 {
            let (code, body, _) = app
                .post(
                    None,
                    "/api/login",
                    &creds(user, "wrong-guess", Some("TESTCAMP")),
                )
                .await;
            assert_eq!(
                (code, body["code"].as_str()),
                (401, Some("invalid_credentials")),
                "{user} #{i}"
            );
        }
        // The sixth is not checked at all, not even with the right password.
        let (code, body, headers) = app
            .post(
                None,
                "/api/login",
                &creds(user, "agentpass1", Some("TESTCAMP")),
            )
            .await;
        assert_eq!(
            (code, body["code"].as_str()),
            (429, Some("too_many_attempts")),
            "{user}"
        );
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((800..=900).contains(&retry), "{retry}");
        answers.push(body);
    }
    assert_eq!(
        answers[0], answers[1],
        "a known agent and a stranger look the same"
    );
    assert_eq!(
        counters(&db, "1001").await.0,
        5,
        "dialdeck's failures stop halfway to VICIdial's lock"
    );
    // VICIdial's own screen still lets the agent in (no lockout), with the session's form.
    let page = post_screen_form(&form).await;
    assert!(page.contains("session_id"), "{page}");
    assert!(!page.contains("Too many login attempts"), "{page}");
}

#[tokio::test]
async fn vicidials_counters_are_written_as_vicidial_writes_them() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let attempt = |p: &'static str| creds("1001", p, Some("TESTCAMP"));
    // Seeded: no failures, last login long ago. A failure counts; the date stays.
    let (_, long_ago) = counters(&db, "1001").await;
    assert!(long_ago > 86_400);
    assert_eq!(outcome(&app, "/api/login", &attempt("nope")).await.0, 401);
    let (failed, since) = counters(&db, "1001").await;
    assert_eq!(failed, 1);
    assert!(
        since >= long_ago,
        "last_login_date is only set by logins and lock restarts"
    );

    // Ten failures long after the last login are no lock: the next failure restarts at 1.
    forget_dialdeck_failures(&app).await;
    set_counters(&db, "1001", 10, 60).await;
    assert_eq!(outcome(&app, "/api/login", &attempt("nope")).await.0, 401);
    let (failed, since) = counters(&db, "1001").await;
    assert_eq!((failed, since < 60), (1, true));

    // A good login clears the counter and sets the date.
    forget_dialdeck_failures(&app).await;
    set_counters(&db, "1001", 3, 60).await;
    log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    let (failed, since) = counters(&db, "1001").await;
    assert_eq!((failed, since < 60), (0, true));

    // Locked (ten failures within 15 minutes of the last login): refused, nothing written.
    set_counters(&db, "1001", 10, 1).await;
    assert_eq!(
        outcome(&app, "/api/login", &attempt("agentpass1")).await,
        (403, Some("locked_out".into()))
    );
    assert_eq!(counters(&db, "1001").await.0, 10);
    // The lock has passed after 15 minutes.
    set_counters(&db, "1001", 10, 16).await;
    log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    assert_eq!(counters(&db, "1001").await.0, 0);

    // Failures made elsewhere (VICIdial's own login page) brought the counter to dialdeck's
    // limit: dialdeck does not add the ones that would lock, and says when to come back.
    set_counters(&db, "1001", 5, 2).await;
    let (code, body, headers) = app.post(None, "/api/login", &attempt("agentpass1")).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((700..=780).contains(&retry), "{retry}");
    assert_eq!(counters(&db, "1001").await.0, 5);
}

#[tokio::test]
async fn the_same_bcrypt_work_is_done_for_unknown_users() {
    let (logs, _guard) = Logs::capture();
    let (url, db) = fresh_vicidial_db(true).await;
    let app = spawn(&url, db, CLOSED, &[]).await;
    let hashed = |logs: &Logs| logs.text().matches("VICIdial pass_hash computed").count();
    assert_eq!(
        outcome(
            &app,
            "/api/login",
            &creds("1002", "wrong", Some("TESTCAMP"))
        )
        .await
        .0,
        401
    );
    let known = hashed(&logs);
    assert_eq!(known, 1);
    assert_eq!(
        outcome(
            &app,
            "/api/login",
            &creds("stranger9", "wrong", Some("TESTCAMP"))
        )
        .await
        .0,
        401
    );
    assert_eq!(
        hashed(&logs) - known,
        known,
        "as much work for a name VICIdial does not know"
    );
    log_in(
        &app,
        "1002",
        dialdeck_vicidial_sim::seed::BCRYPT_PASSWORD,
        "TESTCAMP",
    )
    .await;
    assert_eq!(hashed(&logs), 3);
}

#[tokio::test]
async fn one_client_address_is_throttled_across_the_login_routes() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(
        &url,
        db.clone(),
        CLOSED,
        &[
            "--login-per-ip-per-minute",
            "1",
            "--login-per-ip-burst",
            "3",
        ],
    )
    .await;
    let ok = creds("1001", "agentpass1", Some("TESTCAMP"));
    assert_eq!(outcome(&app, "/api/login/campaigns", &ok).await.0, 200);
    assert_eq!(outcome(&app, "/api/login", &ok).await.0, 200);
    assert_eq!(
        outcome(&app, "/api/admin/login", &creds("1001", "nope", None))
            .await
            .0,
        401
    );
    let (code, body, headers) = app
        .post(None, "/api/login", &creds("1001", "nope", Some("TESTCAMP")))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        counters(&db, "1001").await.0,
        1,
        "the refused attempt never reached VICIdial"
    );
    // Other routes are not throttled.
    assert_eq!(app.get("", "/api/config").await.0, 200);
    // Without trusted proxies, X-Forwarded-For is not believed.
    let res = app
        .http
        .post(format!("{}/api/login", app.url))
        .header("origin", &app.url)
        .header("x-forwarded-for", "198.51.100.7")
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);

    // Behind a trusted proxy each forwarded client has its own budget.
    let app = spawn(
        &url,
        db,
        CLOSED,
        &[
            "--login-per-ip-per-minute",
            "1",
            "--login-per-ip-burst",
            "1",
            "--trusted-proxies",
            "127.0.0.1",
        ],
    )
    .await;
    let from = |client: &'static str| {
        app.http
            .post(format!("{}/api/login/campaigns", app.url))
            .header("origin", &app.url)
            .header("x-forwarded-for", client)
            .json(&ok)
    };
    assert_eq!(
        from("198.51.100.7").send().await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(
        from("198.51.100.7").send().await.unwrap().status().as_u16(),
        429
    );
    assert_eq!(
        from("198.51.100.8").send().await.unwrap().status().as_u16(),
        200
    );
}

/// Locks `vicidial_users` from another connection until the returned connection is dropped or
/// unlocked, so requests that read it stall as on an overloaded VICIdial database.
async fn stall_vicidial(db_url: &str) -> sqlx::MySqlConnection {
    // `mysql://root@localhost/<database>?socket=…`
    let name = db_url
        .split("localhost/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .unwrap();
    let mut conn = MariaDb::shared().options(name).connect().await.unwrap();
    sqlx::query("LOCK TABLES vicidial_users WRITE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn unstall(mut conn: sqlx::MySqlConnection) {
    sqlx::query("UNLOCK TABLES")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Reads an event stream until `needle` arrives, for at most `within`.
async fn read_until(res: &mut reqwest::Response, needle: &str, within: Duration) -> bool {
    let mut seen = String::new();
    tokio::time::timeout(within, async {
        while let Ok(Some(chunk)) = res.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

fn open_stream(
    app: &App,
    cookie: &str,
    path: &str,
) -> impl std::future::Future<Output = reqwest::Response> {
    let req = app
        .http
        .get(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .header("accept", "text/event-stream");
    async move { req.send().await.unwrap() }
}

#[tokio::test]
async fn slow_requests_time_out_but_event_streams_stay_open() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(
        &url,
        db.clone(),
        CLOSED,
        &[
            "--request-timeout-secs",
            "4",
            "--vicidial-confirm-secs",
            "1",
            "--vicidial-reconcile-secs",
            "1",
        ],
    )
    .await;
    let (cookie, _) = log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    let mut stream = open_stream(&app, &cookie, "/api/agent/events").await;
    assert_eq!(stream.status().as_u16(), 200);
    assert!(read_until(&mut stream, "event: state", Duration::from_secs(5)).await);

    let lock = stall_vicidial(&url).await;
    let started = std::time::Instant::now();
    let (code, body, _) = tokio::time::timeout(
        Duration::from_secs(15),
        app.post(
            None,
            "/api/login",
            &creds("1001", "agentpass1", Some("TESTCAMP")),
        ),
    )
    .await
    .expect("the request is cut, not left hanging");
    assert_eq!(
        (code, body["code"].as_str()),
        (504, Some("timeout")),
        "{body}"
    );
    assert!(started.elapsed() >= Duration::from_secs(4));
    unstall(lock).await;

    // The stream opened before the timeout still delivers: VICIdial's screen logs in now.
    assert!(started.elapsed() > Duration::from_secs(4));
    sqlx::query(
        "INSERT INTO vicidial_live_agents (user, server_ip, conf_exten, extension, status, lead_id, campaign_id, last_update_time) \
         VALUES ('1001', '10.10.0.5', '8600051', 'SIP/cc1001', 'PAUSED', 0, 'TESTCAMP', NOW())",
    )
    .execute(&db)
    .await
    .unwrap();
    assert!(
        read_until(&mut stream, "8600051", Duration::from_secs(10)).await,
        "the event stream outlived the request timeout"
    );
}

#[tokio::test]
async fn requests_past_the_in_flight_cap_are_refused_at_once() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &["--max-requests", "1"]).await;
    let lock = stall_vicidial(&url).await;
    let stalled = {
        let req = app
            .http
            .post(format!("{}/api/login", app.url))
            .header("origin", &app.url)
            .json(&creds("1001", "agentpass1", Some("TESTCAMP")));
        tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
    };
    // Once the stalled login holds the only slot, the next request is refused.
    let mut refused = None;
    for _ in 0..100 {
        let res = app
            .http
            .get(format!("{}/api/config", app.url))
            .send()
            .await
            .unwrap();
        if res.status().as_u16() == 503 {
            refused = Some(res.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a request past the cap is refused");
    assert_eq!(refused["code"], "overloaded");
    unstall(lock).await;
    assert_eq!(stalled.await.unwrap(), 200);
    assert_eq!(
        app.get("", "/api/config").await.0,
        200,
        "the slot came back"
    );
}

#[tokio::test]
async fn each_agent_holds_a_bounded_number_of_event_streams() {
    let (url, db) = fresh_vicidial_db(false).await;
    sqlx::query("UPDATE vicidial_users SET pass = 'beapass1' WHERE user = '1002'")
        .execute(&db)
        .await
        .unwrap();
    let app = spawn(&url, db, CLOSED, &["--max-streams-per-agent", "2"]).await;
    let (ada, _) = log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    let (bea, _) = log_in(&app, "1002", "beapass1", "TESTCAMP").await;
    let first = open_stream(&app, &ada, "/api/agent/events").await;
    let second = open_stream(&app, &ada, "/api/dispositions/events").await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open_stream(&app, &ada, "/api/agent/events").await;
    assert_eq!(third.status().as_u16(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["code"], "too_many_streams");
    // Another agent is not affected; requests without a session still get their 401.
    assert_eq!(
        open_stream(&app, &bea, "/api/agent/events")
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        open_stream(&app, "", "/api/agent/events")
            .await
            .status()
            .as_u16(),
        401
    );
    // A closed stream gives its slot back.
    drop(first);
    let mut reopened = 0;
    for _ in 0..100 {
        let res = open_stream(&app, &ada, "/api/agent/events").await;
        reopened = res.status().as_u16();
        if reopened == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reopened, 200);
}

#[tokio::test]
async fn connections_past_the_limit_wait_to_be_accepted() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &["--max-connections", "2"]).await;
    let addr = app.url.trim_start_matches("http://").to_string();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // A keep-alive request proves the connection was accepted; it stays open after.
        conn.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(conn);
    }
    let mut third = tokio::net::TcpStream::connect(&addr).await.unwrap();
    third.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(500), third.read_to_end(&mut answer)).await;
    assert!(
        early.is_err(),
        "not served while two connections are open: {answer:?}"
    );
    drop(held.pop());
    tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut answer))
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn logout_clears_the_cookie_even_when_the_session_is_gone() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &[]).await;
    let expired = session::create(
        app.state.store(),
        "1001",
        1,
        Some("TESTCAMP"),
        Duration::ZERO,
    )
    .await
    .unwrap();
    for cookie in [
        Some(format!("dialdeck_session={expired}")),
        Some(format!("dialdeck_session={}", "ab".repeat(32))),
        Some("dialdeck_session=<junk>".to_string()),
        None,
    ] {
        let (code, _, headers) = app.post(cookie.as_deref(), "/api/logout", &json!({})).await;
        assert_eq!(code, 204, "{cookie:?}");
        let set = headers["set-cookie"].to_str().unwrap();
        assert!(
            set.starts_with("dialdeck_session=;") && set.contains("Max-Age=0"),
            "{set}"
        );
    }
    // Still same-site only.
    let res = app
        .http
        .post(format!("{}/api/logout", app.url))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_cannot_lock_an_agent_out() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = Arc::new(spawn(&url, db.clone(), CLOSED, &[]).await);
    // A good login a minute ago: ten failures from now on would be VICIdial's lock.
    log_in(&app, "1001", "agentpass1", "TESTCAMP").await;
    let guesses: Vec<_> = (0..30)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = creds("1001", &format!("guess{i}"), Some("TESTCAMP"));
                outcome(&app, "/api/login", &body).await
            })
        })
        .collect();
    let mut checked = 0;
    for g in guesses {
        match g.await.unwrap() {
            (401, _) => checked += 1,
            (429, Some(code)) if code == "too_many_attempts" => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(checked <= 5, "{checked} passwords were checked");
    let (failed, _) = counters(&db, "1001").await;
    assert!(
        failed <= 5,
        "VICIdial counted {failed}: never near its lock at 10"
    );
}
