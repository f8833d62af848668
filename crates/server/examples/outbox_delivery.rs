//! Outbox delivery benchmark (run by `cargo xtask bench`): how fast the workers deliver to
//! instant targets, against how fast the same server accepts in the same run.
//!
//! Starts the real router in-process on SQLite (the default store) with instant `vicidial` and
//! `ghl` targets. First N concurrent agents (default 500) submit dispositions over HTTP for a
//! few seconds with the workers stopped: the acceptance rate, the baseline. Then the workers
//! start on that backlog (two jobs per disposition) and the time until every job is done gives
//! the delivery rate, in dispositions (both targets done) and in jobs per second.
//!
//! `cargo run --release -p dialdeck-server --example outbox_delivery -- [agents] [seconds]`
//! (`WORKERS`: outbox workers, default 4; `BATCH`: jobs claimed at once, default 32).

mod support;

use std::time::{Duration, Instant};

use dialdeck_server::outbox::{store, OutboxArgs};
use support::{load, BenchApp};

/// The delivery rate the outbox must reach (dispositions per second, issue 13).
const GOAL_PER_SEC: f64 = 2_000.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let agents: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let secs: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let defaults = OutboxArgs::default();
    let outbox_args = OutboxArgs {
        workers: support::workers_from_env(),
        claim_batch: std::env::var("BATCH")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(defaults.claim_batch),
        ..defaults
    };
    let (workers, batch) = (outbox_args.workers, outbox_args.claim_batch);
    let app = BenchApp::start(agents, outbox_args).await?;

    let accepted = load(
        app.url.clone(),
        app.cookies.clone(),
        secs,
        "/api/dispositions",
        None,
    )
    .await;
    let jobs = pending(&app.store).await?;
    let dispositions: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM dispositions")
        .fetch_one(&app.store)
        .await?;

    let start = Instant::now();
    app.state.outbox().start_workers();
    while pending(&app.store).await? > 0 {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "the outbox did not drain in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = start.elapsed().as_secs_f64();
    let backlog = store::backlog(&app.store).await?;
    anyhow::ensure!(
        backlog.iter().all(|(_, state, _)| state == "done"),
        "jobs ended other than done: {backlog:?}"
    );
    let delivered_per_sec = dispositions as f64 / took;
    println!(
        "agents={agents} seconds={secs} workers={workers} claim_batch={batch} dispositions={dispositions} jobs={jobs}"
    );
    println!(
        "outbox_accepted_per_sec={:.0} (closed loop, workers stopped: the baseline)",
        accepted.per_sec
    );
    println!("outbox_delivered_jobs_per_sec={:.0}", jobs as f64 / took);
    println!(
        "outbox_delivered_per_sec={delivered_per_sec:.0} (baseline {:.0} accepted/s, ratio {:.2}x, goal >= {GOAL_PER_SEC:.0}/s and >= 1x)",
        accepted.per_sec,
        delivered_per_sec / accepted.per_sec
    );
    Ok(())
}

/// Jobs not done yet.
async fn pending(store: &dialdeck_server::store::Store) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox_jobs WHERE state IN ('pending', 'running', 'retrying', 'parked')")
            .fetch_one(store)
            .await?,
    )
}
