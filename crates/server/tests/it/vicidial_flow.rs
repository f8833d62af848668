//! The agent's call cycle against the VICIdial simulator (Agent API, Non-Agent API and an
//! emulated agent screen over the real MariaDB): dial, hang up, disposition, each confirmed in
//! VICIdial's tables; callbacks and DNC; reconciliation through the Non-Agent API when the
//! screen is gone; VICIdial's API down; the refusals VICIdial gives.

use std::time::Duration;

use dialdeck_shared::{AgentStatus, DispositionAccepted, ScreenLink, SubStatus, TargetState};
use dialdeck_vicidial_sim::{LedgerEntry, SimOptions, VicidialSim};
use serde_json::{json, Value};
use sqlx::MySqlPool;

use crate::vicidial::{fresh_vicidial_db, spawn, App};

pub(crate) struct Lab {
    pub(crate) app: App,
    pub(crate) sim: VicidialSim,
    pub(crate) db: MySqlPool,
}

pub(crate) async fn lab(campaign: &str, extra: &[&str]) -> Lab {
    let (url, db) = fresh_vicidial_db(false).await;
    let sim = VicidialSim::start(
        db.clone(),
        SimOptions {
            poll_interval: Duration::from_millis(100),
            answer_after: Duration::from_millis(200),
        },
    )
    .await
    .unwrap();
    let mut args = vec!["--vicidial-campaign", campaign];
    if !extra.contains(&"--vicidial-confirm-secs") {
        args.extend_from_slice(&["--vicidial-confirm-secs", "3"]);
    }
    args.extend_from_slice(extra);
    let app = spawn(&url, db.clone(), &sim.base_url(), &args).await;
    Lab { app, sim, db }
}

pub(crate) fn dispo(
    id: &str,
    lead: i64,
    status: &str,
    callback: Option<Value>,
    notes: &str,
) -> Value {
    json!({"id": id, "lead_id": lead, "status": status, "callback": callback, "notes": notes})
}

impl Lab {
    /// Logs the agent in, opens its VICIdial session and puts its phone into the session
    /// conference (a webphone dials in); waits until the desk may dial.
    pub(crate) async fn logged_in(
        &self,
        user: &str,
        password: &str,
        campaign: &str,
        phone: &str,
    ) -> String {
        let cookie = self.app.login(user, password).await;
        self.sim.login_agent(user, campaign, phone).await.unwrap();
        self.sim.phone_join(user).await.unwrap();
        self.app
            .wait_state(&cookie, |s| {
                s.status == Some(AgentStatus::Paused) && s.dial_block().is_none()
            })
            .await;
        cookie
    }

    fn dials_placed(&self, agent: &str) -> Vec<u64> {
        self.sim
            .ledger()
            .into_iter()
            .filter_map(|e| match e {
                LedgerEntry::DialPlaced {
                    agent: a, lead_id, ..
                } if a == agent => Some(lead_id),
                _ => None,
            })
            .collect()
    }

    async fn live(&self, user: &str, column: &str) -> String {
        sqlx::query_scalar::<_, Option<String>>(&format!(
            "SELECT CAST({column} AS CHAR) FROM vicidial_live_agents WHERE user = ?"
        ))
        .bind(user)
        .fetch_one(&self.db)
        .await
        .unwrap()
        .unwrap_or_default()
    }

    /// Dial, wait for the answer, hang up: returns the wrap-up's call id.
    pub(crate) async fn call(&self, cookie: &str, body: Value) -> (i64, String) {
        let (code, state, _) = self.app.post(Some(cookie), "/api/call/dial", &body).await;
        assert_eq!(code, 200, "{state}");
        assert_eq!(state["status"], "INCALL");
        let lead = state["lead_id"].as_i64().unwrap();
        assert!(lead > 0);
        self.app
            .wait_state(cookie, |s| {
                s.status == Some(AgentStatus::InCall) && s.sub_status == SubStatus::None
            })
            .await;
        let (code, state, _) = self
            .app
            .post(Some(cookie), "/api/call/hangup", &json!({}))
            .await;
        assert_eq!(code, 200, "{state}");
        let w = &state["wrapup"];
        assert_eq!(w["lead_id"].as_i64(), Some(lead), "{state}");
        (lead, w["call_id"].as_str().unwrap().to_string())
    }

    pub(crate) async fn submit(&self, cookie: &str, body: &Value) -> DispositionAccepted {
        let (code, answer, _) = self.app.post(Some(cookie), "/api/dispositions", body).await;
        assert_eq!(code, 202, "{answer}");
        serde_json::from_value(answer).unwrap()
    }

    pub(crate) async fn wait_target(
        &self,
        cookie: &str,
        id: &str,
        want: TargetState,
        secs: u64,
    ) -> DispositionAccepted {
        let mut last = Value::Null;
        for _ in 0..secs * 20 {
            let (code, body) = self
                .app
                .get(cookie, &format!("/api/dispositions/{id}"))
                .await;
            if code == 200 {
                let acc: DispositionAccepted = serde_json::from_value(body.clone()).unwrap();
                if acc
                    .targets
                    .iter()
                    .any(|t| t.target == "vicidial" && t.state == want)
                {
                    return acc;
                }
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("vicidial target never reached {want:?}: {last}");
    }

    pub(crate) async fn receipt(&self, id: &str) -> Value {
        let r: (String,) = sqlx::query_as(
            "SELECT j.receipt FROM outbox_jobs j JOIN dispositions d ON d.id = j.disposition_id \
             WHERE d.client_id = ? AND j.target = 'vicidial'",
        )
        .bind(id)
        .fetch_one(self.app.state.store())
        .await
        .unwrap();
        serde_json::from_str(&r.0).unwrap()
    }

    pub(crate) fn screen_dispos(&self, lead: i64) -> Vec<String> {
        self.sim
            .ledger()
            .into_iter()
            .filter_map(|e| match e {
                LedgerEntry::ScreenDispo {
                    lead_id, status, ..
                } if lead_id as i64 == lead => Some(status),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn lead_updates(&self, lead: i64) -> usize {
        self.sim
            .ledger()
            .iter()
            .filter(|e| matches!(e, LedgerEntry::LeadUpdated { lead_id, .. } if *lead_id as i64 == lead))
            .count()
    }

    pub(crate) async fn scalar(&self, sql: &str) -> String {
        sqlx::query_scalar::<_, String>(sql)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn dial_hangup_and_sale_reach_vicidials_tables_once() {
    let lab = lab("TESTCAMP", &[]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let (lead, call_id) = lab
        .call(
            &ada,
            json!({"phone_number": "(312) 555-1001", "country": "US"}),
        )
        .await;
    assert_eq!(lead, 1, "search=YES found the existing lead by its number");
    assert!(
        call_id.starts_with('M') && call_id.len() == 20,
        "VICIdial's call id: {call_id}"
    );
    let sale = dispo(&call_id, lead, "SALE", None, "Bought the premium plan");
    let acc = lab.submit(&ada, &sale).await;
    assert_eq!(acc.targets[0].target, "vicidial");
    lab.wait_target(&ada, &call_id, TargetState::Done, 10).await;

    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 1")
            .await,
        "SALE"
    );
    assert_eq!(
        lab.scalar(
            "SELECT status FROM vicidial_log WHERE lead_id = 1 ORDER BY start_epoch DESC LIMIT 1"
        )
        .await,
        "SALE"
    );
    assert_eq!(
        lab.scalar("SELECT call_notes FROM vicidial_call_notes WHERE lead_id = 1")
            .await,
        "Bought the premium plan"
    );
    assert_eq!(
        lab.screen_dispos(1),
        vec!["SALE".to_string()],
        "applied once, by the screen"
    );
    assert_eq!(lab.lead_updates(1), 0, "no reconciliation needed");
    let receipt = lab.receipt(&call_id).await;
    assert_eq!(
        (
            receipt["applied_by"].as_str(),
            receipt["reconciled"].as_bool()
        ),
        (Some("agent_screen"), Some(false))
    );
    // The same submission again changes nothing.
    lab.submit(&ada, &sale).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lab.screen_dispos(1).len(), 1);
    // The agent is free again: VICIdial shows PAUSED with no lead, and the next dial goes out.
    lab.app
        .wait_state(&ada, |s| {
            s.status == Some(AgentStatus::Paused) && s.lead_id == 0 && s.wrapup.is_none()
        })
        .await;
    let (code, state, _) = lab
        .app
        .post(Some(&ada), "/api/call/dial", &json!({"lead_id": 2}))
        .await;
    assert_eq!(code, 200, "{state}");
    assert_eq!(state["lead_id"], 2);
}

/// Logout answers once VICIdial's screen has taken it (the page unloads that screen right
/// after), and within the confirm window when no screen is left to take it.
#[tokio::test]
async fn logout_answers_once_vicidials_screen_has_logged_the_agent_out() {
    let lab = lab("TESTCAMP", &[]).await;
    let live_rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM vicidial_live_agents WHERE user = ?")
            .bind("1001")
            .fetch_one(&lab.db)
            .await
            .unwrap()
    };
    let cookie = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    assert_eq!(live_rows().await, 1);
    let (code, _, _) = lab.app.post(Some(&cookie), "/api/logout", &json!({})).await;
    assert_eq!(code, 204);
    assert_eq!(
        live_rows().await,
        0,
        "VICIdial's session ended before the answer"
    );
    assert_eq!(lab.app.get(&cookie, "/api/me").await.0, 204);

    // No screen left to take it: the answer still comes, after the confirm window (3 s).
    let cookie = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    lab.sim.screen_gone("1001");
    let asked = std::time::Instant::now();
    let (code, _, _) = lab.app.post(Some(&cookie), "/api/logout", &json!({})).await;
    assert_eq!(code, 204);
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(lab.app.get(&cookie, "/api/me").await.0, 204);
}

#[tokio::test]
async fn a_callback_is_held_and_scheduled_in_vicidials_local_time() {
    let lab = lab("TESTCAMP", &[]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let (lead, call_id) = lab.call(&ada, json!({"lead_id": 3})).await;
    // The agent picks a minute two days ahead in London (the browser's local time).
    let at = chrono::Utc::now() + chrono::Duration::days(2);
    let at = at - chrono::Duration::nanoseconds(at.timestamp_subsec_nanos() as i64);
    let at = at - chrono::Duration::seconds(at.timestamp() % 60);
    let at_local = at
        .with_timezone(&chrono_tz::Europe::London)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let cb = json!({"at_local": at_local, "time_zone": "Europe/London", "recipient": "USERONLY", "comments": "after 5pm, please!"});
    lab.submit(&ada, &dispo(&call_id, lead, "CB", Some(cb), ""))
        .await;
    lab.wait_target(&ada, &call_id, TargetState::Done, 10).await;
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 3")
            .await,
        "CBHOLD"
    );
    let row: (String, String, String, String, String) = sqlx::query_as(
        "SELECT lead_status, recipient, status, CAST(callback_time AS CHAR), comments FROM vicidial_callbacks WHERE lead_id = 3",
    )
    .fetch_one(&lab.db)
    .await
    .unwrap();
    let offset: i64 = sqlx::query_scalar("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())")
        .fetch_one(&lab.db)
        .await
        .unwrap();
    let local = (at + chrono::Duration::seconds((offset as f64 / 60.0).round() as i64 * 60))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(
        (row.0.as_str(), row.1.as_str(), row.2.as_str()),
        ("CB", "USERONLY", "ACTIVE")
    );
    assert_eq!(row.3, local);
    assert_eq!(row.4, "after 5pm please", "VICIdial's comment filter");
    assert_eq!(
        lab.scalar(
            "SELECT status FROM vicidial_log WHERE lead_id = 3 ORDER BY start_epoch DESC LIMIT 1"
        )
        .await,
        "CB"
    );
}

#[tokio::test]
async fn dnc_goes_to_the_lists_the_campaign_uses() {
    let lab = lab("DNCCAMP", &[]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "DNCCAMP", "cc1001")
        .await;
    // Lead 4 is in a TESTCAMP list: DNCCAMP reaches it by its number (search=YES).
    let (lead, call_id) = lab
        .call(&ada, json!({"phone_number": "312 555 1004"}))
        .await;
    assert_eq!(lead, 4);
    lab.submit(
        &ada,
        &dispo(&call_id, lead, "DNC", None, "asked never to be called"),
    )
    .await;
    lab.wait_target(&ada, &call_id, TargetState::Done, 10).await;
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 4")
            .await,
        "DNC"
    );
    assert_eq!(
        lab.scalar("SELECT phone_number FROM vicidial_dnc").await,
        "3125551004"
    );
    assert_eq!(
        lab.scalar(
            "SELECT campaign_id FROM vicidial_campaign_dnc WHERE phone_number = '3125551004'"
        )
        .await,
        "DNCCAMP"
    );
    // DNC_ONLY filter: VICIdial's screen now refuses to dial the number.
    let (code, answer, _) = lab
        .app
        .post(
            Some(&ada),
            "/api/call/dial",
            &json!({"phone_number": "3125551004"}),
        )
        .await;
    assert_ne!(code, 200, "{answer}");
}

#[tokio::test]
async fn when_the_screen_is_gone_the_disposition_is_reconciled_through_the_non_agent_api() {
    let lab = lab(
        "TESTCAMP",
        &[
            "--vicidial-confirm-secs",
            "1",
            "--vicidial-reconcile-secs",
            "2",
        ],
    )
    .await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let (lead, call_id) = lab.call(&ada, json!({"lead_id": 5})).await;
    lab.sim.screen_gone("1001");
    lab.submit(
        &ada,
        &dispo(&call_id, lead, "NI", None, "not interested at all"),
    )
    .await;
    let acc = lab.wait_target(&ada, &call_id, TargetState::Done, 20).await;
    assert!(acc.targets[0].attempts >= 1);
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 5")
            .await,
        "NI"
    );
    let receipt = lab.receipt(&call_id).await;
    let ledger: Vec<_> = lab
        .sim
        .ledger()
        .into_iter()
        .filter(|e| !matches!(e, LedgerEntry::ApiRequest { .. }))
        .collect();
    // update_log_entry finds the row by the call id's last 10 digits, as VICIdial does; VICIdial's
    // 9-digit lead padding leaves one digit of the seconds in there, so it may not find it.
    let log_status = lab
        .scalar(
            "SELECT status FROM vicidial_log WHERE lead_id = 5 ORDER BY start_epoch DESC LIMIT 1",
        )
        .await;
    match receipt["log_entry"].as_str() {
        Some("updated") => assert_eq!(log_status, "NI", "{receipt} {ledger:?}"),
        Some("no call log row") => assert!(
            call_id.ends_with("000000005") && !call_id.ends_with("0000000005"),
            "{call_id}"
        ),
        other => panic!("unexpected log_entry {other:?}: {receipt}"),
    }
    assert_eq!(lab.lead_updates(5), 1, "one update_lead");
    assert!(
        lab.screen_dispos(5).is_empty(),
        "the screen never applied it"
    );
    let receipt = lab.receipt(&call_id).await;
    assert_eq!(receipt["reconciled"], true, "{receipt}");
    assert_eq!(
        lab.scalar("SELECT call_notes FROM vicidial_call_notes WHERE lead_id = 5")
            .await,
        "not interested at all"
    );
}

#[tokio::test]
async fn vicidial_down_delays_a_disposition_without_losing_or_doubling_it() {
    let lab = lab("TESTCAMP", &[]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let (lead, call_id) = lab.call(&ada, json!({"lead_id": 2})).await;
    lab.sim.set_api_down(true);
    lab.submit(&ada, &dispo(&call_id, lead, "B", None, ""))
        .await;
    let acc = lab
        .wait_target(&ada, &call_id, TargetState::Retrying, 10)
        .await;
    assert!(
        acc.targets[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("unreachable"),
        "{acc:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    lab.sim.set_api_down(false);
    lab.wait_target(&ada, &call_id, TargetState::Done, 15).await;
    assert_eq!(lab.screen_dispos(2), vec!["B".to_string()]);
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 2")
            .await,
        "B"
    );
}

/// VICIdial's APIs are down past the reconcile deadline while the agent's screen keeps polling:
/// once they are back the screen applies the disposition itself (and leaves the dispo step),
/// and the Non-Agent API does not apply it a second time beside it.
#[tokio::test]
async fn a_screen_that_still_polls_applies_a_late_disposition_itself_once() {
    let lab = lab(
        "TESTCAMP",
        &[
            "--vicidial-confirm-secs",
            "1",
            "--vicidial-reconcile-secs",
            "2",
        ],
    )
    .await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let (lead, call_id) = lab.call(&ada, json!({"lead_id": 3})).await;
    lab.sim.set_api_down(true);
    lab.submit(&ada, &dispo(&call_id, lead, "B", None, ""))
        .await;
    lab.wait_target(&ada, &call_id, TargetState::Retrying, 10)
        .await;
    // Well past the reconcile deadline (2 s) before the APIs come back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    lab.sim.set_api_down(false);
    lab.wait_target(&ada, &call_id, TargetState::Done, 20).await;
    assert_eq!(lab.screen_dispos(3), vec!["B".to_string()]);
    assert_eq!(lab.lead_updates(3), 0, "no update_lead beside the screen");
    let receipt = lab.receipt(&call_id).await;
    assert_eq!(receipt["reconciled"], false, "{receipt}");
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 3")
            .await,
        "B"
    );
}

#[tokio::test]
async fn vicidials_refusals_reach_the_agent_as_clear_errors() {
    let lab = lab("TESTCAMP", &["--vicidial-confirm-secs", "1"]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let flo = lab
        .logged_in("1005", "agentpass5", "TESTCAMP", "cc1005")
        .await;
    // Not allowed to place manual calls.
    let (code, body, _) = lab
        .app
        .post(
            Some(&flo),
            "/api/call/dial",
            &json!({"phone_number": "3125551212"}),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (403, Some("manual_dial_not_allowed")),
        "{body}"
    );
    // Nothing to hang up; and Bea's requests never touch Ada's call.
    let (_, _, _) = lab
        .app
        .post(Some(&ada), "/api/call/dial", &json!({"lead_id": 1}))
        .await;
    lab.app
        .wait_state(&ada, |s| s.status == Some(AgentStatus::InCall))
        .await;
    let (code, body, _) = lab
        .app
        .post(Some(&flo), "/api/call/hangup", &json!({}))
        .await;
    assert_eq!((code, body["code"].as_str()), (409, Some("no_call")));
    assert_eq!(
        lab.app.agent_state(&ada).await.status,
        Some(AgentStatus::InCall),
        "Ada's call is untouched"
    );
    // Already in a call.
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/call/dial", &json!({"lead_id": 2}))
        .await;
    assert_eq!((code, body["code"].as_str()), (409, Some("in_call")));
    lab.app
        .wait_state(&ada, |s| {
            s.status == Some(AgentStatus::InCall) && s.sub_status == SubStatus::None
        })
        .await;
    // The customer hangs up: VICIdial keeps the agent in the call until the agent hangs up.
    lab.sim.customer_hangup("1001").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        lab.app.agent_state(&ada).await.status,
        Some(AgentStatus::InCall)
    );
    let (code, state, _) = lab
        .app
        .post(Some(&ada), "/api/call/hangup", &json!({}))
        .await;
    assert_eq!(code, 200, "{state}");
    assert_eq!(state["sub_status"], "DISPO");
    let call_id = state["wrapup"]["call_id"].as_str().unwrap().to_string();
    lab.submit(&ada, &dispo(&call_id, 1, "NI", None, "")).await;
    lab.wait_target(&ada, &call_id, TargetState::Done, 10).await;
    lab.app.wait_state(&ada, |s| s.lead_id == 0).await;
    // The screen is gone: VICIdial accepts the dial (queued), nothing happens, we take it
    // back and say so.
    lab.sim.screen_gone("1001");
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/call/dial", &json!({"lead_id": 2}))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (503, Some("dial_withdrawn")),
        "{body}"
    );
    // The API account locked out by VICIdial: an admin-facing error, no secret in it.
    sqlx::query("UPDATE vicidial_users SET failed_login_count = 10, last_login_date = NOW() WHERE user = 'apiuser'")
        .execute(&lab.db)
        .await
        .unwrap();
    lab.sim.start_screen("1001");
    let (code, body, _) = lab
        .app
        .post(Some(&flo), "/api/agent/pause", &json!({"code": "BREAK"}))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (503, Some("vicidial_api_error")),
        "{body}"
    );
    assert!(!body.to_string().contains("apipass"));
}

#[tokio::test]
async fn an_abandoned_wrapup_gets_the_campaigns_fallback_after_its_deadline() {
    let lab = lab("TESTCAMP", &["--wrapup-deadlines", "TESTCAMP=2:N"]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    // Bea keeps her tab open (its event stream is connected): no deadline for her.
    sqlx::query("UPDATE vicidial_users SET pass = 'beapass1' WHERE user = '1002'")
        .execute(&lab.db)
        .await
        .unwrap();
    let bea = lab
        .logged_in("1002", "beapass1", "TESTCAMP", "cc1002")
        .await;
    let mut bea_tab = lab
        .app
        .http
        .get(format!("{}/api/agent/events", lab.app.url))
        .header("cookie", &bea)
        .send()
        .await
        .unwrap();
    assert_eq!(bea_tab.status().as_u16(), 200);
    let first = bea_tab.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: state"));

    let (lead, call_id) = lab.call(&ada, json!({"lead_id": 2})).await;
    let (bea_lead, _) = lab.call(&bea, json!({"lead_id": 4})).await;
    // Ada's tab is gone (no event stream): after 2 s the server applies N and pauses her.
    let acc = lab.wait_target(&ada, &call_id, TargetState::Done, 20).await;
    assert_eq!(acc.id, call_id);
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 2")
            .await,
        "N"
    );
    assert_eq!(lab.screen_dispos(lead), vec!["N".to_string()]);
    assert!(lab.app.agent_state(&ada).await.wrapup.is_none());
    let paused = lab
        .sim
        .ledger()
        .iter()
        .any(|e| matches!(e, LedgerEntry::ApiRequest { function, agent_user, .. } if function == "external_pause" && agent_user == "1001"));
    assert!(paused, "the agent was paused");
    // Admins see it; Bea, with her tab open, is still in wrap-up past the deadline.
    let token = dialdeck_server::session::create(
        lab.app.state.store(),
        "admin",
        9,
        Some("TESTCAMP"),
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    let (code, backlog) = lab
        .app
        .get(&format!("dialdeck_session={token}"), "/api/admin/outbox")
        .await;
    assert_eq!(code, 200, "{backlog}");
    assert_eq!(backlog["expired"][0]["user"], "1001", "{backlog}");
    assert_eq!(backlog["expired"][0]["status"], "N");
    let bea_row = backlog["wrapups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["user"] == "1002")
        .cloned()
        .unwrap();
    assert_eq!(bea_row["tab_open"], true, "{backlog}");
    assert_eq!(bea_row["lead_id"].as_i64(), Some(bea_lead));
    assert!(lab.app.agent_state(&bea).await.wrapup.is_some());
    // Her tab closes: the deadline applies to her too.
    drop(bea_tab);
    lab.app.wait_state(&bea, |s| s.wrapup.is_none()).await;
    for _ in 0..200 {
        if !lab.screen_dispos(bea_lead).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lab.screen_dispos(bea_lead), vec!["N".to_string()]);
}

/// The screen stops polling just before a dial: the dial fails, the request is taken back
/// from `external_dial`, and when the screen comes back it places nothing. The same when the
/// screen polls but the phone left the session conference (VICIdial's screen holds the dial
/// until the phone is back).
#[tokio::test]
async fn a_dial_vicidial_does_not_place_is_withdrawn_and_never_placed_later() {
    let lab = lab(
        "TESTCAMP",
        &[
            "--vicidial-confirm-secs",
            "2",
            "--vicidial-dial-grace-ms",
            "500",
        ],
    )
    .await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    // The screen dies right before the dial: the last poll is fresh, so the dial goes out.
    lab.sim.screen_gone("1001");
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/call/dial", &json!({"lead_id": 2}))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (503, Some("dial_withdrawn")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("not polling") && message.contains("took the request back"),
        "{message}"
    );
    assert_eq!(lab.live("1001", "external_dial").await, "", "withdrawn");
    // The screen comes back (the desk rejoins it): nothing is dialled.
    lab.sim.start_screen("1001");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        lab.dials_placed("1001").is_empty(),
        "{:?}",
        lab.sim.ledger()
    );
    let s = lab
        .app
        .wait_state(&ada, |s| s.screen == ScreenLink::Connected)
        .await;
    assert_eq!((s.status, s.lead_id), (Some(AgentStatus::Paused), 0));

    // The phone leaves the conference while the dial waits (the screen keeps polling).
    lab.sim.screen_gone("1001");
    let dial = {
        let app_url = lab.app.url.clone();
        let http = lab.app.http.clone();
        let cookie = ada.clone();
        tokio::spawn(async move {
            let res = http
                .post(format!("{app_url}/api/call/dial"))
                .header("origin", &app_url)
                .header("cookie", cookie)
                .json(&json!({"lead_id": 3}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    lab.sim.phone_leave("1001").await.unwrap();
    lab.sim.start_screen("1001");
    let (code, body) = dial.await.unwrap();
    assert_eq!(
        (code, body["code"].as_str()),
        (503, Some("dial_withdrawn")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("phone is not in the VICIdial session"),
        "{body}"
    );
    assert_eq!(lab.live("1001", "external_dial").await, "");
    // The phone is back: VICIdial's screen would have dialled lead 3 now; nothing is.
    lab.sim.phone_join("1001").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        lab.dials_placed("1001").is_empty(),
        "{:?}",
        lab.sim.ledger()
    );
    // And a dial now goes out at once.
    let (code, state, _) = lab
        .app
        .post(Some(&ada), "/api/call/dial", &json!({"lead_id": 3}))
        .await;
    assert_eq!((code, state["lead_id"].as_i64()), (200, Some(3)), "{state}");
    assert_eq!(lab.dials_placed("1001"), vec![3]);
}

/// A callback of the agent's is dialled by its lead and taken in VICIdial, as VICIdial's
/// screen takes a callback dialled from its list; numbers are read in the agent's country
/// and VICIdial gets phone_code + national number.
#[tokio::test]
async fn callbacks_and_foreign_numbers_are_dialled_as_vicidial_dials_them() {
    let lab = lab("TESTCAMP", &[]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let callback: i64 = sqlx::query_scalar(
        "SELECT CAST(callback_id AS SIGNED) FROM vicidial_callbacks WHERE lead_id = 6",
    )
    .fetch_one(&lab.db)
    .await
    .unwrap();
    let (lead, call_id) = lab.call(&ada, json!({"callback_id": callback})).await;
    assert_eq!(lead, 6);
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_callbacks WHERE lead_id = 6")
            .await,
        "INACTIVE",
        "the callback is taken"
    );
    assert!(lab.sim.ledger().iter().any(|e| matches!(e,
        LedgerEntry::LeadUpdated { lead_id: 6, callback: Some(c), .. } if c == "DELETED")));
    lab.submit(&ada, &dispo(&call_id, lead, "SALE", None, ""))
        .await;
    lab.wait_target(&ada, &call_id, TargetState::Done, 10).await;
    lab.app
        .wait_state(&ada, |s| s.lead_id == 0 && s.wrapup.is_none())
        .await;
    // The ANYONE callback of the campaign (set by Bea) is Ada's to take too.
    let anyone: i64 = sqlx::query_scalar(
        "SELECT CAST(callback_id AS SIGNED) FROM vicidial_callbacks WHERE lead_id = 7",
    )
    .fetch_one(&lab.db)
    .await
    .unwrap();
    let (lead, call_id) = lab.call(&ada, json!({"callback_id": anyone})).await;
    assert_eq!(lead, 7);
    lab.submit(&ada, &dispo(&call_id, lead, "NI", None, ""))
        .await;
    lab.wait_target(&ada, &call_id, TargetState::Done, 10).await;
    lab.app
        .wait_state(&ada, |s| s.lead_id == 0 && s.wrapup.is_none())
        .await;
    // An Italian number typed nationally: phone_code 39, the leading 0 kept.
    lab.call(
        &ada,
        json!({"phone_number": "02 1234 5678", "country": "IT"}),
    )
    .await;
    let placed = lab
        .sim
        .ledger()
        .into_iter()
        .rev()
        .filter_map(|e| match e {
            LedgerEntry::DialPlaced {
                phone_code,
                phone_number,
                ..
            } => Some((phone_code, phone_number)),
            _ => None,
        })
        .next()
        .unwrap();
    assert_eq!(placed, ("39".to_string(), "0212345678".to_string()));
}

/// The header's call facts and sub-status as VICIdial has them, through a real call.
#[tokio::test]
async fn call_facts_and_sub_status_follow_vicidial() {
    let lab = lab("TESTCAMP", &[]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let (code, state, _) = lab
        .app
        .post(Some(&ada), "/api/call/dial", &json!({"lead_id": 1}))
        .await;
    assert_eq!(code, 200, "{state}");
    let s: dialdeck_shared::AgentState = serde_json::from_value(state).unwrap();
    let call = s.call.clone().expect("a call");
    assert!(
        call.call_id.starts_with('M') && call.phone_number == "3125551001",
        "{call:?}"
    );
    assert!(call.dialled_at.is_some());
    let s = lab
        .app
        .wait_state(&ada, |s| {
            s.call.as_ref().is_some_and(|c| c.answered_at.is_some())
        })
        .await;
    assert_eq!(s.sub_status, SubStatus::None);
    let started: String = lab
        .scalar("SELECT CAST(start_epoch AS CHAR) FROM vicidial_log WHERE lead_id = 1")
        .await;
    assert_eq!(s.call.unwrap().answered_at, Some(started.parse().unwrap()));
    lab.sim.customer_hangup("1001").await.unwrap();
    let s = lab
        .app
        .wait_state(&ada, |s| s.sub_status == SubStatus::Dead)
        .await;
    assert_eq!(s.status, Some(AgentStatus::InCall));
    let (code, state, _) = lab
        .app
        .post(Some(&ada), "/api/call/hangup", &json!({}))
        .await;
    assert_eq!(
        (code, state["sub_status"].as_str()),
        (200, Some("DISPO")),
        "{state}"
    );
}

#[tokio::test]
async fn pause_codes_are_the_campaigns_and_ready_only_where_the_campaign_dials() {
    let lab = lab("TESTCAMP", &[]).await;
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let pause = |code: Option<&str>| json!({ "code": code });
    // A MANUAL campaign: no Ready, the agent is paused between calls by design.
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/agent/ready", &json!({}))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("manual_campaign")),
        "{body}"
    );
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/agent/pause", &pause(Some("NOPE")))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("unknown_pause_code")),
        "{body}"
    );
    let (code, _, _) = lab
        .app
        .post(Some(&ada), "/api/agent/pause", &pause(Some("LUNCH")))
        .await;
    assert_eq!(code, 202);
    lab.app.wait_state(&ada, |s| s.pause_code == "LUNCH").await;
    // FORCE: every pause needs a code.
    sqlx::query("UPDATE vicidial_campaigns SET agent_pause_codes_active = 'FORCE' WHERE campaign_id = 'TESTCAMP'")
        .execute(&lab.db)
        .await
        .unwrap();
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/agent/pause", &pause(None))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("pause_code_required")),
        "{body}"
    );
    // A campaign that dials by itself: Ready is RESUME, a pause is PAUSE then the code.
    sqlx::query("UPDATE vicidial_campaigns SET dial_method = 'RATIO', auto_dial_level = '1.0' WHERE campaign_id = 'TESTCAMP'")
        .execute(&lab.db)
        .await
        .unwrap();
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/agent/ready", &json!({}))
        .await;
    assert_eq!(code, 202, "{body}");
    lab.app
        .wait_state(&ada, |s| s.status == Some(AgentStatus::Ready))
        .await;
    let (code, body, _) = lab
        .app
        .post(Some(&ada), "/api/agent/pause", &pause(Some("BREAK")))
        .await;
    assert_eq!(code, 202, "{body}");
    lab.app
        .wait_state(&ada, |s| {
            s.status == Some(AgentStatus::Paused) && s.pause_code == "BREAK"
        })
        .await;
    let pauses: Vec<String> = lab
        .sim
        .ledger()
        .into_iter()
        .filter_map(|e| match e {
            LedgerEntry::Pause { value, .. } => Some(value),
            _ => None,
        })
        .collect();
    assert_eq!(pauses, ["RESUME", "PAUSE"]);
}
