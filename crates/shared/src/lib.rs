//! Request and response types shared by `crates/server` and `crates/frontend`.
//!
//! No I/O here: plain serde types, so both the native server and the wasm frontend compile them.

use serde::{Deserialize, Serialize};

/// Runtime configuration the frontend fetches from `GET /api/config` at start-up.
///
/// Nothing deployment-specific is compiled into the frontend: it learns everything here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Product version of the running server (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Origin of the VICIdial web server whose agent screen runs in a hidden frame, if configured.
    pub vicidial_web_origin: Option<String>,
    /// Whether the server is ready to log agents in (its VICIdial side is configured).
    pub login_available: bool,
}

/// Body of every 4xx answer from the API: a stable machine code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable, snake_case error code (for example `invalid_credentials`).
    pub code: String,
    /// Human-readable explanation, safe to show to the agent.
    pub message: String,
}

/// `POST /api/login`: an agent's VICIdial user and password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// VICIdial `vicidial_users.user`.
    pub user: String,
    /// The agent's VICIdial password (sent over HTTPS only, never stored by the browser).
    pub password: String,
}

/// Health answer of `GET /readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `true` when every dependency checked is usable.
    pub ready: bool,
    /// One line per dependency: name and state.
    pub checks: Vec<ReadinessCheck>,
}

/// One dependency's state in [`Readiness`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessCheck {
    /// Dependency name, e.g. `store`.
    pub name: String,
    /// Whether it answered.
    pub ok: bool,
    /// What went wrong when it did not.
    pub detail: Option<String>,
}

/// `POST /api/dispositions`: the agent's disposition of one call, from the mandatory modal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionRequest {
    /// Client-generated idempotency key (the call's id): 8 to 64 of `[A-Za-z0-9_-]`. Sending
    /// the same request again returns the same answer and has no second effect.
    pub id: String,
    /// The lead of the call (`vicidial_list.lead_id`).
    pub lead_id: i64,
    /// The chosen VICIdial status code.
    pub status: String,
    /// Required when the status has `scheduled_callback`.
    pub callback: Option<CallbackRequest>,
    /// The agent's notes.
    pub notes: String,
    /// Facts about the call.
    pub call: CallInfo,
}

/// A callback picked in the modal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// RFC 3339 instant with offset, e.g. `2026-12-01T09:30:00-06:00`.
    pub at: String,
    /// The agent's IANA time zone the time was picked in.
    pub time_zone: String,
    /// `USERONLY` or `ANYONE`.
    pub recipient: String,
    /// Callback comments.
    pub comments: String,
}

/// Facts about the call being dispositioned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInfo {
    /// RFC 3339 start of the call.
    pub started_at: String,
    /// Talk time in seconds.
    pub duration_secs: u32,
    /// VICIdial's uniqueid of the call, when the screen knows it.
    pub vicidial_uniqueid: Option<String>,
}

/// Where one target (VICIdial, GHL) stands with a disposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Queued, not yet tried.
    Pending,
    /// Being applied now.
    Running,
    /// Applied.
    Done,
    /// Failed for a passing reason; will be tried again.
    Retrying,
    /// Failed for good; parked for an admin with its reason.
    Failed,
}

/// One target's state for a disposition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetStatus {
    /// `vicidial` or `ghl`.
    pub target: String,
    /// Its state.
    pub state: TargetState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
}

/// `202 Accepted` answer to a disposition, and the payload of its live updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionAccepted {
    /// The idempotency key.
    pub id: String,
    /// One entry per target.
    pub targets: Vec<TargetStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_config_round_trips_through_json() {
        let cfg = RuntimeConfig {
            version: "1.2.3".into(),
            vicidial_web_origin: Some("https://dialer.example".into()),
            login_available: true,
        };
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains("\"vicidial_web_origin\":\"https://dialer.example\""));
        assert_eq!(serde_json::from_str::<RuntimeConfig>(&json).unwrap(), cfg);
    }

    #[test]
    fn api_error_body_has_code_and_message() {
        let body: ApiErrorBody = serde_json::from_str(
            r#"{"code":"invalid_credentials","message":"Wrong user or password"}"#,
        )
        .unwrap();
        assert_eq!(body.code, "invalid_credentials");
    }
}
