//! The agent's shift as the desk lists it: the calls dispositioned since login with where each
//! target stands (`GET /api/agent/calls`), the agent's scheduled callbacks
//! (`GET /api/agent/callbacks`), and the GHL contact of the lead on screen
//! (`GET /api/lead/{id}/ghl`).
//!
//! Every route answers for the session's own agent only.

use std::time::Duration;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use chrono::Utc;
use dialdeck_shared::{CallbackItem, GhlContactView, RecentCall};
use serde_json::Value;

use crate::{
    disposition::Disposition,
    ghl::{contact, sync::Counted, GhlError},
    http::ApiError,
    outbox::store,
    session::CurrentAgent,
    vicidial::{
        db, records,
        routes::{db_error, vicidial},
        Vicidial,
    },
    AppState,
};

/// Most calls one shift list shows.
const CALLS_MAX: i64 = 500;

/// How long the GHL contact view may wait for GHL (its rate limit included) before it says GHL
/// is busy: the agent is looking at the screen.
const GHL_VIEW_WAIT: Duration = Duration::from_secs(10);

/// The routes, nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agent/calls", get(calls))
        .route("/agent/callbacks", get(callbacks))
        .route("/lead/{id}/ghl", get(lead_ghl))
}

/// `GET /api/agent/calls`: the agent's dispositions since this session's login, newest first.
async fn calls(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<Vec<RecentCall>>, ApiError> {
    let rows = store::of_agent_since(
        state.store(),
        &agent.user,
        agent.created_at * 1000,
        CALLS_MAX,
    )
    .await?;
    let mut calls = Vec::with_capacity(rows.len());
    for row in rows {
        let d: Disposition = serde_json::from_str(&row.payload)
            .map_err(|e| anyhow::anyhow!("stored disposition {} unreadable: {e}", row.client_id))?;
        calls.push((row.client_id, row.accepted_at, row.jobs, d));
    }
    // A disposition given during the call was accepted before VICIdial logged the call's end:
    // its talk time is read now (one query for the whole list).
    let unlogged: Vec<String> = calls
        .iter()
        .filter(|(.., d)| d.call.duration_secs.is_none())
        .filter_map(|(.., d)| d.call.vicidial_uniqueid.clone())
        .collect();
    let talk = match (state.vicidial(), unlogged.is_empty()) {
        (Some(v), false) => records::talk_times(&v.db, &unlogged)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read talk times from VICIdial");
                Default::default()
            }),
        _ => Default::default(),
    };
    Ok(Json(
        calls
            .into_iter()
            .map(|(client_id, accepted_at, jobs, d)| RecentCall {
                disposition_id: client_id,
                lead_id: d.lead.lead_id,
                name: format!("{} {}", d.lead.first_name, d.lead.last_name)
                    .trim()
                    .to_string(),
                phone: records::phone_for_people(&d.lead.phone_code, &d.lead.phone_number),
                status: d.status.status,
                status_name: d.status.status_name,
                at: accepted_at.div_euclid(1000),
                talk_secs: d.call.duration_secs.or_else(|| {
                    d.call
                        .vicidial_uniqueid
                        .as_ref()
                        .and_then(|u| talk.get(u).copied())
                }),
                callback_at: d.callback.map(|c| c.at.timestamp()),
                targets: jobs.iter().map(store::Job::status).collect(),
            })
            .collect(),
    ))
}

/// `GET /api/agent/callbacks`: the agent's `USERONLY` callbacks and the campaign's `ANYONE`
/// ones, `ACTIVE` or `LIVE`, soonest first.
async fn callbacks(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<Vec<CallbackItem>>, ApiError> {
    let v = vicidial(&state)?;
    let campaign = agent
        .campaign_id
        .clone()
        .unwrap_or_else(|| v.args.campaign.clone());
    let items = records::callbacks_of(&v.db, &agent.user, &campaign, Utc::now())
        .await
        .map_err(db_error)?;
    Ok(Json(items))
}

/// `GET /api/lead/{id}/ghl`: the lead's GHL contact (the lead of the agent's current or last
/// call only), `204` when GHL is not configured or has no such contact, `503` when GHL fails.
async fn lead_ghl(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let v = vicidial(&state)?;
    if !lead_is_yours(&state, &v, &agent.user, id).await? {
        return Err(ApiError::Forbidden {
            code: "lead_not_yours",
            message: format!("Lead {id} is not on your current or last call."),
        });
    }
    let Some(ghl) = state.ghl() else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let lead = db::lead(&v.db, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("lead {id}")))?;
    let counted = Counted::new(ghl.client());
    let found = tokio::time::timeout(
        GHL_VIEW_WAIT,
        contact::look_up(&counted, state.store(), &lead),
    )
    .await;
    let contact = match found {
        Ok(Ok(c)) => c,
        Ok(Err(contact::ContactError::Ghl(e))) => return Err(ghl_error(e)),
        Ok(Err(contact::ContactError::Store(e))) => return Err(anyhow::Error::from(e).into()),
        // look_up never creates, so it never finds a conflict to report.
        Ok(Err(contact::ContactError::Conflict(_) | contact::ContactError::NoIdentity)) => None,
        Err(_) => {
            return Err(ApiError::Unavailable {
                code: "ghl_busy",
                message: "GoHighLevel is busy (its rate limit); try again in a moment.".into(),
            })
        }
    };
    Ok(match contact.as_ref().and_then(view) {
        Some(view) => Json(view).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// The same rule as `GET /api/lead/{id}`: the lead VICIdial shows the agent on, or the lead of
/// the agent's wrap-up.
async fn lead_is_yours(
    state: &AppState,
    v: &Vicidial,
    user: &str,
    lead_id: i64,
) -> Result<bool, ApiError> {
    let live = db::live_row_of(&v.db, user).await.map_err(db_error)?;
    if live.is_some_and(|l| l.lead_id == lead_id && lead_id > 0) {
        return Ok(true);
    }
    Ok(crate::wrapup::current(state.store(), user)
        .await?
        .is_some_and(|w| w.lead_id == lead_id))
}

/// GHL's contact JSON as the desk shows it.
fn view(c: &Value) -> Option<GhlContactView> {
    let text = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let name = text("contactName")
        .or_else(|| text("name"))
        .unwrap_or_else(|| {
            format!(
                "{} {}",
                text("firstName").unwrap_or_default(),
                text("lastName").unwrap_or_default()
            )
            .trim()
            .to_string()
        });
    Some(GhlContactView {
        contact_id: text("id")?,
        name,
        email: text("email"),
        phone: text("phone"),
        tags: c
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        dnd: c.get("dnd").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn ghl_error(e: GhlError) -> ApiError {
    tracing::warn!(error = %e, "GHL contact look-up failed");
    let (code, message) = match e {
        GhlError::RateLimited { .. } => (
            "ghl_busy",
            "GoHighLevel is busy (its rate limit); try again in a moment.",
        ),
        GhlError::NeedsReauth { .. } => (
            "ghl_needs_reauth",
            "GoHighLevel refused dialdeck's credentials; an admin has to re-authorise it.",
        ),
        _ => (
            "ghl_unavailable",
            "GoHighLevel is not answering; try again in a moment.",
        ),
    };
    ApiError::Unavailable {
        code,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghl_contacts_read_as_the_desk_shows_them() {
        let v = view(&serde_json::json!({
            "id": "ct1", "firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com",
            "phone": "+13125551001", "tags": ["dialdeck:sale", "vip"], "dnd": true
        }))
        .unwrap();
        assert_eq!(v.name, "Grace Hopper");
        assert_eq!(v.tags, vec!["dialdeck:sale", "vip"]);
        assert!(v.dnd);
        let v = view(&serde_json::json!({"id": "ct2", "contactName": "G. Hopper", "email": ""}))
            .unwrap();
        assert_eq!(
            (v.name.as_str(), v.email, v.phone),
            ("G. Hopper", None, None)
        );
        assert!(view(&serde_json::json!({"firstName": "no id"})).is_none());
    }
}
