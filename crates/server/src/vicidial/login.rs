//! Login and logout: VICIdial user and password checked as VICIdial checks them, the session
//! cookie, and the agent's profile and phone.

use std::time::Duration;

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use dialdeck_shared::{AgentProfile, AgentScreenLogin, LoginRequest, PhoneConfig};

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

use super::routes::{db_error, vicidial};

/// How long an agent session lasts (a long shift).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

pub(super) async fn profile(
    v: &Vicidial,
    user: &str,
    campaign: &str,
) -> Result<AgentProfile, ApiError> {
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
        campaign_name: String::new(),
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
pub(super) async fn login(
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
pub(super) async fn verify(v: &Vicidial, req: &LoginRequest) -> Result<auth::Agent, ApiError> {
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
pub(super) async fn admin_login(
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
pub(super) async fn logout(
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
    let campaign = agent
        .campaign_id
        .clone()
        .unwrap_or_else(|| v.args.campaign.clone());
    Ok(no_store(
        Json(profile(&v, &agent.user, &campaign).await?).into_response(),
    ))
}
