//! Call control through VICIdial's Agent API: manual dial, hang-up, DTMF, pause and ready.
//! VICIdial's agent screen carries each request out; the server waits to see it done.
//!
//! A manual dial is confirmed or taken back before the agent hears that it failed: the
//! Agent API only queues it (`external_dial`), and a screen that is not polling, or that
//! waits for the agent's phone to join its conference, would place it whenever it gets to
//! it, to a lead the agent thinks was never dialled. So a dial VICIdial does not show
//! within the confirm window is withdrawn from `vicidial_live_agents.external_dial` (only
//! while the column still holds our request) before the agent is told.

use std::time::Duration;

use axum::{extract::State, http::StatusCode, Json};
use dialdeck_shared::{AgentState, DialBlock, DialRequest, PauseCodesMode, PauseRequest};
use serde::Deserialize;

use super::{
    api::{dtmf_value, DialTarget, VicidialError},
    campaign::pause_codes_mode,
    db::{self, LeadAccess},
    desk::{agent_state, state_of},
    phone, Vicidial,
};
use crate::{
    http::{ApiError, ApiJson},
    session::{AgentSession, CurrentAgent},
    AppState,
};

use super::routes::{api_error, db_error, vicidial};

/// Polls VICIdial's row of `user` until `done` holds or `within` passed.
pub(super) async fn wait_for(
    v: &Vicidial,
    user: &str,
    within: Duration,
    done: impl Fn(&db::LiveRow) -> bool,
) -> Result<bool, ApiError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(row) = db::live_row_of(&v.db, user).await.map_err(db_error)? {
            if done(&row) {
                return Ok(true);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn confirm_window(v: &Vicidial) -> Duration {
    Duration::from_secs(v.args.confirm_secs)
}

fn campaign_of(v: &Vicidial, agent: &AgentSession) -> String {
    agent
        .campaign_id
        .clone()
        .unwrap_or_else(|| v.args.campaign.clone())
}

/// Records the `last_update_time` our Agent API write just left on the agent's row, so the
/// write is not mistaken for a poll of the screen. Returns that stamp.
async fn note_write(v: &Vicidial, user: &str) -> Result<Option<i64>, ApiError> {
    let stamp = db::screen_stamp(&v.db, user).await.map_err(db_error)?;
    if let Some(stamp) = stamp {
        v.live.note_write(user, stamp);
    }
    Ok(stamp)
}

/// What to dial, validated: the lead (when known) and how VICIdial gets it.
struct Dial {
    target: DialTarget,
    lead_id: Option<i64>,
    callback_lead: bool,
}

/// Reads the request into what VICIdial dials, or the 4xx that says what is wrong with it.
async fn validate(v: &Vicidial, agent: &AgentSession, req: &DialRequest) -> Result<Dial, ApiError> {
    let campaign = campaign_of(v, agent);
    if let Some(callback_id) = req.callback_id {
        if callback_id <= 0 {
            return Err(ApiError::bad_request(
                "invalid_callback",
                "A callback id is a positive number.",
            ));
        }
        let lead = db::agent_callback_lead(&v.db, callback_id, &agent.user, &campaign)
            .await
            .map_err(db_error)?
            .ok_or_else(|| ApiError::Forbidden {
                code: "callback_not_yours",
                message: format!(
                    "Callback {callback_id} is not one of your callbacks in {campaign} (yours, or for anyone in the campaign, still active)."
                ),
            })?;
        return Ok(Dial {
            target: DialTarget::Lead(lead),
            lead_id: Some(lead),
            callback_lead: true,
        });
    }
    if let Some(lead_id) = req.lead_id {
        if lead_id <= 0 {
            return Err(ApiError::bad_request(
                "invalid_lead",
                "A lead id is a positive number.",
            ));
        }
        return match db::lead_access(&v.db, lead_id, &campaign)
            .await
            .map_err(db_error)?
        {
            LeadAccess::Dialable => Ok(Dial {
                target: DialTarget::Lead(lead_id),
                lead_id: Some(lead_id),
                callback_lead: false,
            }),
            LeadAccess::Missing => Err(ApiError::NotFound(format!("lead {lead_id}"))),
            LeadAccess::OtherCampaign => Err(ApiError::Forbidden {
                code: "lead_not_in_campaign",
                message: format!("Lead {lead_id} is not in a list of {campaign}."),
            }),
        };
    }
    let Some(number) = &req.phone_number else {
        return Err(ApiError::bad_request(
            "nothing_to_dial",
            "Give a phone number, a lead or a callback.",
        ));
    };
    let region = req.country.as_deref().unwrap_or(&v.args.default_country);
    if phone::region(region).is_none() {
        return Err(ApiError::bad_request(
            "invalid_country",
            format!("{region:?} is not a country dialdeck knows."),
        ));
    }
    let check = phone::check(number, region)
        .map_err(|m| ApiError::bad_request("invalid_phone_number", m))?;
    Ok(Dial {
        target: DialTarget::Number {
            digits: check.national_number,
            phone_code: check.phone_code,
        },
        lead_id: None,
        callback_lead: false,
    })
}

fn blocked(block: DialBlock) -> ApiError {
    ApiError::Conflict {
        code: block.code(),
        message: block.message().to_string(),
    }
}

/// `POST /api/call/dial`: a manual dial through the agent's VICIdial screen. Refused up
/// front for every [`DialBlock`] (read fresh from VICIdial); answered once VICIdial shows
/// the agent in the call, or `503 dial_withdrawn` once the request is taken back.
pub(super) async fn dial(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiJson(req): ApiJson<DialRequest>,
) -> Result<Json<AgentState>, ApiError> {
    let v = vicidial(&state)?;
    let dial = validate(&v, &agent, &req).await?;
    let wrapup = crate::wrapup::current(state.store(), &agent.user)
        .await?
        .map(|w| dialdeck_shared::WrapupInfo {
            lead_id: w.lead_id,
            call_id: w.call_id,
            ended_at: w.ended_at,
        });
    let fresh = db::live_agent_of(&v.db, &agent.user)
        .await
        .map_err(db_error)?;
    if let Some(block) = state_of(&v, fresh.as_ref(), wrapup).dial_block() {
        return Err(blocked(block));
    }
    if !db::may_dial_manually(&v.db, &agent.user)
        .await
        .map_err(db_error)?
    {
        return Err(api_error(VicidialError::ManualDialNotAllowed));
    }
    let answer = v
        .api
        .external_dial(&agent.user, &dial.target)
        .await
        .map_err(api_error)?;
    let queued_stamp = note_write(&v, &agent.user).await?;
    // Our request as the column holds it: the screen ignores a repeat with the same epoch
    // (field 7 of the answer, field 6 of the column), and so do we when taking it back.
    let epoch = answer
        .rsplit(" - ")
        .next()
        .and_then(|d| d.split('|').nth(7))
        .unwrap_or("")
        .to_string();
    let queued = db::live_row_of(&v.db, &agent.user)
        .await
        .map_err(db_error)?
        .map(|r| r.external_dial)
        .filter(|c| !epoch.is_empty() && c.split('!').nth(6) == Some(epoch.as_str()));
    let placed = |r: &db::LiveRow| {
        r.status == "INCALL" && r.lead_id > 0 && dial.lead_id.is_none_or(|l| l == r.lead_id)
    };
    // SUCCESS only means queued: wait for the screen to place the call.
    let mut confirmed = wait_for(&v, &agent.user, confirm_window(&v), placed).await?;
    if !confirmed {
        let withdrawn = match &queued {
            Some(request) => db::withdraw_dial(&v.db, &agent.user, request)
                .await
                .map_err(db_error)?,
            None => false,
        };
        // The screen may have taken it just before: look again.
        confirmed = wait_for(
            &v,
            &agent.user,
            Duration::from_millis(v.args.dial_grace_ms),
            placed,
        )
        .await?;
        if !confirmed {
            let reason = withdrawn_reason(&v, &agent.user, queued_stamp, withdrawn).await?;
            tracing::info!(user = %agent.user, withdrawn, "manual dial not placed by VICIdial");
            return Err(ApiError::Unavailable {
                code: "dial_withdrawn",
                message: reason,
            });
        }
    }
    if dial.callback_lead {
        if let Some(lead) = dial.lead_id {
            // VICIdial's screen takes a callback it dials (INACTIVE); so do we, once the
            // call is really placed.
            if let Err(e) = v.api.take_callbacks(lead).await {
                tracing::warn!(user = %agent.user, lead, error = %e, "could not take the callback in VICIdial");
            }
        }
    }
    super::live::poll_once(&v, state.store(), false)
        .await
        .map_err(db_error)?;
    Ok(Json(agent_state(&state, &v, &agent.user).await?))
}

/// Why VICIdial did not place a dial, for the agent.
async fn withdrawn_reason(
    v: &Vicidial,
    user: &str,
    queued_stamp: Option<i64>,
    withdrawn: bool,
) -> Result<String, ApiError> {
    let now = db::live_agent_of(&v.db, user).await.map_err(db_error)?;
    let Some(now) = now else {
        return Ok(
            "VICIdial's agent session ended before the call was placed; nothing was dialled."
                .into(),
        );
    };
    let took_back = if withdrawn {
        " dialdeck took the request back, so it will not be dialled later."
    } else {
        ""
    };
    // Our withdrawal keeps last_update_time as it was: a later stamp is the screen's poll.
    let polled = queued_stamp.is_some_and(|q| now.screen_stamp > q);
    Ok(if !polled {
        format!("VICIdial's agent screen is not polling, so it never saw the call.{took_back} dialdeck is reconnecting the screen; dial again in a moment.")
    } else if !now.phone_in_session {
        format!("Your phone is not in the VICIdial session conference yet, so VICIdial held the call.{took_back}")
    } else if withdrawn {
        format!(
            "VICIdial's agent screen did not place the call within {} seconds.{took_back}",
            v.args.confirm_secs
        )
    } else {
        "VICIdial's agent screen took the request but did not place the call (the number may be on a do-not-call list).".to_string()
    })
}

/// `POST /api/call/hangup`: hangs the customer up through the screen (the phone stays in the
/// conference) and waits for VICIdial's disposition step.
pub(super) async fn hangup(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<AgentState>, ApiError> {
    let v = vicidial(&state)?;
    let live = db::live_row_of(&v.db, &agent.user)
        .await
        .map_err(db_error)?;
    let Some(live) = live.filter(|l| l.status == "INCALL" && l.lead_id > 0) else {
        return Err(ApiError::Conflict {
            code: "no_call",
            message: "You have no call to hang up.".into(),
        });
    };
    v.api
        .external_hangup(&agent.user)
        .await
        .map_err(api_error)?;
    note_write(&v, &agent.user).await?;
    let lead = live.lead_id;
    if !wait_for(&v, &agent.user, confirm_window(&v), |r| {
        r.status != "INCALL" || r.lead_id != lead
    })
    .await?
    {
        return Err(ApiError::Unavailable {
            code: "hangup_not_confirmed",
            message: "VICIdial queued the hang-up but its agent screen has not done it. Is the VICIdial screen still connected?".into(),
        });
    }
    // Record the wrap-up now rather than at the next poll.
    crate::wrapup::call_ended(
        state.store(),
        &agent.user,
        lead,
        if live.callerid.is_empty() {
            "unknown"
        } else {
            &live.callerid
        },
        Some(&live.campaign_id),
    )
    .await?;
    super::live::poll_once(&v, state.store(), false)
        .await
        .map_err(db_error)?;
    Ok(Json(agent_state(&state, &v, &agent.user).await?))
}

#[derive(Deserialize)]
pub(super) struct DtmfRequest {
    digits: String,
}

/// `POST /api/call/dtmf`: digits played into the call toward the customer.
pub(super) async fn dtmf(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiJson(req): ApiJson<DtmfRequest>,
) -> Result<StatusCode, ApiError> {
    let v = vicidial(&state)?;
    let value = dtmf_value(&req.digits)
        .ok_or_else(|| ApiError::bad_request("invalid_dtmf", "DTMF is 1 to 32 of 0-9, * and #."))?;
    v.api
        .send_dtmf(&agent.user, &value)
        .await
        .map_err(api_error)?;
    note_write(&v, &agent.user).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/agent/pause`: a pause, with one of the campaign's pause codes when given (or
/// required: `agent_pause_codes_active='FORCE'`). In a campaign that dials by itself the
/// agent is first paused (`external_pause` PAUSE); in a `MANUAL` one VICIdial keeps the agent
/// paused between calls, so only the code is set (`pause_code`, which needs `PAUSED`).
pub(super) async fn pause(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiJson(req): ApiJson<PauseRequest>,
) -> Result<StatusCode, ApiError> {
    let v = vicidial(&state)?;
    let campaign_id = campaign_of(&v, &agent);
    let camp = db::campaign(&v.db, &campaign_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("campaign {campaign_id}")))?;
    let mode = pause_codes_mode(&camp.pause_codes_active);
    let code = req.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    match (code, mode) {
        (Some(_), PauseCodesMode::Off) => {
            return Err(ApiError::bad_request(
                "pause_codes_off",
                format!("{campaign_id} does not use pause codes."),
            ))
        }
        (Some(code), _) => {
            let codes = db::pause_codes(&v.db, &campaign_id)
                .await
                .map_err(db_error)?;
            if !codes.iter().any(|(c, _, _)| c == code) {
                return Err(ApiError::bad_request(
                    "unknown_pause_code",
                    format!("{code:?} is not a pause code of {campaign_id}."),
                ));
            }
        }
        (None, PauseCodesMode::Forced) => {
            return Err(ApiError::bad_request(
                "pause_code_required",
                format!("{campaign_id} needs a pause code for every pause."),
            ))
        }
        (None, _) => {}
    }
    if camp.auto_dial() {
        v.api
            .external_pause(&agent.user, false)
            .await
            .map_err(api_error)?;
        note_write(&v, &agent.user).await?;
        if code.is_some()
            && !wait_for(&v, &agent.user, confirm_window(&v), |r| {
                r.status == "PAUSED"
            })
            .await?
        {
            return Err(ApiError::Unavailable {
                code: "pause_not_confirmed",
                message: "VICIdial queued the pause but its agent screen has not paused you yet; the pause code was not set.".into(),
            });
        }
    }
    if let Some(code) = code {
        v.api
            .pause_code(&agent.user, code)
            .await
            .map_err(api_error)?;
        note_write(&v, &agent.user).await?;
    }
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/agent/ready`: back to taking calls (`external_pause` RESUME), only where the
/// campaign dials by itself or takes inbound calls.
pub(super) async fn ready(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<StatusCode, ApiError> {
    let v = vicidial(&state)?;
    let campaign_id = campaign_of(&v, &agent);
    let camp = db::campaign(&v.db, &campaign_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("campaign {campaign_id}")))?;
    if !camp.auto_dial() {
        return Err(ApiError::Conflict {
            code: "manual_campaign",
            message: format!(
                "{campaign_id} dials only when you dial: VICIdial keeps you paused between calls, there is no Ready."
            ),
        });
    }
    v.api
        .external_pause(&agent.user, true)
        .await
        .map_err(api_error)?;
    note_write(&v, &agent.user).await?;
    Ok(StatusCode::ACCEPTED)
}
