//! Reads from VICIdial's MariaDB: the agent's phone, statuses, leads, live agent rows (with
//! the phone's channels in the session conference and the call VICIdial has), the campaign's
//! settings and the evidence that a disposition was applied. Two writes: the per-call note
//! into `vicidial_call_notes`, the table VICIdial's own screen keeps call notes in (reference
//! §6), and withdrawing our own queued manual dial from `vicidial_live_agents.external_dial`
//! when the screen did not take it ([`withdraw_dial`]). `vicidial_list.status` is never
//! written here.

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
    /// `server_ip`: the telephony server of the session.
    pub server_ip: String,
    /// `extension`: the agent's phone as Asterisk names its channels (`SIP/cc1001`).
    pub extension: String,
    /// `preview_lead_id`.
    pub preview_lead_id: i64,
    /// The queued, not yet consumed `external_dial` request.
    pub external_dial: String,
}

/// The customer call VICIdial has for an agent in a call (`vicidial_auto_calls` by the
/// agent's `callerid`, the lead, `vicidial_log` by the call's `uniqueid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRow {
    /// A `vicidial_auto_calls` row exists: the customer's leg is there (none while in a call
    /// means the customer hung up).
    pub in_auto_calls: bool,
    /// The number's `phone_code`.
    pub phone_code: String,
    /// The number dialled.
    pub phone_number: String,
    /// Unix seconds VICIdial placed the call (`vicidial_auto_calls.call_time`, else the
    /// agent's `last_call_time`).
    pub dialled_at: Option<i64>,
    /// Unix seconds the customer answered (`vicidial_log.start_epoch` of the call).
    pub answered_at: Option<i64>,
}

/// One agent as the live poller reads it: the row, the screen's last refresh, the phone in
/// the session conference, the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveAgent {
    /// The `vicidial_live_agents` row.
    pub row: LiveRow,
    /// `UNIX_TIMESTAMP(last_update_time)`: refreshed by the screen's polls, and by any other
    /// write to the row (it is a classic TIMESTAMP), api.php's included.
    pub screen_stamp: i64,
    /// The database's clock when read (Unix seconds).
    pub db_now: i64,
    /// A channel of the agent's phone (`<extension>-…`) is in `live_sip_channels` or
    /// `live_channels` with `extension` = `conf_exten` on the session's server.
    pub phone_in_session: bool,
    /// The customer call, when the agent is `INCALL` with a call id.
    pub call: Option<CallRow>,
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

const LIVE_COLS: &str = "user, status, lead_id, campaign_id, conf_exten, callerid, uniqueid, pause_code, external_status, \
     server_ip, extension, CAST(COALESCE(preview_lead_id, 0) AS SIGNED) AS preview_lead_id, \
     COALESCE(external_dial, '') AS external_dial";

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
        server_ip: s(r, "server_ip"),
        extension: s(r, "extension"),
        preview_lead_id: int(r, "preview_lead_id"),
        external_dial: s(r, "external_dial"),
    }
}

/// The live read: each agent's row with its phone channels and call, in one statement.
const AGENT_SQL: &str = "SELECT a.user, a.status, a.lead_id, a.campaign_id, a.conf_exten, a.callerid, a.uniqueid, \
     a.pause_code, a.external_status, a.server_ip, a.extension, \
     CAST(COALESCE(a.preview_lead_id, 0) AS SIGNED) AS preview_lead_id, COALESCE(a.external_dial, '') AS external_dial, \
     CAST(COALESCE(UNIX_TIMESTAMP(a.last_update_time), 0) AS SIGNED) AS screen_stamp, \
     CAST(UNIX_TIMESTAMP() AS SIGNED) AS db_now, \
     CAST((EXISTS (SELECT 1 FROM live_sip_channels s WHERE s.server_ip = a.server_ip AND s.extension = a.conf_exten \
           AND s.channel LIKE CONCAT(a.extension, '-%')) \
        OR EXISTS (SELECT 1 FROM live_channels c WHERE c.server_ip = a.server_ip AND c.extension = a.conf_exten \
           AND c.channel LIKE CONCAT(a.extension, '-%'))) AS SIGNED) AS phone_in_session, \
     CAST(ac.auto_call_id IS NOT NULL AS SIGNED) AS in_auto_calls, \
     COALESCE(ac.phone_code, l.phone_code, '') AS call_phone_code, \
     COALESCE(ac.phone_number, l.phone_number, '') AS call_phone_number, \
     CAST(UNIX_TIMESTAMP(COALESCE(ac.call_time, a.last_call_time)) AS SIGNED) AS dialled_at, \
     (SELECT CAST(g.start_epoch AS SIGNED) FROM vicidial_log g WHERE g.uniqueid = a.uniqueid AND a.uniqueid <> '' \
      ORDER BY g.start_epoch DESC LIMIT 1) AS answered_at \
     FROM vicidial_live_agents a \
     LEFT JOIN vicidial_auto_calls ac ON ac.callerid = a.callerid AND a.callerid <> '' \
     LEFT JOIN vicidial_list l ON l.lead_id = a.lead_id AND a.lead_id > 0";

fn opt_int(r: &sqlx::mysql::MySqlRow, col: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(col).ok().flatten()
}

fn live_agent(r: &sqlx::mysql::MySqlRow) -> LiveAgent {
    let row = live_row(r);
    let call = (row.status == "INCALL" && !row.callerid.is_empty()).then(|| CallRow {
        in_auto_calls: int(r, "in_auto_calls") != 0,
        phone_code: s(r, "call_phone_code"),
        phone_number: s(r, "call_phone_number"),
        dialled_at: opt_int(r, "dialled_at").filter(|t| *t > 0),
        answered_at: opt_int(r, "answered_at").filter(|t| *t > 0),
    });
    LiveAgent {
        row,
        screen_stamp: int(r, "screen_stamp"),
        db_now: int(r, "db_now"),
        phone_in_session: int(r, "phone_in_session") != 0,
        call,
    }
}

/// Every logged-in agent, one query (the live-state poller's once-a-second read).
pub async fn live_agents(db: &MySqlPool) -> anyhow::Result<Vec<LiveAgent>> {
    let rows = sqlx::query(AGENT_SQL).fetch_all(db).await?;
    Ok(rows.iter().map(live_agent).collect())
}

/// One agent, read fresh (the checks before a dial).
pub async fn live_agent_of(db: &MySqlPool, user: &str) -> anyhow::Result<Option<LiveAgent>> {
    let row = sqlx::query(&format!("{AGENT_SQL} WHERE a.user = ?"))
        .bind(user)
        .fetch_optional(db)
        .await?;
    Ok(row.as_ref().map(live_agent))
}

/// Every logged-in agent's row, one query.
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

/// `UNIX_TIMESTAMP(last_update_time)` of the agent's row, `None` without a row.
pub async fn screen_stamp(db: &MySqlPool, user: &str) -> anyhow::Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(UNIX_TIMESTAMP(last_update_time), 0) AS SIGNED) FROM vicidial_live_agents WHERE user = ?",
    )
    .bind(user)
    .fetch_optional(db)
    .await?)
}

/// Takes back our queued manual dial if the screen has not taken it: clears
/// `external_dial` only while it still holds exactly `request` (one atomic UPDATE, so a
/// request the screen consumed, or a newer one, is left alone). `last_update_time` is set
/// to itself so that this write does not look like a poll of the screen. Returns whether the
/// request was withdrawn.
pub async fn withdraw_dial(db: &MySqlPool, user: &str, request: &str) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE vicidial_live_agents SET external_dial = '', last_update_time = last_update_time \
         WHERE user = ? AND external_dial = ?",
    )
    .bind(user)
    .bind(request)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether a lead may be dialled in `campaign_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeadAccess {
    /// No such lead.
    Missing,
    /// The lead is in a list of another campaign.
    OtherCampaign,
    /// The lead is in one of the campaign's lists (`vicidial_lists.campaign_id`) or in its
    /// `manual_dial_list_id`, where VICIdial puts the numbers agents dial by hand.
    Dialable,
}

/// Whether `lead_id` is one the agent of `campaign_id` may dial.
pub async fn lead_access(
    db: &MySqlPool,
    lead_id: i64,
    campaign_id: &str,
) -> anyhow::Result<LeadAccess> {
    let row = sqlx::query(
        "SELECT CAST((vl.campaign_id = ? OR l.list_id = c.manual_dial_list_id) AS SIGNED) AS ok \
         FROM vicidial_list l LEFT JOIN vicidial_lists vl ON vl.list_id = l.list_id \
         LEFT JOIN vicidial_campaigns c ON c.campaign_id = ? WHERE l.lead_id = ?",
    )
    .bind(campaign_id)
    .bind(campaign_id)
    .bind(lead_id)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        None => LeadAccess::Missing,
        Some(r) if int(&r, "ok") != 0 => LeadAccess::Dialable,
        Some(_) => LeadAccess::OtherCampaign,
    })
}

/// The lead of one of the agent's scheduled callbacks: `USERONLY` of `user`, or `ANYONE` in
/// `campaign_id`, still `ACTIVE` or `LIVE`.
pub async fn agent_callback_lead(
    db: &MySqlPool,
    callback_id: i64,
    user: &str,
    campaign_id: &str,
) -> anyhow::Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT CAST(lead_id AS SIGNED) AS lead_id FROM vicidial_callbacks WHERE callback_id = ? \
         AND status IN ('ACTIVE', 'LIVE') \
         AND ((recipient = 'USERONLY' AND user = ?) OR (recipient = 'ANYONE' AND campaign_id = ?))",
    )
    .bind(callback_id)
    .bind(user)
    .bind(campaign_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| int(&r, "lead_id")))
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

/// The campaign settings the desk needs (`vicidial_campaigns`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignRow {
    /// `campaign_name`.
    pub name: String,
    /// `dial_method` (`MANUAL`, `RATIO`, `INBOUND_MAN`, ...).
    pub dial_method: String,
    /// `auto_dial_level` (`0` for manual dialling).
    pub auto_dial_level: String,
    /// `campaign_allow_inbound`.
    pub allow_inbound: bool,
    /// `agent_pause_codes_active` (`Y`, `N`, `FORCE`).
    pub pause_codes_active: String,
    /// `scheduled_callbacks`.
    pub scheduled_callbacks: bool,
    /// `my_callback_option` is `CHECKED`.
    pub my_callback_checked: bool,
    /// `callback_days_limit`.
    pub callback_days_limit: i64,
}

impl CampaignRow {
    /// The campaign dials by itself (`auto_dial_level > 0`) or takes inbound calls, so the
    /// agent's READY and PAUSED mean something. In a `MANUAL` campaign VICIdial keeps the
    /// agent paused between calls.
    pub fn auto_dial(&self) -> bool {
        self.auto_dial_level.trim().parse::<f64>().unwrap_or(0.0) > 0.0
            || self.dial_method == "INBOUND_MAN"
            || (self.allow_inbound && self.dial_method != "MANUAL")
    }
}

/// The campaign's settings, `None` when it does not exist.
pub async fn campaign(db: &MySqlPool, campaign_id: &str) -> anyhow::Result<Option<CampaignRow>> {
    let row = sqlx::query(
        "SELECT campaign_name, dial_method, auto_dial_level, campaign_allow_inbound, agent_pause_codes_active, \
         scheduled_callbacks, my_callback_option, CAST(COALESCE(callback_days_limit, 0) AS SIGNED) AS callback_days_limit \
         FROM vicidial_campaigns WHERE campaign_id = ?",
    )
    .bind(campaign_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| CampaignRow {
        name: s(&r, "campaign_name"),
        dial_method: s(&r, "dial_method"),
        auto_dial_level: s(&r, "auto_dial_level"),
        allow_inbound: yn(&r, "campaign_allow_inbound"),
        pause_codes_active: s(&r, "agent_pause_codes_active"),
        scheduled_callbacks: yn(&r, "scheduled_callbacks"),
        my_callback_checked: s(&r, "my_callback_option") == "CHECKED",
        callback_days_limit: int(&r, "callback_days_limit"),
    }))
}

/// The campaign's pause codes (`vicidial_pause_codes`): (code, name, billable).
pub async fn pause_codes(
    db: &MySqlPool,
    campaign_id: &str,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT pause_code, pause_code_name, billable FROM vicidial_pause_codes WHERE campaign_id = ? \
         ORDER BY pause_code",
    )
    .bind(campaign_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                s(r, "pause_code"),
                s(r, "pause_code_name"),
                s(r, "billable"),
            )
        })
        .collect())
}

/// The campaign's selectable status hotkeys (`vicidial_campaign_hotkeys`): (key, status,
/// name), by key.
pub async fn hotkeys(
    db: &MySqlPool,
    campaign_id: &str,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT hotkey, status, status_name FROM vicidial_campaign_hotkeys WHERE campaign_id = ? AND selectable = 'Y' \
         ORDER BY hotkey",
    )
    .bind(campaign_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (s(r, "hotkey"), s(r, "status"), s(r, "status_name")))
        .collect())
}

/// The agent's callback rights (`vicidial_users.scheduled_callbacks`,
/// `agentonly_callbacks`).
pub async fn user_callback_rights(db: &MySqlPool, user: &str) -> anyhow::Result<(bool, bool)> {
    let row = sqlx::query(
        "SELECT scheduled_callbacks, agentonly_callbacks FROM vicidial_users WHERE user = ?",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(row
        .map(|r| {
            (
                s(&r, "scheduled_callbacks") == "1",
                s(&r, "agentonly_callbacks") == "1",
            )
        })
        .unwrap_or((false, false)))
}
