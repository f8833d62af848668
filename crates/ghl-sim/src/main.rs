//! `dialdeck-ghl-sim`: the GoHighLevel simulator as a local server for development.
//!
//! `dialdeck-ghl-sim [ADDR]` (default `127.0.0.1:8090`) serves the simulated API plus the
//! control routes `GET /_sim/ledger`, `GET /_sim/state`, `POST /_sim/faults` (a JSON
//! `FaultRule`) and `POST /_sim/reset`. The OpenAPI files are read from
//! `$DIALDECK_GHL_SPEC_DIR` or `shared/reference/ghl` beside the repository. Point dialdeck at it
//! with `DIALDECK_GHL_BASE_URL=http://127.0.0.1:8090`.

use dialdeck_ghl_sim::{GhlSim, SimConfig};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_string());
    let sim = match GhlSim::new(SimConfig::default()) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("dialdeck-ghl-sim: {e} (set DIALDECK_GHL_SPEC_DIR)");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dialdeck-ghl-sim: cannot listen on {addr}: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "dialdeck-ghl-sim listening on http://{}",
        listener.local_addr().map(|a| a.to_string()).unwrap_or(addr)
    );
    let serve = axum::serve(listener, sim.router()).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    if let Err(e) = serve.await {
        eprintln!("dialdeck-ghl-sim: {e}");
        std::process::exit(1);
    }
}
