//! Load benchmark for `POST /api/dispositions` (run by `cargo xtask bench`).
//!
//! Starts the real router in-process on SQLite (the default store) with workers running and
//! instant targets, then has N concurrent agents (default 500) each submit dispositions over
//! HTTP on 127.0.0.1 for a few seconds. Prints accepted dispositions per second and latency
//! percentiles, and the same client against a trivial JSON handler (closed loop and paced) as
//! the baseline of what the client, the HTTP stack and this machine's scheduling alone cost.
//!
//! `cargo run --release -p dialdeck-server --example disposition_load -- [agents] [seconds]`
//! (`RATE`: the paced rate, default 2000/s; `WORKERS`: outbox workers, default 4).

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
    session, AppState,
};
use dialdeck_shared::DispositionRequest;

/// Agent `aN` is on lead N of campaign BENCH, in a new call each time it is asked (every
/// disposition is of another call: a call takes one); NI is the only status.
struct Context(AtomicU64);

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
struct Instant0(&'static str);

#[async_trait]
impl DispositionTarget for Instant0 {
    fn name(&self) -> &'static str {
        self.0
    }
    async fn apply(&self, _: &Disposition) -> Result<serde_json::Value, ApplyError> {
        Ok(serde_json::Value::Null)
    }
}

struct Run {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs the agents for `secs`. Closed loop (`rate = None`): each agent sends its next request as
/// soon as the last is answered (maximum throughput). Open loop (`Some(total per second)`): each
/// agent sends on a fixed schedule and latency counts from the scheduled time, so a slow
/// server cannot hide its queueing (no coordinated omission).
async fn load(
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let agents: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let secs: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);

    let dir = tempfile::tempdir()?;
    let store = dialdeck_server::store::open(dir.path()).await?;
    let outbox = Outbox::new(
        store.clone(),
        vec![Arc::new(Instant0("vicidial")), Arc::new(Instant0("ghl"))],
        Some(Arc::new(Context(AtomicU64::new(1)))),
        OutboxArgs {
            workers: std::env::var("WORKERS")
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(OutboxArgs::default().workers),
            ..OutboxArgs::default()
        },
    );
    let state = AppState::with_outbox(Config::try_parse_from(["dialdeck"])?, store.clone(), outbox);
    state.outbox().start_workers();
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
    let router = dialdeck_server::app(state).route(
        "/baseline",
        axum::routing::post(|axum::Json(_): axum::Json<DispositionRequest>| async {
            axum::http::StatusCode::ACCEPTED
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let rate: f64 = std::env::var("RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000.0);
    let baseline = load(url.clone(), cookies.clone(), secs, "/baseline", None).await;
    // The same paced load against the trivial handler: what the client, the HTTP stack and this
    // machine's scheduling alone add to the tail.
    let baseline_paced = load(url.clone(), cookies.clone(), secs, "/baseline", Some(rate)).await;
    // Paced first, on an empty outbox: the steady state a call centre sees.
    let paced = load(
        url.clone(),
        cookies.clone(),
        secs,
        "/api/dispositions",
        Some(rate),
    )
    .await;
    let max = load(url, cookies, secs, "/api/dispositions", None).await;
    let backlog: Vec<(String, String, i64)> =
        dialdeck_server::outbox::store::backlog(&store).await?;
    println!("agents={agents} seconds={secs}");
    println!(
        "baseline_requests_per_sec={:.0} baseline_p99_ms={:.2}",
        baseline.per_sec,
        baseline.p99.as_secs_f64() * 1e3
    );
    println!(
        "closed_loop_max_dispositions_per_sec={:.0} p50_ms={:.2} p99_ms={:.2}",
        max.per_sec,
        max.p50.as_secs_f64() * 1e3,
        max.p99.as_secs_f64() * 1e3
    );
    println!(
        "dispositions_ratio_to_baseline={:.3}",
        max.per_sec / baseline.per_sec
    );
    println!(
        "open_loop_offered_per_sec={rate:.0} accepted_per_sec={:.0} p50_ms={:.2} p99_ms={:.2} (target: 2000/s with p99 < 20 ms)",
        paced.per_sec,
        paced.p50.as_secs_f64() * 1e3,
        paced.p99.as_secs_f64() * 1e3
    );
    println!(
        "baseline_open_loop_per_sec={:.0} p50_ms={:.2} p99_ms={:.2}",
        baseline_paced.per_sec,
        baseline_paced.p50.as_secs_f64() * 1e3,
        baseline_paced.p99.as_secs_f64() * 1e3
    );
    println!(
        "open_loop_p99_ratio_to_baseline={:.2}",
        paced.p99.as_secs_f64() / baseline_paced.p99.as_secs_f64()
    );
    println!("outbox_after_run={backlog:?}");
    Ok(())
}
