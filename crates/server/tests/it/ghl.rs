//! GHL sync against `dialdeck-ghl-sim`: end state per kind of status, idempotency across
//! retries, rate limits, request budget, OAuth, and every request validated by the OpenAPI.

use std::{
    collections::BTreeSet,
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{FixedOffset, TimeZone, Utc};
use dialdeck_ghl_sim::{state::Contact, Fault, FaultRule, GhlSim, RunningSim, SimConfig};
use dialdeck_server::store::Store;
use dialdeck_server::{
    disposition::{
        ApplyError, CallFacts, Callback, CallbackRecipient, Disposition, DispositionTarget, Lead,
        StatusDef, StatusFlags,
    },
    ghl::{sync::CONFLICT_PREFIX, GhlArgs, GhlTarget},
};
use secrecy::SecretString;
use serde_json::{json, Value};

const LOC: &str = "locTest0000000000001";
const TOKEN: &str = "pit-0f9e-TOPSECRET-token";

struct Env {
    sim: RunningSim,
    target: GhlTarget,
    store: Store,
    _dir: tempfile::TempDir,
}

impl Env {
    fn sim(&self) -> &GhlSim {
        &self.sim.sim
    }

    /// Ledger entries since the last clear.
    fn requests(&self) -> Vec<dialdeck_ghl_sim::LedgerEntry> {
        self.sim().ledger()
    }

    /// Every request the client sent passed the OpenAPI validation.
    fn assert_all_valid(&self) {
        for e in self.requests() {
            assert!(
                e.errors.is_empty(),
                "{} {} failed validation: {:?} (body {:?})",
                e.method,
                e.path,
                e.errors,
                e.body
            );
            assert!(e.template.is_some() || e.path == "/oauth/token", "{e:?}");
        }
    }
}

async fn env_with(cfg: SimConfig, tweak: impl FnOnce(&mut GhlArgs)) -> Env {
    let sim = GhlSim::start(cfg).await.expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let store = dialdeck_server::store::open(dir.path()).await.unwrap();
    let mut args = GhlArgs::for_tests(&sim.url, LOC, TOKEN);
    args.timeout_ms = 2_000;
    tweak(&mut args);
    args.validate().expect("valid test settings");
    let target = GhlTarget::new(&args, store.clone()).unwrap();
    Env {
        sim,
        target,
        store,
        _dir: dir,
    }
}

/// A simulator with GHL's limits but a 1 s window instead of 10 s, so waits for the window
/// (after a 429 says "0 remaining", or past 100 requests) stay short.
fn quick() -> SimConfig {
    SimConfig {
        window: Duration::from_secs(1),
        ..SimConfig::default()
    }
}

async fn env(tweak: impl FnOnce(&mut GhlArgs)) -> Env {
    env_with(quick(), tweak).await
}

fn lead(n: u32) -> Lead {
    Lead {
        lead_id: n as i64,
        list_id: 101,
        first_name: "Jane".into(),
        last_name: format!("Doe{n}"),
        phone_number: format!("312555{n:04}"),
        phone_code: "1".into(),
        city: "Chicago".into(),
        state: "IL".into(),
        ..Lead::default()
    }
}

fn status(code: &str, flags: StatusFlags) -> StatusDef {
    StatusDef {
        status: code.into(),
        status_name: format!("{code} name"),
        selectable: true,
        flags,
        campaign_specific: false,
    }
}

fn disposition(id: &str, lead: Lead, status: StatusDef) -> Disposition {
    Disposition {
        id: id.into(),
        client_id: id.into(),
        agent_user: "1001".into(),
        campaign_id: "OUTBND".into(),
        lead,
        status,
        callback: None,
        notes: "Asked about pricing".into(),
        call: CallFacts {
            call_id: id.into(),
            vicidial_uniqueid: None,
            started_at: Utc.with_ymd_and_hms(2026, 3, 4, 14, 5, 0).unwrap(),
            duration_secs: Some(125),
        },
        accepted_at: Utc.with_ymd_and_hms(2026, 3, 4, 14, 8, 0).unwrap(),
    }
}

fn other(id: &str, n: u32) -> Disposition {
    disposition(
        id,
        lead(n),
        status(
            "NI",
            StatusFlags {
                not_interested: true,
                customer_contact: true,
                ..StatusFlags::default()
            },
        ),
    )
}

fn sale(id: &str, n: u32) -> Disposition {
    disposition(
        id,
        lead(n),
        status(
            "XSALE",
            StatusFlags {
                sale: true,
                ..StatusFlags::default()
            },
        ),
    )
}

fn callback(id: &str, n: u32) -> Disposition {
    let mut d = disposition(
        id,
        lead(n),
        status(
            "CALLBK",
            StatusFlags {
                scheduled_callback: true,
                ..StatusFlags::default()
            },
        ),
    );
    // The agent picked 09:30 on 1 December in Chicago (CST, UTC-6).
    let chicago = FixedOffset::west_opt(6 * 3600).unwrap();
    d.callback = Some(Callback {
        at: chicago
            .with_ymd_and_hms(2026, 12, 1, 9, 30, 0)
            .unwrap()
            .with_timezone(&Utc),
        agent_time_zone: "America/Chicago".into(),
        recipient: CallbackRecipient::UserOnly,
        comments: "Wants the premium plan quote".into(),
    });
    d
}

fn dnc(id: &str, n: u32) -> Disposition {
    disposition(
        id,
        lead(n),
        status(
            "DNCL",
            StatusFlags {
                dnc: true,
                ..StatusFlags::default()
            },
        ),
    )
}

fn sales_setup(a: &mut GhlArgs) {
    a.sale_pipeline_id = Some("pipeSales".into());
    a.sale_stage_id = Some("stageWon".into());
    a.sale_value = Some(249.0);
    a.agent_users = vec![dialdeck_server::ghl::config::AgentUser {
        vicidial_user: "1001".into(),
        ghl_user_id: "ghlUserA".into(),
    }];
    a.dnc_workflow_ids = vec!["wfNurture".into(), "wfPromo".into()];
}

fn seed(sim: &GhlSim, phone: Option<&str>, email: Option<&str>) -> String {
    sim.seed_contact(Contact {
        location_id: LOC.into(),
        phone: phone.map(str::to_string),
        email: email.map(str::to_string),
        first_name: Some("Seeded".into()),
        ..Contact::default()
    })
}

fn tags_of(sim: &GhlSim, id: &str) -> BTreeSet<String> {
    sim.contact(id).unwrap().tags
}

#[tokio::test]
async fn other_status_adds_tags_and_a_timeline_note() {
    let env = env(|_| {}).await;
    let receipt = env.target.apply(&other("call-1", 1)).await.unwrap();

    let contacts = env.sim().contacts();
    assert_eq!(contacts.len(), 1, "one contact created");
    let c = &contacts[0];
    assert_eq!(c.phone.as_deref(), Some("+13125550001"), "E.164");
    assert_eq!(c.first_name.as_deref(), Some("Jane"));
    assert!(c.tags.contains("dialdeck:ni"), "{:?}", c.tags);
    let notes = env.sim().notes();
    assert_eq!(notes.len(), 1);
    let body = &notes[0].body;
    for part in [
        "NI (NI name)",
        "Agent: 1001",
        "2026-03-04 14:05:00 UTC",
        "2m 05s",
        "Asked about pricing",
        "dialdeck ref: call-1",
    ] {
        assert!(body.contains(part), "note lacks {part:?}: {body}");
    }
    assert!(env.sim().opportunities().is_empty() && env.sim().tasks().is_empty());
    assert_eq!(receipt["contact_id"], json!(c.id));
    assert_eq!(receipt["contact"], json!("created"));
    assert_eq!(receipt["note_id"], json!(notes[0].id));
    env.assert_all_valid();
}

#[tokio::test]
async fn sale_is_a_won_opportunity_in_the_configured_pipeline_with_a_tag() {
    let env = env(sales_setup).await;
    env.target.check_setup().await.unwrap();
    let cid = seed(env.sim(), Some("+13125550002"), None);
    env.target.apply(&sale("call-2", 2)).await.unwrap();

    let opps = env.sim().opportunities();
    assert_eq!(opps.len(), 1);
    let o = &opps[0];
    assert_eq!(o.status, "won");
    assert_eq!(o.pipeline_id, "pipeSales");
    assert_eq!(o.pipeline_stage_id.as_deref(), Some("stageWon"));
    assert_eq!(o.monetary_value, Some(249.0));
    assert_eq!(o.contact_id, cid);
    assert_eq!(o.assigned_to.as_deref(), Some("ghlUserA"));
    assert!(o.name.contains("Jane Doe2") && o.name.contains("OUTBND"));
    let tags = tags_of(env.sim(), &cid);
    assert!(tags.contains("dialdeck:xsale") && tags.contains("dialdeck:sale"));
    assert_eq!(env.sim().contacts().len(), 1, "existing contact reused");
    // The agent's notes reach GHL for a sale too: in a note on the contact.
    let notes = env.sim().notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].contact_id, cid);
    for part in [
        "XSALE (XSALE name)",
        "Notes: Asked about pricing",
        "2m 05s",
        "dialdeck ref: call-2",
    ] {
        assert!(
            notes[0].body.contains(part),
            "sale note lacks {part:?}: {}",
            notes[0].body
        );
    }
    env.assert_all_valid();
}

#[tokio::test]
async fn sale_without_pipeline_is_tagged_and_says_so() {
    let env = env(|_| {}).await;
    let r = env.target.apply(&sale("call-2b", 22)).await.unwrap();
    assert!(env.sim().opportunities().is_empty());
    assert!(r["warnings"][0].as_str().unwrap().contains("PIPELINE"));
    let c = &env.sim().contacts()[0];
    assert!(c.tags.contains("dialdeck:sale"));
}

#[tokio::test]
async fn callback_is_a_task_due_in_utc_assigned_to_the_mapped_user() {
    let env = env(sales_setup).await;
    let cid = seed(env.sim(), Some("+13125550003"), None);
    env.target.apply(&callback("call-3", 3)).await.unwrap();

    let tasks = env.sim().tasks();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(
        t.due_date, "2026-12-01T15:30:00Z",
        "09:30 Chicago is 15:30 UTC"
    );
    assert_eq!(t.assigned_to.as_deref(), Some("ghlUserA"));
    assert!(!t.completed);
    assert_eq!(t.contact_id, cid);
    let body = t.body.as_deref().unwrap();
    assert!(body.contains("Wants the premium plan quote") && body.contains("America/Chicago"));
    // The agent's notes and the call ride in the task: no separate note.
    for part in [
        "CALLBK (CALLBK name)",
        "Notes: Asked about pricing",
        "2026-03-04 14:05:00 UTC, 2m 05s",
    ] {
        assert!(body.contains(part), "task body lacks {part:?}: {body}");
    }
    assert!(body.ends_with("dialdeck ref: call-3"), "{body}");
    assert!(env.sim().notes().is_empty());
    assert!(tags_of(env.sim(), &cid).contains("dialdeck:callback"));
    env.assert_all_valid();
}

#[tokio::test]
async fn dnc_sets_dnd_everywhere_leaves_workflows_and_campaigns_and_tags() {
    let env = env(sales_setup).await;
    let cid = seed(env.sim(), Some("+13125550004"), None);
    for wf in ["wfNurture", "wfPromo", "wfBilling"] {
        env.sim().enrol_in_workflow(&cid, wf);
    }
    env.sim().enrol_in_campaign(&cid, "cmpSpring");
    let r = env.target.apply(&dnc("call-4", 4)).await.unwrap();

    let c = env.sim().contact(&cid).unwrap();
    assert!(c.dnd);
    for ch in ["Call", "Email", "SMS", "WhatsApp", "GMB", "FB"] {
        assert_eq!(c.dnd_settings[ch]["status"], json!("active"), "{ch}");
    }
    assert_eq!(
        c.workflows,
        BTreeSet::from(["wfBilling".to_string()]),
        "only the configured workflows are left"
    );
    assert!(c.campaigns.is_empty());
    assert!(c.tags.contains("dialdeck:dnc") && c.tags.contains("dialdeck:dncl"));
    assert_eq!(r["dnd"], json!(true));
    let notes = env.sim().notes();
    assert_eq!(notes.len(), 1, "DNC has its note too: {notes:?}");
    assert!(
        notes[0].body.contains("DNCL (DNCL name)") && notes[0].body.contains("Asked about pricing")
    );
    assert_eq!(
        c.first_name.as_deref(),
        Some("Seeded"),
        "no other field touched"
    );
    env.assert_all_valid();
}

#[tokio::test]
async fn email_finds_the_contact_when_the_phone_does_not() {
    let env = env(|_| {}).await;
    let cid = seed(env.sim(), None, Some("jane@example.com"));
    let mut d = other("call-5", 5);
    d.lead.email = "Jane@Example.com ".into();
    env.target.apply(&d).await.unwrap();
    assert_eq!(env.sim().contacts().len(), 1);
    assert_eq!(env.sim().notes()[0].contact_id, cid);
}

#[tokio::test]
async fn phone_and_email_on_different_contacts_are_flagged_not_guessed() {
    let env = env(|_| {}).await;
    let by_phone = seed(env.sim(), Some("+13125550006"), None);
    let by_email = seed(env.sim(), None, Some("jane6@example.com"));
    let mut d = other("call-6", 6);
    d.lead.email = "jane6@example.com".into();
    let err = env.target.apply(&d).await.unwrap_err();
    let ApplyError::Permanent { reason } = err else {
        panic!("a conflict is not retryable: {err:?}")
    };
    assert!(reason.starts_with(CONFLICT_PREFIX), "{reason}");
    assert!(reason.contains(&by_phone) && reason.contains(&by_email));
    assert!(env.sim().notes().is_empty(), "nothing written");
    assert!(tags_of(env.sim(), &by_phone).is_empty() && tags_of(env.sim(), &by_email).is_empty());
    let open = GhlTarget::open_conflicts(&env.store, "1001").await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].phone_contact_id, by_phone);
    assert_eq!(open[0].email_contact_id, by_email);
    GhlTarget::resolve_conflict(&env.store, "call-6")
        .await
        .unwrap();
    assert!(GhlTarget::open_conflicts(&env.store, "1001")
        .await
        .unwrap()
        .is_empty());
}

/// With the contact known, the common disposition and a callback cost two requests (their
/// note or task carries the agent's notes), a sale three (its opportunity, its note, tags).
#[tokio::test]
async fn a_known_contact_costs_two_requests_and_a_sale_three() {
    let env = env(sales_setup).await;
    env.target.apply(&other("warm-up", 7)).await.unwrap();
    let routes = |sent: &[dialdeck_ghl_sim::LedgerEntry]| -> Vec<String> {
        sent.iter()
            .map(|e| format!("{} {}", e.method, e.template.clone().unwrap_or_default()))
            .collect()
    };
    for (d, want) in [
        (
            other("k-1", 7),
            vec![
                "POST /contacts/{contactId}/notes",
                "POST /contacts/{contactId}/tags",
            ],
        ),
        (
            callback("k-3", 7),
            vec![
                "POST /contacts/{contactId}/tasks",
                "POST /contacts/{contactId}/tags",
            ],
        ),
        (
            sale("k-2", 7),
            vec![
                "POST /opportunities/",
                "POST /contacts/{contactId}/notes",
                "POST /contacts/{contactId}/tags",
            ],
        ),
    ] {
        env.sim().clear_ledger();
        let r = env.target.apply(&d).await.unwrap();
        let sent = env.requests();
        assert_eq!(routes(&sent), want, "{}", d.status.status);
        assert_eq!(r["ghl_requests"], json!(sent.len()));
        assert_eq!(r["contact"], json!("cached"));
    }
    let texts: Vec<String> = env
        .sim()
        .notes()
        .into_iter()
        .map(|n| n.body)
        .chain(env.sim().tasks().into_iter().filter_map(|t| t.body))
        .collect();
    for id in ["k-1", "k-2", "k-3"] {
        let text = texts
            .iter()
            .find(|t| t.ends_with(&format!("dialdeck ref: {id}")))
            .unwrap_or_else(|| panic!("{id} left nothing: {texts:?}"));
        assert!(text.contains("Notes: Asked about pricing"), "{id}: {text}");
    }
    // Applying the same disposition again sends nothing at all.
    env.sim().clear_ledger();
    env.target.apply(&other("k-1", 7)).await.unwrap();
    assert!(env.requests().is_empty());
    assert_eq!(env.sim().contacts().len(), 1);
}

#[tokio::test]
async fn a_cached_contact_deleted_in_ghl_is_looked_up_again() {
    let env = env(|_| {}).await;
    let first = env.target.apply(&other("del-1", 8)).await.unwrap();
    env.sim()
        .delete_contact(first["contact_id"].as_str().unwrap());
    let err = env.target.apply(&other("del-2", 8)).await.unwrap_err();
    assert!(matches!(err, ApplyError::Retryable { .. }), "{err:?}");
    let again = env.target.apply(&other("del-2", 8)).await.unwrap();
    assert_eq!(again["contact"], json!("created"));
    assert_ne!(again["contact_id"], first["contact_id"]);
    assert_eq!(env.sim().notes().len(), 1);
    env.assert_all_valid();
}

#[tokio::test]
async fn the_same_disposition_applied_twice_at_once_creates_one_note() {
    let env = env(|_| {}).await;
    let d = other("twice", 9);
    let other_worker = env.target.clone();
    let (a, b) = tokio::join!(env.target.apply(&d), other_worker.apply(&d));
    a.unwrap();
    b.unwrap();
    assert_eq!(env.sim().notes().len(), 1);
    assert_eq!(env.sim().contacts().len(), 1);
}

#[tokio::test]
async fn sale_with_a_callback_gets_both_and_one_tag_call() {
    let env = env(sales_setup).await;
    let mut d = callback("both", 10);
    d.status.flags.sale = true;
    let r = env.target.apply(&d).await.unwrap();
    assert_eq!(env.sim().opportunities().len(), 1);
    assert_eq!(env.sim().tasks().len(), 1);
    assert!(env.sim().notes().is_empty());
    let c = &env.sim().contacts()[0];
    for t in ["dialdeck:callbk", "dialdeck:sale", "dialdeck:callback"] {
        assert!(c.tags.contains(t), "{t} in {:?}", c.tags);
    }
    let tag_calls = env
        .requests()
        .iter()
        .filter(|e| e.path.ends_with("/tags"))
        .count();
    assert_eq!(tag_calls, 1);
    assert_eq!(r["tags"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn quota_used_by_another_client_is_waited_out_not_overrun() {
    let env = env(|_| {}).await;
    // Another integration on the same app and location uses the whole window.
    let http = reqwest::Client::new();
    for _ in 0..100 {
        let s = http
            .get(format!("{}/contacts/search/duplicate", env.sim.url))
            .query(&[("locationId", LOC), ("email", "other@example.com")])
            .bearer_auth("other-process")
            .header("Version", "2021-07-28")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, 200);
    }
    env.sim().clear_ledger();
    env.target.apply(&other("busy-1", 21)).await.unwrap();
    let refused = env.requests().iter().filter(|e| e.status == 429).count();
    assert!(
        refused <= 1,
        "{refused} refusals: the client waited after the first"
    );
    assert_eq!(env.sim().notes().len(), 1);
}

async fn retry_until_ok(env: &Env, d: &Disposition) -> Value {
    for _ in 0..5 {
        match env.target.apply(d).await {
            Ok(r) => return r,
            Err(ApplyError::Retryable { .. }) => continue,
            Err(e) => panic!("unexpected permanent error: {e}"),
        }
    }
    panic!("never succeeded");
}

#[tokio::test]
async fn retries_never_create_a_second_object() {
    let env = env(|a| {
        sales_setup(a);
        a.timeout_ms = 300;
    })
    .await;
    let hang = Fault::Hang {
        ms: 700,
        apply: true,
    };
    let cases: Vec<(Disposition, FaultRule)> = vec![
        (
            other("r-note-hang", 11),
            FaultRule::once("POST", "/contacts/{contactId}/notes", hang.clone()),
        ),
        (
            other("r-note-500", 12),
            FaultRule::once(
                "POST",
                "/contacts/{contactId}/notes",
                Fault::ServerError { status: 502 },
            ),
        ),
        (
            other("r-note-422", 13),
            FaultRule::once(
                "POST",
                "/contacts/{contactId}/notes",
                Fault::UnprocessableButCreated,
            ),
        ),
        (
            sale("r-opp-hang", 14),
            FaultRule::once("POST", "/opportunities/", hang.clone()),
        ),
        (
            sale("r-opp-422", 15),
            FaultRule::once("POST", "/opportunities/", Fault::UnprocessableButCreated),
        ),
        (
            callback("r-task-hang", 16),
            FaultRule::once("POST", "/contacts/{contactId}/tasks", hang.clone()),
        ),
        (
            callback("r-task-422", 17),
            FaultRule::once(
                "POST",
                "/contacts/{contactId}/tasks",
                Fault::UnprocessableButCreated,
            ),
        ),
        (
            other("r-contact-422", 18),
            FaultRule::once("POST", "/contacts/", Fault::UnprocessableButCreated),
        ),
        (
            other("r-contact-hang", 19),
            FaultRule::once("POST", "/contacts/", hang.clone()),
        ),
        (
            other("r-tags-429", 20),
            FaultRule::once(
                "POST",
                "/contacts/{contactId}/tags",
                Fault::TooManyRequests {
                    retry_after_ms: Some(1000),
                },
            ),
        ),
    ];
    for (d, rule) in &cases {
        env.sim().script(rule.clone());
        retry_until_ok(&env, d).await;
        // And once more, as after a crash between GHL's answer and the outbox's commit.
        env.target.apply(d).await.unwrap();
    }
    assert_eq!(
        env.sim().contacts().len(),
        cases.len(),
        "one contact per lead"
    );
    let notes = env.sim().notes();
    let opps = env.sim().opportunities();
    let tasks = env.sim().tasks();
    // Every case but the two callbacks has a note (the callbacks' tasks carry it).
    assert_eq!(notes.len(), 8, "{notes:#?}");
    assert_eq!(opps.len(), 2, "{opps:#?}");
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    for (d, _) in &cases {
        let reference = format!("dialdeck ref: {}", d.id);
        let note_refs = notes
            .iter()
            .filter(|n| n.body.ends_with(&reference))
            .count();
        let task_refs = tasks
            .iter()
            .filter(|t| t.body.as_deref().unwrap_or("").ends_with(&reference))
            .count();
        let opp_refs = opps
            .iter()
            .filter(|o| o.name.ends_with(&format!("[{}]", d.id)))
            .count();
        let want = match d.status.status.as_str() {
            "XSALE" => (1, 0, 1),
            "CALLBK" => (0, 1, 0),
            _ => (1, 0, 0),
        };
        assert_eq!(
            (note_refs, task_refs, opp_refs),
            want,
            "{} has exactly one object of each kind it makes",
            d.id
        );
    }
    let tagged = env
        .sim()
        .contacts()
        .iter()
        .filter(|c| c.tags.contains("dialdeck:ni"))
        .count();
    assert_eq!(tagged, 6);
    assert!(env.requests().iter().any(|e| e.status == 429));
    env.assert_all_valid();
}

#[tokio::test]
async fn two_hundred_concurrent_dispositions_stay_within_the_burst_limit() {
    let window = Duration::from_millis(400);
    let env = Arc::new(
        env_with(
            SimConfig {
                window,
                ..SimConfig::default()
            },
            |a| a.timeout_ms = 10_000,
        )
        .await,
    );
    // Half the leads are known to GHL already, half are new.
    for n in 0..100 {
        seed(env.sim(), Some(&format!("+1312555{:04}", 1000 + n)), None);
    }
    let mut tasks = Vec::new();
    for n in 0..200u32 {
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            env.target
                .apply(&other(&format!("burst-{n}"), 1000 + n))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every disposition applied");
    }
    let ledger = env.requests();
    assert!(ledger.len() >= 700, "{} requests", ledger.len());
    assert_eq!(
        ledger.iter().filter(|e| e.status == 429).count(),
        0,
        "the client paced itself: GHL never had to refuse"
    );
    let times: Vec<Duration> = ledger.iter().map(|e| e.at).collect();
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|u| **u - *t < window).count();
        assert!(in_window <= 100, "{in_window} requests within one window");
    }
    assert_eq!(env.sim().notes().len(), 200);
    assert_eq!(env.sim().contacts().len(), 200);
    env.assert_all_valid();
}

#[tokio::test]
async fn oauth_refreshes_once_per_expiry_and_stores_the_rotated_token() {
    let env = env_with(
        SimConfig {
            require_known_tokens: true,
            ..quick()
        },
        |a| {
            a.private_token = None;
            a.oauth_client_id = Some("cid".into());
            a.oauth_client_secret = Some(SecretString::from("csecret"));
            a.oauth_refresh_token = Some(SecretString::from("r0"));
        },
    )
    .await;
    env.sim().add_oauth_client("cid", "csecret", "r0");
    let stored = |env: &Env| {
        let pool = env.store.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT refresh_token FROM ghl_oauth")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let run = |prefix: &'static str| {
        let target = env.target.clone();
        async move {
            let mut set = tokio::task::JoinSet::new();
            for n in 0..20u32 {
                let target = target.clone();
                set.spawn(async move {
                    target
                        .apply(&other(&format!("{prefix}-{n}"), 300 + n))
                        .await
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap().expect("applied");
            }
        }
    };
    run("oa").await;
    assert_eq!(
        env.sim().refresh_count(),
        1,
        "one refresh for 20 concurrent calls"
    );
    assert_eq!(stored(&env).await, "sim-refresh-1");
    env.sim().expire_tokens();
    run("ob").await;
    assert_eq!(env.sim().refresh_count(), 2, "one refresh after expiry");
    assert_eq!(stored(&env).await, "sim-refresh-2");
    env.assert_all_valid();
}

/// Two instances sharing a MariaDB store refresh one OAuth location in turn (a database lock):
/// the second reads the token the first rotated, so neither sends a used refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oauth_refreshes_of_two_instances_sharing_a_store_take_turns() {
    let sim = GhlSim::start(SimConfig {
        require_known_tokens: true,
        ..quick()
    })
    .await
    .expect("simulator starts");
    sim.sim.add_oauth_client("cid", "csecret", "r0");
    let db = dialdeck_vicidial_sim::mariadb::MariaDb::shared();
    let url = SecretString::from(db.url(&db.empty_database().await.unwrap()));
    let port = sim.url.rsplit(':').next().unwrap().trim_end_matches('/');
    // Two processes' worth of clients: different base URLs for the same simulator keep their
    // in-process token caches apart, as two instances' are.
    let mut targets = Vec::new();
    for base in [sim.url.clone(), format!("http://localhost:{port}")] {
        let store = dialdeck_server::store::connect(&url).await.unwrap();
        let mut args = GhlArgs::for_tests(&base, LOC, TOKEN);
        args.private_token = None;
        args.oauth_client_id = Some("cid".into());
        args.oauth_client_secret = Some(SecretString::from("csecret"));
        args.oauth_refresh_token = Some(SecretString::from("r0"));
        args.validate().expect("valid test settings");
        targets.push(GhlTarget::new(&args, store).unwrap());
    }
    let mut set = tokio::task::JoinSet::new();
    for n in 0..20u32 {
        let target = targets[(n % 2) as usize].clone();
        set.spawn(async move { target.apply(&other(&format!("two-{n}"), 400 + n)).await });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().expect("applied by either instance");
    }
    assert_eq!(sim.sim.refresh_count(), 2, "one refresh per instance");
    let store = dialdeck_server::store::connect(&url).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT refresh_token FROM ghl_oauth")
        .fetch_one(&store)
        .await
        .unwrap();
    assert_eq!(
        stored, "sim-refresh-2",
        "the second rotated the first's token"
    );
}

#[tokio::test]
async fn an_expired_private_token_needs_reauthorisation() {
    let env = env(|_| {}).await;
    env.sim().script(FaultRule {
        method: None,
        template: None,
        times: 1,
        fault: Fault::ExpiredToken,
    });
    let err = env.target.apply(&other("x-1", 30)).await.unwrap_err();
    assert!(
        matches!(&err, ApplyError::Permanent { reason } if reason.contains("re-authorisation")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limited_after_repeated_429s_is_retryable_with_a_hint() {
    let env = env(|_| {}).await;
    env.sim().script(FaultRule {
        method: None,
        template: None,
        times: 10,
        fault: Fault::TooManyRequests {
            retry_after_ms: Some(1),
        },
    });
    let err = env.target.apply(&other("x-2", 31)).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApplyError::Retryable {
                retry_after: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
}

/// A `Write` sink for captured logs.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_reaches_a_log() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = env(|a| {
        sales_setup(a);
        a.timeout_ms = 300;
    })
    .await;
    env.sim().script(FaultRule::once(
        "POST",
        "/contacts/{contactId}/notes",
        Fault::Hang {
            ms: 600,
            apply: false,
        },
    ));
    env.sim().script(FaultRule::once(
        "POST",
        "/contacts/{contactId}/tags",
        Fault::ServerError { status: 500 },
    ));
    retry_until_ok(&env, &other("log-1", 40)).await;
    env.target.apply(&sale("log-2", 40)).await.unwrap();
    let _ = env.target.apply(&dnc("log-3", 40)).await;
    tracing::debug!(target = ?env.target, "the target, formatted");

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("GHL"), "logs were captured: {logs}");
    assert!(!logs.contains("TOPSECRET"), "token in logs:\n{logs}");
    assert!(!format!("{:?}", env.target).contains("TOPSECRET"));
}

#[tokio::test]
async fn every_request_shape_the_client_sends_validates_against_the_openapi() {
    let env = env(|a| {
        sales_setup(a);
        a.timeout_ms = 300;
    })
    .await;
    env.target.check_setup().await.unwrap();
    // Searches after ambiguous creates, for each kind of object.
    for (method, template) in [
        ("POST", "/contacts/{contactId}/notes"),
        ("POST", "/contacts/{contactId}/tasks"),
        ("POST", "/opportunities/"),
        ("POST", "/contacts/"),
    ] {
        env.sim().script(FaultRule::once(
            method,
            template,
            Fault::UnprocessableButCreated,
        ));
    }
    let mut with_email = other("v-1", 50);
    with_email.lead.email = "v1@example.com".into();
    with_email.lead.address1 = "1 Main St".into();
    with_email.lead.postal_code = "60601".into();
    env.target.apply(&with_email).await.unwrap();
    env.target.apply(&sale("v-2", 50)).await.unwrap();
    env.target.apply(&callback("v-3", 50)).await.unwrap();
    env.target.apply(&dnc("v-4", 50)).await.unwrap();

    let seen: BTreeSet<(String, String)> = env
        .requests()
        .into_iter()
        .map(|e| (e.method, e.template.unwrap()))
        .collect();
    for (m, t) in [
        ("GET", "/opportunities/pipelines"),
        ("GET", "/contacts/search/duplicate"),
        ("POST", "/contacts/"),
        ("POST", "/contacts/{contactId}/notes"),
        ("GET", "/contacts/{contactId}/notes"),
        ("POST", "/contacts/{contactId}/tasks"),
        ("GET", "/contacts/{contactId}/tasks"),
        ("POST", "/opportunities/"),
        ("GET", "/opportunities/search"),
        ("POST", "/contacts/{contactId}/tags"),
        ("PUT", "/contacts/{contactId}"),
        ("DELETE", "/contacts/{contactId}/workflow/{workflowId}"),
        ("DELETE", "/contacts/{contactId}/campaigns/removeAll"),
    ] {
        assert!(
            seen.contains(&(m.to_string(), t.to_string())),
            "{m} {t} not exercised: {seen:?}"
        );
    }
    env.assert_all_valid();
    // Duplicate searches carry the number in E.164 and the email normalised.
    let q: Vec<_> = env
        .requests()
        .into_iter()
        .filter(|e| e.path == "/contacts/search/duplicate")
        .flat_map(|e| e.query)
        .collect();
    assert!(
        q.contains(&("number".into(), "+13125550050".into())),
        "{q:?}"
    );
    assert!(
        q.contains(&("email".into(), "v1@example.com".into())),
        "{q:?}"
    );
    // Tags are only ever added, never sent in a create or update.
    for e in env.requests() {
        if e.path != format!("/contacts/{}/tags", env.sim().contacts()[0].id) {
            assert!(
                e.body.as_ref().and_then(|b| b.get("tags")).is_none(),
                "tags sent in {} {}",
                e.method,
                e.path
            );
        }
    }
}

#[tokio::test]
async fn the_simulator_rejects_requests_the_openapi_does_not_allow() {
    let sim = GhlSim::start(SimConfig::default()).await.unwrap();
    let cid = seed(&sim.sim, Some("+13125550099"), None);
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method,
                path: String,
                version: Option<&'static str>,
                auth: bool,
                body: Option<Value>| {
        let mut r = http.request(method, format!("{}{path}", sim.url));
        if let Some(v) = version {
            r = r.header("Version", v);
        }
        if auth {
            r = r.bearer_auth("t");
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    use reqwest::Method as M;
    let notes = format!("/contacts/{cid}/notes");
    let tasks = format!("/contacts/{cid}/tasks");
    let v = Some("2021-07-28");
    let cases: Vec<(u16, &str, (u16, Value))> = vec![
        (401, "Invalid JWT", send(M::POST, notes.clone(), v, false, Some(json!({"body": "x"}))).await),
        (422, "Version header is required", send(M::POST, notes.clone(), None, true, Some(json!({"body": "x"}))).await),
        (422, "Version must be one of", send(M::POST, notes.clone(), Some("2020-01-01"), true, Some(json!({"body": "x"}))).await),
        (422, "body should not be empty", send(M::POST, notes.clone(), v, true, Some(json!({"userId": "u"}))).await),
        (422, "request body is required", send(M::POST, notes.clone(), v, true, None).await),
        (422, "property colour should not exist", send(M::POST, notes.clone(), v, true, Some(json!({"body": "x", "colour": "red"}))).await),
        (422, "completed must be a boolean", send(M::POST, tasks.clone(), v, true, Some(json!({"title": "t", "dueDate": "2026-01-01T00:00:00Z", "completed": "no"}))).await),
        (422, "dndSettings.SMS.status must be one of", send(M::PUT, format!("/contacts/{cid}"), v, true, Some(json!({"dndSettings": {"SMS": {"status": "on"}}}))).await),
        (422, "locationId should not be empty", send(M::GET, "/contacts/search/duplicate?number=%2B13125550099".into(), v, true, None).await),
        (422, "status must be one of", send(M::POST, "/opportunities/".into(), v, true, Some(json!({"pipelineId": "p", "locationId": LOC, "name": "n", "status": "closed", "contactId": cid}))).await),
        (404, "Cannot", send(M::GET, "/contacts/nope/nothing".into(), v, true, None).await),
    ];
    for (want, text, (status, body)) in cases {
        assert_eq!(status, want, "{text}: {body}");
        assert!(body.to_string().contains(text), "{text}: {body}");
        if status == 422 {
            assert_eq!(body["statusCode"], json!(422));
            assert_eq!(body["error"], json!("Unprocessable Entity"));
            assert!(body["message"].is_array());
        }
    }
    assert!(sim.sim.notes().is_empty() && sim.sim.tasks().is_empty());
    // A valid request passes and changes state; the duplicate search finds the number.
    let (s, body) = send(
        M::GET,
        format!("/contacts/search/duplicate?locationId={LOC}&number=%2B13125550099"),
        v,
        true,
        None,
    )
    .await;
    assert_eq!((s, body["contact"]["id"].clone()), (200, json!(cid)));
    let (s, _) = send(M::POST, notes, v, true, Some(json!({"body": "ok"}))).await;
    assert_eq!(s, 201);
    assert_eq!(sim.sim.notes().len(), 1);
}

/// Opportunities of the contact in the pipeline, named like deals someone else made.
fn seed_deals(sim: &GhlSim, contact_id: &str, n: usize) {
    for i in 0..n {
        sim.seed_opportunity(dialdeck_ghl_sim::state::Opportunity {
            location_id: LOC.into(),
            name: format!("Older deal {i}"),
            pipeline_id: "pipeSales".into(),
            status: "open".into(),
            contact_id: contact_id.into(),
            ..Default::default()
        });
    }
}

/// The simulator pages opportunity searches as GHL does: 20 unless `limit` says (at most 100),
/// the next page by the cursor `meta` names, or by `page`.
#[tokio::test]
async fn the_simulator_pages_opportunity_searches_as_ghl_does() {
    let sim = GhlSim::start(SimConfig::default()).await.unwrap();
    let cid = seed(&sim.sim, Some("+13125550070"), None);
    seed_deals(&sim.sim, &cid, 45);
    let http = reqwest::Client::new();
    let search = |extra: Vec<(&'static str, String)>| {
        let mut q = vec![
            ("location_id", LOC.to_string()),
            ("contact_id", cid.clone()),
        ];
        q.extend(extra);
        let req = http
            .get(format!("{}/opportunities/search", sim.url))
            .query(&q)
            .bearer_auth("t")
            .header("Version", "2021-07-28");
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let names = |page: &Value| -> Vec<String> {
        page["opportunities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect()
    };
    let first = search(vec![]).await;
    assert_eq!(names(&first).len(), 20, "GHL's default page size");
    assert_eq!(names(&first)[0], "Older deal 0");
    assert_eq!(first["meta"]["total"], json!(45));
    assert_eq!(first["meta"]["nextPage"], json!(2));
    let mut pages = vec![names(&first)];
    let mut meta = first["meta"].clone();
    while !meta["nextPage"].is_null() {
        let next = search(vec![
            ("startAfter", meta["startAfter"].to_string()),
            (
                "startAfterId",
                meta["startAfterId"].as_str().unwrap().to_string(),
            ),
            ("page", meta["nextPage"].to_string()),
        ])
        .await;
        pages.push(names(&next));
        meta = next["meta"].clone();
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 5]);
    assert_eq!(pages.concat().len(), 45);
    assert_eq!(pages[2][4], "Older deal 44");
    assert!(meta["nextPageUrl"].is_null() && meta["prevPage"] == json!(3 - 1));
    let third = search(vec![("page", "3".into())]).await;
    assert_eq!(names(&third), pages[2]);
    let big = search(vec![("limit", "100".into())]).await;
    assert_eq!(
        (names(&big).len(), big["meta"]["nextPage"].clone()),
        (45, Value::Null)
    );
    let capped = search(vec![("limit", "500".into())]).await;
    assert_eq!(names(&capped).len(), 45);
    for e in sim.sim.ledger() {
        assert!(e.errors.is_empty(), "{e:?}");
    }
}

/// After an ambiguous create, the search for the sale's opportunity reads every page: with
/// 130 other deals of the contact in the pipeline, the sale's own is on the second page of 100
/// (and on the seventh of GHL's default 20); a search that read one page would create it twice.
#[tokio::test]
async fn an_ambiguous_sale_finds_its_opportunity_past_the_first_page() {
    let env = env(|a| {
        sales_setup(a);
        a.timeout_ms = 300;
    })
    .await;
    let cid = seed(env.sim(), Some("+13125550060"), None);
    seed_deals(env.sim(), &cid, 130);
    env.sim().script(FaultRule::once(
        "POST",
        "/opportunities/",
        Fault::Hang {
            ms: 700,
            apply: true,
        },
    ));
    env.sim().clear_ledger();
    let r = retry_until_ok(&env, &sale("paged-1", 60)).await;
    let ours: Vec<_> = env
        .sim()
        .opportunities()
        .into_iter()
        .filter(|o| o.name.ends_with("[paged-1]"))
        .collect();
    assert_eq!(ours.len(), 1, "one opportunity for the sale: {ours:#?}");
    assert_eq!(r["opportunity_id"], json!(ours[0].id));
    assert_eq!(env.sim().opportunities().len(), 131);
    let searches: Vec<_> = env
        .requests()
        .into_iter()
        .filter(|e| e.path == "/opportunities/search")
        .collect();
    assert_eq!(searches.len(), 2, "two pages of 100: {searches:#?}");
    assert!(searches[1].query.iter().any(|(k, _)| k == "startAfterId"));
    env.assert_all_valid();
}

/// Settings for the whole server on `listen` with GHL at `base` (and no VICIdial).
fn server_config(
    base: &str,
    dir: &std::path::Path,
    listen: &str,
    extra: &[&str],
) -> dialdeck_server::config::Config {
    use clap::Parser;
    let dir = dir.display().to_string();
    let mut args = vec![
        "dialdeck",
        "--listen",
        listen,
        "--data-dir",
        &dir,
        "--ghl-base-url",
        base,
        "--ghl-location-id",
        LOC,
        "--ghl-private-token",
        TOKEN,
    ];
    args.extend_from_slice(extra);
    let config = dialdeck_server::config::Config::try_parse_from(args).unwrap();
    config.validate().unwrap();
    config
}

/// A sale pipeline or stage GHL does not have stops start-up with a message naming the
/// variable (every sale would fail otherwise).
#[tokio::test]
async fn a_wrong_sale_pipeline_or_stage_stops_start_up_naming_the_variable() {
    let sim = GhlSim::start(quick()).await.unwrap();
    for (extra, variable, value) in [
        (
            vec!["--ghl-sale-pipeline-id", "pipeNope"],
            "DIALDECK_GHL_SALE_PIPELINE_ID",
            "pipeNope",
        ),
        (
            vec![
                "--ghl-sale-pipeline-id",
                "pipeSales",
                "--ghl-sale-stage-id",
                "stageNope",
            ],
            "DIALDECK_GHL_SALE_STAGE_ID",
            "stageNope",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = server_config(&sim.url, dir.path(), "127.0.0.1:0", &extra);
        let err = tokio::time::timeout(Duration::from_secs(20), dialdeck_server::run(config))
            .await
            .expect("start-up stops instead of serving")
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(variable) && text.contains(value), "{text}");
        assert!(
            text.contains("stageWon") || variable.ends_with("PIPELINE_ID"),
            "names what GHL has: {text}"
        );
        assert!(!text.contains("TOPSECRET"), "{text}");
    }
    let pipelines = sim
        .sim
        .ledger()
        .into_iter()
        .filter(|e| e.path == "/opportunities/pipelines")
        .count();
    assert_eq!(pipelines, 2, "one check per start");
}

/// `/readyz` of `state`, served on a random port.
async fn readyz(state: &dialdeck_server::AppState) -> (u16, Value) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/readyz", listener.local_addr().unwrap());
    let app = dialdeck_server::app(state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let res = reqwest::get(url).await.unwrap();
    let out = (res.status().as_u16(), res.json().await.unwrap());
    server.abort();
    out
}

fn ghl_check(ready: &Value) -> Value {
    ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ghl")
        .cloned()
        .unwrap_or(Value::Null)
}

/// GHL down at start-up does not stop dialdeck: it starts and is ready (dispositions wait in the
/// outbox), `/readyz` shows the `ghl` check failing, and once GHL answers (checked again in the
/// background) the check passes.
#[tokio::test]
async fn ghl_down_at_start_up_is_shown_by_readyz_until_it_answers() {
    let sim = GhlSim::start(quick()).await.unwrap();
    sim.sim.script(FaultRule {
        method: Some("GET".into()),
        template: Some("/opportunities/pipelines".into()),
        times: 2,
        fault: Fault::ServerError { status: 503 },
    });
    let dir = tempfile::tempdir().unwrap();
    let config = server_config(
        &sim.url,
        dir.path(),
        "127.0.0.1:0",
        &[
            "--ghl-sale-pipeline-id",
            "pipeSales",
            "--ghl-sale-stage-id",
            "stageWon",
        ],
    );
    let store = dialdeck_server::store::open(dir.path()).await.unwrap();
    let state = dialdeck_server::AppState::new(config, store).unwrap();
    state
        .check_ghl_setup()
        .await
        .expect("GHL down does not stop start-up");
    let (code, ready) = readyz(&state).await;
    assert_eq!(code, 200, "GHL is not required for readiness: {ready}");
    let ghl = ghl_check(&ready);
    assert_eq!(ghl["ok"], json!(false), "{ready}");
    assert!(ghl["detail"].as_str().unwrap().contains("503"), "{ghl}");
    state.start_background();
    let mut last = Value::Null;
    for _ in 0..100 {
        let (code, ready) = readyz(&state).await;
        if ghl_check(&ready)["ok"] == json!(true) {
            assert_eq!(code, 200, "{ready}");
            return;
        }
        last = ready;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the GHL check never passed after GHL came back: {last}");
}

/// GHL unreachable (nothing listens) at start-up: the real server starts and serves, and its
/// `/readyz` names the problem.
#[tokio::test]
async fn the_server_serves_while_ghl_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let config = server_config(
        "http://127.0.0.1:9",
        dir.path(),
        &listen,
        &["--ghl-sale-pipeline-id", "pipeSales"],
    );
    let server = tokio::spawn(dialdeck_server::run(config));
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(res) = reqwest::get(format!("http://{listen}/readyz")).await {
            answer = Some((res.status().as_u16(), res.json::<Value>().await.unwrap()));
            break;
        }
        assert!(
            !server.is_finished(),
            "the server stopped: {:?}",
            server.await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
    let (code, ready) = answer.expect("the server serves");
    assert_eq!(code, 200, "GHL is shown, not required: {ready}");
    let ghl = ghl_check(&ready);
    assert_eq!(ghl["ok"], json!(false));
    assert!(
        ghl["detail"].as_str().unwrap().contains("unreachable"),
        "{ghl}"
    );
    assert_eq!(
        ready["checks"][0]["ok"],
        json!(true),
        "the store is fine: {ready}"
    );
}
