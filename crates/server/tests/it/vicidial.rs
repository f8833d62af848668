//! The VICIdial side against a real MariaDB loaded with VICIdial's schema: login as VICIdial
//! checks passwords (plain and bcrypt) with its lockout, the agent's phone and statuses, live
//! state and server-enforced wrap-up, and agents kept apart. With the VICIdial simulator:
//! dial, hangup and dispositions through the Agent API, confirmed in the database, and
//! reconciliation through the Non-Agent API when the screen is gone.

use std::time::Duration;

use clap::Parser;
use dialdeck_server::{config::Config, vicidial::Vicidial, AppState};
use dialdeck_shared::{AgentProfile, AgentState, AgentStatus, StatusOption, SubStatus};
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
    args.extend_from_slice(extra);
    let config = Config::try_parse_from(args).unwrap();
    config.validate().unwrap();
    let store = dialdeck_server::store::open(dir.path()).await.unwrap();
    let v = Vicidial::with_pool(config.vicidial.clone(), db.clone()).unwrap();
    let state = AppState::with_vicidial(config, store, Some(v), vec![]).unwrap();
    state.start_background();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = dialdeck_server::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
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
    assert_eq!(profile.screen.url, format!("{CLOSED}/agc/vicidial.php"));
    assert_eq!(profile.screen.phone_login, "cc1001");
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
async fn wrong_passwords_count_toward_vicidials_lockout() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    for i in 1..=10 {
        assert_eq!(app.attempt("1001", "nope").await.0, 401, "attempt {i}");
    }
    let count: u8 =
        sqlx::query_scalar("SELECT failed_login_count FROM vicidial_users WHERE user = '1001'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(count, 10, "the same counter VICIdial's own login uses");
    // Now even the right password is refused: the lockout is honoured, not bypassed.
    assert_eq!(
        app.attempt("1001", "agentpass1").await,
        (403, Some("locked_out".into()))
    );
    // The seeded user locked a minute ago stays locked; inactive and API-only users may not log in.
    assert_eq!(
        app.attempt("1004", "locked1").await,
        (403, Some("locked_out".into()))
    );
    assert_eq!(
        app.attempt("1003", "gone").await,
        (403, Some("login_not_allowed".into()))
    );
    assert_eq!(
        app.attempt("apiuser", "apipass").await,
        (403, Some("login_not_allowed".into()))
    );
    // A lock older than 15 minutes has expired, and a good login resets the counter.
    sqlx::query("UPDATE vicidial_users SET last_login_date = NOW() - INTERVAL 16 MINUTE WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    app.login("1001", "agentpass1").await;
    let count: u8 =
        sqlx::query_scalar("SELECT failed_login_count FROM vicidial_users WHERE user = '1001'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(count, 0);
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
        (409, Some("wrapup_pending")),
        "{body}"
    );
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

#[tokio::test]
async fn dial_requests_are_validated_before_vicidial_is_asked() {
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let ada = app.login("1001", "agentpass1").await;
    for (body, code) in [
        (
            json!({"phone_number": "312-555-12x2"}),
            "invalid_phone_number",
        ),
        (json!({"phone_number": "12345"}), "invalid_phone_number"),
        (
            json!({"phone_number": "3125551212", "phone_code": "+1"}),
            "invalid_phone_code",
        ),
        (json!({"lead_id": -4}), "invalid_lead"),
        (json!({}), "nothing_to_dial"),
    ] {
        let (status, answer, _) = app.post(Some(&ada), "/api/call/dial", &body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    // Valid, but VICIdial has no session for the agent.
    let (status, answer, _) = app
        .post(
            Some(&ada),
            "/api/call/dial",
            &json!({"phone_number": "(312) 555-1212"}),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("vicidial_not_logged_in"))
    );
    // Logged in but not allowed to dial manually.
    put_live_agent(&db, "1001", "PAUSED", 0, "").await;
    sqlx::query("UPDATE vicidial_users SET agentcall_manual = '0' WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    let (status, answer, _) = app
        .post(
            Some(&ada),
            "/api/call/dial",
            &json!({"phone_number": "3125551212"}),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("manual_dial_not_allowed"))
    );
    // Allowed, but VICIdial's web server is down: a clear 503, nothing lost.
    sqlx::query("UPDATE vicidial_users SET agentcall_manual = '1' WHERE user = '1001'")
        .execute(&db)
        .await
        .unwrap();
    let (status, answer, _) = app
        .post(
            Some(&ada),
            "/api/call/dial",
            &json!({"phone_number": "3125551212"}),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (503, Some("vicidial_unreachable")),
        "{answer}"
    );
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
