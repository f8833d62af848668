//! The disposition pipeline through HTTP: acceptance and validation, idempotent replays,
//! exactly-once delivery under injected failures, parking and admin retry, live states (SSE),
//! and the real GHL target against the simulator.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::Utc;
use clap::Parser;
use dialdeck_server::{
    config::Config,
    disposition::{
        ApplyError, CallContext, CallRef, CallbackRules, Disposition, DispositionTarget, Lead,
        LiveCall, LoggedCall, StatusDef, StatusFlags,
    },
    outbox::{Outbox, OutboxArgs},
    session, AppState,
};
use dialdeck_shared::{
    CallbackRequest, DispositionAccepted, DispositionRequest, RecentCall, Recipient, TargetState,
};
use serde_json::{json, Value};

/// A VICIdial stand-in: campaign statuses with their flags; "agent `aN` is in call
/// `M…N` on lead N", which VICIdial logged with 90 s of talk time; agents may keep callbacks
/// to themselves except `a13`; callbacks at most 30 days ahead; VICIdial's local time is UTC.
struct FakeVicidial;

/// The call id the fake gives agent `aN`'s live call on lead N.
fn live_call_id(lead_id: i64) -> String {
    format!("M1202120000{lead_id:09}")
}

fn status(code: &str, flags: StatusFlags, selectable: bool) -> StatusDef {
    StatusDef {
        status: code.into(),
        status_name: format!("{code} name"),
        selectable,
        flags,
        campaign_specific: false,
    }
}

#[async_trait]
impl CallContext for FakeVicidial {
    async fn selectable_statuses(&self, campaign_id: &str) -> anyhow::Result<Vec<StatusDef>> {
        assert_eq!(campaign_id, "TESTCAMP");
        Ok(vec![
            status(
                "SALE",
                StatusFlags {
                    sale: true,
                    ..Default::default()
                },
                true,
            ),
            status(
                "CALLBK",
                StatusFlags {
                    scheduled_callback: true,
                    ..Default::default()
                },
                true,
            ),
            status(
                "DNC",
                StatusFlags {
                    dnc: true,
                    ..Default::default()
                },
                true,
            ),
            status(
                "NI",
                StatusFlags {
                    not_interested: true,
                    ..Default::default()
                },
                true,
            ),
            status("NA", StatusFlags::default(), false),
        ])
    }

    async fn live_call(&self, agent_user: &str) -> anyhow::Result<Option<LiveCall>> {
        let lead_id = agent_user.trim_start_matches('a').parse().unwrap_or(0);
        Ok(Some(LiveCall {
            agent_user: agent_user.into(),
            campaign_id: "TESTCAMP".into(),
            lead_id,
            status: "INCALL".into(),
            call_id: Some(live_call_id(lead_id)),
            uniqueid: None,
        }))
    }

    async fn lead(&self, lead_id: i64) -> anyhow::Result<Option<Lead>> {
        Ok((lead_id > 0).then(|| Lead {
            lead_id,
            first_name: "Ada".into(),
            last_name: format!("Lead{lead_id}"),
            phone_number: format!("312555{:04}", 1000 + lead_id),
            phone_code: "1".into(),
            ..Lead::default()
        }))
    }

    async fn call_facts(&self, call: &CallRef) -> anyhow::Result<Option<LoggedCall>> {
        let end = call.ended_at.unwrap_or_else(|| Utc::now().timestamp());
        Ok(Some(LoggedCall {
            uniqueid: format!("{end}.{}", call.lead_id),
            start_epoch: end - 90,
            end_epoch: Some(end),
            length_in_sec: Some(90),
        }))
    }

    async fn callback_rules(
        &self,
        agent_user: &str,
        _campaign_id: &str,
        at: chrono::DateTime<Utc>,
    ) -> anyhow::Result<CallbackRules> {
        Ok(CallbackRules {
            user_only_allowed: agent_user != "a13",
            days_limit: 30,
            local_today: Utc::now().date_naive(),
            local_at: at.naive_utc(),
        })
    }
}

/// A target that records its effects by disposition (keyed by the agent's id of it: the tests
/// give every agent its own ids), so it is idempotent like the real ones, and fails as told. It also checks that the outbox never runs two applies of the same
/// disposition at once.
#[derive(Default)]
struct FakeTarget {
    name: &'static str,
    effects: Mutex<HashMap<String, u32>>,
    in_flight: Mutex<HashSet<String>>,
    overlaps: AtomicU32,
    calls: AtomicU32,
    /// Successful answers per disposition id.
    answered: Mutex<HashMap<String, u32>>,
    /// Percent of calls that fail with a retryable error (half of them after the effect).
    fail_percent: u32,
    permanent: AtomicBool,
}

impl FakeTarget {
    fn new(name: &'static str, fail_percent: u32) -> Arc<FakeTarget> {
        Arc::new(FakeTarget {
            name,
            fail_percent,
            ..Default::default()
        })
    }
    fn effects_of(&self, id: &str) -> u32 {
        self.effects.lock().unwrap().get(id).copied().unwrap_or(0)
    }
    fn answered(&self, id: &str) -> u32 {
        self.answered.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

#[async_trait]
impl DispositionTarget for FakeTarget {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn apply(&self, d: &Disposition) -> Result<Value, ApplyError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let key = d.client_id.clone();
        if !self.in_flight.lock().unwrap().insert(key.clone()) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        let roll = (n.wrapping_mul(2654435761) >> 7) % 100;
        let result = if self.permanent.load(Ordering::SeqCst) {
            Err(ApplyError::Permanent {
                reason: format!("{}: lead refused", self.name),
            })
        } else if roll < self.fail_percent / 2 {
            Err(ApplyError::Retryable {
                reason: "HTTP 503".into(),
                retry_after: None,
            })
        } else {
            // The effect happens (once per id), then maybe the answer is lost.
            self.effects.lock().unwrap().entry(key.clone()).or_insert(1);
            if roll < self.fail_percent {
                Err(ApplyError::Retryable {
                    reason: "timed out after the write".into(),
                    retry_after: Some(Duration::from_millis(5)),
                })
            } else {
                *self
                    .answered
                    .lock()
                    .unwrap()
                    .entry(key.clone())
                    .or_default() += 1;
                Ok(json!({ "target": self.name, "status": d.status.status }))
            }
        };
        self.in_flight.lock().unwrap().remove(&key);
        result
    }
}

struct App {
    url: String,
    state: AppState,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn test_args() -> OutboxArgs {
    OutboxArgs {
        workers: 4,
        lease_secs: 4,
        backoff_base_ms: 5,
        backoff_max_secs: 1,
        max_attempts: 50,
        ..OutboxArgs::default()
    }
}

async fn spawn_app(targets: Vec<Arc<dyn DispositionTarget>>, args: OutboxArgs) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = dialdeck_server::store::open(dir.path()).await.unwrap();
    spawn_app_on(dir, store, targets, args, true).await
}

/// An instance on `store` (SQLite or a shared MariaDB), with or without its workers.
async fn spawn_app_on(
    dir: tempfile::TempDir,
    store: dialdeck_server::store::Store,
    targets: Vec<Arc<dyn DispositionTarget>>,
    args: OutboxArgs,
    workers: bool,
) -> App {
    let config = Config::try_parse_from(["dialdeck"]).unwrap();
    let outbox = Outbox::new(store.clone(), targets, Some(Arc::new(FakeVicidial)), args);
    let state = AppState::with_outbox(config, store, outbox);
    if workers {
        state.outbox().start_workers();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = dialdeck_server::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App {
        url,
        state,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl App {
    async fn login(&self, user: &str, level: i64) -> String {
        let token = session::create(
            self.state.store(),
            user,
            level,
            Some("TESTCAMP"),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        format!("dialdeck_session={token}")
    }

    fn post(&self, cookie: &str, path: &str) -> reqwest::RequestBuilder {
        let host = self.url.trim_start_matches("http://").to_string();
        self.http
            .post(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .header("origin", format!("http://{host}"))
    }

    async fn submit(&self, cookie: &str, req: &DispositionRequest) -> (u16, Value) {
        let res = self
            .post(cookie, "/api/dispositions")
            .json(req)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    async fn state_of(&self, cookie: &str, id: &str) -> DispositionAccepted {
        self.http
            .get(format!("{}/api/dispositions/{id}", self.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn wait_all(&self, cookie: &str, id: &str, want: TargetState) -> DispositionAccepted {
        for _ in 0..400 {
            let s = self.state_of(cookie, id).await;
            if s.targets.iter().all(|t| t.state == want) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "{id} never reached {want:?}: {:?}",
            self.state_of(cookie, id).await
        );
    }
}

fn request(id: &str, lead_id: i64, status: &str) -> DispositionRequest {
    DispositionRequest {
        id: id.into(),
        lead_id,
        status: status.into(),
        callback: None,
        notes: "Customer asked about pricing.".into(),
    }
}

#[tokio::test]
async fn accepted_disposition_reaches_every_target_once_and_ends_wrapup() {
    let (vici, ghl) = (FakeTarget::new("vicidial", 0), FakeTarget::new("ghl", 0));
    let app = spawn_app(vec![vici.clone(), ghl.clone()], test_args()).await;
    let cookie = app.login("a42", 1).await;
    dialdeck_server::wrapup::call_ended(app.state.store(), "a42", 42, "M1", Some("TESTCAMP"))
        .await
        .unwrap();

    let (code, body) = app.submit(&cookie, &request("call-0001", 42, "SALE")).await;
    assert_eq!(code, 202, "{body}");
    let accepted: DispositionAccepted = serde_json::from_value(body).unwrap();
    assert_eq!(accepted.targets.len(), 2);
    assert!(dialdeck_server::wrapup::current(app.state.store(), "a42")
        .await
        .unwrap()
        .is_none());

    let done = app.wait_all(&cookie, "call-0001", TargetState::Done).await;
    assert!(done
        .targets
        .iter()
        .all(|t| t.attempts == 1 && t.last_error.is_none()));
    assert_eq!(
        (vici.effects_of("call-0001"), ghl.effects_of("call-0001")),
        (1, 1)
    );
}

#[tokio::test]
async fn the_same_submission_twice_has_one_effect_and_a_reused_key_is_refused() {
    let vici = FakeTarget::new("vicidial", 0);
    let app = spawn_app(vec![vici.clone()], test_args()).await;
    let cookie = app.login("a42", 1).await;
    let req = request("call-dup-01", 42, "NI");
    let (c1, first) = app.submit(&cookie, &req).await;
    app.wait_all(&cookie, "call-dup-01", TargetState::Done)
        .await;
    let (c2, second) = app.submit(&cookie, &req).await;
    assert_eq!((c1, c2), (202, 202));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["targets"][0]["state"], "done");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(vici.calls.load(Ordering::SeqCst), 1, "no second apply");

    let mut other = req.clone();
    other.status = "SALE".into();
    let (code, body) = app.submit(&cookie, &other).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    // Keys are the agent's own: another agent's identical key is another disposition (of
    // that agent's own call), and leaves the first one as it was.
    let cookie_b = app.login("a7", 1).await;
    let (code, body) = app
        .submit(&cookie_b, &request("call-dup-01", 7, "SALE"))
        .await;
    assert_eq!(code, 202, "{body}");
    app.wait_all(&cookie_b, "call-dup-01", TargetState::Done)
        .await;
    assert_eq!(vici.calls.load(Ordering::SeqCst), 2);
    let (code, again) = app.submit(&cookie, &req).await;
    assert_eq!(
        (code, &again["targets"]),
        (202, &second["targets"]),
        "{again}"
    );
    // Naming another agent's lead is refused: the call is the server's to know.
    let (code, body) = app
        .submit(&cookie_b, &request("call-dup-02", 42, "NI"))
        .await;
    assert_eq!((code, body["code"].as_str()), (409, Some("lead_not_yours")));
}

#[tokio::test]
async fn invalid_dispositions_are_refused_with_a_reason() {
    let vici = FakeTarget::new("vicidial", 0);
    let app = spawn_app(vec![vici.clone()], test_args()).await;
    let cookie = app.login("a42", 1).await;
    // Local times in Chicago, as the agent's browser gives them.
    let local = |d: chrono::Duration| {
        (Utc::now() + d)
            .with_timezone(&chrono_tz::America::Chicago)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let future = local(chrono::Duration::days(1));
    let past = local(chrono::Duration::minutes(-2));
    let cb = |at: &str, recipient: Recipient| CallbackRequest {
        at_local: at.into(),
        time_zone: "America/Chicago".into(),
        recipient,
        comments: "after 3pm".into(),
    };
    let cases: Vec<(DispositionRequest, u16, &str)> = vec![
        (request("call-bad-01", 42, "XYZ"), 400, "unknown_status"),
        (request("call-bad-02", 42, "NA"), 400, "unknown_status"),
        (
            request("call-bad-03", 42, "CALLBK"),
            400,
            "callback_required",
        ),
        (
            DispositionRequest {
                callback: Some(cb(&past, Recipient::UserOnly)),
                ..request("call-bad-04", 42, "CALLBK")
            },
            400,
            "callback_in_past",
        ),
        (
            DispositionRequest {
                callback: Some(CallbackRequest {
                    time_zone: "Mars/Olympus_Mons".into(),
                    ..cb(&future, Recipient::Anyone)
                }),
                ..request("call-bad-05", 42, "CALLBK")
            },
            400,
            "invalid_time_zone",
        ),
        (
            DispositionRequest {
                notes: "x".repeat(2001),
                ..request("call-bad-06", 42, "NI")
            },
            400,
            "notes_too_long",
        ),
        (request("call-bad-07", 43, "NI"), 409, "lead_not_yours"),
        (
            DispositionRequest {
                callback: Some(cb(&future, Recipient::UserOnly)),
                ..request("call-bad-10", 42, "NI")
            },
            400,
            "callback_not_allowed",
        ),
        (
            DispositionRequest {
                callback: Some(cb(&local(chrono::Duration::days(32)), Recipient::Anyone)),
                ..request("call-bad-11", 42, "CALLBK")
            },
            400,
            "callback_too_far",
        ),
        (request("short", 42, "NI"), 400, "invalid_id"),
        (
            DispositionRequest {
                callback: Some(cb("tomorrow at 3", Recipient::UserOnly)),
                ..request("call-bad-09", 42, "CALLBK")
            },
            400,
            "invalid_callback_time",
        ),
    ];
    for (req, want_code, want) in cases {
        let (code, body) = app.submit(&cookie, &req).await;
        assert_eq!(
            (code, body["code"].as_str().unwrap_or("")),
            (want_code, want),
            "{}: {body}",
            req.id
        );
    }
    let ok = DispositionRequest {
        callback: Some(cb(&future, Recipient::UserOnly)),
        ..request("call-good-1", 42, "CALLBK")
    };
    assert_eq!(app.submit(&cookie, &ok).await.0, 202);
    app.wait_all(&cookie, "call-good-1", TargetState::Done)
        .await;
    assert_eq!(
        vici.calls.load(Ordering::SeqCst),
        1,
        "refused ones never reached a target"
    );

    // No session, or a cross-site form post: refused before anything else.
    let res = app
        .http
        .post(format!("{}/api/dispositions", app.url))
        .json(&request("call-anon-1", 42, "NI"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .post("", "/api/dispositions")
        .json(&request("call-anon-1", 42, "NI"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn exactly_once_while_targets_fail_thirty_percent_of_the_time() {
    let (vici, ghl) = (FakeTarget::new("vicidial", 30), FakeTarget::new("ghl", 30));
    let app = Arc::new(spawn_app(vec![vici.clone(), ghl.clone()], test_args()).await);
    let mut tasks = Vec::new();
    for n in 1..=60i64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let cookie = app.login(&format!("a{n}"), 1).await;
            let id = format!("call-load-{n:04}");
            let req = request(&id, n, if n % 3 == 0 { "SALE" } else { "NI" });
            let (code, _) = app.submit(&cookie, &req).await;
            assert_eq!(code, 202);
            // An impatient client submits again: no second effect.
            assert_eq!(app.submit(&cookie, &req).await.0, 202);
            app.wait_all(&cookie, &id, TargetState::Done).await;
            id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for id in &ids {
        assert_eq!((vici.effects_of(id), ghl.effects_of(id)), (1, 1), "{id}");
    }
    let calls = vici.calls.load(Ordering::SeqCst) + ghl.calls.load(Ordering::SeqCst);
    assert!(
        calls > 120,
        "failures were retried: {calls} applies for 120 jobs"
    );
    assert_eq!(
        vici.overlaps.load(Ordering::SeqCst) + ghl.overlaps.load(Ordering::SeqCst),
        0,
        "never two applies of one disposition at once"
    );
}

#[tokio::test]
async fn permanent_failures_are_parked_for_admins_who_can_retry_them() {
    let ghl = FakeTarget::new("ghl", 0);
    ghl.permanent.store(true, Ordering::SeqCst);
    let app = spawn_app(vec![ghl.clone()], test_args()).await;
    let agent = app.login("a42", 1).await;
    let admin = app.login("admin", 9).await;
    assert_eq!(
        app.submit(&agent, &request("call-park-1", 42, "DNC"))
            .await
            .0,
        202
    );
    let failed = app
        .wait_all(&agent, "call-park-1", TargetState::Failed)
        .await;
    assert_eq!(
        failed.targets[0].last_error.as_deref(),
        Some("ghl: lead refused")
    );
    assert_eq!(
        failed.targets[0].attempts, 1,
        "a permanent failure is not retried"
    );

    let get = |cookie: &str, path: &str| {
        app.http
            .get(format!("{}{path}", app.url))
            .header("cookie", cookie.to_string())
            .send()
    };
    assert_eq!(
        get(&agent, "/api/admin/outbox/failures")
            .await
            .unwrap()
            .status(),
        403
    );
    let failures: Value = get(&admin, "/api/admin/outbox/failures")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = failures[0]["id"].as_i64().unwrap();
    assert_eq!(failures[0]["last_error"], "ghl: lead refused");
    let backlog: Value = get(&admin, "/api/admin/outbox")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        backlog["jobs"][0],
        json!({"target": "ghl", "state": "parked", "count": 1})
    );

    assert_eq!(
        app.post(&agent, &format!("/api/admin/outbox/jobs/{job_id}/retry"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    ghl.permanent.store(false, Ordering::SeqCst);
    let res = app
        .post(&admin, &format!("/api/admin/outbox/jobs/{job_id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.wait_all(&agent, "call-park-1", TargetState::Done).await;
    assert_eq!(ghl.effects_of("call-park-1"), 1);
    let res = app
        .post(&admin, &format!("/api/admin/outbox/jobs/{job_id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "a done job cannot be retried");
}

#[tokio::test]
async fn the_agent_sees_target_states_live_over_sse() {
    let vici = FakeTarget::new("vicidial", 0);
    let app = spawn_app(vec![vici], test_args()).await;
    let cookie = app.login("a42", 1).await;
    let mut events = app
        .http
        .get(format!("{}/api/dispositions/events", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    assert_eq!(
        app.submit(&cookie, &request("call-sse-01", 42, "NI"))
            .await
            .0,
        202
    );
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("\"state\":\"done\"") {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("SSE within 10 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: disposition"), "{seen}");
    assert!(seen.contains("call-sse-01"), "{seen}");
}

#[tokio::test]
async fn a_disposition_reaches_the_ghl_simulator_once_through_a_5xx() {
    use dialdeck_ghl_sim::{Fault, FaultRule, GhlSim, SimConfig};
    let sim = GhlSim::start(SimConfig {
        window: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.sim.script(FaultRule::once(
        "POST",
        "/contacts/{contactId}/notes",
        Fault::ServerError { status: 502 },
    ));
    let dir = tempfile::tempdir().unwrap();
    let store = dialdeck_server::store::open(dir.path()).await.unwrap();
    let args = dialdeck_server::ghl::GhlArgs::for_tests(
        &sim.url,
        "locTest0000000000001",
        "pit-test-token",
    );
    let ghl = Arc::new(dialdeck_server::ghl::GhlTarget::new(&args, store.clone()).unwrap());
    let config = Config::try_parse_from(["dialdeck"]).unwrap();
    let outbox = Outbox::new(
        store.clone(),
        vec![ghl],
        Some(Arc::new(FakeVicidial)),
        test_args(),
    );
    let state = AppState::with_outbox(config, store, outbox);
    state.outbox().start_workers();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = dialdeck_server::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = App {
        url,
        state,
        http: reqwest::Client::new(),
        _dir: dir,
    };

    let cookie = app.login("a42", 1).await;
    assert_eq!(
        app.submit(&cookie, &request("call-ghl-001", 42, "NI"))
            .await
            .0,
        202
    );
    let done = app
        .wait_all(&cookie, "call-ghl-001", TargetState::Done)
        .await;
    assert_eq!(done.targets[0].attempts, 2, "the 502 was retried");
    let notes = sim.sim.notes();
    assert_eq!(notes.len(), 1, "one note despite the retry: {notes:?}");
    assert!(notes[0].body.contains("NI"), "{:?}", notes[0].body);
}

#[tokio::test]
async fn the_store_briefly_locked_delays_dispositions_but_loses_none() {
    use sqlx::{ConnectOptions, Executor};
    let (vici, ghl) = (FakeTarget::new("vicidial", 0), FakeTarget::new("ghl", 0));
    let app = spawn_app(vec![vici.clone(), ghl.clone()], test_args()).await;
    let path = app._dir.path().join(dialdeck_server::store::DB_FILE);
    // Another process holds the database's write lock (a backup, a stuck admin shell...).
    let mut locker = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .unwrap();
    let mut cookies = Vec::new();
    for n in 1..=20i64 {
        cookies.push(app.login(&format!("a{n}"), 1).await);
    }
    locker.execute("BEGIN EXCLUSIVE").await.unwrap();
    let pending = submit_in_background(&app, cookies);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        pending.iter().all(|p| !p.is_finished()),
        "nothing can be accepted while the store is locked"
    );
    locker.execute("COMMIT").await.unwrap();
    each_accepted_and_applied_once(&app, pending, &vici, &ghl).await;
}

type Submission = tokio::task::JoinHandle<(u16, String)>;

/// Agent `aN` (the N-th cookie) submits `locked-000N` for lead N, in the background.
fn submit_in_background(app: &App, cookies: Vec<String>) -> Vec<Submission> {
    let mut pending = Vec::new();
    for (n, cookie) in (1..).zip(cookies) {
        let client = app.http.clone();
        let url = app.url.clone();
        pending.push(tokio::spawn(async move {
            let host = url.trim_start_matches("http://").to_string();
            let res = client
                .post(format!("{url}/api/dispositions"))
                .header("cookie", &cookie)
                .header("origin", format!("http://{host}"))
                .json(&request(&format!("locked-{n:04}"), n, "NI"))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), cookie)
        }));
    }
    pending
}

/// Every background submission was accepted, and applied once to each target.
async fn each_accepted_and_applied_once(
    app: &App,
    pending: Vec<Submission>,
    vici: &FakeTarget,
    ghl: &FakeTarget,
) {
    for (n, p) in pending.into_iter().enumerate() {
        let (code, cookie) = p.await.unwrap();
        assert_eq!(code, 202, "submission {n}");
        let id = format!("locked-{:04}", n + 1);
        app.wait_all(&cookie, &id, TargetState::Done).await;
        assert_eq!((vici.effects_of(&id), ghl.effects_of(&id)), (1, 1), "{id}");
    }
}

/// A new empty database on the test MariaDB, as instances would share it.
async fn shared_mariadb() -> secrecy::SecretString {
    let db = dialdeck_vicidial_sim::mariadb::MariaDb::shared();
    let name = db.empty_database().await.unwrap();
    secrecy::SecretString::from(db.url(&name))
}

/// An instance on the shared store with `workers` outbox workers (0: it accepts but never
/// applies, as if its workers were dead).
async fn instance_on(
    url: &secrecy::SecretString,
    targets: Vec<Arc<dyn DispositionTarget>>,
    workers: usize,
) -> App {
    let store = dialdeck_server::store::connect(url).await.unwrap();
    let args = OutboxArgs {
        workers,
        ..test_args()
    };
    spawn_app_on(tempfile::tempdir().unwrap(), store, targets, args, true).await
}

/// Two instances behind a load balancer share one MariaDB store: a session made on one is
/// valid on the other; dispositions submitted to either (and again to the other) are applied
/// exactly once while the targets fail 30% of the time; and the agent's event stream on one
/// instance shows what the other instance's workers did.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sharing_mariadb_apply_each_disposition_once() {
    let url = shared_mariadb().await;
    let (vici, ghl) = (FakeTarget::new("vicidial", 30), FakeTarget::new("ghl", 30));
    let targets = || -> Vec<Arc<dyn DispositionTarget>> { vec![vici.clone(), ghl.clone()] };
    let a = Arc::new(instance_on(&url, targets(), 4).await);
    let b = Arc::new(instance_on(&url, targets(), 4).await);

    // The session lives in the shared store.
    let cookie = a.login("a7", 1).await;
    let me = b
        .http
        .get(format!("{}/api/dispositions/nope-0000", b.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 404, "B knows A's session (not 401)");

    let mut tasks = Vec::new();
    for n in 1..=60i64 {
        let (first, second) = if n % 2 == 0 {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        tasks.push(tokio::spawn(async move {
            let cookie = first.login(&format!("a{n}"), 1).await;
            let id = format!("shared-{n:04}");
            let req = request(&id, n, if n % 3 == 0 { "SALE" } else { "NI" });
            let (code, body) = first.submit(&cookie, &req).await;
            assert_eq!(code, 202, "{body}");
            // The client retries through the other instance: the same answer, no new job.
            let (code, again) = second.submit(&cookie, &req).await;
            assert_eq!(code, 202, "{again}");
            assert_eq!(again["id"], body["id"]);
            second.wait_all(&cookie, &id, TargetState::Done).await;
            id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for id in &ids {
        assert_eq!((vici.effects_of(id), ghl.effects_of(id)), (1, 1), "{id}");
        assert_eq!(
            (vici.answered(id), ghl.answered(id)),
            (1, 1),
            "{id} completed once"
        );
    }
    assert_eq!(
        vici.overlaps.load(Ordering::SeqCst) + ghl.overlaps.load(Ordering::SeqCst),
        0,
        "never two applies of one disposition at once, across instances"
    );
    let jobs: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox_jobs WHERE state = 'done'")
        .fetch_one(a.state.store())
        .await
        .unwrap();
    assert_eq!(jobs.0, 120);

    // Agent a61 works on instance C, which has no workers: A's and B's apply its disposition,
    // and C's event stream still shows every target done (read from the shared store).
    let cookie = a.login("a61", 1).await;
    let c = instance_on(&url, targets(), 0).await;
    let mut events = c
        .http
        .get(format!("{}/api/dispositions/events", c.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status().as_u16(), 200);
    assert_eq!(
        c.submit(&cookie, &request("shared-a61-0001", 61, "NI"))
            .await
            .0,
        202
    );
    let mut last = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(last.contains("shared-a61-0001") && last.matches("\"state\":\"done\"").count() == 2) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .unwrap_or_else(|_| panic!("C's stream never showed both targets done: {last}"))
            .unwrap()
            .expect("the stream stays open");
        last.push_str(&String::from_utf8_lossy(&chunk));
        // Judge the latest event only.
        if let Some(i) = last.rfind("event: disposition") {
            last = last[i..].to_string();
        }
    }
    let applied_by_c = vici.answered("shared-a61-0001") + ghl.answered("shared-a61-0001");
    assert_eq!(applied_by_c, 2, "applied once per target, by A or B");
}

/// An instance that dies holding a job's lease: another instance sharing the store takes the
/// job over once the lease expires, and applies it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_takes_over_a_dead_instances_lease() {
    let url = shared_mariadb().await;
    let ghl = FakeTarget::new("ghl", 0);
    // Instance A accepts but never applies (its workers are "dead").
    let a = instance_on(&url, vec![ghl.clone()], 0).await;
    let cookie = a.login("a9", 1).await;
    assert_eq!(
        a.submit(&cookie, &request("orphan-0001", 9, "NI")).await.0,
        202
    );
    let now = Utc::now().timestamp_millis();
    let held = dialdeck_server::outbox::store::claim(a.state.store(), "dead-a", now, 1_500)
        .await
        .unwrap()
        .expect("A's worker claimed the job before dying");
    let b = instance_on(&url, vec![ghl.clone()], 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ghl.effects_of("orphan-0001"), 0, "the lease still holds");
    let done = b.wait_all(&cookie, "orphan-0001", TargetState::Done).await;
    assert_eq!(
        done.targets[0].attempts, 2,
        "taken over after the lease: {done:?}"
    );
    assert_eq!(
        (ghl.effects_of("orphan-0001"), ghl.answered("orphan-0001")),
        (1, 1)
    );
    // The dead instance's late answer changes nothing.
    assert!(!dialdeck_server::outbox::store::complete(
        a.state.store(),
        held.id,
        "dead-a",
        "{}",
        now
    )
    .await
    .unwrap());
}

/// The shared store's outbox tables locked for a while (a long admin statement, a backup):
/// submissions wait, then every one is accepted and applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_store_briefly_locked_delays_dispositions_but_loses_none() {
    use sqlx::{ConnectOptions, Executor};
    let url = shared_mariadb().await;
    let (vici, ghl) = (FakeTarget::new("vicidial", 0), FakeTarget::new("ghl", 0));
    let app = instance_on(&url, vec![vici.clone(), ghl.clone()], 4).await;
    let mut cookies = Vec::new();
    for n in 1..=10i64 {
        cookies.push(app.login(&format!("a{n}"), 1).await);
    }
    let mut locker = {
        use secrecy::ExposeSecret;
        url.expose_secret()
            .parse::<sqlx::mysql::MySqlConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap()
    };
    locker
        .execute("LOCK TABLES dispositions WRITE, outbox_jobs WRITE, agent_wrapup WRITE")
        .await
        .unwrap();
    let pending = submit_in_background(&app, cookies);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        pending.iter().all(|p| !p.is_finished()),
        "nothing can be accepted while the store is locked"
    );
    locker.execute("UNLOCK TABLES").await.unwrap();
    each_accepted_and_applied_once(&app, pending, &vici, &ghl).await;
}

/// One call, one disposition: a second disposition of the same call under a new id is refused
/// (the store's unique key decides, so two tabs or two instances cannot both get one in); the
/// first stands and reaches the targets once.
#[tokio::test]
async fn a_call_takes_one_disposition_whatever_its_id() {
    let vici = FakeTarget::new("vicidial", 0);
    let app = spawn_app(vec![vici.clone()], test_args()).await;
    let cookie = app.login("a42", 1).await;
    assert_eq!(
        app.submit(&cookie, &request("tab-one-0001", 42, "SALE"))
            .await
            .0,
        202
    );
    let (code, body) = app
        .submit(&cookie, &request("tab-two-0001", 42, "NI"))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (409, Some("already_dispositioned")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("tab-one-0001"),
        "{body}"
    );
    // Both submitted at once (one group commit): still one.
    let cookie7 = app.login("a7", 1).await;
    let (one, two) = (
        request("race-one-0001", 7, "SALE"),
        request("race-two-0001", 7, "NI"),
    );
    let (a, b) = tokio::join!(app.submit(&cookie7, &one), app.submit(&cookie7, &two));
    let mut codes = [a.0, b.0];
    codes.sort_unstable();
    assert_eq!(codes, [202, 409], "{a:?} {b:?}");
    app.wait_all(&cookie, "tab-one-0001", TargetState::Done)
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(vici.calls.load(Ordering::SeqCst), 2, "one apply per call");
    // The same call's next wrap-up (a new call of the same lead) is another call.
    dialdeck_server::wrapup::call_ended(
        app.state.store(),
        "a42",
        42,
        "M1202120099000000042",
        Some("TESTCAMP"),
    )
    .await
    .unwrap();
    assert_eq!(
        app.submit(&cookie, &request("next-call-01", 42, "NI"))
            .await
            .0,
        202
    );
}

/// Callbacks as VICIdial has them: only for callback statuses, not further ahead than the
/// campaign allows, and `USERONLY` only for agents with agent-only callbacks.
#[tokio::test]
async fn callbacks_follow_the_agents_rights() {
    let vici = FakeTarget::new("vicidial", 0);
    let app = spawn_app(vec![vici.clone()], test_args()).await;
    let cookie = app.login("a13", 1).await;
    let cb = |recipient| CallbackRequest {
        at_local: (Utc::now() + chrono::Duration::days(3))
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        time_zone: "UTC".into(),
        recipient,
        comments: "morning".into(),
    };
    let mine = DispositionRequest {
        callback: Some(cb(Recipient::UserOnly)),
        ..request("cb-mine-0001", 13, "CALLBK")
    };
    let (code, body) = app.submit(&cookie, &mine).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("callback_recipient_not_allowed")),
        "{body}"
    );
    let anyone = DispositionRequest {
        callback: Some(cb(Recipient::Anyone)),
        ..request("cb-any-0001", 13, "CALLBK")
    };
    assert_eq!(app.submit(&cookie, &anyone).await.0, 202);
    app.wait_all(&cookie, "cb-any-0001", TargetState::Done)
        .await;
}

/// A target that always fails for a passing reason and asks for 30 s.
struct AlwaysRetry;

#[async_trait]
impl DispositionTarget for AlwaysRetry {
    fn name(&self) -> &'static str {
        "ghl"
    }
    async fn apply(&self, _: &Disposition) -> Result<Value, ApplyError> {
        Err(ApplyError::Retryable {
            reason: "GHL rate limit".into(),
            retry_after: Some(Duration::from_secs(30)),
        })
    }
}

/// A retrying target says when it is tried next, so the modal can say "retrying in 30 s".
#[tokio::test]
async fn a_retrying_target_says_when_it_is_tried_again() {
    let app = spawn_app(vec![Arc::new(AlwaysRetry)], test_args()).await;
    let cookie = app.login("a42", 1).await;
    let before = Utc::now().timestamp();
    assert_eq!(
        app.submit(&cookie, &request("retry-0001", 42, "NI"))
            .await
            .0,
        202
    );
    let s = app
        .wait_all(&cookie, "retry-0001", TargetState::Retrying)
        .await;
    let after = Utc::now().timestamp();
    let t = &s.targets[0];
    assert_eq!(
        (t.attempts, t.last_error.as_deref()),
        (1, Some("GHL rate limit"))
    );
    let next = t
        .next_attempt_at
        .expect("a retrying job names its next attempt");
    assert!(
        (before + 30..=after + 31).contains(&next),
        "{next} is not 30 s after {before}..{after}"
    );
}

/// The shift's list: this login's dispositions, newest first, with the lead, the status's
/// name, the talk time VICIdial logged, the callback and each target's state; an earlier
/// shift's and other agents' are not in it.
#[tokio::test]
async fn the_shift_lists_this_logins_calls_newest_first() {
    let vici = FakeTarget::new("vicidial", 0);
    let app = spawn_app(vec![vici.clone()], test_args()).await;
    let cookie = app.login("a42", 1).await;
    let store = app.state.store();
    let call = |id: &'static str| {
        dialdeck_server::wrapup::call_ended(store, "a42", 42, id, Some("TESTCAMP"))
    };
    call("M1202120001000000042").await.unwrap();
    assert_eq!(
        app.submit(&cookie, &request("yesterday-01", 42, "NI"))
            .await
            .0,
        202
    );
    sqlx::query("UPDATE dispositions SET accepted_at = accepted_at - 86400000 WHERE client_id = 'yesterday-01'")
        .execute(store)
        .await
        .unwrap();
    call("M1202120002000000042").await.unwrap();
    assert_eq!(
        app.submit(&cookie, &request("first-call-1", 42, "SALE"))
            .await
            .0,
        202
    );
    call("M1202120003000000042").await.unwrap();
    let at_local = (Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let callback = DispositionRequest {
        callback: Some(CallbackRequest {
            at_local: at_local.clone(),
            time_zone: "UTC".into(),
            recipient: Recipient::UserOnly,
            comments: String::new(),
        }),
        ..request("second-call1", 42, "CALLBK")
    };
    assert_eq!(app.submit(&cookie, &callback).await.0, 202);
    let other = app.login("a7", 1).await;
    assert_eq!(
        app.submit(&other, &request("someone-else", 7, "NI"))
            .await
            .0,
        202
    );
    app.wait_all(&cookie, "first-call-1", TargetState::Done)
        .await;
    app.wait_all(&cookie, "second-call1", TargetState::Done)
        .await;

    let calls: Vec<RecentCall> = app
        .http
        .get(format!("{}/api/agent/calls", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = calls.iter().map(|c| c.disposition_id.as_str()).collect();
    assert_eq!(ids, ["second-call1", "first-call-1"], "{calls:#?}");
    let (cb, sale) = (&calls[0], &calls[1]);
    assert_eq!(
        (sale.lead_id, sale.name.as_str(), sale.phone.as_str()),
        (42, "Ada Lead42", "+1 312-555-1042")
    );
    assert_eq!(
        (sale.status.as_str(), sale.status_name.as_str()),
        ("SALE", "SALE name")
    );
    assert_eq!((sale.talk_secs, sale.callback_at), (Some(90), None));
    assert_eq!(sale.targets[0].state, TargetState::Done);
    let want = chrono::NaiveDateTime::parse_from_str(&at_local, "%Y-%m-%dT%H:%M")
        .unwrap()
        .and_utc()
        .timestamp();
    assert_eq!(cb.callback_at, Some(want));
    assert!(cb.at >= sale.at && cb.at <= Utc::now().timestamp());
    // Without a session there is no list.
    let res = app
        .http
        .get(format!("{}/api/agent/calls", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
