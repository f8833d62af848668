//! The baseline server of `cargo xtask bench`'s page and memory figures: a trivial axum server
//! (the same HTTP stack as dialdeck) serving a minimal static login page at `/` and idle event
//! streams at `/events` (kept alive as dialdeck's are, nothing else sent).
//!
//! `cargo run --release -p dialdeck-server --example bench_baseline`: listens on a free port of
//! 127.0.0.1, prints `listening=http://127.0.0.1:<port>` and serves until it is stopped.

use std::{convert::Infallible, time::Duration};

use axum::{
    response::{
        sse::{Event, KeepAlive, Sse},
        Html,
    },
    routing::get,
    Router,
};
use futures_util::Stream;

/// A login form with the ids dialdeck's has, usable as soon as it is parsed.
const PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Sign in</title></head><body><form><label>User <input id=\"login-user\" name=\"user\">\
</label><label>Password <input id=\"login-password\" type=\"password\" name=\"password\">\
</label><button id=\"login-continue\" type=\"button\">Continue</button></form></body></html>";

/// An event stream that never sends an event: only keep-alive comments.
async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(futures_util::stream::pending())
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/events", get(events));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening=http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
