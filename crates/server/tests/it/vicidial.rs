//! The VICIdial side against a real MariaDB loaded with VICIdial's schema: login as VICIdial
//! checks passwords (plain and bcrypt; its lockout and dialdeck's throttle are in `login.rs`),
//! the agent's phone and statuses, live state and server-enforced wrap-up, and agents kept
//! apart. With the VICIdial simulator:
//! dial, hangup and dispositions through the Agent API, confirmed in the database, and
//! reconciliation through the Non-Agent API when the screen is gone.

use std::time::Duration;

use clap::Parser;
use dialdeck_server::{config::Config, vicidial::Vicidial, AppState};
use dialdeck_shared::{
    AgentProfile, AgentState, AgentStatus, CallbackRules, CampaignInfo, DialBlock, PauseCodesMode,
    PhoneCheck, ScreenLink, StatusOption, SubStatus,
};
use dialdeck_vicidial_sim::{mariadb::MariaDb, seed};
use serde_json::{json, Value};
use sqlx::{ConnectOptions, MySqlPool};

#[allow(dead_code)] // used by the simulator tests
pub struct App {
    pub url: String,
    pub state: AppState,
    pub db: MySqlPool,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A fresh VICIdial database with the seed.
pub async fn fresh_vicidial_db(pass_hash_enabled: bool) -> (String, MySqlPool) {
    let maria = MariaDb::shared();
    let name = maria.fresh_database().await.unwrap();
    let mut conn = maria.options(&name).connect().await.unwrap();
    seed::seed(&mut conn, pass_hash_enabled).await.unwrap();
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(8)
        .connect_with(maria.options(&name))
        .await
        .unwrap();
    (maria.url(&name), pool)
}

/// The server over `db`, its APIs at `web_url` (the simulator, or a closed port).
pub async fn spawn(db_url: &str, db: MySqlPool, web_url: &str, extra: &[&str]) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "dialdeck",
        "--vicidial-db-url",
        db_url,
        "--vicidial-web-url",
        web_url,
        "--vicidial-api-user",
        "apiuser",
        "--vicidial-api-pass",
        "apipass",
        "--vicidial-poll-ms",
        "100",
        "--vicidial-api-timeout-ms",
        "1500",
        "--outbox-backoff-base-ms",
        "50",
        "--outbox-backoff-max-secs",
        "1",
    ];
    // The old single-campaign default, unless a test names its own.
    if !extra.contains(&"--vicidial-campaign") {
        args.extend_from_slice(&["--vicidial-campaign", "TESTCAMP"]);
    }
    args.extend_from_slice(extra);
    let config = Config::try_parse_from(args).unwrap();
    config.validate().unwrap();
    let store = dialdeck_server::store::open(dir.path()).await.unwrap();
    let v = Vicidial::with_pool(config.vicidial.clone(), db.clone()).unwrap();
    let state = AppState::with_vicidial(config, store, Some(v), vec![]).unwrap();
    state.start_background();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = state.clone();
    tokio::spawn(async move {
        dialdeck_server::http::serve(listener, served, std::future::pending())
            .await
            .unwrap()
    });
    App {
        url,
        state,
        db,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl App {
    fn origin(&self) -> String {
        self.url.clone()
    }

    pub async fn post(
        &self,
        cookie: Option<&str>,
        path: &str,
        body: &Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .header("origin", self.origin())
            .json(body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        let code = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        )
    }

    pub async fn get(&self, cookie: &str, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        let code = res.status().as_u16();
        (code, res.json().await.unwrap_or(Value::Null))
    }

    /// One login attempt: the status and the error code, if any.
    pub async fn attempt(&self, user: &str, password: &str) -> (u16, Option<String>) {
        let (code, body, _) = self
            .post(
                None,
                "/api/login",
                &json!({"user": user, "password": password}),
            )
            .await;
        (code, body["code"].as_str().map(str::to_string))
    }

    /// Logs `user` in through the API and returns the cookie.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let (code, body, headers) = self
            .post(
                None,
                "/api/login",
                &json!({"user": user, "password": password}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        let set = headers.get("set-cookie").unwrap().to_str().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    pub async fn agent_state(&self, cookie: &str) -> AgentState {
        let (code, body) = self.get(cookie, "/api/agent/state").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// A dial's status, error code and message.
    pub async fn dial_answer(&self, cookie: &str, body: &Value) -> (u16, Option<String>, String) {
        let (code, answer, _) = self.post(Some(cookie), "/api/call/dial", body).await;
        (
            code,
            answer["code"].as_str().map(str::to_string),
            answer["message"].as_str().unwrap_or("").to_string(),
        )
    }

    /// Waits (up to 10 s) until the agent's state satisfies `f`.
    pub async fn wait_state(&self, cookie: &str, f: impl Fn(&AgentState) -> bool) -> AgentState {
        for _ in 0..200 {
            let s = self.agent_state(cookie).await;
            if f(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "state never reached; last: {:?}",
            self.agent_state(cookie).await
        );
    }
}

const CLOSED: &str = "http://127.0.0.1:9";

#[tokio::test]
async fn plain_password_login_returns_the_agents_own_phone() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &[]).await;
    let (code, body, headers) = app
        .post(
            None,
            "/api/login",
            &json!({"user": "1001", "password": "agentpass1"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let cookie = headers.get("set-cookie").unwrap().to_str().unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "dialdeck_session="] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let profile: AgentProfile = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(profile.user, "1001");
    assert_eq!(profile.full_name, "Ada Agent");
    assert_eq!(profile.campaign_id, "TESTCAMP");
    assert_eq!(profile.phone.sip_uri, "sip:cc1001@10.10.0.5");
    assert_eq!(profile.phone.auth_user, "cc1001");
    assert_eq!(profile.phone.password, "sip-secret-1001");
    assert_eq!(profile.phone.ws_url, seed::WEB_SOCKET_URL);
    // The seeded phone is a webphone on a MeetMe server: it dials the conference number as is.
    assert!(profile.phone.join_by_dialing);
    assert_eq!(profile.phone.conference_prefix, "");
    // Nothing of the server's own secrets in the answer.
    assert!(!body.to_string().contains("apipass"));

    let cookie = cookie.split(';').next().unwrap();
    let (code, me) = app.get(cookie, "/api/me").await;
    assert_eq!(code, 200);
    assert_eq!(me["phone"]["auth_user"], "cc1001");
    // The config now says login is available.
    let cfg: Value = app
        .http
        .get(format!("{}/api/config", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["login_available"], true);
    assert_eq!(cfg["vicidial_web_origin"], CLOSED);
    // Logout ends the session.
    let (code, _, headers) = app.post(Some(cookie), "/api/logout", &json!({})).await;
    assert_eq!(code, 204);
    assert!(headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        app.get(cookie, "/api/me").await.0,
        204,
        "no session: nobody, not an error"
    );
}

#[tokio::test]
async fn bcrypt_passwords_are_checked_when_hashing_is_on() {
    let (url, db) = fresh_vicidial_db(true).await;
    let app = spawn(&url, db, CLOSED, &[]).await;
    app.login("1002", seed::BCRYPT_PASSWORD).await;
    assert_eq!(
        app.attempt("1002", "agentpass2").await,
        (401, Some("invalid_credentials".into()))
    );
    // With hashing on, the clear-text column is not consulted.
    assert_eq!(app.attempt("1001", "agentpass1").await.0, 401);
}

#[tokio::test]
async fn cross_site_and_malformed_logins_are_refused() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &[]).await;
    let res = app
        .http
        .post(format!("{}/api/login", app.url))
        .header("origin", "https://evil.example")
        .json(&json!({"user": "1001", "password": "agentpass1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = app
        .http
        .post(format!("{}/api/login", app.url))
        .header("origin", app.origin())
        .header("content-type", "application/json")
        .body("{\"user\": 1001")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "malformed_request");
}

#[tokio::test]
async fn statuses_come_from_vicidial_with_their_flags() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let cookie = app.login("1001", "agentpass1").await;
    let (code, body) = app.get(&cookie, "/api/statuses").await;
    assert_eq!(code, 200);
    let statuses: Vec<StatusOption> = serde_json::from_value(body).unwrap();
    let find = |c: &str| statuses.iter().find(|s| s.status == c);
    assert_eq!(
        find("SALE").unwrap().name,
        "Sale - Campaign",
        "the campaign's status overrides the system one"
    );
    assert!(find("SALE").unwrap().sale);
    assert!(
        find("CB").unwrap().scheduled_callback,
        "campaign callback status"
    );
    assert!(find("CALLBK").unwrap().scheduled_callback);
    assert!(find("DNC").unwrap().dnc);
    assert!(
        find("NA").is_none(),
        "the auto-dial no-answer status is not agent-selectable"
    );
    assert!(find("XFERX").is_none(), "non-selectable campaign status");
    // A status added in VICIdial shows up without a release of ours.
    sqlx::query("INSERT INTO vicidial_campaign_statuses (status, status_name, selectable, campaign_id) VALUES ('WRONGN', 'Wrong Number', 'Y', 'TESTCAMP')")
        .execute(&db)
        .await
        .unwrap();
    let (_, body) = app.get(&cookie, "/api/statuses").await;
    assert!(body.to_string().contains("Wrong Number"));
}

async fn put_live_agent(db: &MySqlPool, user: &str, status: &str, lead: i64, callerid: &str) {
    sqlx::query(
        "INSERT INTO vicidial_live_agents (user, server_ip, conf_exten, extension, status, lead_id, campaign_id, callerid, uniqueid, last_update_time) \
         VALUES (?, '10.10.0.5', '8600051', 'SIP/cc1001', ?, ?, 'TESTCAMP', ?, '1795574700.1', NOW()) \
         ON DUPLICATE KEY UPDATE status = VALUES(status), lead_id = VALUES(lead_id), callerid = VALUES(callerid)",
    )
    .bind(user)
    .bind(status)
    .bind(lead)
    .bind(callerid)
    .execute(db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_call_that_ends_puts_the_agent_in_wrapup_and_agents_stay_apart() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let ada = app.login("1001", "agentpass1").await;
    let bea = {
        sqlx::query("UPDATE vicidial_users SET pass = 'beapass1' WHERE user = '1002'")
            .execute(&db)
            .await
            .unwrap();
        app.login("1002", "beapass1").await
    };
    let s = app.agent_state(&ada).await;
    assert!(!s.logged_in(), "no VICIdial session yet");
    // VICIdial's screen logs in and places a call (as the simulator or VICIdial would write it).
    sqlx::query("DELETE FROM vicidial_live_agents WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    put_live_agent(&db, "1001", "INCALL", 1, "M1125024600000000001").await;
    let s = app
        .wait_state(&ada, |s| s.status == Some(AgentStatus::InCall))
        .await;
    assert_eq!((s.lead_id, s.conf_exten.as_str()), (1, "8600051"));
    assert_eq!(
        s.call.as_ref().map(|c| c.call_id.as_str()),
        Some("M1125024600000000001")
    );
    // The lead is Ada's to see, not Bea's.
    let (code, lead) = app.get(&ada, "/api/lead/1").await;
    assert_eq!(code, 200);
    assert_eq!(
        (lead["first_name"].as_str(), lead["phone_number"].as_str()),
        (Some("Grace"), Some("3125551001"))
    );
    assert_eq!(
        lead["phone"], "+1 312-555-1001",
        "as every list shows numbers"
    );
    assert_eq!(app.get(&bea, "/api/lead/1").await.0, 403);
    assert_eq!(app.get(&ada, "/api/lead/2").await.0, 403);
    // Bea's state says nothing of Ada's call.
    assert!(!app.agent_state(&bea).await.logged_in());
    // Bea cannot disposition Ada's lead.
    let dispo = json!({"id": "M1125024600000000001", "lead_id": 1, "status": "SALE", "callback": null, "notes": "",
        "call": {"started_at": "2026-11-25T10:00:00Z", "duration_secs": 30, "vicidial_uniqueid": null}});
    let (code, body, _) = app.post(Some(&bea), "/api/dispositions", &dispo).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("lead_not_yours")),
        "{body}"
    );

    // The call ends (VICIdial's dispo step): wrap-up with the call's id.
    put_live_agent(&db, "1001", "PAUSED", 1, "M1125024600000000001").await;
    let s = app.wait_state(&ada, |s| s.wrapup.is_some()).await;
    assert_eq!(s.sub_status, SubStatus::Dispo);
    let w = s.wrapup.unwrap();
    assert_eq!((w.lead_id, w.call_id.as_str()), (1, "M1125024600000000001"));
    // No new dial until a disposition is accepted: the server refuses, not only the modal.
    let (code, body, _) = app
        .post(
            Some(&ada),
            "/api/call/dial",
            &json!({"phone_number": "3125551002"}),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("wrap_up")),
        "{body}"
    );
    assert_eq!(body["message"], DialBlock::WrapUp.message());
    // An unknown status is refused with a clear error and the wrap-up stays.
    let mut bad = dispo.clone();
    bad["status"] = json!("BOGUS");
    let (code, body, _) = app.post(Some(&ada), "/api/dispositions", &bad).await;
    assert_eq!((code, body["code"].as_str()), (400, Some("unknown_status")));
    assert!(app.agent_state(&ada).await.wrapup.is_some());
    // Accepted: the wrap-up ends (the VICIdial job itself needs the simulator, not running here).
    let (code, body, _) = app.post(Some(&ada), "/api/dispositions", &dispo).await;
    assert_eq!(code, 202, "{body}");
    assert!(app.agent_state(&ada).await.wrapup.is_none());
    // The poller does not reopen it while VICIdial's screen still shows the dispo step.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(app.agent_state(&ada).await.wrapup.is_none());
}

/// Puts a channel of the agent's phone into its session conference, as VICIdial's
/// AST_update does from Asterisk.
async fn phone_in_session(db: &MySqlPool, channel: &str) {
    sqlx::query("INSERT INTO live_sip_channels (channel, server_ip, channel_group, extension, channel_data) VALUES (?, '10.10.0.5', 'SIP/cc1001', '8600051', '8600051,F')")
        .bind(channel)
        .execute(db)
        .await
        .unwrap();
}

async fn backdate_screen(db: &MySqlPool, user: &str, secs: i64) {
    sqlx::query("UPDATE vicidial_live_agents SET last_update_time = NOW() - INTERVAL ? SECOND WHERE user = ?")
        .bind(secs)
        .bind(user)
        .execute(db)
        .await
        .unwrap();
}

#[tokio::test]
async fn dial_requests_are_validated_before_vicidial_is_asked() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let ada = app.login("1001", "agentpass1").await;
    sqlx::query("INSERT INTO vicidial_list (lead_id, entry_date, status, list_id, phone_code, phone_number) VALUES (40, NOW(), 'NEW', 555, '1', '3125550040')")
        .execute(&db)
        .await
        .unwrap();
    for (body, status, code) in [
        (
            json!({"phone_number": "312-555-12x2"}),
            400,
            "invalid_phone_number",
        ),
        (
            json!({"phone_number": "12345"}),
            400,
            "invalid_phone_number",
        ),
        (
            json!({"phone_number": "(312) 155-1212"}),
            400,
            "invalid_phone_number",
        ),
        (
            json!({"phone_number": "3125551212", "country": "ZZ"}),
            400,
            "invalid_country",
        ),
        (json!({"lead_id": -4}), 400, "invalid_lead"),
        (json!({"callback_id": 0}), 400, "invalid_callback"),
        (json!({}), 400, "nothing_to_dial"),
        (json!({"lead_id": 424242}), 404, "not_found"),
        (json!({"lead_id": 40}), 403, "lead_not_in_campaign"),
        (json!({"callback_id": 424242}), 403, "callback_not_yours"),
    ] {
        let (got, answer, _) = app.post(Some(&ada), "/api/call/dial", &body).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    // A callback of another agent (USERONLY for 1001) is not Bea's.
    sqlx::query("UPDATE vicidial_users SET pass = 'beapass1' WHERE user = '1002'")
        .execute(&db)
        .await
        .unwrap();
    let bea = app.login("1002", "beapass1").await;
    let ada_callback: i64 = sqlx::query_scalar(
        "SELECT CAST(callback_id AS SIGNED) FROM vicidial_callbacks WHERE lead_id = 6",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let (got, answer, _) = app
        .post(
            Some(&bea),
            "/api/call/dial",
            &json!({"callback_id": ada_callback}),
        )
        .await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (403, Some("callback_not_yours"))
    );

    // Valid, but VICIdial has no session for the agent.
    let number = json!({"phone_number": "(312) 555-1212"});
    let refused = |block: DialBlock| {
        (
            409,
            Some(block.code().to_string()),
            block.message().to_string(),
        )
    };
    assert_eq!(
        app.dial_answer(&ada, &number).await,
        refused(DialBlock::NoSession)
    );
    // A session, but the phone is not in its conference.
    put_live_agent(&db, "1001", "PAUSED", 0, "").await;
    assert_eq!(
        app.dial_answer(&ada, &number).await,
        refused(DialBlock::PhoneNotInSession)
    );
    // The screen stopped polling: read fresh, not from the last poll.
    phone_in_session(&db, "SIP/cc1001-0000000a").await;
    backdate_screen(&db, "1001", 30).await;
    assert_eq!(
        app.dial_answer(&ada, &number).await,
        refused(DialBlock::ScreenNotConnected)
    );
    // Logged in but not allowed to dial manually.
    backdate_screen(&db, "1001", 0).await;
    sqlx::query("UPDATE vicidial_users SET agentcall_manual = '0' WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    let (status, answer, _) = app.post(Some(&ada), "/api/call/dial", &number).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("manual_dial_not_allowed"))
    );
    // Allowed, but VICIdial's web server is down: a clear 503, nothing lost.
    sqlx::query("UPDATE vicidial_users SET agentcall_manual = '1' WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    let (status, answer, _) = app.post(Some(&ada), "/api/call/dial", &number).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (503, Some("vicidial_unreachable")),
        "{answer}"
    );
}

#[tokio::test]
async fn agent_state_reads_the_screen_the_phone_and_the_call_from_vicidial() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(
        &url,
        db.clone(),
        CLOSED,
        &["--vicidial-screen-stale-secs", "3"],
    )
    .await;
    let ada = app.login("1001", "agentpass1").await;
    let s = app.agent_state(&ada).await;
    assert_eq!(s.screen, ScreenLink::NotLoggedIn);
    assert_eq!(s.dial_block(), Some(DialBlock::NoSession));
    put_live_agent(&db, "1001", "PAUSED", 0, "").await;
    let s = app
        .wait_state(&ada, |s| s.screen == ScreenLink::Connected)
        .await;
    assert!(!s.phone_in_session);
    // The phone's channel in the session conference; another conference's does not count,
    // nor does a channel of another phone in this one.
    phone_in_session(&db, "SIP/cc1002-00000001").await;
    sqlx::query("INSERT INTO live_sip_channels (channel, server_ip, channel_group, extension, channel_data) VALUES ('SIP/cc1001-00000002', '10.10.0.5', 'SIP/cc1001', '8600052', '')")
        .execute(&db)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!app.agent_state(&ada).await.phone_in_session);
    sqlx::query("INSERT INTO live_channels (channel, server_ip, channel_group, extension, channel_data) VALUES ('SIP/cc1001-0000000b', '10.10.0.5', 'SIP/cc1001', '8600051', '')")
        .execute(&db)
        .await
        .unwrap();
    let s = app.wait_state(&ada, |s| s.phone_in_session).await;
    assert_eq!(s.dial_block(), None);
    // The screen stops polling.
    backdate_screen(&db, "1001", 40).await;
    let s = app
        .wait_state(&ada, |s| matches!(s.screen, ScreenLink::NotPolling { .. }))
        .await;
    let ScreenLink::NotPolling { silent_secs } = s.screen else {
        unreachable!()
    };
    assert!((40..45).contains(&silent_secs), "{silent_secs}");
    assert_eq!(s.dial_block(), Some(DialBlock::ScreenNotConnected));
    // A call VICIdial dialled: the facts come from vicidial_auto_calls and vicidial_log.
    backdate_screen(&db, "1001", 0).await;
    sqlx::query("UPDATE vicidial_live_agents SET status = 'INCALL', lead_id = 1, callerid = 'M1202120000000000001', uniqueid = '', last_call_time = NOW() WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO vicidial_auto_calls (server_ip, campaign_id, status, lead_id, uniqueid, callerid, channel, phone_code, phone_number, call_time, call_type) VALUES ('10.10.0.5', 'TESTCAMP', 'XFER', 1, '', 'M1202120000000000001', '', '1', '3125551001', NOW() - INTERVAL 20 SECOND, 'OUT')")
        .execute(&db)
        .await
        .unwrap();
    let s = app
        .wait_state(&ada, |s| s.sub_status == SubStatus::Dial)
        .await;
    let call = s.call.clone().unwrap();
    let dialled: i64 = sqlx::query_scalar(
        "SELECT CAST(UNIX_TIMESTAMP(call_time) AS SIGNED) FROM vicidial_auto_calls",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        (
            call.call_id.as_str(),
            call.phone_code.as_str(),
            call.phone_number.as_str(),
            call.dialled_at,
            call.answered_at
        ),
        (
            "M1202120000000000001",
            "1",
            "3125551001",
            Some(dialled),
            None
        )
    );
    // Answered: vicidial_log's start_epoch.
    sqlx::query("UPDATE vicidial_live_agents SET uniqueid = '1795574700.7' WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO vicidial_log (uniqueid, lead_id, list_id, campaign_id, call_date, start_epoch, status, phone_code, phone_number, user, comments) VALUES ('1795574700.7', 1, 101, 'TESTCAMP', NOW(), UNIX_TIMESTAMP() - 5, 'INCALL', '1', '3125551001', '1001', 'MANUAL')")
        .execute(&db)
        .await
        .unwrap();
    let s = app
        .wait_state(&ada, |s| {
            s.call.as_ref().is_some_and(|c| c.answered_at.is_some())
        })
        .await;
    assert_eq!(s.sub_status, SubStatus::None);
    let started: i64 = sqlx::query_scalar("SELECT CAST(start_epoch AS SIGNED) FROM vicidial_log")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(s.call.unwrap().answered_at, Some(started));
    // The customer hangs up: VICIdial drops the auto_calls row; the agent stays INCALL.
    sqlx::query("DELETE FROM vicidial_auto_calls")
        .execute(&db)
        .await
        .unwrap();
    let s = app
        .wait_state(&ada, |s| s.sub_status == SubStatus::Dead)
        .await;
    assert_eq!(s.status, Some(AgentStatus::InCall));
    assert_eq!(s.dial_block(), Some(DialBlock::InCall));
}

#[tokio::test]
async fn campaign_info_comes_from_vicidials_tables() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let ada = app.login("1001", "agentpass1").await;
    let (code, body) = app.get(&ada, "/api/campaign").await;
    assert_eq!(code, 200, "{body}");
    let info: CampaignInfo = serde_json::from_value(body).unwrap();
    assert_eq!(
        (info.campaign_id.as_str(), info.campaign_name.as_str()),
        ("TESTCAMP", "Test campaign")
    );
    assert!(!info.auto_dial, "a MANUAL campaign");
    assert_eq!(info.pause_codes_mode, PauseCodesMode::Optional);
    let codes: Vec<(&str, bool)> = info
        .pause_codes
        .iter()
        .map(|c| (c.code.as_str(), c.billable))
        .collect();
    assert_eq!(codes, [("BREAK", false), ("LUNCH", false), ("TRAIN", true)]);
    let keys: Vec<(char, &str)> = info
        .hotkeys
        .iter()
        .map(|h| (h.key, h.status.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ('1', "SALE"),
            ('2', "NI"),
            ('3', "CB"),
            ('4', "N"),
            ('5', "B"),
            ('6', "DNC")
        ]
    );
    assert_eq!(
        info.callbacks,
        CallbackRules {
            allowed: true,
            me_allowed: true,
            me_by_default: true,
            days_limit: 30
        }
    );
    assert!(info
        .statuses
        .iter()
        .any(|s| s.status == "SALE" && s.name == "Sale - Campaign"));
    assert!(info.statuses.iter().all(|s| s.status != "XFERX"));
    assert_eq!(info.default_country, "US");
    let italy = info.countries.iter().find(|c| c.region == "IT").unwrap();
    assert_eq!((italy.calling_code, italy.name.as_str()), (39, "Italy"));
    assert!(info.countries.len() > 240);
    // VICIdial's settings change: so does the answer.
    sqlx::query("UPDATE vicidial_campaigns SET dial_method = 'RATIO', auto_dial_level = '2.0', agent_pause_codes_active = 'FORCE', scheduled_callbacks = 'N' WHERE campaign_id = 'TESTCAMP'")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE vicidial_campaign_hotkeys SET selectable = 'N' WHERE hotkey = '6'")
        .execute(&db)
        .await
        .unwrap();
    let (_, body) = app.get(&ada, "/api/campaign").await;
    let info: CampaignInfo = serde_json::from_value(body).unwrap();
    assert!(info.auto_dial);
    assert_eq!(info.pause_codes_mode, PauseCodesMode::Forced);
    assert!(!info.callbacks.allowed);
    assert_eq!(info.hotkeys.len(), 5);
    // /api/statuses still answers the same list.
    let (code, body) = app.get(&ada, "/api/statuses").await;
    assert_eq!(code, 200);
    let statuses: Vec<StatusOption> = serde_json::from_value(body).unwrap();
    assert_eq!(statuses, info.statuses);
}

#[tokio::test]
async fn phone_check_reads_numbers_in_the_agents_region() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &["--default-country", "IT"]).await;
    let ada = app.login("1001", "agentpass1").await;
    let (code, body, _) = app
        .post(
            Some(&ada),
            "/api/phone/check",
            &json!({"phone_number": "02 1234 5678"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let check: PhoneCheck = serde_json::from_value(body).unwrap();
    assert_eq!(
        (
            check.e164.as_str(),
            check.phone_code.as_str(),
            check.national_number.as_str(),
            check.region.as_deref()
        ),
        ("+390212345678", "39", "0212345678", Some("IT"))
    );
    let (code, body, _) = app
        .post(
            Some(&ada),
            "/api/phone/check",
            &json!({"phone_number": "(312) 555-1212", "country": "US"}),
        )
        .await;
    assert_eq!(
        (code, body["national_number"].as_str()),
        (200, Some("3125551212"))
    );
    let (code, body, _) = app
        .post(
            Some(&ada),
            "/api/phone/check",
            &json!({"phone_number": "12", "country": "US"}),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("invalid_phone_number"))
    );
    assert!(
        body["message"].as_str().unwrap().ends_with('.'),
        "a sentence: {body}"
    );
    let (code, _, _) = app
        .post(
            None,
            "/api/phone/check",
            &json!({"phone_number": "12", "country": "US"}),
        )
        .await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn admins_without_a_phone_sign_in_for_the_admin_endpoints_only() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db, CLOSED, &[]).await;
    let admin = json!({"user": "admin", "password": "adminpass"});
    // The agent login needs a phone, which this admin does not have.
    let (code, body, _) = app.post(None, "/api/login", &admin).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (403, Some("no_phone")),
        "{body}"
    );
    // Agents are not admins; wrong passwords are wrong here too.
    let (code, body, _) = app
        .post(
            None,
            "/api/admin/login",
            &json!({"user": "1001", "password": "agentpass1"}),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (403, Some("not_admin")),
        "{body}"
    );
    let (code, body, _) = app
        .post(
            None,
            "/api/admin/login",
            &json!({"user": "admin", "password": "nope"}),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (401, Some("invalid_credentials")),
        "{body}"
    );

    let (code, body, headers) = app.post(None, "/api/admin/login", &admin).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["user"].as_str(), body["user_level"].as_i64()),
        (Some("admin"), Some(9))
    );
    let cookie = headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap();
    let (code, backlog) = app.get(cookie, "/api/admin/outbox").await;
    assert_eq!(code, 200, "{backlog}");
    assert!(backlog["jobs"].is_array(), "{backlog}");
    let (code, _) = app.get(cookie, "/api/admin/outbox/failures").await;
    assert_eq!(code, 200);
}
