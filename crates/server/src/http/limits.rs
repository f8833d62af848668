//! Load protection (`DIALDECK_REQUEST_TIMEOUT_SECS`, `DIALDECK_MAX_*`): a timeout on every
//! request until its answer starts (event streams then run as long as they like), a cap on
//! requests in flight, a cap on open TCP connections ([`super::serve`]), and a cap on the
//! event streams one agent holds open.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use clap::Args;
use dialdeck_shared::ApiErrorBody;
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use crate::{config::ConfigError, http::ApiError, session, AppState};

/// Limits that keep one server usable under load.
#[derive(Clone, Debug, Args)]
pub struct LimitArgs {
    /// Seconds a request may take until its answer starts; past it the answer is `504`
    /// (`timeout`). Event streams are not cut: their answer starts at once.
    #[arg(
        long = "request-timeout-secs",
        env = "DIALDECK_REQUEST_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub request_timeout_secs: u64,
    /// Open TCP connections at most (event streams included); further connections wait to be
    /// accepted.
    #[arg(
        long = "max-connections",
        env = "DIALDECK_MAX_CONNECTIONS",
        default_value_t = 10_000
    )]
    pub max_connections: usize,
    /// Requests being handled at once at most (until their answer starts); further ones get
    /// `503` (`overloaded`) at once.
    #[arg(
        long = "max-requests",
        env = "DIALDECK_MAX_REQUESTS",
        default_value_t = 1_024
    )]
    pub max_requests: usize,
    /// Event streams (`/api/agent/events`, `/api/dispositions/events`) one agent may hold
    /// open on this instance; past it `429` (`too_many_streams`). A tab holds two.
    #[arg(
        long = "max-streams-per-agent",
        env = "DIALDECK_MAX_STREAMS_PER_AGENT",
        default_value_t = 8
    )]
    pub max_streams_per_agent: usize,
}

impl LimitArgs {
    /// Checks the values clap cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |variable: &'static str, value: u64| {
            if value == 0 {
                Err(ConfigError {
                    variable,
                    problem: "must be at least 1".into(),
                })
            } else {
                Ok(())
            }
        };
        positive("DIALDECK_REQUEST_TIMEOUT_SECS", self.request_timeout_secs)?;
        positive("DIALDECK_MAX_CONNECTIONS", self.max_connections as u64)?;
        positive("DIALDECK_MAX_REQUESTS", self.max_requests as u64)?;
        positive(
            "DIALDECK_MAX_STREAMS_PER_AGENT",
            self.max_streams_per_agent as u64,
        )?;
        // `Semaphore` refuses more permits than this; nobody needs that many.
        if self.max_connections > Semaphore::MAX_PERMITS
            || self.max_requests > Semaphore::MAX_PERMITS
        {
            return Err(ConfigError {
                variable: "DIALDECK_MAX_CONNECTIONS",
                problem: "is too large".into(),
            });
        }
        Ok(())
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

/// The request paths that answer with an endless event stream.
pub const EVENT_STREAMS: [&str; 2] = ["/api/agent/events", "/api/dispositions/events"];

/// Middleware: refuses a request with `503 overloaded` when [`LimitArgs::max_requests`] are
/// already being handled (a stalled upstream must not pile up unbounded work).
pub async fn in_flight(State(slots): State<Arc<Semaphore>>, req: Request, next: Next) -> Response {
    let Ok(_slot) = slots.try_acquire() else {
        tracing::warn!(path = %req.uri().path(), "too many requests in flight; refused");
        return ApiError::Unavailable {
            code: "overloaded",
            message: "The server is overloaded; try again in a moment.".into(),
        }
        .into_response();
    };
    next.run(req).await
}

/// Middleware around tower-http's timeout: its bare `504` becomes the API's `{code, message}`.
pub async fn timeout_body(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    // Only the timeout layer answers 504 without a body type; handlers never answer 504.
    if resp.status() == StatusCode::GATEWAY_TIMEOUT
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        tracing::warn!(%path, "request timed out");
        let body = ApiErrorBody {
            code: "timeout".into(),
            message: "The server took too long to answer; try again in a moment.".into(),
        };
        return (StatusCode::GATEWAY_TIMEOUT, Json(body)).into_response();
    }
    resp
}

/// How many event streams each agent holds open on this instance.
#[derive(Debug)]
pub struct StreamSlots {
    cap: usize,
    open: Mutex<HashMap<String, usize>>,
}

/// One open event stream of an agent; dropping it (the stream's body ends or the client goes
/// away) gives the slot back.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: String,
}

impl StreamSlots {
    /// At most `cap` streams per agent.
    pub fn new(cap: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            cap,
            open: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for `user`, or `None` when the agent has [`LimitArgs::max_streams_per_agent`]
    /// open already.
    pub fn take(self: &Arc<Self>, user: &str) -> Option<StreamSlot> {
        let mut open = self.lock();
        let n = open.entry(user.to_string()).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            slots: self.clone(),
            user: user.to_string(),
        })
    }

    /// Streams `user` holds open now.
    pub fn open(&self, user: &str) -> usize {
        self.lock().get(user).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// Middleware: an event-stream request of a logged-in agent takes one of the agent's stream
/// slots and holds it for the life of the response body; past the cap it is refused with
/// `429 too_many_streams`. Requests without a valid session pass on to the handler, which
/// refuses them itself.
pub async fn stream_cap(
    State((state, slots)): State<(AppState, Arc<StreamSlots>)>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::GET || !EVENT_STREAMS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let user = match session::token_from(req.headers()) {
        Some(token) => match session::lookup(state.store(), &token).await {
            Ok(found) => found.map(|s| s.user),
            Err(e) => return ApiError::Internal(e).into_response(),
        },
        None => None,
    };
    let Some(user) = user else {
        return next.run(req).await;
    };
    let Some(slot) = slots.take(&user) else {
        tracing::warn!(%user, path = %req.uri().path(), "event stream refused: too many open");
        return ApiError::TooManyRequests {
            code: "too_many_streams",
            message: "Too many dialdeck tabs are open for you; close one and reload.".into(),
            retry_after: Duration::from_secs(15),
        }
        .into_response();
    };
    let resp = next.run(req).await;
    let (parts, body) = resp.into_parts();
    // The slot lives in the body stream: it is freed when hyper drops the body.
    let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
        let _held = &slot;
        chunk
    }));
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_slots_are_counted_per_agent_and_given_back() {
        let slots = StreamSlots::new(2);
        let a1 = slots.take("1001").unwrap();
        let _a2 = slots.take("1001").unwrap();
        assert!(slots.take("1001").is_none(), "the cap is per agent");
        let _b = slots.take("1002").expect("another agent is not affected");
        drop(a1);
        assert_eq!(slots.open("1001"), 1);
        assert!(slots.take("1001").is_some());
    }
}
