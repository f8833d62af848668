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

/// Answer to `POST /api/login` and `GET /api/me`: the logged-in agent and everything the
/// browser needs for the shift. Sent only to that agent's own browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    /// VICIdial `vicidial_users.user`.
    pub user: String,
    /// `vicidial_users.full_name`.
    pub full_name: String,
    /// `vicidial_users.user_level` (1 agent … 9 admin).
    pub user_level: i64,
    /// The campaign the agent works in.
    pub campaign_id: String,
    /// The agent's softphone account (`phones` row linked to the agent).
    pub phone: PhoneConfig,
    /// How the browser opens VICIdial's own agent screen in a hidden frame.
    pub screen: AgentScreenLogin,
}

/// The agent's softphone account, from VICIdial's `phones` and `servers` rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneConfig {
    /// Address of record, e.g. `sip:cc1001@10.10.0.5`.
    pub sip_uri: String,
    /// Digest user (`phones.extension`).
    pub auth_user: String,
    /// Digest password (`phones.conf_secret`).
    pub password: String,
    /// Display name for From headers (the agent's full name).
    pub display_name: String,
    /// SIP over WebSocket URL (`servers.web_socket_url`), `wss://…` (or `ws://` on loopback).
    pub ws_url: String,
    /// ICE server URLs (`stun:`, `turn:`), from the server's configuration.
    pub ice_servers: Vec<String>,
    /// The agent's session conference (`vicidial_live_agents.conf_exten`) once VICIdial's
    /// screen has logged in, so the phone can dial into it if VICIdial does not call it.
    pub conf_exten: Option<String>,
    /// Answer VICIdial's call into the session conference without ringing.
    pub auto_answer: bool,
    /// The phone joins the session conference by dialling it (`phones.is_webphone` is on, so
    /// VICIdial does not call the phone at login); otherwise VICIdial calls the phone.
    #[serde(default)]
    pub join_by_dialing: bool,
    /// What to dial before the conference number: `2` on ConfBridge servers (the agent's
    /// profile), empty on MeetMe.
    #[serde(default)]
    pub conference_prefix: String,
}

/// Form fields for VICIdial's own agent screen (`agc/vicidial.php`), which the browser POSTs
/// into a hidden frame. The agent's own password (`VD_pass`) is not here: the browser adds
/// the one the agent just typed and never stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentScreenLogin {
    /// Absolute URL of `agc/vicidial.php`.
    pub url: String,
    /// `VD_campaign`.
    pub campaign: String,
    /// `phone_login` (`phones.login`).
    pub phone_login: String,
    /// `phone_pass` (`phones.pass`).
    pub phone_pass: String,
}

/// The agent's VICIdial state, pushed by the server (`GET /api/agent/events`, SSE) from
/// `vicidial_live_agents` once a second, and returned by `GET /api/agent/state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// Whether VICIdial has a live session for the agent.
    pub logged_in: bool,
    /// `vicidial_live_agents.status`: `PAUSED`, `READY`, `INCALL`, `QUEUE`, `CLOSER`.
    pub status: String,
    /// VICIdial's real-time sub-status: `DIAL`, `DISPO`, `DEAD`, … or empty.
    pub sub_status: String,
    /// The lead on screen (0 when none).
    pub lead_id: i64,
    /// The session conference (`conf_exten`).
    pub conf_exten: String,
    /// VICIdial's id of the current call (`callerid`), when there is one.
    pub call_id: Option<String>,
    /// The pause code, when paused with one.
    pub pause_code: String,
    /// The call waiting for a disposition (server-enforced wrap-up), if any.
    pub wrapup: Option<WrapupInfo>,
}

/// A call that ended and still needs a disposition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapupInfo {
    /// The lead of the call.
    pub lead_id: i64,
    /// The call's id; use it as the disposition's idempotency key.
    pub call_id: String,
    /// Unix seconds when the call ended.
    pub ended_at: i64,
}

/// `POST /api/call/dial`: a manual dial, by number or by lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialRequest {
    /// Digits to dial (formatting characters are allowed and removed); ignored with `lead_id`.
    pub phone_number: Option<String>,
    /// Country calling code (`1` for NANP); defaults to `1`.
    pub phone_code: Option<String>,
    /// Dial this lead instead of a number.
    pub lead_id: Option<i64>,
}

/// A status the disposition modal offers (`GET /api/statuses`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusOption {
    /// Status code, e.g. `SALE`.
    pub status: String,
    /// Label, e.g. `Sale Made`.
    pub name: String,
    /// `sale='Y'`.
    pub sale: bool,
    /// `dnc='Y'`.
    pub dnc: bool,
    /// `scheduled_callback='Y'`: the modal asks for a date, time and recipient.
    pub scheduled_callback: bool,
}

/// The lead on screen (`GET /api/lead/{id}`), from `vicidial_list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadView {
    /// `lead_id`.
    pub lead_id: i64,
    /// `first_name`.
    pub first_name: String,
    /// `last_name`.
    pub last_name: String,
    /// `phone_code`.
    pub phone_code: String,
    /// `phone_number`.
    pub phone_number: String,
    /// `email`.
    pub email: String,
    /// `address1`.
    pub address1: String,
    /// `city`.
    pub city: String,
    /// `state`.
    pub state: String,
    /// `postal_code`.
    pub postal_code: String,
    /// `comments`.
    pub comments: String,
    /// Last status.
    pub status: String,
    /// `called_count`.
    pub called_count: i64,
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
