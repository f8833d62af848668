//! Reads from VICIdial's MariaDB: the agent's phone, statuses, leads, live agent rows and the
//! evidence that a disposition was applied. The only write is the per-call note into
//! `vicidial_call_notes`, the table VICIdial's own screen keeps call notes in (reference §6);
//! `vicidial_list.status` is never written here.

use chrono::{DateTime, Utc};
use sqlx::{MySqlPool, Row};

use crate::disposition::{Lead, StatusDef, StatusFlags};

/// The agent's phone and its telephony server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneRow {
    /// `phones.extension` (SIP user).
    pub extension: String,
    /// `phones.conf_secret` (SIP password).
    pub conf_secret: String,
    /// `phones.login` (agent-screen phone login).
    pub login: String,
    /// `phones.pass` (agent-screen phone password).
    pub pass: String,
    /// SIP host: `phones.server_ip`, or `servers.external_server_ip` when the phone says so.
    pub sip_host: String,
    /// `servers.web_socket_url` (or `external_web_socket_url`).
    pub ws_url: String,
    /// `phones.webphone_auto_answer`.
    pub auto_answer: bool,
    /// `phones.is_webphone` is on (`Y`, `Y_API_LAUNCH`): VICIdial does not call the phone into
    /// the session at login; the phone dials in.
    pub is_webphone: bool,
    /// `servers.conf_engine = 'CONFBRIDGE'`.
    pub confbridge: bool,
}

/// One `vicidial_live_agents` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveRow {
    /// `user`.
    pub user: String,
    /// `status`.
    pub status: String,
    /// `lead_id`.
    pub lead_id: i64,
    /// `campaign_id`.
    pub campaign_id: String,
    /// `conf_exten`.
    pub conf_exten: String,
    /// `callerid` (VICIdial's call id, `M…` for manual dials).
    pub callerid: String,
    /// `uniqueid` (set once the customer channel is up).
    pub uniqueid: String,
    /// `pause_code`.
    pub pause_code: String,
    /// The queued, not yet consumed `external_status` request.
    pub external_status: String,
}

impl LiveRow {
    /// VICIdial's real-time sub-status as far as this row shows it: `DISPO` (paused with a
    /// lead), `DIAL` (in call, no customer channel yet), or empty.
    pub fn sub_status(&self) -> &'static str {
        match (self.status.as_str(), self.lead_id > 0) {
            ("PAUSED", true) => "DISPO",
            ("INCALL", true) if self.uniqueid.is_empty() => "DIAL",
            _ => "",
        }
    }
}

fn yn(row: &sqlx::mysql::MySqlRow, col: &str) -> bool {
    row.try_get::<String, _>(col).is_ok_and(|v| v == "Y")
}

fn s(row: &sqlx::mysql::MySqlRow, col: &str) -> String {
    row.try_get::<Option<String>, _>(col)
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn int(row: &sqlx::mysql::MySqlRow, col: &str) -> i64 {
    if let Ok(v) = row.try_get::<Option<i64>, _>(col) {
        return v.unwrap_or(0);
    }
    if let Ok(v) = row.try_get::<Option<u32>, _>(col) {
        return v.map(i64::from).unwrap_or(0);
    }
    if let Ok(v) = row.try_get::<Option<u64>, _>(col) {
        return v.map(|v| v as i64).unwrap_or(0);
    }
    if let Ok(v) = row.try_get::<Option<i32>, _>(col) {
        return v.map(i64::from).unwrap_or(0);
    }
    if let Ok(v) = row.try_get::<Option<u16>, _>(col) {
        return v.map(i64::from).unwrap_or(0);
    }
    if let Ok(v) = row.try_get::<Option<u8>, _>(col) {
        return v.map(i64::from).unwrap_or(0);
    }
    0
}

/// The phone linked to `user` (`vicidial_users.phone_login` → `phones.login`), active, with its
/// server.
pub async fn phone_for(db: &MySqlPool, user: &str) -> anyhow::Result<Option<PhoneRow>> {
    let row = sqlx::query(
        "SELECT p.extension, p.conf_secret, p.login, p.pass, p.server_ip, p.use_external_server_ip, \
         p.webphone_auto_answer, p.is_webphone, s.conf_engine, s.web_socket_url, s.external_web_socket_url, s.external_server_ip \
         FROM vicidial_users u JOIN phones p ON p.login = u.phone_login AND p.active = 'Y' \
         JOIN servers s ON s.server_ip = p.server_ip \
         WHERE u.user = ? AND u.phone_login <> '' LIMIT 1",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        let external = yn(&r, "use_external_server_ip");
        let ext_ip = s(&r, "external_server_ip");
        let ext_ws = s(&r, "external_web_socket_url");
        PhoneRow {
            extension: s(&r, "extension"),
            conf_secret: s(&r, "conf_secret"),
            login: s(&r, "login"),
            pass: s(&r, "pass"),
            sip_host: if external && !ext_ip.is_empty() {
                ext_ip
            } else {
                s(&r, "server_ip")
            },
            ws_url: if external && !ext_ws.is_empty() {
                ext_ws
            } else {
                s(&r, "web_socket_url")
            },
            auto_answer: s(&r, "webphone_auto_answer") != "N",
            is_webphone: s(&r, "is_webphone").starts_with('Y'),
            confbridge: s(&r, "conf_engine") == "CONFBRIDGE",
        }
    }))
}

/// `vicidial_users.agentcall_manual = '1'`: the agent may place manual dials via the API.
pub async fn may_dial_manually(db: &MySqlPool, user: &str) -> anyhow::Result<bool> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT agentcall_manual FROM vicidial_users WHERE user = ?")
            .bind(user)
            .fetch_optional(db)
            .await?;
    Ok(v.as_deref() == Some("1"))
}

/// The statuses an agent may see in `campaign_id`: selectable system statuses, with the
/// campaign's own statuses added or overriding a system status of the same code.
pub async fn statuses(db: &MySqlPool, campaign_id: &str) -> anyhow::Result<Vec<StatusDef>> {
    let cols = "status, status_name, selectable, sale, dnc, scheduled_callback, customer_contact, \
                not_interested, human_answered, completed, unworkable";
    let system = sqlx::query(&format!(
        "SELECT {cols} FROM vicidial_statuses ORDER BY status"
    ))
    .fetch_all(db)
    .await?;
    let campaign = sqlx::query(&format!(
        "SELECT {cols} FROM vicidial_campaign_statuses WHERE campaign_id = ? ORDER BY status"
    ))
    .bind(campaign_id)
    .fetch_all(db)
    .await?;
    let def = |r: &sqlx::mysql::MySqlRow, campaign_specific: bool| StatusDef {
        status: s(r, "status"),
        status_name: s(r, "status_name"),
        selectable: yn(r, "selectable"),
        flags: StatusFlags {
            sale: yn(r, "sale"),
            dnc: yn(r, "dnc"),
            scheduled_callback: yn(r, "scheduled_callback"),
            customer_contact: yn(r, "customer_contact"),
            not_interested: yn(r, "not_interested"),
            human_answered: yn(r, "human_answered"),
            completed: yn(r, "completed"),
            unworkable: yn(r, "unworkable"),
        },
        campaign_specific,
    };
    let mut out: Vec<StatusDef> = system.iter().map(|r| def(r, false)).collect();
    for r in &campaign {
        let d = def(r, true);
        match out.iter_mut().find(|s| s.status == d.status) {
            Some(existing) => *existing = d,
            None => out.push(d),
        }
    }
    Ok(out)
}

/// A lead from `vicidial_list`.
pub async fn lead(db: &MySqlPool, lead_id: i64) -> anyhow::Result<Option<Lead>> {
    let row = sqlx::query(
        "SELECT lead_id, list_id, first_name, last_name, phone_number, phone_code, email, address1, city, \
         state, postal_code, country_code, comments, status, called_count, vendor_lead_code \
         FROM vicidial_list WHERE lead_id = ?",
    )
    .bind(lead_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Lead {
        lead_id: int(&r, "lead_id"),
        list_id: int(&r, "list_id"),
        first_name: s(&r, "first_name"),
        last_name: s(&r, "last_name"),
        phone_number: s(&r, "phone_number"),
        phone_code: s(&r, "phone_code"),
        email: s(&r, "email"),
        address1: s(&r, "address1"),
        city: s(&r, "city"),
        state: s(&r, "state"),
        postal_code: s(&r, "postal_code"),
        country_code: s(&r, "country_code"),
        comments: s(&r, "comments"),
        status: s(&r, "status"),
        called_count: int(&r, "called_count"),
        vendor_lead_code: s(&r, "vendor_lead_code"),
    }))
}

const LIVE_COLS: &str = "user, status, lead_id, campaign_id, conf_exten, callerid, uniqueid, pause_code, external_status";

fn live_row(r: &sqlx::mysql::MySqlRow) -> LiveRow {
    LiveRow {
        user: s(r, "user"),
        status: s(r, "status"),
        lead_id: int(r, "lead_id"),
        campaign_id: s(r, "campaign_id"),
        conf_exten: s(r, "conf_exten"),
        callerid: s(r, "callerid"),
        uniqueid: s(r, "uniqueid"),
        pause_code: s(r, "pause_code"),
        external_status: s(r, "external_status"),
    }
}

/// Every logged-in agent, one query (the live-state poller's once-a-second read).
pub async fn live_rows(db: &MySqlPool) -> anyhow::Result<Vec<LiveRow>> {
    let rows = sqlx::query(&format!("SELECT {LIVE_COLS} FROM vicidial_live_agents"))
        .fetch_all(db)
        .await?;
    Ok(rows.iter().map(live_row).collect())
}

/// One agent's live row.
pub async fn live_row_of(db: &MySqlPool, user: &str) -> anyhow::Result<Option<LiveRow>> {
    let row = sqlx::query(&format!(
        "SELECT {LIVE_COLS} FROM vicidial_live_agents WHERE user = ?"
    ))
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(live_row))
}

/// Seconds since the agent's screen last polled (`last_update_time`, refreshed by its
/// `conf_exten_check.php` about once a second); `None` when the agent is not logged in.
pub async fn screen_age_secs(db: &MySqlPool, user: &str) -> anyhow::Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT COALESCE(TIMESTAMPDIFF(SECOND, last_update_time, NOW()), 999999) \
         FROM vicidial_live_agents WHERE user = ?",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<i64, _>(0)?),
        None => None,
    })
}

/// The lead's current `status` and `user`.
pub async fn lead_status(db: &MySqlPool, lead_id: i64) -> anyhow::Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT status, user FROM vicidial_list WHERE lead_id = ?")
        .bind(lead_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (s(&r, "status"), s(&r, "user"))))
}

/// The newest `vicidial_log` row of this lead by this agent since `since`: (uniqueid, status).
pub async fn call_log(
    db: &MySqlPool,
    lead_id: i64,
    user: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT uniqueid, status FROM vicidial_log WHERE lead_id = ? AND user = ? AND start_epoch >= ? \
         ORDER BY start_epoch DESC LIMIT 1",
    )
    .bind(lead_id)
    .bind(user)
    .bind(since.timestamp() - 4 * 3600)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (s(&r, "uniqueid"), s(&r, "status"))))
}

/// Whether an ACTIVE or LIVE callback exists for the lead with this status.
pub async fn has_callback(db: &MySqlPool, lead_id: i64, lead_status: &str) -> anyhow::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vicidial_callbacks WHERE lead_id = ? AND lead_status = ? AND status IN ('ACTIVE','LIVE')",
    )
    .bind(lead_id)
    .bind(lead_status)
    .fetch_one(db)
    .await?;
    Ok(n > 0)
}

/// The campaign's DNC settings: (`use_internal_dnc`, `use_campaign_dnc`) as `Y`/`N`/`AREACODE`.
pub async fn campaign_dnc(db: &MySqlPool, campaign_id: &str) -> anyhow::Result<(String, String)> {
    let row = sqlx::query(
        "SELECT use_internal_dnc, use_campaign_dnc FROM vicidial_campaigns WHERE campaign_id = ?",
    )
    .bind(campaign_id)
    .fetch_optional(db)
    .await?;
    Ok(row
        .map(|r| (s(&r, "use_internal_dnc"), s(&r, "use_campaign_dnc")))
        .unwrap_or_default())
}

/// Seconds the VICIdial database's local time is ahead of UTC (its DATETIMEs have no zone).
pub async fn utc_offset_secs(db: &MySqlPool) -> anyhow::Result<i64> {
    let secs: i64 = sqlx::query_scalar("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())")
        .fetch_one(db)
        .await?;
    // Round to the minute: the two clocks are read a moment apart.
    Ok((secs as f64 / 60.0).round() as i64 * 60)
}

/// Stores the call's notes where VICIdial's agent screen keeps them (`vicidial_call_notes`),
/// once: a retry finds the same note and adds nothing.
pub async fn insert_call_notes(
    db: &MySqlPool,
    lead_id: i64,
    vicidial_id: &str,
    local_call_date: &str,
    notes: &str,
) -> anyhow::Result<bool> {
    let existing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vicidial_call_notes WHERE lead_id = ? AND vicidial_id = ? AND call_notes = ?",
    )
    .bind(lead_id)
    .bind(vicidial_id)
    .bind(notes)
    .fetch_one(db)
    .await?;
    if existing > 0 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO vicidial_call_notes (lead_id, vicidial_id, call_date, call_notes) VALUES (?, ?, ?, ?)")
        .bind(lead_id)
        .bind(vicidial_id)
        .bind(local_call_date)
        .bind(notes)
        .execute(db)
        .await?;
    Ok(true)
}
