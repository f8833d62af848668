//! What the desk reads: the agent's live VICIdial state (and its SSE stream), the campaign's
//! statuses, and the lead on screen.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    response::sse::{Event, KeepAlive, Sse},
    Json,
};
use dialdeck_shared::{
    AgentState, AgentStatus, LeadView, LiveCall, ScreenLink, StatusOption, SubStatus, WrapupInfo,
};
use futures_util::Stream;

use super::{db, db::LiveAgent, Vicidial};
use crate::{http::ApiError, session::CurrentAgent, AppState};

use super::routes::{db_error, vicidial};

/// `GET /api/statuses`: what the disposition modal offers in the agent's campaign.
pub(super) async fn statuses(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<Vec<StatusOption>>, ApiError> {
    let v = vicidial(&state)?;
    let campaign = agent
        .campaign_id
        .clone()
        .unwrap_or_else(|| v.args.campaign.clone());
    Ok(Json(selectable_statuses(&v, &campaign).await?))
}

/// The statuses an agent may choose in `campaign_id` (the campaign's own overriding the
/// system's), as the disposition modal lists them.
pub async fn selectable_statuses(
    v: &Vicidial,
    campaign_id: &str,
) -> Result<Vec<StatusOption>, ApiError> {
    let all = db::statuses(&v.db, campaign_id).await.map_err(db_error)?;
    Ok(all
        .into_iter()
        .filter(|s| s.selectable)
        .map(|s| StatusOption {
            status: s.status,
            name: s.status_name,
            sale: s.flags.sale,
            dnc: s.flags.dnc,
            scheduled_callback: s.flags.scheduled_callback,
        })
        .collect())
}

/// `GET /api/lead/{id}`: the lead of the agent's current or last call, and no other.
pub(super) async fn lead(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(id): Path<i64>,
) -> Result<Json<LeadView>, ApiError> {
    let v = vicidial(&state)?;
    let live = db::live_row_of(&v.db, &agent.user)
        .await
        .map_err(db_error)?;
    let wrapup = crate::wrapup::current(state.store(), &agent.user).await?;
    let yours = live.as_ref().is_some_and(|l| l.lead_id == id && id > 0)
        || wrapup.is_some_and(|w| w.lead_id == id);
    if !yours {
        return Err(ApiError::Forbidden {
            code: "lead_not_yours",
            message: format!("Lead {id} is not on your current or last call."),
        });
    }
    let l = db::lead(&v.db, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("lead {id}")))?;
    Ok(Json(LeadView {
        phone: super::records::phone_for_people(&l.phone_code, &l.phone_number),
        lead_id: l.lead_id,
        first_name: l.first_name,
        last_name: l.last_name,
        phone_code: l.phone_code,
        phone_number: l.phone_number,
        email: l.email,
        address1: l.address1,
        city: l.city,
        state: l.state,
        postal_code: l.postal_code,
        comments: l.comments,
        status: l.status,
        called_count: l.called_count,
    }))
}

/// The agent's state: VICIdial's live row as last read, plus the server's wrap-up.
pub async fn agent_state(
    state: &AppState,
    v: &Vicidial,
    user: &str,
) -> Result<AgentState, ApiError> {
    let agent = v.live.agent(user);
    let wrapup = crate::wrapup::current(state.store(), user).await?;
    Ok(state_of(
        v,
        agent.as_ref(),
        wrapup.map(|w| WrapupInfo {
            lead_id: w.lead_id,
            call_id: w.call_id,
            ended_at: w.ended_at,
        }),
    ))
}

/// VICIdial's real-time sub-status as Non-Agent `agent_status` computes it: in a call with
/// no `vicidial_auto_calls` row the customer hung up (`DEAD`), before the customer channel
/// is up (`uniqueid` empty) the call is still dialling (`DIAL`); paused with a previewed lead
/// `PREVIEW`, paused with a lead the dispo step (`DISPO`).
pub fn sub_status(agent: &LiveAgent) -> SubStatus {
    let row = &agent.row;
    match row.status.as_str() {
        "INCALL" => match &agent.call {
            Some(call) if !call.in_auto_calls => SubStatus::Dead,
            Some(_) if row.uniqueid.is_empty() => SubStatus::Dial,
            _ => SubStatus::None,
        },
        "PAUSED" if row.preview_lead_id > 0 => SubStatus::Preview,
        "PAUSED" if row.lead_id > 0 => SubStatus::Dispo,
        _ => SubStatus::None,
    }
}

/// The state of an agent as read from VICIdial (`None`: no session) with the server's
/// wrap-up.
pub fn state_of(v: &Vicidial, agent: Option<&LiveAgent>, wrapup: Option<WrapupInfo>) -> AgentState {
    let Some(a) = agent else {
        return AgentState {
            screen: ScreenLink::NotLoggedIn,
            status: None,
            sub_status: SubStatus::None,
            lead_id: 0,
            conf_exten: String::new(),
            phone_in_session: false,
            call: None,
            pause_code: String::new(),
            wrapup,
        };
    };
    let row = &a.row;
    AgentState {
        screen: super::live::screen_link(v.live.silent_secs(a), v.args.screen_stale_secs),
        status: AgentStatus::parse(&row.status),
        sub_status: sub_status(a),
        lead_id: row.lead_id,
        conf_exten: row.conf_exten.clone(),
        phone_in_session: a.phone_in_session,
        call: a.call.as_ref().map(|c| LiveCall {
            call_id: row.callerid.clone(),
            phone_code: c.phone_code.clone(),
            phone_number: c.phone_number.clone(),
            phone: super::records::phone_for_people(&c.phone_code, &c.phone_number),
            dialled_at: c.dialled_at,
            answered_at: c.answered_at,
        }),
        pause_code: row.pause_code.clone(),
        wrapup,
    }
}

/// `GET /api/agent/state`.
pub(super) async fn state_route(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<AgentState>, ApiError> {
    let v = vicidial(&state)?;
    Ok(Json(agent_state(&state, &v, &agent.user).await?))
}

/// `GET /api/agent/events`: the agent's state as server-sent events, on every change.
pub(super) async fn events(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let v = vicidial(&state)?;
    let mut rx = v.live.subscribe();
    let user = agent.user.clone();
    let stream = async_stream(move |tx| async move {
        let _watch = v.live.watch(&user);
        let mut last: Option<AgentState> = None;
        loop {
            if let Ok(s) = agent_state(&state, &v, &user).await {
                if last.as_ref() != Some(&s) {
                    let event = Event::default()
                        .event("state")
                        .json_data(&s)
                        .expect("serialisable");
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                    last = Some(s);
                }
            }
            // Wake on a change of this agent, or every 5 s (wrap-up changes made elsewhere);
            // end as soon as the tab is gone.
            let wait = async {
                loop {
                    match rx.recv().await {
                        Ok(u) if u == user => return,
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(_) => std::future::pending::<()>().await,
                    }
                }
            };
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::timeout(Duration::from_secs(5), wait) => {}
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task through a channel (keeps the SSE loop plain async code).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
}
