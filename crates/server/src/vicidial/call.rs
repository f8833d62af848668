//! Call control through VICIdial's Agent API: manual dial, hang-up, DTMF and pause codes.
//! VICIdial's agent screen carries each request out; the server waits to see it done.

use std::time::Duration;

use axum::{extract::State, http::StatusCode, Json};
use dialdeck_shared::{AgentState, DialRequest};
use serde::Deserialize;

use super::{
    api::{dtmf_value, DialTarget, VicidialError},
    db,
    desk::agent_state,
    Vicidial,
};
use crate::{
    http::{ApiError, ApiJson},
    session::CurrentAgent,
    AppState,
};

use super::routes::{api_error, db_error, vicidial};

/// Digits of a phone number typed by an agent: formatting (`+ ( ) - . space`) removed,
/// anything else refused.
pub fn dial_digits(input: &str) -> Result<String, ApiError> {
    let mut digits = String::new();
    for c in input.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' | '+' => {}
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_phone_number",
                    format!(
                        "{input:?} is not a phone number: only digits and + ( ) - . are allowed."
                    ),
                ))
            }
        }
    }
    if !(6..=18).contains(&digits.len()) {
        return Err(ApiError::bad_request(
            "invalid_phone_number",
            format!(
                "A phone number needs 6 to 18 digits; {input:?} has {}.",
                digits.len()
            ),
        ));
    }
    Ok(digits)
}

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

/// `POST /api/call/dial`: a manual dial through the agent's VICIdial screen, refused during
/// wrap-up; answers once VICIdial shows the agent in the call.
pub(super) async fn dial(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiJson(req): ApiJson<DialRequest>,
) -> Result<Json<AgentState>, ApiError> {
    let v = vicidial(&state)?;
    if let Some(w) = crate::wrapup::current(state.store(), &agent.user).await? {
        return Err(ApiError::Conflict {
            code: "wrapup_pending",
            message: format!(
                "Save the disposition of your last call (lead {}) before dialling again.",
                w.lead_id
            ),
        });
    }
    let target = match (req.lead_id, &req.phone_number) {
        (Some(id), _) if id > 0 => DialTarget::Lead(id),
        (Some(_), _) => {
            return Err(ApiError::bad_request(
                "invalid_lead",
                "A lead id is a positive number.",
            ))
        }
        (None, Some(number)) => {
            let region = req.country.as_deref().unwrap_or("US");
            let phone_code = phonenumber::metadata::DATABASE
                .by_id(region)
                .map(|m| m.country_code().to_string())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_country",
                        format!("{region:?} is not a country dialdeck knows."),
                    )
                })?;
            DialTarget::Number {
                digits: dial_digits(number)?,
                phone_code,
            }
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "nothing_to_dial",
                "Give a phone number or a lead.",
            ))
        }
    };
    let live = db::live_row_of(&v.db, &agent.user)
        .await
        .map_err(db_error)?;
    match &live {
        None => return Err(api_error(VicidialError::NotLoggedIn)),
        Some(l) if l.status == "INCALL" => {
            return Err(ApiError::Conflict {
                code: "already_in_call",
                message: "You are already in a call.".into(),
            })
        }
        _ => {}
    }
    if !db::may_dial_manually(&v.db, &agent.user)
        .await
        .map_err(db_error)?
    {
        return Err(api_error(VicidialError::ManualDialNotAllowed));
    }
    v.api
        .external_dial(&agent.user, &target)
        .await
        .map_err(api_error)?;
    // SUCCESS only means queued: wait for the screen to place the call.
    if !wait_for(&v, &agent.user, confirm_window(&v), |r| {
        r.status == "INCALL" && r.lead_id > 0
    })
    .await?
    {
        return Err(ApiError::Unavailable {
            code: "dial_not_confirmed",
            message: "VICIdial queued the call but its agent screen has not placed it. Is the VICIdial screen still connected?".into(),
        });
    }
    super::live::poll_once(&v, state.store(), false)
        .await
        .map_err(db_error)?;
    Ok(Json(agent_state(&state, &v, &agent.user).await?))
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
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
pub(super) struct PauseRequest {
    code: String,
}

/// `POST /api/agent/pause`: a break with a pause code (the agent must be paused, i.e. not in a
/// call).
pub(super) async fn pause(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    ApiJson(req): ApiJson<PauseRequest>,
) -> Result<StatusCode, ApiError> {
    let v = vicidial(&state)?;
    let ok =
        (1..=6).contains(&req.code.len()) && req.code.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(ApiError::bad_request(
            "invalid_pause_code",
            "A pause code is 1 to 6 letters or digits.",
        ));
    }
    v.api
        .pause_code(&agent.user, &req.code)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_digits_strip_formatting_and_refuse_junk() {
        assert_eq!(dial_digits("(312) 555-1212").unwrap(), "3125551212");
        assert_eq!(dial_digits("+44 20 7946 0000").unwrap(), "442079460000");
        assert!(dial_digits("312555121x").is_err());
        assert!(dial_digits("12345").is_err());
        assert!(dial_digits("1234567890123456789").is_err());
        assert!(dial_digits("*67 3125551212").is_err());
    }
}
