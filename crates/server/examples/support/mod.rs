//! What the server's benchmarks share: a VICIdial stand-in, instant targets, the app on
//! SQLite with logged-in agents, and an HTTP load generator.

// Each example uses a part of this module.
#![allow(dead_code)]

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use clap::Parser;
use dialdeck_server::{
    config::Config,
    disposition::{
        ApplyError, CallContext, CallRef, CallbackRules, Disposition, DispositionTarget, Lead,
        LiveCall, LoggedCall, StatusDef, StatusFlags,
    },
    outbox::{Outbox, OutboxArgs},
    session,
    store::Store,
    AppState,
};
use dialdeck_shared::DispositionRequest;

/// Agent `aN` is on lead N of campaign BENCH, in a new call each time it is asked (every
/// disposition is of another call: a call takes one); NI is the only status.
pub struct Context(pub AtomicU64);

#[async_trait]
impl CallContext for Context {
    async fn selectable_statuses(&self, _: &str) -> anyhow::Result<Vec<StatusDef>> {
        Ok(vec![StatusDef {
            status: "NI".into(),
            status_name: "Not Interested".into(),
            selectable: true,
            flags: StatusFlags {
                not_interested: true,
                ..Default::default()
            },
            campaign_specific: false,
        }])
    }
    async fn live_call(&self, agent: &str) -> anyhow::Result<Option<LiveCall>> {
        Ok(Some(LiveCall {
            agent_user: agent.into(),
            campaign_id: "BENCH".into(),
            lead_id: agent[1..].parse()?,
            status: "INCALL".into(),
            call_id: Some(format!("M{:019}", self.0.fetch_add(1, Ordering::Relaxed))),
            uniqueid: None,
        }))
    }
    async fn lead(&self, lead_id: i64) -> anyhow::Result<Option<Lead>> {
        Ok(Some(Lead {
            lead_id,
            ..Lead::default()
        }))
    }
    async fn call_facts(&self, _: &CallRef) -> anyhow::Result<Option<LoggedCall>> {
        Ok(None)
    }
    async fn callback_rules(
        &self,
        _: &str,
        _: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<CallbackRules> {
        Ok(CallbackRules {
            user_only_allowed: true,
            days_limit: 0,
            local_today: chrono::Utc::now().date_naive(),
            local_at: at.naive_utc(),
        })
    }
}

/// A target that succeeds at once, so the benchmark measures the pipeline, not an upstream.
pub struct Instant0(pub &'static str);

#[async_trait]
impl DispositionTarget for Instant0 {
    fn name(&self) -> &'static str {
        self.0
    }
    async fn apply(&self, _: &Disposition) -> Result<serde_json::Value, ApplyError> {
        Ok(serde_json::Value::Null)
    }
}

/// One load run's outcome.
pub struct Run {
    /// Requests answered per second.
    pub per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// Runs the agents for `secs`. Closed loop (`rate = None`): each agent sends its next request as
/// soon as the last is answered (maximum throughput). Open loop (`Some(total per second)`): each
/// agent sends on a fixed schedule and latency counts from the scheduled time, so a slow
/// server cannot hide its queueing (no coordinated omission).
pub async fn load(
    url: String,
    cookies: Vec<String>,
    secs: u64,
    path: &'static str,
    rate: Option<f64>,
) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1000)
        .build()
        .unwrap();
    let origin = url
        .replace("/api/dispositions", "")
        .replace("/baseline", "");
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    let agents = cookies.len();
    for (n, cookie) in cookies.into_iter().enumerate() {
        let (client, url, origin) = (client.clone(), format!("{url}{path}"), origin.clone());
        let interval = rate.map(|r| Duration::from_secs_f64(agents as f64 / r));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            // Spread the agents' schedules over one interval.
            let mut next = start
                + interval
                    .map(|iv| iv.mul_f64(n as f64 / agents as f64))
                    .unwrap_or_default();
            while Instant::now() < deadline {
                if interval.is_some() {
                    tokio::time::sleep_until(next.into()).await;
                }
                let req = DispositionRequest {
                    id: format!("bench-{n}-{i:08}"),
                    lead_id: n as i64 + 1,
                    status: "NI".into(),
                    callback: None,
                    notes: "benchmark".into(),
                };
                let t = if interval.is_some() {
                    next
                } else {
                    Instant::now()
                };
                if let Some(iv) = interval {
                    next += iv;
                }
                let res = client
                    .post(&url)
                    .header("cookie", &cookie)
                    .header("origin", &origin)
                    .json(&req)
                    .send()
                    .await
                    .expect("request");
                assert_eq!(res.status(), 202, "{:?}", res.text().await);
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let took = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Run {
        per_sec: all.len() as f64 / took,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

/// The real app on a fresh SQLite store with instant `vicidial` and `ghl` targets, `agents`
/// agents `a1…aN` logged in to campaign BENCH, and a trivial `POST /baseline` beside it.
pub struct BenchApp {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// One session cookie per agent.
    pub cookies: Vec<String>,
    /// The app's state (its outbox: start the workers when the benchmark wants them).
    pub state: AppState,
    /// The store.
    pub store: Store,
    _dir: tempfile::TempDir,
}

impl BenchApp {
    /// Starts the app on 127.0.0.1 with `args`; the outbox workers are not started.
    pub async fn start(agents: usize, args: OutboxArgs) -> anyhow::Result<BenchApp> {
        let dir = tempfile::tempdir()?;
        let store = dialdeck_server::store::open(dir.path()).await?;
        let outbox = Outbox::new(
            store.clone(),
            vec![Arc::new(Instant0("vicidial")), Arc::new(Instant0("ghl"))],
            Some(Arc::new(Context(AtomicU64::new(1)))),
            args,
        );
        let state =
            AppState::with_outbox(Config::try_parse_from(["dialdeck"])?, store.clone(), outbox);
        let mut cookies = Vec::new();
        for n in 1..=agents {
            let token = session::create(
                &store,
                &format!("a{n}"),
                1,
                Some("BENCH"),
                Duration::from_secs(3600),
            )
            .await?;
            cookies.push(format!("dialdeck_session={token}"));
        }
        let router = dialdeck_server::app(state.clone()).route(
            "/baseline",
            axum::routing::post(|axum::Json(_): axum::Json<DispositionRequest>| async {
                axum::http::StatusCode::ACCEPTED
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Ok(BenchApp {
            url,
            cookies,
            state,
            store,
            _dir: dir,
        })
    }
}

/// `WORKERS` from the environment, else the default.
pub fn workers_from_env() -> usize {
    std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(OutboxArgs::default().workers)
}
