//! HTTP routes: the agent API under `/api`, health probes, and the embedded frontend with SPA
//! fallback. Every response carries the security headers built once in [`SecurityHeaders`].

pub mod error;
mod health;
mod security;

use axum::{
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{Html, IntoResponse, Response},
    routing::get,
    Json, Router,
};
use dialdeck_shared::RuntimeConfig;
use tower_http::trace::TraceLayer;

pub use self::{
    error::{ApiError, ApiJson},
    security::SecurityHeaders,
};
use crate::{assets, AppState};

/// Builds the router for `state`.
pub fn router(state: AppState) -> Router {
    let security = SecurityHeaders::new(
        state.config().frame_origin().as_deref(),
        &state.config().phone_ws_origins,
    );
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
