//! Dispositions against VICIdial's real tables (MariaDB with VICIdial's schema, the VICIdial
//! simulator): a call is the server's to know, so one agent cannot take or rewrite another's;
//! callbacks as VICIdial's rights allow, in VICIdial's local time; the agent's callbacks and
//! shift list; the lead's GHL contact.

use std::time::Duration;

use dialdeck_ghl_sim::{state::Contact, Fault, FaultRule, GhlSim, SimConfig};
use dialdeck_shared::{CallbackItem, GhlContactView, RecentCall, Recipient, TargetState};
use serde_json::json;

use crate::{
    vicidial::{fresh_vicidial_db, spawn},
    vicidial_flow::{dispo, lab, Lab},
};

const CLOSED: &str = "http://127.0.0.1:9";

/// Ada (1001) and Bea (1002) logged into TESTCAMP; the Non-Agent API reconciles after 2 s.
async fn two_agents() -> (Lab, String, String) {
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
    sqlx::query("UPDATE vicidial_users SET pass = 'beapass1' WHERE user = '1002'")
        .execute(&lab.db)
        .await
        .unwrap();
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let bea = lab
        .logged_in("1002", "beapass1", "TESTCAMP", "cc1002")
        .await;
    (lab, ada, bea)
}

async fn log_status(lab: &Lab, lead: i64) -> String {
    lab.scalar(&format!(
        "SELECT status FROM vicidial_log WHERE lead_id = {lead} ORDER BY start_epoch DESC LIMIT 1"
    ))
    .await
}

/// Bea names Ada's call (VICIdial's call ids are guessable): she can neither disposition Ada's
/// lead, nor, by taking the id first, stop Ada from dispositioning her own call, nor change
/// Ada's `vicidial_log` row when her own disposition is reconciled through the Non-Agent API.
#[tokio::test]
async fn another_agents_call_id_neither_squats_nor_rewrites_their_call() {
    let (lab, ada, bea) = two_agents().await;
    let (ada_lead, ada_call) = lab.call(&ada, json!({"lead_id": 1})).await;
    let (bea_lead, _) = lab.call(&bea, json!({"lead_id": 2})).await;
    let ada_log = log_status(&lab, ada_lead).await;
    let ada_lead_status = lab
        .scalar("SELECT status FROM vicidial_list WHERE lead_id = 1")
        .await;
    // Bea's tab and screen are gone: her disposition goes through the Non-Agent API.
    lab.sim.screen_gone("1002");

    let (code, body, _) = lab
        .app
        .post(
            Some(&bea),
            "/api/dispositions",
            &dispo(&ada_call, ada_lead, "DNC", None, ""),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("lead_not_yours")),
        "{body}"
    );
    lab.submit(
        &bea,
        &dispo(&ada_call, bea_lead, "NI", None, "Bea's own call"),
    )
    .await;
    let done = lab
        .wait_target(&bea, &ada_call, TargetState::Done, 20)
        .await;
    assert_eq!(done.id, ada_call);
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 2")
            .await,
        "NI",
        "Bea's lead got Bea's status"
    );
    assert_eq!(
        log_status(&lab, ada_lead).await,
        ada_log,
        "Ada's call log is untouched"
    );
    assert_eq!(
        lab.scalar("SELECT status FROM vicidial_list WHERE lead_id = 1")
            .await,
        ada_lead_status
    );

    // Ada's own id is still hers.
    let acc = lab
        .submit(&ada, &dispo(&ada_call, ada_lead, "SALE", None, "Bought it"))
        .await;
    assert_eq!(acc.id, ada_call);
    lab.wait_target(&ada, &ada_call, TargetState::Done, 20)
        .await;
    assert_eq!(log_status(&lab, ada_lead).await, "SALE");
    assert_eq!(lab.screen_dispos(ada_lead), vec!["SALE".to_string()]);

    // The call's facts were taken from VICIdial's log of Ada's call, not from the request.
    let (uniqueid, start): (String, i64) = sqlx::query_as(
        "SELECT uniqueid, CAST(start_epoch AS SIGNED) FROM vicidial_log WHERE lead_id = 1 ORDER BY start_epoch DESC LIMIT 1",
    )
    .fetch_one(&lab.db)
    .await
    .unwrap();
    let payload: String = sqlx::query_scalar(
        "SELECT payload FROM dispositions WHERE agent_user = '1001' AND client_id = ?",
    )
    .bind(&ada_call)
    .fetch_one(lab.app.state.store())
    .await
    .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["call"]["call_id"], json!(ada_call));
    assert_eq!(payload["call"]["vicidial_uniqueid"], json!(uniqueid));
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(payload["call"]["started_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        start
    );

    // Ada's shift: this one call, with the talk time VICIdial logged and the status's name.
    let (code, calls) = lab.app.get(&ada, "/api/agent/calls").await;
    assert_eq!(code, 200, "{calls}");
    let calls: Vec<RecentCall> = serde_json::from_value(calls).unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let c = &calls[0];
    assert_eq!(
        (c.disposition_id.as_str(), c.lead_id, c.status.as_str()),
        (ada_call.as_str(), 1, "SALE")
    );
    assert_eq!(
        (c.name.as_str(), c.phone.as_str(), c.status_name.as_str()),
        ("Grace Hopper", "+1 312-555-1001", "Sale - Campaign")
    );
    let logged: i64 = sqlx::query_scalar(
        "SELECT CAST(length_in_sec AS SIGNED) FROM vicidial_log WHERE lead_id = 1 ORDER BY start_epoch DESC LIMIT 1",
    )
    .fetch_one(&lab.db)
    .await
    .unwrap();
    assert_eq!(c.talk_secs, Some(logged as u32));
    assert!(c.targets.iter().all(|t| t.state == TargetState::Done));
    let (_, bea_calls) = lab.app.get(&bea, "/api/agent/calls").await;
    assert_eq!(bea_calls.as_array().unwrap().len(), 1, "{bea_calls}");
    assert_eq!(bea_calls[0]["lead_id"], json!(2));
}

/// `update_log_entry` changes the newest log row of the lead in the campaign, whoever's call it
/// is: when another agent has called the lead since, reconciling a disposition leaves that row
/// alone (the lead itself still gets the status).
#[tokio::test]
async fn reconciling_never_rewrites_a_later_call_of_the_lead() {
    let (lab, ada, bea) = two_agents().await;
    let (lead, ada_call) = lab.call(&ada, json!({"lead_id": 5})).await;
    lab.sim.screen_gone("1001");
    // `call_date` has one-second resolution: Bea calls in a later second, as she would.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (bea_lead, _) = lab.call(&bea, json!({"lead_id": 5})).await;
    assert_eq!(bea_lead, lead);
    let bea_log = log_status(&lab, lead).await;
    let newest_user = lab
        .scalar("SELECT user FROM vicidial_log WHERE lead_id = 5 ORDER BY call_date DESC, start_epoch DESC LIMIT 1")
        .await;
    assert_eq!(newest_user, "1002", "Bea's call is the newest row");
    lab.submit(&ada, &dispo(&ada_call, lead, "NI", None, ""))
        .await;
    lab.wait_target(&ada, &ada_call, TargetState::Done, 30)
        .await;
    let receipt = lab.receipt(&ada_call).await;
    assert_eq!(receipt["reconciled"], json!(true), "{receipt}");
    assert_eq!(
        receipt["log_entry"],
        json!("newest call log row is another call"),
        "{receipt}"
    );
    assert_eq!(log_status(&lab, lead).await, bea_log, "Bea's row untouched");
}

/// A callback: only for a callback status; `USERONLY` only with VICIdial's agent-only
/// callbacks; not beyond the campaign's `callback_days_limit` (30 in the seed); then it
/// reaches `vicidial_callbacks` as the agent chose it.
#[tokio::test]
async fn callbacks_keep_vicidials_rules() {
    let lab = lab("TESTCAMP", &[]).await;
    sqlx::query("UPDATE vicidial_users SET agentonly_callbacks = '0' WHERE user = '1001'")
        .execute(&lab.db)
        .await
        .unwrap();
    let ada = lab
        .logged_in("1001", "agentpass1", "TESTCAMP", "cc1001")
        .await;
    let (lead, call_id) = lab.call(&ada, json!({"lead_id": 3})).await;
    let in_days = |days: i64| {
        (chrono::Utc::now() + chrono::Duration::days(days))
            .with_timezone(&chrono_tz::America::New_York)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let cb = |days, recipient: &str| {
        json!({"at_local": in_days(days), "time_zone": "America/New_York", "recipient": recipient,
               "comments": "after lunch"})
    };
    for (body, want) in [
        (
            dispo(&call_id, lead, "CB", Some(cb(2, "USERONLY")), ""),
            "callback_recipient_not_allowed",
        ),
        (
            dispo(&call_id, lead, "CB", Some(cb(45, "ANYONE")), ""),
            "callback_too_far",
        ),
        (
            dispo(&call_id, lead, "NI", Some(cb(2, "ANYONE")), ""),
            "callback_not_allowed",
        ),
        (dispo(&call_id, lead, "CB", None, ""), "callback_required"),
    ] {
        let (code, answer, _) = lab.app.post(Some(&ada), "/api/dispositions", &body).await;
        assert_eq!(
            (code, answer["code"].as_str()),
            (400, Some(want)),
            "{answer}"
        );
    }
    lab.submit(
        &ada,
        &dispo(&call_id, lead, "CB", Some(cb(2, "ANYONE")), "call her back"),
    )
    .await;
    lab.wait_target(&ada, &call_id, TargetState::Done, 10).await;
    let (recipient, status): (String, String) =
        sqlx::query_as("SELECT recipient, status FROM vicidial_callbacks WHERE lead_id = 3")
            .fetch_one(&lab.db)
            .await
            .unwrap();
    assert_eq!((recipient.as_str(), status.as_str()), ("ANYONE", "ACTIVE"));
}

/// `GET /api/agent/callbacks`: the agent's `USERONLY` callbacks of the campaign and the
/// campaign's `ANYONE` ones, `ACTIVE` or `LIVE`, soonest first, `due` once LIVE or past.
#[tokio::test]
async fn the_agents_callbacks_come_from_vicidial_soonest_first() {
    let (url, db) = fresh_vicidial_db(false).await;
    // Not listed: another campaign's, an inactive one, another agent's own.
    sqlx::query(
        "INSERT INTO vicidial_callbacks (lead_id, list_id, campaign_id, status, entry_time, callback_time, user, \
         recipient, comments, user_group, lead_status) VALUES \
         (1, 101, 'DNCCAMP', 'ACTIVE', NOW(), NOW() + INTERVAL 1 HOUR, '1001', 'USERONLY', 'other campaign', 'AGENTS', 'CB'), \
         (2, 101, 'TESTCAMP', 'INACTIVE', NOW(), NOW() + INTERVAL 1 HOUR, '1001', 'USERONLY', 'taken', 'AGENTS', 'CB'), \
         (4, 101, 'TESTCAMP', 'ACTIVE', NOW(), NOW() + INTERVAL 2 HOUR, '1002', 'USERONLY', 'bea only', 'AGENTS', 'CB'), \
         (5, 101, 'TESTCAMP', 'ACTIVE', NOW(), NOW() - INTERVAL 5 MINUTE, '1001', 'USERONLY', 'passed, not yet live', 'AGENTS', 'CB')",
    )
    .execute(&db)
    .await
    .unwrap();
    let app = spawn(&url, db.clone(), CLOSED, &[]).await;
    let ada = app.login("1001", "agentpass1").await;
    let now = chrono::Utc::now().timestamp();
    let (code, body) = app.get(&ada, "/api/agent/callbacks").await;
    assert_eq!(code, 200, "{body}");
    let items: Vec<CallbackItem> = serde_json::from_value(body).unwrap();
    let leads: Vec<i64> = items.iter().map(|c| c.lead_id).collect();
    assert_eq!(leads, [6, 5, 7], "{items:#?}");
    let (live, passed, tomorrow) = (&items[0], &items[1], &items[2]);
    assert_eq!(
        (live.name.as_str(), live.phone.as_str(), live.recipient),
        ("Katherine Johnson", "+1 312-555-1006", Recipient::UserOnly)
    );
    assert_eq!(live.comments, "Wants the premium plan");
    assert!(
        (now - 600 - 5..=now - 600 + 5).contains(&live.at),
        "{}",
        live.at
    );
    assert!(live.due && passed.due && !tomorrow.due);
    assert_eq!(tomorrow.recipient, Recipient::Anyone);
    assert!((now + 86_400 - 5..=now + 86_400 + 5).contains(&tomorrow.at));
    let id: i64 = sqlx::query_scalar(
        "SELECT CAST(callback_id AS SIGNED) FROM vicidial_callbacks WHERE lead_id = 7",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(tomorrow.callback_id, id);

    sqlx::query("UPDATE vicidial_users SET pass = 'beapass1' WHERE user = '1002'")
        .execute(&db)
        .await
        .unwrap();
    let bea = app.login("1002", "beapass1").await;
    let (_, body) = app.get(&bea, "/api/agent/callbacks").await;
    let leads: Vec<i64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["lead_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        leads,
        [4, 7],
        "Bea's own and the campaign's, soonest first: {body}"
    );
}

/// VICIdial's local time is its MariaDB's global zone, whatever our connections' session zone
/// (sqlx sets `+00:00`): a VICIdial five hours behind UTC gets 10:30 for 15:30 UTC, and its
/// `callback_time` 10:30 reads back as 15:30 UTC.
#[tokio::test]
async fn vicidial_local_time_is_its_databases_zone() {
    use sqlx::{ConnectOptions, Executor};
    let maria = dialdeck_vicidial_sim::mariadb::MariaDb::start().unwrap();
    let name = maria.fresh_database().await.unwrap();
    let mut conn = maria.options(&name).connect().await.unwrap();
    dialdeck_vicidial_sim::seed::seed(&mut conn, false)
        .await
        .unwrap();
    conn.execute("SET GLOBAL time_zone = '-05:00'")
        .await
        .unwrap();
    let db = sqlx::mysql::MySqlPoolOptions::new()
        .connect_with(maria.options(&name))
        .await
        .unwrap();
    let records = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let at = records("2026-12-01T15:30:00Z");
    assert_eq!(
        dialdeck_server::vicidial::records::to_local_text(&db, at)
            .await
            .unwrap(),
        "2026-12-01 10:30:00"
    );
    let rules = dialdeck_server::vicidial::records::callback_rules(&db, "1001", "TESTCAMP", at)
        .await
        .unwrap();
    assert_eq!(rules.local_at.to_string(), "2026-12-01 10:30:00");
    assert_eq!(
        rules.local_today,
        (chrono::Utc::now() - chrono::Duration::hours(5)).date_naive()
    );
    assert!(
        rules.user_only_allowed,
        "the seed gives agents agent-only callbacks"
    );
    assert_eq!(rules.days_limit, 30);
    sqlx::query("DELETE FROM vicidial_callbacks")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO vicidial_callbacks (lead_id, list_id, campaign_id, status, entry_time, callback_time, user, \
         recipient, comments, user_group, lead_status) VALUES \
         (3, 101, 'TESTCAMP', 'ACTIVE', NOW(), '2026-12-01 10:30:00', '1001', 'USERONLY', '', 'AGENTS', 'CB')",
    )
    .execute(&db)
    .await
    .unwrap();
    let items = dialdeck_server::vicidial::records::callbacks_of(
        &db,
        "1001",
        "TESTCAMP",
        records("2026-11-01T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].at, at.timestamp());
    assert!(!items[0].due);
}

const LOC: &str = "locTest0000000000001";

/// `GET /api/lead/{id}/ghl`: the contact GHL has for the lead of the agent's current or last
/// call (by phone in E.164, then email; cached like the sync's look-up, never created), 204
/// when there is none or GHL is off, 403 for anyone else's lead, 503 when GHL fails.
#[tokio::test]
async fn the_leads_ghl_contact_is_shown_to_its_agent_only() {
    let sim = GhlSim::start(SimConfig {
        window: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (url, db) = fresh_vicidial_db(false).await;
    let app = spawn(
        &url,
        db.clone(),
        CLOSED,
        &[
            "--ghl-base-url",
            &sim.url,
            "--ghl-location-id",
            LOC,
            "--ghl-private-token",
            "pit-view-token",
        ],
    )
    .await;
    let ada = app.login("1001", "agentpass1").await;
    // Ada's last call was lead 1 (Grace Hopper, 3125551001, grace@example.com).
    dialdeck_server::wrapup::call_ended(
        app.state.store(),
        "1001",
        1,
        "M1125024600000000001",
        Some("TESTCAMP"),
    )
    .await
    .unwrap();
    let contacts_api = |sim: &GhlSim| -> Vec<String> {
        sim.ledger()
            .into_iter()
            .filter(|e| e.path.starts_with("/contacts"))
            .map(|e| format!("{} {}", e.method, e.template.unwrap_or_default()))
            .collect()
    };
    let res = app
        .http
        .get(format!("{}/api/lead/1/ghl", app.url))
        .header("cookie", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        contacts_api(&sim.sim),
        [
            "GET /contacts/search/duplicate",
            "GET /contacts/search/duplicate"
        ],
        "by phone, then by email"
    );
    assert!(sim.sim.contacts().is_empty(), "nothing created");

    let id = sim.sim.seed_contact(Contact {
        location_id: LOC.into(),
        phone: Some("+13125551001".into()),
        first_name: Some("Grace".into()),
        last_name: Some("Hopper".into()),
        email: Some("grace@example.com".into()),
        tags: ["dialdeck:sale".to_string(), "vip".to_string()].into(),
        dnd: true,
        ..Contact::default()
    });
    sim.sim.clear_ledger();
    let (code, body) = app.get(&ada, "/api/lead/1/ghl").await;
    assert_eq!(code, 200, "{body}");
    let view: GhlContactView = serde_json::from_value(body).unwrap();
    assert_eq!(
        view,
        GhlContactView {
            contact_id: id.clone(),
            name: "Grace Hopper".into(),
            email: Some("grace@example.com".into()),
            phone: Some("+13125551001".into()),
            tags: vec!["dialdeck:sale".into(), "vip".into()],
            dnd: true,
        }
    );
    let number: Vec<_> = sim
        .sim
        .ledger()
        .into_iter()
        .flat_map(|e| e.query)
        .filter(|(k, _)| k == "number")
        .collect();
    assert_eq!(number, [("number".to_string(), "+13125551001".to_string())]);
    // Known now (the sync's own cache): one request.
    sim.sim.clear_ledger();
    let (code, _) = app.get(&ada, "/api/lead/1/ghl").await;
    assert_eq!(code, 200);
    assert_eq!(contacts_api(&sim.sim), ["GET /contacts/{contactId}"]);
    let cached: String = sqlx::query_scalar(
        "SELECT contact_id FROM ghl_contacts WHERE lookup_key = 'phone:+13125551001'",
    )
    .fetch_one(app.state.store())
    .await
    .unwrap();
    assert_eq!(cached, id);

    // Nobody else's lead.
    assert_eq!(app.get(&ada, "/api/lead/2/ghl").await.0, 403);
    sqlx::query("UPDATE vicidial_users SET pass = 'beapass1' WHERE user = '1002'")
        .execute(&db)
        .await
        .unwrap();
    let bea = app.login("1002", "beapass1").await;
    let (code, body) = app.get(&bea, "/api/lead/1/ghl").await;
    assert_eq!((code, body["code"].as_str()), (403, Some("lead_not_yours")));

    // GHL failing is said so.
    sim.sim.script(FaultRule {
        method: Some("GET".into()),
        template: Some("/contacts/{contactId}".into()),
        times: 1,
        fault: Fault::ServerError { status: 502 },
    });
    let (code, body) = app.get(&ada, "/api/lead/1/ghl").await;
    assert_eq!(
        (code, body["code"].as_str()),
        (503, Some("ghl_unavailable")),
        "{body}"
    );
    assert!(!body.to_string().contains("pit-view-token"));
    assert_eq!(sim.sim.contacts().len(), 1);
    for e in sim.sim.ledger() {
        assert!(e.errors.is_empty(), "{e:?}");
    }

    // Without GHL there is nothing to show.
    let (url, db) = fresh_vicidial_db(false).await;
    let plain = spawn(&url, db, CLOSED, &[]).await;
    let ada = plain.login("1001", "agentpass1").await;
    dialdeck_server::wrapup::call_ended(plain.state.store(), "1001", 1, "M1", Some("TESTCAMP"))
        .await
        .unwrap();
    let res = plain
        .http
        .get(format!("{}/api/lead/1/ghl", plain.url))
        .header("cookie", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
}
