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

/// `POST /api/login`: an agent's VICIdial user and password. Its `Debug` never shows the
/// password, so a request logged by mistake leaks nothing.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// VICIdial `vicidial_users.user`.
    pub user: String,
    /// The agent's VICIdial password (sent over HTTPS only, never stored by the browser).
    pub password: String,
    /// The campaign to work in, one of [`CampaignOption`]s `POST /api/login/campaigns`
    /// returned for this user. Ignored by `POST /api/admin/login`.
    #[serde(default)]
    pub campaign: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("campaign", &self.campaign)
            .finish()
    }
}

/// A campaign the agent may log into (`vicidial_campaigns`, allowed by the agent's user
/// group's `allowed_campaigns`), from `POST /api/login/campaigns` (body: a [`LoginRequest`]
/// whose `campaign` is ignored; the password is checked as for a login).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignOption {
    /// `campaign_id`.
    pub campaign_id: String,
    /// `campaign_name`.
    pub campaign_name: String,
}

/// Health answer of `GET /readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `true` when every required dependency is usable.
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
    /// Whether readiness depends on it. GHL is shown but not required: dispositions wait in
    /// the outbox while it is down, and agents keep working.
    #[serde(default)]
    pub required: bool,
}

/// `POST /api/dispositions`: the agent's disposition of the call in wrap-up, from the mandatory
/// modal. Which call it is (VICIdial's call id, the lead, the campaign, the call's times) the
/// server takes from its own wrap-up and live state, never from the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionRequest {
    /// Idempotency key made by the browser when the modal opens (random): 8 to 64 of
    /// `[A-Za-z0-9_-]`. Scoped to the agent: the same request again from the same agent returns
    /// the first answer and has no second effect; other agents' keys never collide with it.
    pub id: String,
    /// The lead the modal shows: must be the lead of the agent's wrap-up (else `409`), so a
    /// modal left open on a stale call cannot disposition another one.
    pub lead_id: i64,
    /// The chosen VICIdial status code.
    pub status: String,
    /// Required when the status has `scheduled_callback`, refused otherwise.
    pub callback: Option<CallbackRequest>,
    /// The agent's notes.
    pub notes: String,
}

/// A callback picked in the modal, in the agent's own time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// Local date and time in `time_zone`, `YYYY-MM-DDTHH:MM` (what an
    /// `<input type="datetime-local">` gives); must be in the future.
    pub at_local: String,
    /// The agent's IANA time zone (e.g. `America/Chicago`), the browser's own.
    pub time_zone: String,
    /// Who may take the callback.
    pub recipient: Recipient,
    /// Callback comments (VICIdial keeps 200 characters of `[- ._0-9a-zA-Z]`).
    pub comments: String,
}

/// Who may take a scheduled callback (`vicidial_callbacks.recipient`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recipient {
    /// `USERONLY`: only the agent who set it ("Me").
    #[serde(rename = "USERONLY")]
    UserOnly,
    /// `ANYONE`: any agent of the campaign.
    #[serde(rename = "ANYONE")]
    Anyone,
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
    /// Unix seconds of the next attempt, while retrying.
    #[serde(default)]
    pub next_attempt_at: Option<i64>,
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
    /// Its `campaign_name`.
    #[serde(default)]
    pub campaign_name: String,
    /// The agent's softphone account (`phones` row linked to the agent).
    pub phone: PhoneConfig,
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

/// The agent's VICIdial state, pushed by the server (`GET /api/agent/events`, SSE, event
/// `state`) from `vicidial_live_agents` and `live_sip_channels` once a poll interval, and
/// returned by `GET /api/agent/state` and the call-control routes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// Whether VICIdial's own agent screen (the hidden frame) has a session and polls.
    pub screen: ScreenLink,
    /// `vicidial_live_agents.status`; `None` without a session.
    pub status: Option<AgentStatus>,
    /// VICIdial's real-time sub-status (as Non-Agent `agent_status` reports it).
    pub sub_status: SubStatus,
    /// The lead on screen (0 when none).
    pub lead_id: i64,
    /// The session conference (`conf_exten`), empty without a session.
    pub conf_exten: String,
    /// A channel of the agent's phone is in the session conference (VICIdial's
    /// `live_sip_channels` / `live_channels` rows for `conf_exten`).
    pub phone_in_session: bool,
    /// The customer call VICIdial has for the agent now, if any.
    pub call: Option<LiveCall>,
    /// The pause code, when paused with one.
    pub pause_code: String,
    /// The call waiting for a disposition (server-enforced wrap-up), if any.
    pub wrapup: Option<WrapupInfo>,
}

impl AgentState {
    /// Whether VICIdial has a session (a `vicidial_live_agents` row) for the agent.
    pub fn logged_in(&self) -> bool {
        self.screen != ScreenLink::NotLoggedIn
    }

    /// Why a manual dial is not possible now, or `None` when it is. The server refuses a dial
    /// for the same reasons (it checks fresher data), so the desk's disabled button and the
    /// server's refusal say the same thing.
    pub fn dial_block(&self) -> Option<DialBlock> {
        Some(match &self.screen {
            ScreenLink::NotLoggedIn => DialBlock::NoSession,
            ScreenLink::NotPolling { .. } => DialBlock::ScreenNotConnected,
            ScreenLink::Connected if self.wrapup.is_some() => DialBlock::WrapUp,
            ScreenLink::Connected
                if self.status == Some(AgentStatus::InCall) || self.call.is_some() =>
            {
                DialBlock::InCall
            }
            ScreenLink::Connected if self.status != Some(AgentStatus::Paused) => {
                DialBlock::NotPaused
            }
            ScreenLink::Connected if self.lead_id > 0 => DialBlock::DispoStep,
            ScreenLink::Connected if !self.phone_in_session => DialBlock::PhoneNotInSession,
            ScreenLink::Connected => return None,
        })
    }
}

/// Where VICIdial's agent screen (`agc/vicidial.php` in the hidden frame) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenLink {
    /// No `vicidial_live_agents` row: VICIdial has no session for the agent.
    NotLoggedIn,
    /// A session exists but the screen stopped polling (`last_update_time` is older than a
    /// few seconds): queued requests would wait, so the desk rejoins it.
    NotPolling {
        /// Seconds since the screen last polled.
        silent_secs: u32,
    },
    /// The screen polls: requests queued through the Agent API are carried out.
    Connected,
}

/// `vicidial_live_agents.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentStatus {
    /// `PAUSED`: not taking calls (manual-dial campaigns are always paused between calls).
    Paused,
    /// `READY`: waiting for a call (auto-dial or inbound campaigns).
    Ready,
    /// `QUEUE`: a call is being sent to the agent.
    Queue,
    /// `INCALL`: on a call.
    #[serde(rename = "INCALL")]
    InCall,
    /// `CLOSER`: waiting for inbound calls.
    Closer,
    /// `MQUEUE`: a manual-queue call is being sent to the agent.
    #[serde(rename = "MQUEUE")]
    MQueue,
}

impl AgentStatus {
    /// VICIdial's spelling (`PAUSED`, `INCALL`, ...), or `None` for a value VICIdial does not
    /// have.
    pub fn parse(s: &str) -> Option<AgentStatus> {
        Some(match s {
            "PAUSED" => AgentStatus::Paused,
            "READY" => AgentStatus::Ready,
            "QUEUE" => AgentStatus::Queue,
            "INCALL" => AgentStatus::InCall,
            "CLOSER" => AgentStatus::Closer,
            "MQUEUE" => AgentStatus::MQueue,
            _ => return None,
        })
    }
}

/// VICIdial's real-time sub-status (reference: Non-Agent `agent_status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubStatus {
    /// Nothing special.
    #[default]
    #[serde(rename = "")]
    None,
    /// `DIAL`: a manual dial not answered yet.
    Dial,
    /// `RING`: ringing.
    Ring,
    /// `DEAD`: in call, but the customer hung up.
    Dead,
    /// `DISPO`: paused with a lead: the disposition step.
    Dispo,
    /// `PREVIEW`: a lead previewed before dialling.
    Preview,
    /// `PARK`: the customer is parked.
    Park,
    /// `3-WAY`: a three-way call.
    #[serde(rename = "3-WAY")]
    ThreeWay,
}

/// The customer call VICIdial has for the agent (from `vicidial_live_agents.callerid`,
/// `vicidial_auto_calls` and `vicidial_log`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    /// VICIdial's call id (`callerid`, e.g. `M1202120000000000001`).
    pub call_id: String,
    /// The number dialled, digits as VICIdial has them (with its `phone_code`).
    pub phone_code: String,
    /// The number dialled, digits as VICIdial has them.
    pub phone_number: String,
    /// The number as people read it (`+1 312-555-1001`), as the lead and the lists show it;
    /// empty from a server that did not say.
    #[serde(default)]
    pub phone: String,
    /// Unix seconds when VICIdial placed the call.
    pub dialled_at: Option<i64>,
    /// Unix seconds when the customer answered (VICIdial's `vicidial_log.start_epoch`); the
    /// desk's call timer counts from here.
    pub answered_at: Option<i64>,
}

/// Why a manual dial cannot be placed now ([`AgentState::dial_block`]); the same codes are the
/// `code` of the server's refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialBlock {
    /// VICIdial has no session for the agent yet.
    NoSession,
    /// VICIdial's agent screen stopped polling; dialdeck is rejoining it.
    ScreenNotConnected,
    /// The agent's phone is not in the session conference, so the call would have no audio.
    PhoneNotInSession,
    /// The agent is in a call.
    InCall,
    /// The last call still needs its disposition.
    WrapUp,
    /// VICIdial is still on the disposition step of the last call.
    DispoStep,
    /// VICIdial takes manual dials only while the agent is paused (the agent is `READY`).
    NotPaused,
}

impl DialBlock {
    /// The sentence the desk shows next to the disabled Dial button.
    pub fn message(self) -> &'static str {
        match self {
            DialBlock::NoSession => "VICIdial's agent session is not open yet.",
            DialBlock::ScreenNotConnected => {
                "VICIdial's agent screen is not connected; dialdeck is reconnecting it."
            }
            DialBlock::PhoneNotInSession => "Your phone is not in the VICIdial session yet.",
            DialBlock::InCall => "You are in a call.",
            DialBlock::WrapUp => "Save the disposition of your last call first.",
            DialBlock::DispoStep => "VICIdial is still saving your last disposition.",
            DialBlock::NotPaused => {
                "Pause first: VICIdial takes manual dials only while you are paused."
            }
        }
    }

    /// The machine code (`snake_case`), as in the server's refusal.
    pub fn code(self) -> &'static str {
        match self {
            DialBlock::NoSession => "no_session",
            DialBlock::ScreenNotConnected => "screen_not_connected",
            DialBlock::PhoneNotInSession => "phone_not_in_session",
            DialBlock::InCall => "in_call",
            DialBlock::WrapUp => "wrap_up",
            DialBlock::DispoStep => "dispo_step",
            DialBlock::NotPaused => "not_paused",
        }
    }
}

/// A call that ended and still needs a disposition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapupInfo {
    /// The lead of the call.
    pub lead_id: i64,
    /// VICIdial's id of the call (`callerid`).
    pub call_id: String,
    /// Unix seconds when the call ended.
    pub ended_at: i64,
}

/// `POST /api/call/dial`: a manual dial through VICIdial, by number, by lead or by one of the
/// agent's callbacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialRequest {
    /// The number as the agent typed it (national or with `+`); ignored with `lead_id` or
    /// `callback_id`. The server parses it with libphonenumber's rules for `country`.
    pub phone_number: Option<String>,
    /// ISO 3166 region the number is read in (`US`, `GB`, ...); the campaign's default when
    /// absent.
    #[serde(default)]
    pub country: Option<String>,
    /// Dial this lead instead of a number.
    pub lead_id: Option<i64>,
    /// Dial the lead of this scheduled callback (`vicidial_callbacks.callback_id`) of the
    /// agent's ([`CallbackItem`]); VICIdial's callback is then taken.
    #[serde(default)]
    pub callback_id: Option<i64>,
}

/// `POST /api/phone/check`: is this a number VICIdial can dial, and how does it read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneCheckRequest {
    /// The number as typed.
    pub phone_number: String,
    /// ISO 3166 region it is read in; the campaign's default when absent.
    pub country: Option<String>,
}

/// Answer to `POST /api/phone/check` (a number that is not valid is a `400` with code
/// `invalid_phone_number` and a sentence saying why).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneCheck {
    /// E.164, e.g. `+13125551212`.
    pub e164: String,
    /// International format for people, e.g. `+1 312-555-1212`.
    pub formatted: String,
    /// The country calling code VICIdial gets as `phone_code`, e.g. `1`.
    pub phone_code: String,
    /// The national number VICIdial gets as `phone_number`, e.g. `3125551212`.
    pub national_number: String,
    /// ISO 3166 region of the number, when libphonenumber knows it.
    pub region: Option<String>,
}

/// A country in the dial box's picker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Country {
    /// ISO 3166 alpha-2, e.g. `US`.
    pub region: String,
    /// Country calling code, e.g. `1`.
    pub calling_code: u16,
    /// English name, e.g. `United States`.
    pub name: String,
}

/// `GET /api/campaign`: what the desk needs to know about the agent's campaign, from
/// VICIdial's tables (`vicidial_campaigns`, `vicidial_pause_codes`,
/// `vicidial_campaign_hotkeys`, statuses, the agent's `vicidial_users` callback rights).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignInfo {
    /// `campaign_id`.
    pub campaign_id: String,
    /// `campaign_name`.
    pub campaign_name: String,
    /// The campaign dials by itself (`auto_dial_level > 0` or inbound): Ready/Pause mean
    /// something. In a `MANUAL` campaign the agent is paused between calls by design.
    pub auto_dial: bool,
    /// `agent_pause_codes_active`.
    pub pause_codes_mode: PauseCodesMode,
    /// The campaign's pause codes.
    pub pause_codes: Vec<PauseCode>,
    /// The statuses the agent may choose (selectable system statuses and the campaign's own).
    pub statuses: Vec<StatusOption>,
    /// The campaign's status hotkeys (`1`..`9`) for the disposition modal.
    pub hotkeys: Vec<Hotkey>,
    /// What the agent may do with callbacks.
    pub callbacks: CallbackRules,
    /// Region the dial box starts with (from the campaign's country or the server's setting).
    pub default_country: String,
    /// Countries the dial box offers.
    pub countries: Vec<Country>,
}

/// `vicidial_campaigns.agent_pause_codes_active`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseCodesMode {
    /// `N`: no pause codes.
    Off,
    /// `Y`: the agent may choose one.
    Optional,
    /// `FORCE`: every pause needs one.
    Forced,
}

/// A pause code (`vicidial_pause_codes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseCode {
    /// `pause_code`, 1 to 6 characters.
    pub code: String,
    /// `pause_code_name`.
    pub name: String,
    /// `billable` is `YES` or `HALF`.
    pub billable: bool,
}

/// A status hotkey (`vicidial_campaign_hotkeys`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hotkey {
    /// The key, `1` to `9`.
    pub key: char,
    /// The status it picks.
    pub status: String,
    /// Its label.
    pub name: String,
}

/// The agent's callback rights in this campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRules {
    /// The campaign and the user allow scheduled callbacks (`scheduled_callbacks`).
    pub allowed: bool,
    /// The agent may keep a callback for themselves ("Me", `USERONLY`: VICIdial's "MY CALLBACK
    /// ONLY", `vicidial_users.agentonly_callbacks`); `ANYONE` is always allowed.
    pub me_allowed: bool,
    /// "Me" is preselected when allowed (`my_callback_option='CHECKED'`).
    pub me_by_default: bool,
    /// How many days ahead a callback may be (`callback_days_limit`, 0 = no limit).
    pub days_limit: u32,
}

/// `POST /api/agent/pause`: pause (with a pause code when given). `POST /api/agent/ready`
/// (no body) resumes in campaigns that dial by themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseRequest {
    /// One of the campaign's [`PauseCode`]s, when the agent chose one.
    pub code: Option<String>,
}

/// `POST /api/agent/screen-login`: the form the browser posts into the hidden frame to open
/// VICIdial's own agent screen, with every field VICIdial's login form posts. The agent's
/// password is in it (`VD_pass`): the server keeps it, encrypted with a key only the session
/// cookie holds, so that a reload can rejoin without asking. Sent with `no-store`, never
/// cached or logged. The browser overwrites `JS_browser_width` / `JS_browser_height` with
/// its window's size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenLoginForm {
    /// Absolute URL of `agc/vicidial.php`.
    pub url: String,
    /// Form fields in VICIdial's order.
    pub fields: Vec<FormField>,
}

/// One form field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// Field name.
    pub name: String,
    /// Field value.
    pub value: String,
}

/// A status the disposition modal offers.
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
    /// The number as people read it: international format (`+1 312-555-1001`) when it is a
    /// valid number for its `phone_code`, as every list on the desk shows numbers.
    #[serde(default)]
    pub phone: String,
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

/// `GET /api/lead/{id}/ghl`: the GoHighLevel contact matched to the lead (by phone, then
/// email), or `204 No Content` when there is none or GHL is not configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GhlContactView {
    /// GHL contact id.
    pub contact_id: String,
    /// Contact name as GHL has it.
    pub name: String,
    /// Email, when GHL has one.
    pub email: Option<String>,
    /// Phone in E.164, when GHL has one.
    pub phone: Option<String>,
    /// The contact's tags.
    pub tags: Vec<String>,
    /// Do-not-disturb is on.
    pub dnd: bool,
}

/// One call of the agent's shift (`GET /api/agent/calls`, newest first): what was
/// dispositioned and where each target stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentCall {
    /// The disposition's id (as in [`DispositionAccepted`]).
    pub disposition_id: String,
    /// The lead.
    pub lead_id: i64,
    /// Lead name.
    pub name: String,
    /// Number called, for people.
    pub phone: String,
    /// Status code.
    pub status: String,
    /// Status label.
    pub status_name: String,
    /// Unix seconds when the disposition was accepted.
    pub at: i64,
    /// Talk time in seconds, when VICIdial logged it.
    pub talk_secs: Option<u32>,
    /// Unix seconds of the callback it scheduled, if any.
    pub callback_at: Option<i64>,
    /// Each target's state.
    pub targets: Vec<TargetStatus>,
}

/// One of the agent's scheduled callbacks (`GET /api/agent/callbacks`): `USERONLY` ones of the
/// agent and `ANYONE` ones of the campaign, `ACTIVE` or `LIVE`, soonest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackItem {
    /// `callback_id`.
    pub callback_id: i64,
    /// The lead.
    pub lead_id: i64,
    /// Lead name.
    pub name: String,
    /// Number, for people.
    pub phone: String,
    /// Unix seconds of `callback_time` (VICIdial's local time converted).
    pub at: i64,
    /// Who may take it.
    pub recipient: Recipient,
    /// Callback comments.
    pub comments: String,
    /// The callback time has come (VICIdial's `LIVE`, or `callback_time` passed).
    pub due: bool,
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
    fn a_login_request_never_prints_its_password() {
        let req = LoginRequest {
            user: "1001".into(),
            password: "agentpass1".into(),
            campaign: None,
        };
        let shown = format!("{req:?}");
        assert!(
            shown.contains("1001") && !shown.contains("agentpass1"),
            "{shown}"
        );
    }

    #[test]
    fn api_error_body_has_code_and_message() {
        let body: ApiErrorBody = serde_json::from_str(
            r#"{"code":"invalid_credentials","message":"Wrong user or password"}"#,
        )
        .unwrap();
        assert_eq!(body.code, "invalid_credentials");
    }

    #[test]
    fn agent_state_speaks_vicidials_words_and_says_why_a_dial_is_blocked() {
        let mut s = AgentState {
            screen: ScreenLink::Connected,
            status: Some(AgentStatus::Paused),
            sub_status: SubStatus::None,
            lead_id: 0,
            conf_exten: "8600051".into(),
            phone_in_session: true,
            call: None,
            pause_code: String::new(),
            wrapup: None,
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["status"], "PAUSED");
        assert_eq!(json["sub_status"], "");
        assert_eq!(s.dial_block(), None);
        s.phone_in_session = false;
        assert_eq!(s.dial_block(), Some(DialBlock::PhoneNotInSession));
        s.screen = ScreenLink::NotPolling { silent_secs: 9 };
        assert_eq!(s.dial_block(), Some(DialBlock::ScreenNotConnected));
        s.screen = ScreenLink::Connected;
        s.status = Some(AgentStatus::InCall);
        s.sub_status = SubStatus::Dial;
        assert_eq!(serde_json::to_value(&s).unwrap()["status"], "INCALL");
        assert_eq!(serde_json::to_value(&s).unwrap()["sub_status"], "DIAL");
        assert_eq!(s.dial_block(), Some(DialBlock::InCall));
        s.status = Some(AgentStatus::Paused);
        s.lead_id = 7;
        assert_eq!(s.dial_block(), Some(DialBlock::DispoStep));
        assert_eq!(
            serde_json::from_str::<SubStatus>("\"3-WAY\"").unwrap(),
            SubStatus::ThreeWay
        );
        assert_eq!(
            serde_json::to_value(Recipient::UserOnly).unwrap(),
            "USERONLY"
        );
    }
}
