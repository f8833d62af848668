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

mod support;

use dialdeck_server::outbox::OutboxArgs;
use support::{load, BenchApp};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let agents: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let secs: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);

    let app = BenchApp::start(
        agents,
        OutboxArgs {
            workers: support::workers_from_env(),
            ..OutboxArgs::default()
        },
    )
    .await?;
    app.state.outbox().start_workers();
    let (url, cookies, store) = (app.url.clone(), app.cookies.clone(), app.store.clone());

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
        "dispositions_closed_loop_per_sec={:.0} (baseline {:.0} requests/s to a trivial handler, same client, ratio {:.2}x, goal >= 2000/s) p50_ms={:.2} p99_ms={:.2}",
        max.per_sec,
        baseline.per_sec,
        max.per_sec / baseline.per_sec,
        max.p50.as_secs_f64() * 1e3,
        max.p99.as_secs_f64() * 1e3
    );
    println!(
        "dispositions_open_loop_p99_ms={:.2} (baseline {:.2} ms to a trivial handler paced the same, ratio {:.2}x, goal < 20 ms at {rate:.0}/s) accepted_per_sec={:.0} p50_ms={:.2}",
        paced.p99.as_secs_f64() * 1e3,
        baseline_paced.p99.as_secs_f64() * 1e3,
        paced.p99.as_secs_f64() / baseline_paced.p99.as_secs_f64(),
        paced.per_sec,
        paced.p50.as_secs_f64() * 1e3
    );
    println!("outbox_after_run={backlog:?}");
    Ok(())
}
