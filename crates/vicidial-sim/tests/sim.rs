//! The simulator against a real MariaDB: each test gets its own database with schema and seed.

use std::{future::Future, time::Duration};

use dialdeck_vicidial_sim::{
    mariadb::MariaDb, seed, LedgerEntry, Outcome, SimOptions, VicidialSim, LOGIN_FORM_FIELDS,
};
use sqlx::{mysql::MySqlPoolOptions, ConnectOptions, MySqlPool};

struct Env {
    sim: VicidialSim,
    pool: MySqlPool,
    http: reqwest::Client,
}

async fn env_with(pass_hash: bool) -> Env {
    let db = MariaDb::shared();
    let name = db.fresh_database().await.unwrap();
    let mut conn = db.options(&name).connect().await.unwrap();
    seed::seed(&mut conn, pass_hash).await.unwrap();
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .connect_with(db.options(&name))
        .await
        .unwrap();
    let opts = SimOptions {
        poll_interval: Duration::from_millis(40),
        answer_after: Duration::from_millis(120),
    };
    let sim = VicidialSim::start(pool.clone(), opts).await.unwrap();
    Env {
        sim,
        pool,
        http: reqwest::Client::new(),
    }
}

async fn env() -> Env {
    env_with(false).await
}

impl Env {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let res = self
            .http
            .post(format!("{}{path}", self.sim.base_url()))
            .form(form)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// The Agent API as the API user, by POST.
    async fn agent_api(&self, function: &str, extra: &[(&str, &str)]) -> String {
        let mut form = vec![
            ("source", "test"),
            ("user", "apiuser"),
            ("pass", "apipass"),
            ("function", function),
        ];
        form.extend_from_slice(extra);
        self.post("/agc/api.php", &form).await.1
    }

    async fn non_agent_api(&self, function: &str, extra: &[(&str, &str)]) -> String {
        let mut form = vec![
            ("source", "test"),
            ("user", "apiuser"),
            ("pass", "apipass"),
            ("function", function),
        ];
        form.extend_from_slice(extra);
        self.post("/vicidial/non_agent_api.php", &form).await.1
    }

    async fn dial(&self, agent: &str, number: &str) -> String {
        self.agent_api(
            "external_dial",
            &[
                ("agent_user", agent),
                ("value", number),
                ("phone_code", "1"),
                ("search", "YES"),
                ("preview", "NO"),
                ("focus", "NO"),
            ],
        )
        .await
    }

    async fn live(&self, agent: &str, column: &str) -> String {
        let sql = format!("SELECT CAST({column} AS CHAR) FROM vicidial_live_agents WHERE user = ?");
        sqlx::query_scalar::<_, Option<String>>(&sql)
            .bind(agent)
            .fetch_optional(&self.pool)
            .await
            .unwrap()
            .flatten()
            .unwrap_or_else(|| "<no row>".to_string())
    }

    async fn scalar(&self, sql: &str) -> String {
        sqlx::query_scalar::<_, Option<String>>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Opens the agent's session (with its virtual screen) and puts its phone into the
    /// session conference, as a webphone that dials in does.
    async fn login(&self, agent: &str, campaign: &str, phone: &str) -> anyhow::Result<String> {
        let conf = self.sim.login_agent(agent, campaign, phone).await?;
        self.sim.phone_join(agent).await?;
        Ok(conf)
    }

    /// Logs `agent` in, dials `number` and waits until the customer answered.
    async fn answered_call(&self, agent: &str, campaign: &str, phone: &str, number: &str) -> u64 {
        self.login(agent, campaign, phone).await.unwrap();
        assert!(self
            .dial(agent, number)
            .await
            .starts_with("SUCCESS: external_dial function set - "));
        eventually(|| async { self.live(agent, "uniqueid").await.len() > 5 }).await;
        self.live(agent, "lead_id").await.parse().unwrap()
    }
}

async fn eventually<F, Fut>(cond: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn count(ledger: &[LedgerEntry], pred: impl Fn(&LedgerEntry) -> bool) -> usize {
    ledger.iter().filter(|e| pred(e)).count()
}

#[tokio::test]
async fn version_lines_of_both_apis() {
    let e = env().await;
    let v = e.post("/agc/api.php", &[("function", "version")]).await.1;
    assert!(
        v.starts_with("VERSION: 2.14-81|BUILD: 240429-2220|DATE: "),
        "{v}"
    );
    assert!(v.contains("|EPOCH: ") && v.ends_with('\n'));
    let v = e
        .post("/vicidial/non_agent_api.php", &[("function", "version")])
        .await
        .1;
    assert!(
        v.starts_with("VERSION: 2.14-194|BUILD: 241004-1518|DATE: "),
        "{v}"
    );
    assert!(v.contains("|DST: 0|TZ: "));
    // Unknown functions: empty body / NO FUNCTION SPECIFIED.
    assert_eq!(
        e.agent_api("agent_status", &[("agent_user", "1001")]).await,
        ""
    );
    assert_eq!(
        e.non_agent_api("nonsense", &[]).await,
        "ERROR: NO FUNCTION SPECIFIED\n"
    );
}

#[tokio::test]
async fn agent_api_auth_errors() {
    let e = env().await;
    let base = [
        ("function", "external_hangup"),
        ("agent_user", "1001"),
        ("value", "1"),
    ];
    let (status, body) = e
        .post(
            "/agc/api.php",
            &[
                base[0],
                base[1],
                base[2],
                ("user", "apiuser"),
                ("pass", "apipass"),
            ],
        )
        .await;
    assert_eq!((status, body.as_str()), (200, "ERROR: Invalid Source - \n"));

    let bad = [
        base[0],
        base[1],
        base[2],
        ("source", "test"),
        ("user", "apiuser"),
        ("pass", "wrong"),
    ];
    assert_eq!(
        e.post("/agc/api.php", &bad).await.1,
        "ERROR: Invalid Username/Password: |apiuser|wrong|0|1|BAD|\n"
    );
    assert_eq!(
        e.scalar(
            "SELECT CAST(failed_login_count AS CHAR) FROM vicidial_users WHERE user = 'apiuser'"
        )
        .await,
        "1"
    );
    for _ in 0..9 {
        e.post("/agc/api.php", &bad).await;
    }
    assert_eq!(
        e.scalar(
            "SELECT CAST(failed_login_count AS CHAR) FROM vicidial_users WHERE user = 'apiuser'"
        )
        .await,
        "10"
    );
    // Locked: even the right password is refused now.
    assert_eq!(
        e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
            .await,
        "ERROR: Invalid Username/Password: |apiuser|apipass|0|1|LOCK|\n"
    );

    // admin has the right password but no vdc_agent_api_access.
    let admin = [
        base[0],
        base[1],
        base[2],
        ("source", "test"),
        ("user", "admin"),
        ("pass", "adminpass"),
    ];
    assert_eq!(
        e.post("/agc/api.php", &admin).await.1,
        "ERROR: Invalid Username/Password: |admin|adminpass|1|0|GOOD|\n"
    );

    sqlx::query("UPDATE vicidial_users SET failed_login_count = 0, vdc_agent_api_access = '1' WHERE user IN ('apiuser', 'admin')")
        .execute(&e.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE vicidial_users SET api_allowed_functions = ' external_hangup logout ' WHERE user = 'apiuser'")
        .execute(&e.pool)
        .await
        .unwrap();
    assert_eq!(
        e.dial("1001", "3125551212").await,
        "ERROR: auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION - 3125551212|apiuser|external_dial|ADMIN\n"
    );
    sqlx::query("UPDATE system_settings SET vdc_agent_api_active = '0'")
        .execute(&e.pool)
        .await
        .unwrap();
    assert_eq!(
        e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
            .await,
        "ERROR: System API NOT ACTIVE\n"
    );
}

#[tokio::test]
async fn requests_for_an_agent_who_is_not_logged_in() {
    let e = env().await;
    assert_eq!(
        e.dial("1001", "3125551212").await,
        "ERROR: agent_user is not logged in - 1001\n"
    );
    assert_eq!(
        e.agent_api(
            "external_status",
            &[("agent_user", "1001"), ("value", "SALE")]
        )
        .await,
        "ERROR: agent_user is not logged in - 1001\n"
    );
    assert_eq!(
        e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "")])
            .await,
        "ERROR: external_hangup not valid - |1001\n"
    );
    assert_eq!(
        e.non_agent_api("agent_status", &[("agent_user", "1001")])
            .await,
        "ERROR: agent_status AGENT NOT LOGGED IN: apiuser|1001\n"
    );
}

#[tokio::test]
async fn external_dial_is_queued_in_the_exact_column_format() {
    let e = env().await;
    let conf = e
        .sim
        .login_agent("1001", "TESTCAMP", "cc1001")
        .await
        .unwrap();
    assert_eq!(conf, "8600051");
    e.sim.screen_gone("1001");
    let out = e.dial("1001", "312-555-1212").await;
    let epoch = out.trim_end().split('|').nth(7).unwrap().to_string();
    assert_eq!(
        out,
        format!("SUCCESS: external_dial function set - 3125551212|1001|1|YES|NO|NO||{epoch}||||\n")
    );
    assert_eq!(
        e.live("1001", "external_dial").await,
        format!("3125551212!1!YES!NO!NO!!{epoch}!!!!!!!")
    );
    // Missing flags.
    assert_eq!(
        e.agent_api(
            "external_dial",
            &[
                ("agent_user", "1001"),
                ("value", "3125551212"),
                ("search", "YES")
            ]
        )
        .await,
        "ERROR: external_dial not valid - 3125551212||YES||||1001|\n"
    );
}

#[tokio::test]
async fn dial_refused_when_not_paused_or_not_allowed() {
    let e = env().await;
    e.answered_call("1001", "TESTCAMP", "cc1001", "3125551212")
        .await;
    assert_eq!(
        e.dial("1001", "3125559999").await,
        "ERROR: agent_user is not paused - 1001\n"
    );
    e.login("1005", "TESTCAMP", "cc1005").await.unwrap();
    assert_eq!(
        e.dial("1005", "3125559999").await,
        "ERROR: agent_user is not allowed to place manual dial calls - 1005\n"
    );
    // The dispo step (PAUSED with a lead) is "not paused" too.
    e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
        .await;
    eventually(|| async { e.live("1001", "status").await == "PAUSED" }).await;
    assert_eq!(
        e.dial("1001", "3125559999").await,
        "ERROR: agent_user is not paused - 1001\n"
    );
}

#[tokio::test]
async fn dial_answer_hangup_sale_writes_what_vicidial_writes() {
    let e = env().await;
    e.login("1001", "TESTCAMP", "cc1001").await.unwrap();
    assert!(e.dial("1001", "3125551001").await.starts_with("SUCCESS"));
    // search=YES finds lead 1; the screen dials it.
    eventually(|| async { e.live("1001", "status").await == "INCALL" }).await;
    assert_eq!(e.live("1001", "lead_id").await, "1");
    let callerid = e.live("1001", "callerid").await;
    assert_eq!(callerid.len(), 20);
    assert!(
        callerid.starts_with('M') && callerid.ends_with("000000001"),
        "{callerid}"
    );
    assert_eq!(e.live("1001", "comments").await, "MANUAL");
    assert_eq!(e.live("1001", "external_dial").await, "");
    assert_eq!(e.scalar("SELECT CONCAT(status, '|', user, '|', called_count) FROM vicidial_list WHERE lead_id = 1").await, "INCALL|1001|1");

    eventually(|| async { e.live("1001", "uniqueid").await.len() > 5 }).await;
    let uniqueid = e.live("1001", "uniqueid").await;
    assert_eq!(
        e.scalar("SELECT CONCAT(status, '|', comments, '|', phone_number, '|', list_id, '|', campaign_id) FROM vicidial_log").await,
        "INCALL|MANUAL|3125551001|101|TESTCAMP"
    );
    assert_eq!(
        e.non_agent_api("agent_status", &[("agent_user", "1001")])
            .await,
        format!("INCALL|{callerid}|1|TESTCAMP|1|Ada Agent|AGENTS|1|||3125551001||8600051\n")
    );

    assert_eq!(
        e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
            .await,
        "SUCCESS: external_hangup function set - 1|1001\n"
    );
    eventually(|| async { e.live("1001", "status").await == "PAUSED" }).await;
    assert_eq!(
        e.live("1001", "lead_id").await,
        "1",
        "the dispo step keeps the lead"
    );
    assert!(e
        .non_agent_api("agent_status", &[("agent_user", "1001")])
        .await
        .contains("|DISPO|"));
    assert!(!e
        .scalar("SELECT CAST(end_epoch AS CHAR) FROM vicidial_log")
        .await
        .is_empty());

    assert_eq!(
        e.agent_api(
            "external_status",
            &[("agent_user", "1001"), ("value", "SALE")]
        )
        .await,
        "SUCCESS: external_status function set - SALE|1001\n"
    );
    eventually(|| async { e.live("1001", "lead_id").await == "0" }).await;
    assert_eq!(e.live("1001", "status").await, "PAUSED");
    assert_eq!(e.live("1001", "external_status").await, "");
    assert_eq!(e.live("1001", "callerid").await, "");
    assert_eq!(
        e.scalar("SELECT CONCAT(status, '|', user) FROM vicidial_list WHERE lead_id = 1")
            .await,
        "SALE|1001"
    );
    assert_eq!(
        e.scalar(&format!(
            "SELECT status FROM vicidial_log WHERE uniqueid = '{uniqueid}'"
        ))
        .await,
        "SALE"
    );
    assert_eq!(
        e.scalar("SELECT status FROM vicidial_agent_log WHERE status IS NOT NULL ORDER BY agent_log_id DESC LIMIT 1").await,
        "SALE"
    );
    // The ledger entry follows the database writes.
    eventually(|| async {
        e.sim
            .ledger()
            .iter()
            .any(|l| matches!(l, LedgerEntry::ScreenDispo { .. }))
    })
    .await;
    let ledger = e.sim.ledger();
    assert_eq!(
        count(
            &ledger,
            |l| matches!(l, LedgerEntry::ScreenDispo { lead_id: 1, status, callback: None, .. } if status == "SALE")
        ),
        1
    );
    assert_eq!(
        count(&ledger, |l| matches!(l, LedgerEntry::DialPlaced { .. })),
        1
    );
    // The column was consumed once: more ticks change nothing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        count(&e.sim.ledger(), |l| matches!(
            l,
            LedgerEntry::ScreenDispo { .. }
        )),
        1
    );
}

#[tokio::test]
async fn callback_holds_the_lead_and_schedules_it() {
    let e = env().await;
    let lead = e
        .answered_call("1001", "TESTCAMP", "cc1001", "3125559876")
        .await;
    assert_eq!(
        e.scalar(&format!(
            "SELECT CONCAT(status, '|', list_id) FROM vicidial_list WHERE lead_id = {lead}"
        ))
        .await,
        "INCALL|998",
        "a new number becomes a QUEUE lead in manual_dial_list_id, then INCALL"
    );
    e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
        .await;
    let out = e
        .agent_api(
            "external_status",
            &[
                ("agent_user", "1001"),
                ("value", "CB"),
                ("callback_datetime", "2026-12-01+10:30:00"),
                ("callback_type", "USERONLY"),
                ("callback_comments", "call after lunch"),
            ],
        )
        .await;
    assert_eq!(out, "SUCCESS: external_status function set - CB!2026-12-01 10:30:00!USERONLY!call after lunch!|1001\n");
    eventually(|| async { e.live("1001", "lead_id").await == "0" }).await;
    assert_eq!(
        e.scalar(&format!(
            "SELECT status FROM vicidial_list WHERE lead_id = {lead}"
        ))
        .await,
        "CBHOLD"
    );
    assert_eq!(
        e.scalar(&format!(
            "SELECT status FROM vicidial_log WHERE lead_id = {lead}"
        ))
        .await,
        "CB"
    );
    assert_eq!(
        e.scalar(&format!(
            "SELECT CONCAT_WS('|', status, CAST(callback_time AS CHAR), user, recipient, comments, lead_status, user_group, campaign_id) \
             FROM vicidial_callbacks WHERE lead_id = {lead}"
        ))
        .await,
        "ACTIVE|2026-12-01 10:30:00|1001|USERONLY|call after lunch|CB|AGENTS|TESTCAMP"
    );
    eventually(|| async {
        e.sim.ledger().iter().any(|l| matches!(l,
            LedgerEntry::ScreenDispo { status, callback: Some(cb), .. } if status == "CB" && cb.recipient == "USERONLY"))
    })
    .await;
}

#[tokio::test]
async fn callback_status_without_a_date_stalls_the_screen() {
    let e = env().await;
    e.answered_call("1001", "TESTCAMP", "cc1001", "3125551002")
        .await;
    e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
        .await;
    eventually(|| async { e.live("1001", "status").await == "PAUSED" }).await;
    assert_eq!(
        e.agent_api(
            "external_status",
            &[("agent_user", "1001"), ("value", "CALLBK")]
        )
        .await,
        "SUCCESS: external_status function set - CALLBK|1001\n"
    );
    eventually(|| async {
        e.sim
            .ledger()
            .iter()
            .any(|l| matches!(l, LedgerEntry::DispoStalled { .. }))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        e.live("1001", "external_status").await,
        "CALLBK",
        "left for a human"
    );
    assert_eq!(e.live("1001", "lead_id").await, "2");
    assert_eq!(
        count(&e.sim.ledger(), |l| matches!(
            l,
            LedgerEntry::ScreenDispo { .. }
        )),
        0
    );
}

#[tokio::test]
async fn dnc_status_fills_the_dnc_lists_of_a_dnc_campaign() {
    let e = env().await;
    let lead = e
        .answered_call("1001", "DNCCAMP", "cc1001", "3125554444")
        .await;
    e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
        .await;
    e.agent_api(
        "external_status",
        &[("agent_user", "1001"), ("value", "DNC")],
    )
    .await;
    eventually(|| async { e.live("1001", "lead_id").await == "0" }).await;
    assert_eq!(
        e.scalar(&format!(
            "SELECT status FROM vicidial_list WHERE lead_id = {lead}"
        ))
        .await,
        "DNC"
    );
    assert_eq!(
        e.scalar("SELECT phone_number FROM vicidial_dnc").await,
        "3125554444"
    );
    assert_eq!(
        e.scalar("SELECT campaign_id FROM vicidial_campaign_dnc WHERE phone_number = '3125554444'")
            .await,
        "DNCCAMP"
    );
    assert_eq!(
        e.scalar("SELECT GROUP_CONCAT(campaign_id ORDER BY campaign_id) FROM vicidial_dnc_log")
            .await,
        "-SYSINT-,DNCCAMP"
    );
    // The campaign's manual_dial_filter now refuses the number.
    assert!(e.dial("1001", "3125554444").await.starts_with("SUCCESS"));
    eventually(|| async {
        e.sim
            .ledger()
            .iter()
            .any(|l| matches!(l, LedgerEntry::DialRefused { reason, .. } if reason == "DNC"))
    })
    .await;
    assert_eq!(e.live("1001", "status").await, "PAUSED");
}

#[tokio::test]
async fn dnc_in_testcamp_only_changes_statuses() {
    let e = env().await;
    e.answered_call("1001", "TESTCAMP", "cc1001", "3125554445")
        .await;
    e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
        .await;
    e.agent_api(
        "external_status",
        &[("agent_user", "1001"), ("value", "DNC")],
    )
    .await;
    eventually(|| async { e.live("1001", "lead_id").await == "0" }).await;
    assert_eq!(
        e.scalar("SELECT CAST(COUNT(*) AS CHAR) FROM vicidial_dnc")
            .await,
        "0"
    );
}

#[tokio::test]
async fn status_sent_during_the_call_waits_for_the_hangup() {
    let e = env().await;
    let lead = e
        .answered_call("1001", "TESTCAMP", "cc1001", "3125551004")
        .await;
    e.agent_api(
        "external_status",
        &[("agent_user", "1001"), ("value", "NI")],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.live("1001", "status").await, "INCALL");
    assert_eq!(e.live("1001", "external_status").await, "NI");
    assert_eq!(
        e.scalar(&format!(
            "SELECT status FROM vicidial_list WHERE lead_id = {lead}"
        ))
        .await,
        "INCALL"
    );
    e.sim.customer_hangup("1001").await.unwrap();
    assert!(e
        .non_agent_api("agent_status", &[("agent_user", "1001")])
        .await
        .contains("|DEAD|"));
    assert_eq!(
        e.live("1001", "status").await,
        "INCALL",
        "VICIdial keeps the agent in the dead call"
    );
    e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
        .await;
    eventually(|| async { e.live("1001", "lead_id").await == "0" }).await;
    assert_eq!(
        e.scalar(&format!(
            "SELECT status FROM vicidial_list WHERE lead_id = {lead}"
        ))
        .await,
        "NI"
    );
    assert_eq!(
        e.scalar("SELECT term_reason FROM vicidial_log").await,
        "CALLER"
    );
}

#[tokio::test]
async fn a_gone_screen_never_consumes_requests() {
    let e = env().await;
    e.login("1001", "TESTCAMP", "cc1001").await.unwrap();
    e.sim.screen_gone("1001");
    assert!(e.dial("1001", "3125551212").await.starts_with("SUCCESS"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(e.live("1001", "status").await, "PAUSED");
    assert!(e
        .live("1001", "external_dial")
        .await
        .starts_with("3125551212!"));
    assert_eq!(
        count(&e.sim.ledger(), |l| matches!(
            l,
            LedgerEntry::DialPlaced { .. }
        )),
        0
    );
    // The screen comes back: the queued dial happens once.
    e.sim.start_screen("1001");
    let dials = || {
        count(&e.sim.ledger(), |l| {
            matches!(l, LedgerEntry::DialPlaced { .. })
        })
    };
    // The ledger entry follows the database writes: wait for it, then for any second one.
    eventually(|| async { dials() >= 1 }).await;
    assert_eq!(e.live("1001", "status").await, "INCALL");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(dials(), 1);
}

#[tokio::test]
async fn busy_number_goes_to_the_dispo_step() {
    let e = env().await;
    e.sim.script_number("3125550001", Outcome::Busy);
    e.login("1001", "TESTCAMP", "cc1001").await.unwrap();
    e.dial("1001", "3125550001").await;
    eventually(|| async {
        e.sim.ledger().iter().any(|l| {
            matches!(
                l,
                LedgerEntry::CallFailed {
                    outcome: Outcome::Busy,
                    ..
                }
            )
        })
    })
    .await;
    eventually(|| async { e.live("1001", "status").await == "PAUSED" }).await;
    assert_ne!(e.live("1001", "lead_id").await, "0");
    e.agent_api("external_status", &[("agent_user", "1001"), ("value", "B")])
        .await;
    eventually(|| async { e.live("1001", "lead_id").await == "0" }).await;
    assert_eq!(e.scalar("SELECT status FROM vicidial_log").await, "B");
}

#[tokio::test]
async fn non_agent_update_lead_and_dnc_strings() {
    let e = env().await;
    assert_eq!(
        e.non_agent_api(
            "update_lead",
            &[
                ("lead_id", "3"),
                ("status", "NI"),
                ("comments", "wrong number")
            ]
        )
        .await,
        "SUCCESS: update_lead LEAD HAS BEEN UPDATED - apiuser|3|1|||\n"
    );
    assert_eq!(
        e.scalar("SELECT CONCAT(status, '|', comments) FROM vicidial_list WHERE lead_id = 3")
            .await,
        "NI|wrong number"
    );
    assert_eq!(
        e.non_agent_api(
            "update_lead",
            &[
                ("lead_id", "3"),
                ("callback", "Y"),
                ("callback_status", "CB"),
                ("callback_datetime", "2026-12-01+10:30:00"),
                ("callback_type", "USERONLY"),
                ("callback_user", "1001"),
                ("campaign_id", "TESTCAMP"),
            ]
        )
        .await,
        "SUCCESS: update_lead LEAD HAS BEEN UPDATED - apiuser|3|0|||\n\
         NOTICE: update_lead SCHEDULED CALLBACK ADDED - 3|TESTCAMP|2026-12-01 10:30:00|USERONLY|1001|CB\n"
    );
    assert_eq!(
        e.scalar("SELECT lead_status FROM vicidial_callbacks WHERE lead_id = 3")
            .await,
        "CB"
    );
    assert_eq!(
        e.non_agent_api("update_lead", &[("lead_id", "424242"), ("status", "NI")])
            .await,
        "ERROR: update_lead NO MATCHES FOUND IN THE SYSTEM: |apiuser|424242||\n"
    );
    assert_eq!(
        e.non_agent_api(
            "add_dnc_phone",
            &[
                ("phone_number", "4075551234"),
                ("campaign_id", "SYSTEM_INTERNAL")
            ]
        )
        .await,
        "SUCCESS: add_dnc_phone DNC NUMBER HAS BEEN ADDED - apiuser|4075551234|SYSTEM_INTERNAL\n"
    );
    assert_eq!(
        e.non_agent_api(
            "add_dnc_phone",
            &[
                ("phone_number", "4075551234"),
                ("campaign_id", "SYSTEM_INTERNAL")
            ]
        )
        .await,
        "ERROR: add_dnc_phone DNC NUMBER ALREADY EXISTS: |apiuser|4075551234|SYSTEM_INTERNAL\n"
    );
    assert_eq!(
        e.scalar("SELECT campaign_id FROM vicidial_dnc_log").await,
        "-SYSINT-"
    );
    let info = e.non_agent_api("lead_all_info", &[("lead_id", "1")]).await;
    assert!(
        info.starts_with("NEW||||101|0.00|1|3125551001||Grace||Hopper|1 Navy Way|"),
        "{info}"
    );
    assert!(info.trim_end().ends_with("|1"));
    assert_eq!(
        e.post(
            "/vicidial/non_agent_api.php",
            &[
                ("source", "test"),
                ("user", "apiuser"),
                ("pass", "nope"),
                ("function", "agent_status")
            ]
        )
        .await
        .1,
        "ERROR: Login incorrect, please try again: |apiuser|nope|BAD|\n"
    );
    let ledger = e.sim.ledger();
    assert_eq!(
        count(&ledger, |l| matches!(
            l,
            LedgerEntry::LeadUpdated { lead_id: 3, .. }
        )),
        2
    );
    assert_eq!(
        count(&ledger, |l| matches!(l, LedgerEntry::DncAdded { .. })),
        1
    );
}

#[tokio::test]
async fn update_log_entry_by_call_id() {
    let e = env().await;
    e.answered_call("1001", "TESTCAMP", "cc1001", "3125551001")
        .await;
    let callerid = e.live("1001", "callerid").await;
    let uniqueid = e.live("1001", "uniqueid").await;
    let out = e
        .non_agent_api(
            "update_log_entry",
            &[
                ("group", "TESTCAMP"),
                ("call_id", &callerid),
                ("status", "NI"),
            ],
        )
        .await;
    assert_eq!(
        out,
        format!("SUCCESS: update_log_entry RECORD HAS BEEN UPDATED - apiuser|apiuser|TESTCAMP|{callerid}|NI|INCALL|{uniqueid}|\n")
    );
    assert_eq!(e.scalar("SELECT status FROM vicidial_log").await, "NI");
}

/// The login form as VICIdial's page posts it, with a browser window's size.
fn login_form<'a>(user: &'a str, pass: &'a str, campaign: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut form: Vec<(&str, &str)> = LOGIN_FORM_FIELDS.iter().map(|f| (*f, "")).collect();
    for (name, value) in form.iter_mut() {
        *value = match *name {
            "JS_browser_height" => "900",
            "JS_browser_width" => "1400",
            "phone_login" => "",
            "VD_login" => user,
            "VD_pass" => pass,
            "VD_campaign" => campaign,
            _ => "",
        };
    }
    form
}

/// A variable the agent page's script sets (`var name = "value";`).
fn page_var(page: &str, name: &str) -> String {
    page.split(&format!("var {name} = \""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no var {name} in {page}"))
        .to_string()
}

/// What the page's `check_for_conf_calls()` posts.
fn poll_form(page: &str) -> Vec<(String, String)> {
    vec![
        ("server_ip".into(), page_var(page, "server_ip")),
        ("session_name".into(), page_var(page, "session_name")),
        ("user".into(), page_var(page, "user")),
        ("pass".into(), page_var(page, "pass")),
        ("client".into(), "vdc".into()),
        ("conf_exten".into(), page_var(page, "session_id")),
        ("auto_dial_level".into(), page_var(page, "auto_dial_level")),
        ("campagentstdisp".into(), "NO".into()),
    ]
}

impl Env {
    async fn poll(&self, form: &[(String, String)]) -> String {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post("/agc/conf_exten_check.php", &form).await.1
    }

    /// Seconds since the agent's screen last refreshed its row.
    async fn silent_secs(&self, agent: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT CAST(TIMESTAMPDIFF(SECOND, last_update_time, NOW()) AS SIGNED) FROM vicidial_live_agents WHERE user = ?",
        )
        .bind(agent)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn backdate_screen(&self, agent: &str, secs: i64) {
        sqlx::query("UPDATE vicidial_live_agents SET last_update_time = NOW() - INTERVAL ? SECOND WHERE user = ?")
            .bind(secs)
            .bind(agent)
            .execute(&self.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn vicidial_php_login_and_browser_polls() {
    let e = env().await;
    // The login page itself carries every field of the form.
    let (status, form_page) = e.post("/agc/vicidial.php", &[]).await;
    assert_eq!(status, 200);
    for field in LOGIN_FORM_FIELDS {
        assert!(
            form_page.contains(&format!("name=\"{field}\"")),
            "{field}: {form_page}"
        );
    }
    let mut login = login_form("1001", "agentpass1", "TESTCAMP");
    login.retain(|(k, _)| *k != "phone_login");
    login.push(("phone_login", "cc1001"));
    login.retain(|(k, _)| *k != "phone_pass");
    login.push(("phone_pass", "phonepass"));
    let (status, page) = e.post("/agc/vicidial.php", &login).await;
    assert_eq!(status, 200);
    assert!(page.contains("conf_exten_check.php"), "{page}");
    assert_eq!(
        page_var(&page, "pass"),
        "agentpass1",
        "the real page keeps the password in its JavaScript"
    );
    assert_eq!(e.live("1001", "status").await, "PAUSED");
    assert_eq!(e.live("1001", "extension").await, "SIP/cc1001");
    assert_eq!(e.live("1001", "conf_exten").await, "8600051");
    assert_eq!(
        e.scalar("SELECT sub_status FROM vicidial_agent_log WHERE user = '1001'")
            .await,
        "LOGIN"
    );
    let poll = poll_form(&page);
    assert!(page_var(&page, "session_name").contains("_cc1001"));

    // No virtual screen: the browser's polls drive the dial, from the third poll on, and
    // only with the phone in the session.
    e.sim.phone_join("1001").await.unwrap();
    e.dial("1001", "3125551001").await;
    let first = e.poll(&poll).await;
    let mut lines = first.lines();
    let status_line = lines.next().unwrap();
    assert!(
        status_line.contains("|Logged-in: N|") && status_line.contains("|Status: PAUSED|"),
        "{first}"
    );
    assert!(
        status_line.contains("|APIDiaL: 3125551001!1!YES!NO!NO!!"),
        "{first}"
    );
    assert!(
        status_line.ends_with("|LeadIDSwitch: 0|DEADxfer: 0"),
        "{first}"
    );
    let channels = lines.next().unwrap();
    assert!(
        channels.starts_with("1|SIP/cc1001-") && channels.ends_with(" ~"),
        "{first}"
    );
    e.poll(&poll).await;
    e.poll(&poll).await;
    let line = e.poll(&poll).await;
    assert!(line.contains("|Status: INCALL|"), "{line}");
    e.agent_api("logout", &[("agent_user", "1001"), ("value", "LOGOUT")])
        .await;
    let line = e.poll(&poll).await;
    assert!(
        line.contains("|Logged-in: API_LOGOUT|") && line.contains("|Status: INCALL|"),
        "logout waits for the call to end: {line}"
    );

    // A wrong password is refused and counted.
    let page = e
        .post("/agc/vicidial.php", &login_form("1002", "nope", "TESTCAMP"))
        .await
        .1;
    assert!(page.contains("Login incorrect, please try again"));
    assert_eq!(e.live("1002", "status").await, "<no row>");
    assert_eq!(
        e.scalar("SELECT CAST(failed_login_count AS CHAR) FROM vicidial_users WHERE user = '1002'")
            .await,
        "1"
    );
    // The API-only user cannot open an agent screen.
    let page = e
        .post(
            "/agc/vicidial.php",
            &login_form("apiuser", "apipass", "TESTCAMP"),
        )
        .await
        .1;
    assert!(page.contains("Login incorrect"));
}

#[tokio::test]
async fn a_login_without_the_browser_height_dies_after_writing_the_session() {
    let e = env().await;
    for height in [None, Some("")] {
        let mut form = login_form("1001", "agentpass1", "TESTCAMP");
        match height {
            None => form.retain(|(k, _)| *k != "JS_browser_height"),
            Some(h) => form
                .iter_mut()
                .filter(|(k, _)| *k == "JS_browser_height")
                .for_each(|f| f.1 = h),
        }
        let (status, page) = e.post("/agc/vicidial.php", &form).await;
        // Headers were sent long before the error: PHP cannot answer 500 any more.
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains("<b>Fatal error</b>:  Uncaught TypeError: Unsupported operand types: string - int in /srv/www/htdocs/agc/vicidial.php:5666"),
            "{page}"
        );
        assert!(!page.contains("<script"), "no page script: {page}");
        // The session rows were written before the error.
        assert_eq!(e.live("1001", "status").await, "PAUSED");
        let session: String = sqlx::query_scalar(
            "SELECT session_name FROM vicidial_session_data WHERE user = '1001'",
        )
        .fetch_one(&e.pool)
        .await
        .unwrap();
        assert_eq!(
            e.scalar(&format!(
                "SELECT CAST(COUNT(*) AS CHAR) FROM web_client_sessions WHERE session_name = '{session}'"
            ))
            .await,
            "1"
        );
    }
    assert_eq!(
        count(
            &e.sim.ledger(),
            |l| matches!(l, LedgerEntry::PhpFatal { agent, .. } if agent == "1001")
        ),
        2
    );
    // Nothing polls: the row is not refreshed and a queued dial is never placed.
    e.sim.phone_join("1001").await.unwrap();
    e.backdate_screen("1001", 30).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(e.silent_secs("1001").await >= 30);
    assert!(e.dial("1001", "3125551001").await.starts_with("SUCCESS"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(e
        .live("1001", "external_dial")
        .await
        .starts_with("3125551001!"));
    assert_eq!(
        count(&e.sim.ledger(), |l| matches!(
            l,
            LedgerEntry::DialPlaced { .. }
        )),
        0
    );

    // With the height the page works; the width alone is not needed.
    let mut form = login_form("1002", "agentpass1", "TESTCAMP");
    sqlx::query("UPDATE vicidial_users SET pass = 'agentpass1' WHERE user = '1002'")
        .execute(&e.pool)
        .await
        .unwrap();
    form.retain(|(k, _)| *k != "JS_browser_width");
    let page = e.post("/agc/vicidial.php", &form).await.1;
    assert!(page.contains("conf_exten_check.php"), "{page}");
}

#[tokio::test]
async fn conf_exten_check_refuses_what_the_real_one_refuses() {
    let e = env().await;
    let page = e
        .post(
            "/agc/vicidial.php",
            &login_form("1001", "agentpass1", "TESTCAMP"),
        )
        .await
        .1;
    let good = poll_form(&page);
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> =
            good.iter().filter(|(k, _)| k != name).cloned().collect();
        f.push((name.to_string(), value.to_string()));
        f
    };
    let without = |name: &str| -> Vec<(String, String)> {
        good.iter().filter(|(k, _)| k != name).cloned().collect()
    };
    let bad = e.poll(&with("pass", "wrongpass")).await;
    assert!(
        bad.starts_with("Invalid Username/Password: |1001|wrongpass|BAD|SELECT count(*) from vicidial_users where user='1001' and pass='wrongpass'"),
        "{bad}"
    );
    assert_eq!(
        e.scalar("SELECT CAST(failed_login_count AS CHAR) FROM vicidial_users WHERE user = '1001'")
            .await,
        "1",
        "a screen polling with a wrong password counts toward the lockout"
    );
    let missing = e.poll(&without("pass")).await;
    assert!(
        missing.starts_with("Invalid Username/Password: |1001||BAD|"),
        "{missing}"
    );
    let session = page_var(&page, "session_name");
    assert_eq!(
        e.poll(&without("server_ip")).await,
        format!("Invalid server_ip:  or Invalid session_name: {session}\n")
    );
    assert_eq!(
        e.poll(&with("session_name", "short")).await,
        "Invalid server_ip: 10.10.0.5 or Invalid session_name: short\n"
    );
    assert_eq!(
        e.poll(&with("session_name", "1795574705_cc100112345678"))
            .await,
        "Invalid session_name: |1795574705_cc100112345678|10.10.0.5|\n"
    );
    assert_eq!(
        e.poll(&without("conf_exten")).await,
        "Conf Exten  is not valid\n"
    );
    // Without client=vdc only the conference's channels: no status line, no refresh.
    e.backdate_screen("1001", 30).await;
    assert_eq!(e.poll(&without("client")).await, "0|\n");
    assert!(e.silent_secs("1001").await >= 30);
    // The screen's poll refreshes last_update_time...
    let line = e.poll(&good).await;
    assert!(
        line.starts_with("DateTime: ") && line.ends_with("\n0|\n"),
        "{line}"
    );
    assert!(e.silent_secs("1001").await <= 1);
    // ...and so does any write to the row, api.php's included (a classic TIMESTAMP).
    e.backdate_screen("1001", 30).await;
    e.agent_api("external_hangup", &[("agent_user", "1001"), ("value", "1")])
        .await;
    assert!(e.silent_secs("1001").await <= 1);
    // The conference's channels, SIP first.
    let channel = e.sim.phone_join("1001").await.unwrap();
    sqlx::query("INSERT INTO live_channels (channel, server_ip, channel_group, extension, channel_data) VALUES ('Local/58600051@default-00000001;1', '10.10.0.5', 'Local/58600051@default', '8600051', '')")
        .execute(&e.pool)
        .await
        .unwrap();
    let line = e.poll(&good).await;
    assert!(
        line.ends_with(&format!(
            "\n2|{channel} ~Local/58600051@default-00000001;1 ~\n"
        )),
        "{line}"
    );
}

#[tokio::test]
async fn screen_polls_with_the_hash_when_passwords_are_hashed() {
    let e = env_with(true).await;
    let page = e
        .post(
            "/agc/vicidial.php",
            &login_form("1002", "agentpass1", "TESTCAMP"),
        )
        .await
        .1;
    assert_eq!(page_var(&page, "pass"), seed::BCRYPT_PASS_HASH);
    let good = poll_form(&page);
    assert!(e.poll(&good).await.starts_with("DateTime: "));
    // The plain password is not what the poll takes.
    let mut plain: Vec<(String, String)> =
        good.iter().filter(|(k, _)| k != "pass").cloned().collect();
    plain.push(("pass".into(), "agentpass1".into()));
    assert!(e
        .poll(&plain)
        .await
        .starts_with("Invalid Username/Password: |1002|agentpass1|BAD|"));
}

#[tokio::test]
async fn a_second_login_replaces_the_first() {
    let e = env().await;
    let first = e
        .post(
            "/agc/vicidial.php",
            &login_form("1001", "agentpass1", "TESTCAMP"),
        )
        .await
        .1;
    let old_poll = poll_form(&first);
    // The agent is on a call when the screen is lost.
    e.sim.phone_join("1001").await.unwrap();
    e.dial("1001", "3125551001").await;
    for _ in 0..4 {
        e.poll(&old_poll).await;
    }
    assert_eq!(e.live("1001", "status").await, "INCALL");
    let second = e
        .post(
            "/agc/vicidial.php",
            &login_form("1001", "agentpass1", "TESTCAMP"),
        )
        .await
        .1;
    assert_ne!(
        page_var(&second, "session_name"),
        page_var(&first, "session_name")
    );
    assert_eq!(
        page_var(&second, "session_id"),
        "8600051",
        "the room this phone holds"
    );
    assert_eq!(
        e.scalar("SELECT CAST(COUNT(*) AS CHAR) FROM vicidial_live_agents WHERE user = '1001'")
            .await,
        "1"
    );
    assert_eq!(
        (
            e.live("1001", "status").await,
            e.live("1001", "lead_id").await
        ),
        ("PAUSED".into(), "0".into())
    );
    assert_eq!(
        e.scalar("SELECT status FROM vicidial_list WHERE lead_id = 1")
            .await,
        "ERI",
        "the lead left in the call"
    );
    // The old page's polls get DEAD_VLA and change nothing.
    e.dial("1001", "3125551002").await;
    for _ in 0..4 {
        let line = e.poll(&old_poll).await;
        assert!(line.contains("|Logged-in: DEAD_VLA|"), "{line}");
    }
    assert_eq!(e.live("1001", "status").await, "PAUSED");
    // The new page takes it (its phone is still in the reused room).
    let new_poll = poll_form(&second);
    for _ in 0..4 {
        e.poll(&new_poll).await;
    }
    assert_eq!(e.live("1001", "status").await, "INCALL");
    assert_eq!(e.live("1001", "lead_id").await, "2");
}

#[tokio::test]
async fn a_dial_waits_for_the_phone_and_is_placed_when_it_joins() {
    let e = env().await;
    e.sim
        .login_agent("1001", "TESTCAMP", "cc1001")
        .await
        .unwrap();
    assert!(e.dial("1001", "3125551004").await.starts_with("SUCCESS"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(e.live("1001", "status").await, "PAUSED");
    assert!(e
        .live("1001", "external_dial")
        .await
        .starts_with("3125551004!"));
    assert!(e.silent_secs("1001").await <= 1, "the screen keeps polling");
    // The phone joins (the HTTP control): the held request is placed, to the lead the
    // agent asked for minutes ago.
    let (status, _) = e.post("/__sim/channel/1001/join", &[]).await;
    assert_eq!(status, 204);
    eventually(|| async { e.live("1001", "status").await == "INCALL" }).await;
    assert_eq!(e.live("1001", "lead_id").await, "4");
    assert!(e.sim.ledger().iter().any(|l| matches!(l, LedgerEntry::PhoneJoined { channel, .. } if channel.starts_with("SIP/cc1001-"))));
    // The phone leaves: its channel is gone from the room.
    let (status, _) = e.post("/__sim/channel/1001/leave", &[]).await;
    assert_eq!(status, 204);
    assert_eq!(
        e.scalar("SELECT CAST(COUNT(*) AS CHAR) FROM live_sip_channels WHERE channel LIKE 'SIP/cc1001-%'").await,
        "0"
    );
    let (status, _) = e.post("/__sim/channel/1003/join", &[]).await;
    assert_eq!(status, 409, "not logged in");
}

#[tokio::test]
async fn bcrypt_agent_login() {
    let e = env_with(true).await;
    let page = e
        .post(
            "/agc/vicidial.php",
            &login_form("1002", "agentpass1", "testcamp"),
        )
        .await
        .1;
    assert!(page.contains("conf_exten_check.php"), "{page}");
    assert_eq!(e.live("1002", "campaign_id").await, "TESTCAMP");
    // With hashing on, the plain `pass` column no longer counts.
    assert!(e
        .post(
            "/agc/vicidial.php",
            &login_form("1001", "agentpass1", "TESTCAMP")
        )
        .await
        .1
        .contains("Login incorrect"));
}

#[tokio::test]
async fn logout_pause_code_and_dtmf() {
    let e = env().await;
    e.login("1001", "TESTCAMP", "cc1001").await.unwrap();
    assert_eq!(
        e.agent_api("pause_code", &[("agent_user", "1001"), ("value", "BREAK")])
            .await,
        "SUCCESS: pause_code function sent - 1001\n"
    );
    eventually(|| async { e.live("1001", "pause_code").await == "BREAK" }).await;
    assert_eq!(
        e.agent_api("send_dtmf", &[("agent_user", "1001"), ("value", "12*3#")])
            .await,
        "SUCCESS: send_dtmf function set - 123|1001\n"
    );
    eventually(|| async {
        e.sim
            .ledger()
            .iter()
            .any(|l| matches!(l, LedgerEntry::Dtmf { digits, .. } if digits == "123"))
    })
    .await;
    let out = e
        .agent_api("logout", &[("agent_user", "1001"), ("value", "LOGOUT")])
        .await;
    assert!(
        out.starts_with("SUCCESS: logout function set - LOGOUT|") && out.ends_with("|1001\n"),
        "{out}"
    );
    eventually(|| async { e.live("1001", "status").await == "<no row>" }).await;
    assert_eq!(
        e.non_agent_api("agent_status", &[("agent_user", "1001")])
            .await,
        "ERROR: agent_status AGENT NOT LOGGED IN: apiuser|1001\n"
    );
    assert_eq!(
        e.scalar("SELECT CAST(COUNT(*) AS CHAR) FROM web_client_sessions")
            .await,
        "0"
    );
}

#[tokio::test]
async fn api_down_and_slow() {
    let e = env().await;
    e.sim.set_api_down(true);
    let (status, body) = e.post("/agc/api.php", &[("function", "version")]).await;
    assert_eq!((status, body.as_str()), (503, ""));
    let (status, _) = e
        .post("/vicidial/non_agent_api.php", &[("function", "version")])
        .await;
    assert_eq!(status, 503);
    e.sim.set_api_down(false);
    e.sim.set_api_delay(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let (status, _) = e.post("/agc/api.php", &[("function", "version")]).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The HTTP controls and ledger.
    e.sim.set_api_delay(Duration::ZERO);
    let (status, _) = e.post("/__sim/api_down/true", &[]).await;
    assert_eq!(status, 204);
    assert_eq!(
        e.post("/agc/api.php", &[("function", "version")]).await.0,
        503
    );
    let ledger = e
        .http
        .get(format!("{}/__sim/ledger", e.sim.base_url()))
        .send()
        .await
        .unwrap();
    let ledger: serde_json::Value = serde_json::from_str(&ledger.text().await.unwrap()).unwrap();
    assert_eq!(ledger.as_array().unwrap().len(), 1, "{ledger}");
    assert_eq!(ledger[0]["kind"], "ApiRequest");
}

#[tokio::test]
async fn logged_in_agents_call_agent_and_pause() {
    let e = env().await;
    assert_eq!(
        e.non_agent_api("logged_in_agents", &[]).await,
        "ERROR: logged_in_agents NO LOGGED IN AGENTS: |apiuser|\n"
    );
    e.login("1001", "TESTCAMP", "cc1001").await.unwrap();
    e.login("1002", "DNCCAMP", "cc1002").await.unwrap();
    assert_eq!(
        e.non_agent_api(
            "logged_in_agents",
            &[("campaigns", "TESTCAMP"), ("show_sub_status", "YES")]
        )
        .await,
        "1001|TESTCAMP|8600051|PAUSED|0||0|Ada Agent|AGENTS|1||\n"
    );
    assert_eq!(
        e.agent_api("call_agent", &[("agent_user", "1002"), ("value", "CALL")])
            .await,
        "SUCCESS: call_agent function sent - 1002\n"
    );
    assert_eq!(
        e.scalar("SELECT CONCAT_WS('|', action, cmd_line_b, cmd_line_d) FROM vicidial_manager ORDER BY man_id DESC LIMIT 1").await,
        "Originate|Channel: SIP/cc1002|Exten: 8600052"
    );
    let out = e
        .agent_api(
            "external_pause",
            &[("agent_user", "1001"), ("value", "PAUSE")],
        )
        .await;
    assert!(
        out.starts_with("SUCCESS: external_pause function set - PAUSE|")
            && out.ends_with("|1001\n"),
        "{out}"
    );
    assert!(e.live("1001", "external_pause").await.starts_with("PAUSE!"));
    assert_eq!(
        e.agent_api(
            "external_pause",
            &[("agent_user", "1001"), ("value", "STOP")]
        )
        .await,
        "ERROR: external_pause not valid - STOP|1001\n"
    );
    e.answered_call("1001", "TESTCAMP", "cc1001", "3125551005")
        .await;
    assert_eq!(
        e.agent_api(
            "external_pause",
            &[("agent_user", "1001"), ("value", "RESUME")]
        )
        .await,
        "ERROR: external_pause agent is not paused - RESUME|1001\n"
    );
    assert_eq!(
        e.agent_api("pause_code", &[("agent_user", "1001"), ("value", "BREAK")])
            .await,
        "ERROR: pause_code error - agent is not paused - 1001\n"
    );
}
