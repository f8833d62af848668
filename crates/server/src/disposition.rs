//! What a disposition is, once accepted, and the seams between the modules that handle it:
//! the VICIdial side ([`CallContext`] for validation, a [`DispositionTarget`] for applying it),
//! the GHL side (another [`DispositionTarget`]) and the outbox that drives both.
//!
//! Actions follow VICIdial's status flags (`sale`, `dnc`, `scheduled_callback`, ...), never
//! hard-coded status codes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// A VICIdial status as the disposition modal offers it (`vicidial_statuses` plus
/// `vicidial_campaign_statuses`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDef {
    /// The status code, e.g. `SALE`, `CALLBK`, `DNC`.
    pub status: String,
    /// Its label, e.g. `Sale Made`.
    pub status_name: String,
    /// `selectable='Y'`: agents may choose it.
    pub selectable: bool,
    /// The flags that decide what happens in VICIdial and GHL.
    pub flags: StatusFlags,
    /// Defined for the campaign (`vicidial_campaign_statuses`) rather than system-wide.
    pub campaign_specific: bool,
}

/// VICIdial's per-status flags (`'Y'`/`'N'` columns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFlags {
    /// `sale`.
    pub sale: bool,
    /// `dnc`.
    pub dnc: bool,
    /// `scheduled_callback`.
    pub scheduled_callback: bool,
    /// `customer_contact`.
    pub customer_contact: bool,
    /// `not_interested`.
    pub not_interested: bool,
    /// `human_answered`.
    pub human_answered: bool,
    /// `completed`.
    pub completed: bool,
    /// `unworkable`.
    pub unworkable: bool,
}

/// Who may take a scheduled callback (`vicidial_callbacks.recipient`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallbackRecipient {
    /// `USERONLY`: only the agent who set it.
    UserOnly,
    /// `ANYONE`: any agent of the campaign.
    Anyone,
}

/// A scheduled callback chosen in the modal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// When to call back, as an instant.
    pub at: DateTime<Utc>,
    /// The agent's IANA time zone the time was picked in (e.g. `America/Chicago`).
    pub agent_time_zone: String,
    /// `USERONLY` or `ANYONE`.
    pub recipient: CallbackRecipient,
    /// Callback comments.
    pub comments: String,
}

/// The lead as VICIdial has it (`vicidial_list`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    /// `lead_id`.
    pub lead_id: i64,
    /// `list_id`.
    pub list_id: i64,
    /// `first_name`.
    pub first_name: String,
    /// `last_name`.
    pub last_name: String,
    /// `phone_number` (digits as stored).
    pub phone_number: String,
    /// `phone_code` (country calling code, `1` for NANP).
    pub phone_code: String,
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
    /// `country_code`.
    pub country_code: String,
    /// `comments`.
    pub comments: String,
    /// `status` (last status).
    pub status: String,
    /// `called_count`.
    pub called_count: i64,
    /// `vendor_lead_code`.
    pub vendor_lead_code: String,
}

/// Facts about the call being dispositioned, taken by the server at acceptance: from VICIdial's
/// `vicidial_log` row of the call when there is one, else from the wrap-up. Never from the
/// client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFacts {
    /// VICIdial's id of the call (`callerid`, e.g. `M1202120000000000001`), or the wrap-up's
    /// stand-in when VICIdial named none; empty when the server knew no call.
    pub call_id: String,
    /// The call's `vicidial_log.uniqueid`, when VICIdial logged it.
    pub vicidial_uniqueid: Option<String>,
    /// When the call started (`vicidial_log.start_epoch`, else when the wrap-up began).
    pub started_at: DateTime<Utc>,
    /// Talk time in seconds (`vicidial_log.length_in_sec`), when VICIdial logged the call's end.
    #[serde(default)]
    pub duration_secs: Option<u32>,
}

/// An accepted disposition: everything a target needs, frozen at acceptance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// dialdeck's unique id of the disposition (derived from the agent and the client's
    /// idempotency key); targets key their idempotency on it.
    pub id: String,
    /// The idempotency key the agent's browser gave it (unique per agent only).
    #[serde(default)]
    pub client_id: String,
    /// VICIdial agent user.
    pub agent_user: String,
    /// The campaign.
    pub campaign_id: String,
    /// The lead.
    pub lead: Lead,
    /// The chosen status with its flags.
    pub status: StatusDef,
    /// Present when the status has `scheduled_callback`.
    pub callback: Option<Callback>,
    /// The agent's notes (length-limited at acceptance).
    pub notes: String,
    /// The call.
    pub call: CallFacts,
    /// When the server accepted it.
    pub accepted_at: DateTime<Utc>,
}

/// Why applying a disposition to a target did not succeed, as the outbox needs to know it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Try again later (rate limit, timeout, 5xx, upstream down). `retry_after` is the
    /// upstream's own hint when it gave one.
    #[error("retryable: {reason}")]
    Retryable {
        /// What happened, safe to show to admins.
        reason: String,
        /// Upstream's hint (e.g. from a 429).
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (invalid request, needs re-authorisation, unknown lead): park it.
    #[error("permanent: {reason}")]
    Permanent {
        /// What happened, safe to show to admins.
        reason: String,
    },
}

/// One place a disposition must reach exactly once (VICIdial, GHL).
///
/// `apply` must be idempotent per `disposition.id`: the outbox calls it again after crashes,
/// timeouts and lease expiry, and a second call must not create a second effect.
#[async_trait]
pub trait DispositionTarget: Send + Sync {
    /// Stable target name stored with each outbox job (`vicidial`, `ghl`).
    fn name(&self) -> &'static str;
    /// Applies the disposition; `Ok` carries a receipt (ids created, etc.) for the record.
    async fn apply(&self, disposition: &Disposition) -> Result<serde_json::Value, ApplyError>;
}

/// The agent's live call as VICIdial's database shows it (`vicidial_live_agents`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    /// Agent user.
    pub agent_user: String,
    /// `campaign_id`.
    pub campaign_id: String,
    /// `lead_id` (0 when none).
    pub lead_id: i64,
    /// `status` (`INCALL`, `PAUSED`, `READY`, ...).
    pub status: String,
    /// `callerid` of the current call when known.
    pub call_id: Option<String>,
    /// `uniqueid` of the current call (its `vicidial_log` row) once the customer answered.
    #[serde(default)]
    pub uniqueid: Option<String>,
}

/// The call a disposition is for, as the server knows it: what [`CallContext::call_facts`]
/// looks up in VICIdial's call log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRef {
    /// The agent.
    pub agent_user: String,
    /// The campaign.
    pub campaign_id: String,
    /// The lead.
    pub lead_id: i64,
    /// VICIdial's call id (`callerid`), empty when unknown.
    pub call_id: String,
    /// The call's `uniqueid`, when the live row still shows it.
    pub uniqueid: Option<String>,
    /// Unix seconds when the call ended (the wrap-up began), `None` while it is still up.
    pub ended_at: Option<i64>,
}

/// A call's `vicidial_log` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedCall {
    /// `uniqueid`.
    pub uniqueid: String,
    /// `start_epoch` (Unix seconds).
    pub start_epoch: i64,
    /// `end_epoch` (Unix seconds), `None` while the call is up.
    pub end_epoch: Option<i64>,
    /// `length_in_sec`, once the call ended.
    pub length_in_sec: Option<u32>,
}

/// What a callback may be, for one agent in one campaign, and the callback's time as VICIdial
/// will see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackRules {
    /// `vicidial_users.agentonly_callbacks = '1'`: the agent may keep a callback to
    /// themselves (`USERONLY`, VICIdial's "MY CALLBACK ONLY"); `ANYONE` is always allowed.
    pub user_only_allowed: bool,
    /// `vicidial_campaigns.callback_days_limit`: how many days ahead a callback may be
    /// (0: no limit).
    pub days_limit: u32,
    /// Today in VICIdial's server-local time.
    pub local_today: NaiveDate,
    /// The callback's time in VICIdial's server-local time (what `callback_datetime` gets).
    pub local_at: NaiveDateTime,
}

/// What disposition validation needs to know from VICIdial.
#[async_trait]
pub trait CallContext: Send + Sync {
    /// Statuses the agent may choose in `campaign_id` (selectable system statuses plus the
    /// campaign's own).
    async fn selectable_statuses(&self, campaign_id: &str) -> anyhow::Result<Vec<StatusDef>>;
    /// The agent's live VICIdial row, if logged in.
    async fn live_call(&self, agent_user: &str) -> anyhow::Result<Option<LiveCall>>;
    /// The lead by id.
    async fn lead(&self, lead_id: i64) -> anyhow::Result<Option<Lead>>;
    /// The call's row in VICIdial's call log, if VICIdial logged it.
    async fn call_facts(&self, call: &CallRef) -> anyhow::Result<Option<LoggedCall>>;
    /// The agent's callback rights in `campaign_id`, and `at` in VICIdial's local time.
    async fn callback_rules(
        &self,
        agent_user: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<CallbackRules>;
}
