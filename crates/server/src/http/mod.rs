//! HTTP routes: the agent API under `/api`, health probes, and the embedded frontend with SPA
//! fallback. Every response carries the security headers built once in [`SecurityHeaders`];
//! every request passes the load limits of [`limits`] and, for logins, the per-IP
//! [`throttle`]. [`serve`] runs the router with its connection limit.

pub mod error;
mod health;
pub mod limits;
mod security;
pub mod serve;
pub mod throttle;

use axum::{
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{Html, IntoResponse, Response},
    routing::get,
    Json, Router,
};
use dialdeck_shared::RuntimeConfig;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

pub use self::{
    error::{ApiError, ApiJson},
    limits::LimitArgs,
    security::SecurityHeaders,
    serve::{serve, PeerAddr},
    throttle::ThrottleArgs,
};
use crate::{assets, AppState};

/// Builds the router for `state`.
pub fn router(state: AppState) -> Router {
    let security = SecurityHeaders::new(
        state.config().frame_origin().as_deref(),
        &state.config().phone_ws_origins,
    );
    let limits = &state.config().limits;
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_requests));
    let streams = limits::StreamSlots::new(limits.max_streams_per_agent);
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, limits.request_timeout());
    let login_throttle = throttle::LoginThrottle::new(&state.config().throttle);
    let api = Router::new()
        .route("/config", get(runtime_config))
        .merge(crate::outbox::routes::router())
        .merge(crate::vicidial::routes::router())
        .merge(crate::shift::router())
        .fallback(api_not_found);
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(frontend)
        // Each layer wraps the ones before it: the stream cap and the login throttle run next
        // to the routes, the timeout covers them and the handlers, the in-flight cap all of it.
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), streams),
            limits::stream_cap,
        ))
        .layer(axum::middleware::from_fn_with_state(
            login_throttle,
            throttle::per_ip,
        ))
        .layer(timeout)
        .layer(axum::middleware::from_fn(limits::timeout_body))
        .layer(axum::middleware::from_fn_with_state(
            in_flight,
            limits::in_flight,
        ))
        .layer(axum::middleware::from_fn_with_state(
            security,
            security::apply,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /api/config`: what the frontend needs to know at start-up. Public, no secrets.
async fn runtime_config(State(state): State<AppState>) -> Json<RuntimeConfig> {
    Json(RuntimeConfig {
        version: env!("CARGO_PKG_VERSION").to_string(),
        vicidial_web_origin: state.config().frame_origin(),
        login_available: state.vicidial().is_some(),
    })
}

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route {}", uri.path()))
}

/// Serves embedded files; any other GET path that looks like an app route gets `index.html`
/// (SPA fallback), while a missing file with an extension is a plain 404.
async fn frontend(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = uri.path();
    if let Some(asset) = assets::find(path) {
        return assets::respond(asset, &headers);
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if !last.contains('.') {
        if let Some(index) = assets::find("/index.html") {
            return assets::respond(index, &headers);
        }
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html("<!doctype html><title>dialdeck</title><p>This dialdeck binary was built without its frontend. Build it with <code>cargo xtask build</code>.</p>"),
        )
            .into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}
