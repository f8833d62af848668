//! The agent's VICIdial routes: login and logout, the agent's profile and phone, live state
//! (SSE), the modal's statuses, the lead on screen, and call control through the Agent API.
//!
//! Every route acts on the session's own agent only: no request names another agent.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{get, post},
    Json, Router,
};
use dialdeck_shared::{
    AgentProfile, AgentScreenLogin, AgentState, DialRequest, LeadView, LoginRequest, PhoneConfig,
    StatusOption, WrapupInfo,
};
use futures_util::Stream;
use serde::Deserialize;

use super::{
    api::{dtmf_value, DialTarget, VicidialError},
    auth::{self, LoginError},
    db, Vicidial,
};
use crate::{
    http::{ApiError, ApiJson},
    session::{self, CurrentAgent},
    AppState,
};

/// How long an agent session lasts (a long shift).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The routes, nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/admin/login", post(admin_login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/statuses", get(statuses))
        .route("/lead/{id}", get(lead))
        .route("/agent/state", get(state_route))
        .route("/agent/events", get(events))
        .route("/agent/pause", post(pause))
        .route("/call/dial", post(dial))
        .route("/call/hangup", post(hangup))
        .route("/call/dtmf", post(dtmf))
}

fn vicidial(state: &AppState) -> Result<Arc<Vicidial>, ApiError> {
    state
        .vicidial()
        .cloned()
        .ok_or_else(|| ApiError::Unavailable {
            code: "vicidial_not_configured",
            message:
                "This server is not connected to VICIdial (DIALDECK_VICIDIAL_DB_URL is not set)."
                    .into(),
        })
}

fn db_error(e: anyhow::Error) -> ApiError {
    tracing::warn!(error = %e, "VICIdial database error");
    ApiError::Unavailable {
        code: "vicidial_db_unavailable",
        message: "VICIdial's database cannot be reached right now; try again in a moment.".into(),
    }
}

fn api_error(e: VicidialError) -> ApiError {
    match e {
        VicidialError::NotLoggedIn => ApiError::Conflict {
            code: "vicidial_not_logged_in",
            message: "VICIdial's agent screen is not logged in for you yet.".into(),
        },
        VicidialError::NotPaused => ApiError::Conflict {
            code: "vicidial_not_paused",
            message:
                "VICIdial is still busy with a call or its disposition; try again in a moment."
                    .into(),
        },
        VicidialError::ManualDialNotAllowed => ApiError::Forbidden {
            code: "manual_dial_not_allowed",
            message: "Your VICIdial user may not place manual calls.".into(),
        },
        VicidialError::InvalidTarget(_) => ApiError::bad_request(
            "invalid_dial_target",
            "VICIdial refused this number or lead.",
        ),
        VicidialError::Unreachable(_) => ApiError::Unavailable {
            code: "vicidial_unreachable",
            message: "VICIdial is not answering; try again in a moment.".into(),
        },
        other => {
            tracing::error!(error = %other, "VICIdial API refused a request");
            ApiError::Unavailable {
                code: "vicidial_api_error",
                message: "VICIdial refused the request; an admin has to check the API account."
                    .into(),
            }
        }
    }
}

async fn profile(v: &Vicidial, user: &str, campaign: &str) -> Result<AgentProfile, ApiError> {
    let row = sqlx::query_as::<_, (String, i64)>(
        "SELECT COALESCE(full_name, ''), CAST(user_level AS SIGNED) FROM vicidial_users WHERE user = ?",
    )
    .bind(user)
    .fetch_optional(&v.db)
    .await
    .map_err(|e| db_error(e.into()))?
    .ok_or_else(|| ApiError::Unauthorized {
        code: "not_logged_in",
        message: "Your VICIdial user no longer exists.".into(),
    })?;
    let phone = db::phone_for(&v.db, user)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::Forbidden {
            code: "no_phone",
            message: "Your VICIdial user has no active phone; ask an admin to set one.".into(),
        })?;
    let conf_exten = v
        .live
        .row(user)
        .map(|r| r.conf_exten)
        .filter(|c| !c.is_empty());
    Ok(AgentProfile {
        user: user.to_string(),
        full_name: row.0.clone(),
        user_level: row.1,
        campaign_id: campaign.to_string(),
        phone: PhoneConfig {
            sip_uri: format!("sip:{}@{}", phone.extension, phone.sip_host),
            auth_user: phone.extension.clone(),
            password: phone.conf_secret.clone(),
            display_name: row.0,
            ws_url: phone.ws_url.clone(),
            ice_servers: v.args.ice_servers.clone(),
            conf_exten,
            auto_answer: phone.auto_answer,
            join_by_dialing: phone.is_webphone,
            conference_prefix: if phone.confbridge {
                "2".into()
            } else {
                String::new()
            },
        },
        screen: AgentScreenLogin {
            url: v.screen_url(),
            campaign: campaign.to_string(),
            phone_login: phone.login,
            phone_pass: phone.pass,
        },
    })
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// A login's answer: the session cookie set, never cached.
fn signed_in(mut resp: Response, token: &str) -> Response {
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::cookie(token, SESSION_TTL));
    no_store(resp)
}

/// `POST /api/login`: VICIdial user and password, checked as VICIdial checks them.
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    session::check_same_origin(&axum::http::Method::POST, &headers)?;
    let v = vicidial(&state)?;
    let agent = verify(&v, &req).await?;
    let campaign = v.args.campaign.clone();
    let profile = profile(&v, &agent.user, &campaign).await?;
    let token = session::create(
        state.store(),
        &agent.user,
        agent.user_level,
        Some(&campaign),
        SESSION_TTL,
    )
    .await?;
    tracing::info!(user = %agent.user, "agent logged in");
    Ok(signed_in(Json(profile).into_response(), &token))
}

/// The user and password checked as VICIdial checks them, with VICIdial's refusals as API
/// errors.
async fn verify(v: &Vicidial, req: &LoginRequest) -> Result<auth::Agent, ApiError> {
    match auth::verify(&v.db, &req.user, &req.password)
        .await
        .map_err(db_error)?
    {
        Ok(agent) => Ok(agent),
        Err(LoginError::InvalidCredentials) => Err(ApiError::Unauthorized {
            code: "invalid_credentials",
            message: "Wrong user or password.".into(),
        }),
        Err(LoginError::LockedOut) => Err(ApiError::Forbidden {
            code: "locked_out",
            message: "Too many failed logins: VICIdial has locked this user for 15 minutes.".into(),
        }),
        Err(LoginError::NotAllowed) => Err(ApiError::Forbidden {
            code: "login_not_allowed",
            message: "This VICIdial user may not log into the agent screen.".into(),
        }),
    }
}

/// `POST /api/admin/login`: an admin (VICIdial user level 8 or more) signs in for the admin
/// endpoints only: no phone, no campaign, no agent screen (admins without a phone cannot use
/// `/api/login`). Answers `{user, user_level}` and sets the session cookie.
async fn admin_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    session::check_same_origin(&axum::http::Method::POST, &headers)?;
    let v = vicidial(&state)?;
    let admin = verify(&v, &req).await?;
    if admin.user_level < session::ADMIN_USER_LEVEL {
        return Err(ApiError::Forbidden {
            code: "not_admin",
            message: "Only VICIdial admins (user level 8 or more) may sign in here.".into(),
        });
    }
    let token = session::create(
        state.store(),
        &admin.user,
        admin.user_level,
        None,
        SESSION_TTL,
    )
    .await?;
    tracing::info!(user = %admin.user, "admin logged in");
    let body = Json(serde_json::json!({"user": admin.user, "user_level": admin.user_level}));
    Ok(signed_in(body.into_response(), &token))
}

/// `POST /api/logout`: asks VICIdial's screen to log out (it kicks the phone out of the
/// conference), then ends the session.
async fn logout(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(v) = state.vicidial() {
        if v.live.row(&agent.user).is_some() {
            match v.api.logout(&agent.user).await {
                Ok(_) | Err(VicidialError::NotLoggedIn) => {}
                Err(e) => {
                    tracing::warn!(user = %agent.user, error = %e, "VICIdial logout request failed")
                }
            }
        }
    }
    if let Some(token) = session::token_from(&headers) {
        session::delete(state.store(), &token).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    Ok(resp)
}

/// `GET /api/me`: the logged-in agent's profile and phone, or `204 No Content` when the browser
/// has no session (the page then shows the login form; not an error).
async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = match session::token_from(&headers) {
        Some(token) => session::lookup(state.store(), &token).await?,
        None => None,
    };
    let Some(agent) = session else {
        return Ok(no_store(StatusCode::NO_CONTENT.into_response()));
    };
    let v = vicidial(&state)?;
    let campaign = agent
        .campaign_id
        .clone()
        .unwrap_or_else(|| v.args.campaign.clone());
    Ok(no_store(
        Json(profile(&v, &agent.user, &campaign).await?).into_response(),
    ))
}

/// `GET /api/statuses`: what the disposition modal offers in the agent's campaign.
async fn statuses(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<Vec<StatusOption>>, ApiError> {
    let v = vicidial(&state)?;
    let campaign = agent
        .campaign_id
        .clone()
        .unwrap_or_else(|| v.args.campaign.clone());
    let all = db::statuses(&v.db, &campaign).await.map_err(db_error)?;
    Ok(Json(
        all.into_iter()
            .filter(|s| s.selectable)
            .map(|s| StatusOption {
                status: s.status,
                name: s.status_name,
                sale: s.flags.sale,
                dnc: s.flags.dnc,
                scheduled_callback: s.flags.scheduled_callback,
            })
            .collect(),
    ))
}

/// `GET /api/lead/{id}`: the lead of the agent's current or last call, and no other.
async fn lead(
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
    let row = v.live.row(user);
    let wrapup = crate::wrapup::current(state.store(), user).await?;
    Ok(AgentState {
        logged_in: row.is_some(),
        status: row.as_ref().map(|r| r.status.clone()).unwrap_or_default(),
        sub_status: row
            .as_ref()
            .map(|r| r.sub_status().to_string())
            .unwrap_or_default(),
        lead_id: row.as_ref().map(|r| r.lead_id).unwrap_or(0),
        conf_exten: row
            .as_ref()
            .map(|r| r.conf_exten.clone())
            .unwrap_or_default(),
        call_id: row
            .as_ref()
            .map(|r| r.callerid.clone())
            .filter(|c| !c.is_empty()),
        pause_code: row
            .as_ref()
            .map(|r| r.pause_code.clone())
            .unwrap_or_default(),
        wrapup: wrapup.map(|w| WrapupInfo {
            lead_id: w.lead_id,
            call_id: w.call_id,
            ended_at: w.ended_at,
        }),
    })
}

/// `GET /api/agent/state`.
async fn state_route(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<AgentState>, ApiError> {
    let v = vicidial(&state)?;
    Ok(Json(agent_state(&state, &v, &agent.user).await?))
}

/// `GET /api/agent/events`: the agent's state as server-sent events, on every change.
async fn events(
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

async fn wait_for(
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
async fn dial(
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
            let phone_code = req.phone_code.clone().unwrap_or_else(|| "1".into());
            if phone_code.is_empty()
                || phone_code.len() > 4
                || !phone_code.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ApiError::bad_request(
                    "invalid_phone_code",
                    "The country code is 1 to 4 digits, e.g. 1 or 44.",
                ));
            }
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
async fn hangup(
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
struct DtmfRequest {
    digits: String,
}

/// `POST /api/call/dtmf`: digits played into the call toward the customer.
async fn dtmf(
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
struct PauseRequest {
    code: String,
}

/// `POST /api/agent/pause`: a break with a pause code (the agent must be paused, i.e. not in a
/// call).
async fn pause(
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
