//! The agent's VICIdial routes, assembled in one place: [`login`](super::login) (login and its
//! campaigns, logout, the agent's profile, the agent screen's login form),
//! [`desk`](super::desk) (live state over SSE, statuses, the lead on screen),
//! [`campaign`](super::campaign), [`phone`](super::phone) (number checks) and
//! [`call`](super::call) (call control through the Agent API); and the edge helpers they share
//! to turn VICIdial's failures into API errors.
//!
//! Every route acts on the session's own agent only: no request names another agent.

use std::sync::Arc;

use axum::{
    routing::{get, post},
    Router,
};

use super::{api::VicidialError, Vicidial};
use crate::{http::ApiError, AppState};

/// The routes, nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(super::login::login))
        .route("/login/campaigns", post(super::login::campaigns))
        .route("/admin/login", post(super::login::admin_login))
        .route("/logout", post(super::login::logout))
        .route("/me", get(super::login::me))
        .route("/statuses", get(super::desk::statuses))
        .route("/lead/{id}", get(super::desk::lead))
        .route("/agent/state", get(super::desk::state_route))
        .route("/agent/events", get(super::desk::events))
        .route("/agent/screen-login", post(super::login::screen_login))
        .route("/agent/pause", post(super::call::pause))
        .route("/agent/ready", post(super::call::ready))
        .route("/campaign", get(super::campaign::campaign))
        .route("/phone/check", post(super::phone::phone_check))
        .route("/call/dial", post(super::call::dial))
        .route("/call/hangup", post(super::call::hangup))
        .route("/call/dtmf", post(super::call::dtmf))
}

pub(crate) fn vicidial(state: &AppState) -> Result<Arc<Vicidial>, ApiError> {
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

pub(crate) fn db_error(e: anyhow::Error) -> ApiError {
    tracing::warn!(error = %e, "VICIdial database error");
    ApiError::Unavailable {
        code: "vicidial_db_unavailable",
        message: "VICIdial's database cannot be reached right now; try again in a moment.".into(),
    }
}

pub(super) fn api_error(e: VicidialError) -> ApiError {
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
