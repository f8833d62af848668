//! HTTP routes of the disposition pipeline: submit, read back, live states (SSE), and the
//! admin view of the outbox.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::sse::{Event, KeepAlive, Sse},
    routing::{get, post},
    Json, Router,
};
use chrono::Utc;
use dialdeck_shared::{DispositionAccepted, DispositionRequest};
use futures_util::Stream;
use serde::{Deserialize, Serialize};

use super::store;
use crate::{
    http::{ApiError, ApiJson},
    session::{AdminAgent, CurrentAgent},
    AppState,
};

/// The routes, to be nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dispositions", post(submit))
        .route("/dispositions/events", get(events))
        .route("/dispositions/{id}", get(read))
        .route("/admin/outbox", get(admin_backlog))
        .route("/admin/outbox/failures", get(admin_failures))
        .route("/admin/outbox/jobs/{id}/retry", post(admin_retry))
        .route("/admin/outbox/jobs/{id}/park", post(admin_park))
}

/// `POST /api/dispositions`: 202 with each target's state; the same request again gets the
/// same answer.
async fn submit(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiJson(req): ApiJson<DispositionRequest>,
) -> Result<(StatusCode, Json<DispositionAccepted>), ApiError> {
    let accepted = state
        .outbox()
        .accept(&agent.user, agent.campaign_id.as_deref(), &req)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// `GET /api/dispositions/{id}`: the agent's own disposition by the id the browser gave it
/// (admins also any disposition by dialdeck's id, as the admin views list them).
async fn read(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(id): Path<String>,
) -> Result<Json<DispositionAccepted>, ApiError> {
    let outbox = state.outbox();
    let mut found = store::find(state.store(), &agent.user, &id).await?;
    if found.is_none() && agent.user_level >= crate::session::ADMIN_USER_LEVEL {
        found = store::by_id(state.store(), &id).await?;
    }
    match found {
        Some(d) => Ok(Json(outbox.state_of(&d.id, &d.client_id).await?)),
        None => Err(ApiError::NotFound(format!("no disposition {id}"))),
    }
}

/// `GET /api/dispositions/events`: Server-Sent Events, one `disposition` event with the whole
/// [`DispositionAccepted`] each time a target of one of the agent's dispositions changes.
async fn events(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.outbox().subscribe();
    let stream = futures_util::stream::unfold((rx, agent.user), |(mut rx, user)| async move {
        loop {
            match rx.recv().await {
                Ok(ev) if ev.agent_user == user => {
                    let event = Event::default()
                        .event("disposition")
                        .json_data(&ev.accepted)
                        .unwrap_or_else(|_| Event::default().comment("unserialisable"));
                    return Some((Ok(event), (rx, user)));
                }
                Ok(_) => continue,
                // Missed events: tell the client to re-read its dispositions.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    return Some((Ok(Event::default().event("resync").data("")), (rx, user)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Outbox backlog for admins.
#[derive(Serialize, Deserialize, Debug)]
pub struct Backlog {
    /// Jobs per target and state.
    pub jobs: Vec<BacklogRow>,
    /// Agents whose call ended without a disposition yet.
    pub wrapups: Vec<WrapupRow>,
    /// Recent wrap-ups that passed their campaign's deadline with the agent's tab closed, and
    /// got the fallback status.
    pub expired: Vec<crate::vicidial::deadline::ExpiredWrapup>,
}

/// One line of [`Backlog::jobs`].
#[derive(Serialize, Deserialize, Debug)]
pub struct BacklogRow {
    /// Target name.
    pub target: String,
    /// Job state.
    pub state: String,
    /// How many.
    pub count: i64,
}

/// One agent in wrap-up.
#[derive(Serialize, Deserialize, Debug)]
pub struct WrapupRow {
    /// Agent user.
    pub user: String,
    /// Lead of the ended call.
    pub lead_id: i64,
    /// Seconds since the call ended.
    pub seconds: i64,
    /// Whether the agent's tab is open (following its live state).
    pub tab_open: bool,
}

async fn admin_backlog(
    State(state): State<AppState>,
    _: AdminAgent,
) -> Result<Json<Backlog>, ApiError> {
    let jobs = store::backlog(state.store())
        .await?
        .into_iter()
        .map(|(target, state, count)| BacklogRow {
            target,
            state,
            count,
        })
        .collect();
    let now = Utc::now().timestamp();
    let mut wrapups = Vec::new();
    for w in crate::wrapup::all(state.store()).await? {
        let tab_open = match state.vicidial() {
            Some(v) => crate::vicidial::live::tab_open(v, state.store(), &w.user).await,
            None => false,
        };
        wrapups.push(WrapupRow {
            tab_open,
            user: w.user,
            lead_id: w.lead_id,
            seconds: now - w.ended_at,
        });
    }
    let expired = crate::vicidial::deadline::recent(state.store(), 200).await?;
    Ok(Json(Backlog {
        jobs,
        wrapups,
        expired,
    }))
}

async fn admin_failures(
    State(state): State<AppState>,
    _: AdminAgent,
) -> Result<Json<Vec<store::Job>>, ApiError> {
    Ok(Json(store::failures(state.store(), 500).await?))
}

async fn admin_retry(
    State(state): State<AppState>,
    AdminAgent(admin): AdminAgent,
    Path(id): Path<i64>,
) -> Result<Json<store::Job>, ApiError> {
    let job = store::admin_retry(state.store(), id, Utc::now().timestamp_millis())
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "not_retryable",
            message: format!("job {id} does not exist or is not parked or retrying"),
        })?;
    tracing::info!(job = id, admin = %admin.user, "outbox job retried by admin");
    state.outbox().wake.notify_waiters();
    Ok(Json(job))
}

/// Body of the park action.
#[derive(Deserialize)]
struct ParkBody {
    reason: String,
}

async fn admin_park(
    State(state): State<AppState>,
    AdminAgent(admin): AdminAgent,
    Path(id): Path<i64>,
    Json(body): Json<ParkBody>,
) -> Result<Json<store::Job>, ApiError> {
    let reason = format!("parked by {}: {}", admin.user, body.reason.trim());
    store::admin_park(state.store(), id, &reason, Utc::now().timestamp_millis())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::Conflict {
            code: "not_parkable",
            message: format!("job {id} does not exist or is already done"),
        })
}
