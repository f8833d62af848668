//! Login and logout: VICIdial user and password checked as VICIdial checks them (with the
//! per-user throttle of [`auth`]), the campaigns the agent may log into, the session cookie,
//! the agent's profile and phone, and the form that logs VICIdial's own agent screen in.
//!
//! Campaigns are VICIdial's `LogiNCamPaigns` list (`agc/vdc_db_query.php`): the active
//! campaigns, all of them when the user group's `allowed_campaigns` holds `-ALL-CAMPAIGNS-`,
//! else those it names (space-separated, ` -` closing the list), by `campaign_id`.

use std::time::Duration;

use axum::{
    extract::State,
    http::{header, HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use dialdeck_shared::{
    AgentProfile, CampaignOption, FormField, LoginRequest, PhoneConfig, ScreenLoginForm,
};
use secrecy::{ExposeSecret, SecretString};
use sqlx::MySqlPool;

use super::{
    api::VicidialError,
    auth::{self, LoginError},
    db, Vicidial,
};
use crate::{
    http::{ApiError, ApiJson},
    session::{self, CurrentAgent},
    AppState,
};

use super::routes::vicidial;

/// How long an agent session lasts (a long shift).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// `JS_browser_width` / `JS_browser_height` until the browser puts its window's size in:
/// what VICIdial lays its screen out for.
const SCREEN_WIDTH: &str = "1280";
const SCREEN_HEIGHT: &str = "800";

/// VICIdial's database failed us during a login: the agent can only wait.
fn unreachable(e: anyhow::Error) -> ApiError {
    tracing::warn!(error = %e, "VICIdial database error during login");
    ApiError::Unavailable {
        code: "vicidial_unreachable",
        message:
            "VICIdial cannot be reached right now, so nobody can log in; try again in a moment."
                .into(),
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_credentials",
        message: "Wrong user or password.".into(),
    }
}

fn throttled(retry_after: Duration) -> ApiError {
    let minutes = retry_after.as_secs().div_ceil(60).max(1);
    ApiError::TooManyRequests {
        code: "too_many_attempts",
        message: format!(
            "Too many failed logins for this user: dialdeck stops checking for {minutes} minute(s) so that VICIdial does not lock it."
        ),
        retry_after,
    }
}

/// The user and password checked as VICIdial checks them, behind the per-user throttle, with
/// VICIdial's refusals as API errors.
async fn check_credentials(
    state: &AppState,
    v: &Vicidial,
    req: &LoginRequest,
) -> Result<auth::Agent, ApiError> {
    let Some(user) = auth::filter_user(&req.user) else {
        return Err(invalid_credentials());
    };
    let key = auth::user_key(&user);
    let store = state.store();
    let max_failures = state.config().throttle.user_failures;
    let attempt = match auth::begin_attempt(store, &key, max_failures).await? {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(%user, "login refused: too many recent failures for this user");
            return Err(throttled(wait));
        }
    };
    let outcome = match auth::verify(&v.db, &user, &req.password, max_failures).await {
        Ok(outcome) => outcome,
        Err(e) => {
            attempt.void(store).await?;
            return Err(unreachable(e));
        }
    };
    match outcome {
        Ok(agent) => {
            attempt.succeeded(store).await?;
            Ok(agent)
        }
        Err(LoginError::InvalidCredentials) => {
            attempt.failed();
            tracing::info!(%user, "login refused: wrong user or password");
            Err(invalid_credentials())
        }
        Err(LoginError::NotAllowed) => {
            attempt.failed();
            Err(ApiError::Forbidden {
                code: "login_not_allowed",
                message: "This VICIdial user may not log into the agent screen.".into(),
            })
        }
        Err(LoginError::LockedOut) => {
            attempt.void(store).await?;
            Err(ApiError::Forbidden {
                code: "locked_out",
                message: "Too many failed logins: VICIdial has locked this user for 15 minutes."
                    .into(),
            })
        }
        Err(LoginError::Throttled { retry_after }) => {
            attempt.void(store).await?;
            tracing::warn!(%user, "login refused: VICIdial's failure counter is near its lock");
            Err(throttled(retry_after))
        }
    }
}

/// VICIdial's `LogiNCamPaigns` list for `agent` (see the module documentation).
async fn allowed_campaigns(
    db: &MySqlPool,
    agent: &auth::Agent,
) -> anyhow::Result<Vec<CampaignOption>> {
    let allowed: Option<Option<String>> = sqlx::query_scalar(
        "SELECT allowed_campaigns FROM vicidial_user_groups WHERE user_group = ?",
    )
    .bind(&agent.user_group)
    .fetch_optional(db)
    .await?;
    let allowed = allowed.flatten().unwrap_or_default();
    let all = allowed.to_ascii_uppercase().contains("ALL-CAMPAIGNS");
    // VICIdial drops every " -" and splits on whitespace: the closing "-" goes, and so would a
    // dash that starts a name.
    let ids: Vec<&str> = allowed
        .split_whitespace()
        .map(|t| t.strip_prefix('-').unwrap_or(t))
        .filter(|t| !t.is_empty())
        .collect();
    if !all && ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = String::from(
        "SELECT campaign_id, COALESCE(campaign_name, '') FROM vicidial_campaigns WHERE active = 'Y'",
    );
    if !all {
        sql.push_str(" AND campaign_id IN (");
        sql.push_str(&vec!["?"; ids.len()].join(", "));
        sql.push(')');
    }
    sql.push_str(" ORDER BY campaign_id");
    let mut q = sqlx::query_as::<_, (String, String)>(&sql);
    if !all {
        for id in &ids {
            q = q.bind(*id);
        }
    }
    Ok(q.fetch_all(db)
        .await?
        .into_iter()
        .map(|(campaign_id, campaign_name)| CampaignOption {
            campaign_id,
            campaign_name,
        })
        .collect())
}

/// `campaign_id` with its name (empty when VICIdial no longer has it).
async fn campaign(db: &MySqlPool, campaign_id: &str) -> anyhow::Result<CampaignOption> {
    let name: Option<Option<String>> =
        sqlx::query_scalar("SELECT campaign_name FROM vicidial_campaigns WHERE campaign_id = ?")
            .bind(campaign_id)
            .fetch_optional(db)
            .await?;
    Ok(CampaignOption {
        campaign_id: campaign_id.to_string(),
        campaign_name: name.flatten().unwrap_or_default(),
    })
}

/// The campaign of a session (or the configured default, for sessions that have none).
fn session_campaign(v: &Vicidial, agent: &session::AgentSession) -> Option<String> {
    agent
        .campaign_id
        .clone()
        .or_else(|| v.args.default_campaign().map(str::to_string))
}

pub(super) async fn profile(
    v: &Vicidial,
    user: &str,
    campaign: &CampaignOption,
) -> Result<AgentProfile, ApiError> {
    let row = sqlx::query_as::<_, (String, i64)>(
        "SELECT COALESCE(full_name, ''), CAST(user_level AS SIGNED) FROM vicidial_users WHERE user = ?",
    )
    .bind(user)
    .fetch_optional(&v.db)
    .await
    .map_err(|e| unreachable(e.into()))?
    .ok_or_else(|| ApiError::Unauthorized {
        code: "not_logged_in",
        message: "Your VICIdial user no longer exists.".into(),
    })?;
    let phone = db::phone_for(&v.db, user)
        .await
        .map_err(unreachable)?
        .ok_or_else(no_phone)?;
    let conf_exten = v
        .live
        .row(user)
        .map(|r| r.conf_exten)
        .filter(|c| !c.is_empty());
    Ok(AgentProfile {
        user: user.to_string(),
        full_name: row.0.clone(),
        user_level: row.1,
        campaign_id: campaign.campaign_id.clone(),
        campaign_name: campaign.campaign_name.clone(),
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
    })
}

fn no_phone() -> ApiError {
    ApiError::Forbidden {
        code: "no_phone",
        message: "Your VICIdial user has no active phone; ask an admin to set one.".into(),
    }
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

/// `POST /api/login/campaigns`: the campaigns the user may log into (body: a
/// [`LoginRequest`], whose `campaign` is ignored; the password is checked as for a login).
pub(super) async fn campaigns(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    session::check_same_origin(&Method::POST, &headers)?;
    let v = vicidial(&state)?;
    let agent = check_credentials(&state, &v, &req).await?;
    let list = allowed_campaigns(&v.db, &agent)
        .await
        .map_err(unreachable)?;
    Ok(no_store(Json(list).into_response()))
}

/// `POST /api/login`: VICIdial user, password and campaign (one of `/api/login/campaigns`;
/// `DIALDECK_VICIDIAL_CAMPAIGN` when the request names none and it is set).
pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    session::check_same_origin(&Method::POST, &headers)?;
    let v = vicidial(&state)?;
    // Asked before the password, so a form without a campaign costs no attempt.
    let wanted = req
        .campaign
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .or(v.args.default_campaign())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request("campaign_required", "Choose the campaign to log into.")
        })?;
    let agent = check_credentials(&state, &v, &req).await?;
    let chosen = allowed_campaigns(&v.db, &agent)
        .await
        .map_err(unreachable)?
        .into_iter()
        .find(|c| c.campaign_id.eq_ignore_ascii_case(&wanted))
        .ok_or_else(|| ApiError::Forbidden {
            code: "campaign_not_allowed",
            message: format!(
                "You may not log into campaign {wanted:?}: it is not active or not allowed to your user group."
            ),
        })?;
    let profile = profile(&v, &agent.user, &chosen).await?;
    let token = session::create_agent(
        state.store(),
        &agent.user,
        agent.user_level,
        &chosen.campaign_id,
        &SecretString::from(req.password),
        SESSION_TTL,
    )
    .await?;
    tracing::info!(user = %agent.user, campaign = %chosen.campaign_id, "agent logged in");
    Ok(signed_in(Json(profile).into_response(), &token))
}

/// `POST /api/admin/login`: an admin (VICIdial user level 8 or more) signs in for the admin
/// endpoints only: no phone, no campaign, no agent screen (admins without a phone cannot use
/// `/api/login`). Answers `{user, user_level}` and sets the session cookie.
pub(super) async fn admin_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    session::check_same_origin(&Method::POST, &headers)?;
    let v = vicidial(&state)?;
    let admin = check_credentials(&state, &v, &req).await?;
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

/// `POST /api/agent/screen-login`: the form that logs VICIdial's own agent screen in, in the
/// order VICIdial's login form posts it, with the agent's password from the session (so a
/// reload needs no password). Never cached.
pub(super) async fn screen_login(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let v = vicidial(&state)?;
    let unavailable = || ApiError::Conflict {
        code: "screen_login_unavailable",
        message: "This session cannot open VICIdial's agent screen; log out and log in again."
            .into(),
    };
    let token = session::token_from(&headers).ok_or_else(unavailable)?;
    let password = session::screen_password(state.store(), &token)
        .await?
        .ok_or_else(unavailable)?;
    let campaign = session_campaign(&v, &agent).ok_or_else(unavailable)?;
    let phone = db::phone_for(&v.db, &agent.user)
        .await
        .map_err(unreachable)?
        .ok_or_else(no_phone)?;
    let fields = [
        ("DB", "0"),
        ("JS_browser_height", SCREEN_HEIGHT),
        ("JS_browser_width", SCREEN_WIDTH),
        ("admin_test", ""),
        ("LOGINvarONE", ""),
        ("LOGINvarTWO", ""),
        ("LOGINvarTHREE", ""),
        ("LOGINvarFOUR", ""),
        ("LOGINvarFIVE", ""),
        ("hide_relogin_fields", ""),
        ("phone_login", phone.login.as_str()),
        ("phone_pass", phone.pass.as_str()),
        ("VD_login", agent.user.as_str()),
        ("VD_pass", password.expose_secret()),
        ("VD_campaign", campaign.as_str()),
    ]
    .into_iter()
    .map(|(name, value)| FormField {
        name: name.to_string(),
        value: value.to_string(),
    })
    .collect();
    let form = ScreenLoginForm {
        url: v.screen_url(),
        fields,
    };
    Ok(no_store(Json(form).into_response()))
}

/// `POST /api/logout`: asks VICIdial's screen to log out (it kicks the phone out of the
/// conference) and waits, up to the confirm window, until it has (its `vicidial_live_agents`
/// row is gone), then ends the session. The cookie is cleared whatever its state: an expired
/// or unknown cookie still gets `204` and a clearing `Set-Cookie`.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    session::check_same_origin(&Method::POST, &headers)?;
    if let Some(token) = session::token_from(&headers) {
        let agent = session::lookup(state.store(), &token).await?;
        if let (Some(agent), Some(v)) = (agent, state.vicidial()) {
            if v.live.row(&agent.user).is_some() {
                match v.api.logout(&agent.user).await {
                    // The Agent API only queues the logout for VICIdial's screen, which is the
                    // page's hidden frame: answering at once lets the page unload it before its
                    // next poll takes the logout, leaving the agent logged in to VICIdial.
                    Ok(_) => screen_logged_out(v, &agent.user).await,
                    Err(VicidialError::NotLoggedIn) => {}
                    Err(e) => {
                        tracing::warn!(user = %agent.user, error = %e, "VICIdial logout request failed")
                    }
                }
            }
        }
        session::delete(state.store(), &token).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    Ok(resp)
}

/// Waits until VICIdial's screen has logged `user` out (no `vicidial_live_agents` row), for
/// at most the confirm window; a screen that does not take it in time is logged, not an error
/// (the agent's own session ends anyway).
async fn screen_logged_out(v: &Vicidial, user: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(v.args.confirm_secs);
    loop {
        match db::live_row_of(&v.db, user).await {
            Ok(None) => return,
            Ok(Some(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Some(_)) => {
                tracing::info!(user = %user, "VICIdial's screen did not take the logout in time");
                return;
            }
            Err(e) => {
                tracing::warn!(user = %user, error = %e, "VICIdial logout not confirmed");
                return;
            }
        }
    }
}

/// `GET /api/me`: the logged-in agent's profile and phone, or `204 No Content` when the browser
/// has no session (the page then shows the login form; not an error).
pub(super) async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = match session::token_from(&headers) {
        Some(token) => session::lookup(state.store(), &token).await?,
        None => None,
    };
    let Some(agent) = session else {
        return Ok(no_store(StatusCode::NO_CONTENT.into_response()));
    };
    let v = vicidial(&state)?;
    let campaign_id = session_campaign(&v, &agent).unwrap_or_default();
    let campaign = campaign(&v.db, &campaign_id).await.map_err(unreachable)?;
    Ok(no_store(
        Json(profile(&v, &agent.user, &campaign).await?).into_response(),
    ))
}
