//! What a disposition is, once accepted, and the seams between the modules that handle it:
//! the VICIdial side ([`CallContext`] for validation, a [`DispositionTarget`] for applying it),
//! the GHL side (another [`DispositionTarget`]) and the outbox that drives both.
//!
//! Actions follow VICIdial's status flags (`sale`, `dnc`, `scheduled_callback`, ...), never
//! hard-coded status codes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
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

/// Facts about the call being dispositioned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFacts {
    /// Our id of the call (the disposition's idempotency key is derived from it).
    pub call_id: String,
    /// VICIdial's `uniqueid` / `vicidial_log` id when known.
    pub vicidial_uniqueid: Option<String>,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// Talk time in seconds.
    pub duration_secs: u32,
}

/// An accepted disposition: everything a target needs, frozen at acceptance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// Idempotency key from the client (the call's id); unique.
    pub id: String,
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
    /// `callerid` / uniqueid of the current call when known.
    pub call_id: Option<String>,
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
}
