//! What dispositions and the agent's shift lists read from VICIdial's tables: the call's
//! `vicidial_log` row, the agent's callback rights, the agent's scheduled callbacks, and
//! VICIdial's server-local time.
//!
//! **VICIdial's local time.** VICIdial stores `DATETIME`s (`callback_time`, `call_date`) in its
//! server's local time and reads `callback_datetime` the same way (reference §4). Our own
//! connections run with the session time zone sqlx sets (`+00:00`), so `NOW()` on them is UTC
//! and says nothing about VICIdial's zone: every conversion here goes through MariaDB's
//! `CONVERT_TZ` between the session zone and `@@global.time_zone` (the zone VICIdial's own
//! PHP and Perl connections get; `SYSTEM` by default), for the instant converted, so daylight
//! saving is right on both sides of a change.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dialdeck_shared::{CallbackItem, Recipient};
use sqlx::{MySqlPool, Row};

use crate::disposition::{CallRef, CallbackRules, LoggedCall};

/// How far back a call's log row may start before the call ended (VICIdial's own screen
/// looks 4 hours back for the row it dispositions; a long call still fits).
const LOG_LOOK_BACK_SECS: i64 = 12 * 3600;

/// `at` in VICIdial's server-local time.
pub async fn to_local(db: &MySqlPool, at: DateTime<Utc>) -> anyhow::Result<NaiveDateTime> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT CAST(CONVERT_TZ(FROM_UNIXTIME(?), @@session.time_zone, @@global.time_zone) AS CHAR)",
    )
    .bind(at.timestamp())
    .fetch_one(db)
    .await?;
    parse_local(text.as_deref())
}

/// `at` as VICIdial writes and reads local times, `YYYY-MM-DD HH:MM:SS`.
pub async fn to_local_text(db: &MySqlPool, at: DateTime<Utc>) -> anyhow::Result<String> {
    Ok(to_local(db, at)
        .await?
        .format("%Y-%m-%d %H:%M:%S")
        .to_string())
}

fn parse_local(text: Option<&str>) -> anyhow::Result<NaiveDateTime> {
    let text = text.ok_or_else(|| {
        anyhow::anyhow!("MariaDB cannot convert to VICIdial's time zone (@@global.time_zone)")
    })?;
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .map_err(|e| anyhow::anyhow!("unexpected local time {text:?} from MariaDB: {e}"))
}

/// The call's `vicidial_log` row: by its `uniqueid` when known, else the newest row of this
/// agent, lead and campaign that started before the call ended.
pub async fn call_log_row(db: &MySqlPool, call: &CallRef) -> anyhow::Result<Option<LoggedCall>> {
    const COLS: &str = "uniqueid, CAST(COALESCE(start_epoch, 0) AS SIGNED) AS start_epoch, \
                        CAST(COALESCE(end_epoch, 0) AS SIGNED) AS end_epoch, \
                        CAST(length_in_sec AS SIGNED) AS length_in_sec";
    let row = match call.uniqueid.as_deref().filter(|u| !u.is_empty()) {
        Some(uniqueid) => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM vicidial_log WHERE uniqueid = ? AND lead_id = ? AND user = ?"
            ))
            .bind(uniqueid)
            .bind(call.lead_id)
            .bind(&call.agent_user)
            .fetch_optional(db)
            .await?
        }
        None => {
            let until = call.ended_at.unwrap_or_else(|| Utc::now().timestamp()) + 60;
            sqlx::query(&format!(
                "SELECT {COLS} FROM vicidial_log WHERE lead_id = ? AND user = ? AND campaign_id = ? \
                 AND start_epoch BETWEEN ? AND ? ORDER BY start_epoch DESC LIMIT 1"
            ))
            .bind(call.lead_id)
            .bind(&call.agent_user)
            .bind(&call.campaign_id)
            .bind(until - LOG_LOOK_BACK_SECS)
            .bind(until)
            .fetch_optional(db)
            .await?
        }
    };
    let Some(r) = row else { return Ok(None) };
    let end: i64 = r.try_get("end_epoch")?;
    let length: Option<i64> = r.try_get("length_in_sec")?;
    Ok(Some(LoggedCall {
        uniqueid: r.try_get("uniqueid")?,
        start_epoch: r.try_get("start_epoch")?,
        end_epoch: (end > 0).then_some(end),
        // VICIdial writes the length with the end; before that the column holds nothing useful.
        length_in_sec: length
            .filter(|_| end > 0)
            .map(|l| l.clamp(0, u32::MAX as i64) as u32),
    }))
}

/// The `vicidial_log` rows the Non-Agent API's `update_log_entry` may change for this lead in
/// this campaign: every row at the newest `call_date` (VICIdial orders by a one-second clock,
/// so two calls in the same second are a tie it breaks arbitrarily), as (`uniqueid`, `user`).
pub async fn newest_log_rows(
    db: &MySqlPool,
    lead_id: i64,
    campaign_id: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT uniqueid, COALESCE(user, '') AS user FROM vicidial_log \
         WHERE lead_id = ? AND campaign_id = ? AND call_date = \
           (SELECT MAX(call_date) FROM vicidial_log WHERE lead_id = ? AND campaign_id = ?)",
    )
    .bind(lead_id)
    .bind(campaign_id)
    .bind(lead_id)
    .bind(campaign_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("uniqueid")?, r.try_get("user")?)))
        .collect()
}

/// The agent's callback rights in the campaign, VICIdial's local today, and `at` in local time.
pub async fn callback_rules(
    db: &MySqlPool,
    user: &str,
    campaign_id: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<CallbackRules> {
    let r = sqlx::query(
        "SELECT \
           (SELECT CAST(agentonly_callbacks AS CHAR) FROM vicidial_users WHERE user = ?) AS agentonly, \
           (SELECT CAST(COALESCE(callback_days_limit, 0) AS SIGNED) FROM vicidial_campaigns WHERE campaign_id = ?) AS days, \
           CAST(CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', @@global.time_zone) AS CHAR) AS now_local, \
           CAST(CONVERT_TZ(FROM_UNIXTIME(?), @@session.time_zone, @@global.time_zone) AS CHAR) AS at_local",
    )
    .bind(user)
    .bind(campaign_id)
    .bind(at.timestamp())
    .fetch_one(db)
    .await?;
    let agentonly: Option<String> = r.try_get("agentonly")?;
    let days: Option<i64> = r.try_get("days")?;
    let now_local: Option<String> = r.try_get("now_local")?;
    let at_local: Option<String> = r.try_get("at_local")?;
    Ok(CallbackRules {
        user_only_allowed: agentonly.as_deref() == Some("1"),
        days_limit: days.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
        local_today: parse_local(now_local.as_deref())?.date(),
        local_at: parse_local(at_local.as_deref())?,
    })
}

/// The agent's scheduled callbacks as the desk lists them: the agent's `USERONLY` ones (in
/// this campaign, unless `system_settings.agentonly_callback_campaign_lock` is off) and the
/// campaign's `ANYONE` ones, `ACTIVE` or `LIVE`, soonest first.
pub async fn callbacks_of(
    db: &MySqlPool,
    user: &str,
    campaign_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<CallbackItem>> {
    let rows = sqlx::query(
        "SELECT CAST(c.callback_id AS SIGNED) AS callback_id, CAST(c.lead_id AS SIGNED) AS lead_id, \
           CAST(c.recipient AS CHAR) AS recipient, COALESCE(c.status, '') AS status, \
           COALESCE(c.comments, '') AS comments, \
           CAST(UNIX_TIMESTAMP(CONVERT_TZ(c.callback_time, @@global.time_zone, @@session.time_zone)) AS SIGNED) AS at, \
           COALESCE(l.first_name, '') AS first_name, COALESCE(l.last_name, '') AS last_name, \
           COALESCE(l.phone_code, '') AS phone_code, COALESCE(l.phone_number, '') AS phone_number \
         FROM vicidial_callbacks c LEFT JOIN vicidial_list l ON l.lead_id = c.lead_id \
         WHERE c.status IN ('ACTIVE', 'LIVE') AND ( \
           (c.recipient = 'USERONLY' AND c.user = ? AND (c.campaign_id = ? OR \
              COALESCE((SELECT agentonly_callback_campaign_lock FROM system_settings LIMIT 1), '1') = '0')) \
           OR (c.recipient = 'ANYONE' AND c.campaign_id = ?)) \
         ORDER BY c.callback_time, c.callback_id LIMIT 500",
    )
    .bind(user)
    .bind(campaign_id)
    .bind(campaign_id)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let at: Option<i64> = r.try_get("at")?;
        let at = at.unwrap_or(0);
        let status: String = r.try_get("status")?;
        let recipient: Option<String> = r.try_get("recipient")?;
        let first: String = r.try_get("first_name")?;
        let last: String = r.try_get("last_name")?;
        let code: String = r.try_get("phone_code")?;
        let number: String = r.try_get("phone_number")?;
        out.push(CallbackItem {
            callback_id: r.try_get("callback_id")?,
            lead_id: r.try_get("lead_id")?,
            name: format!("{first} {last}").trim().to_string(),
            phone: phone_for_people(&code, &number),
            at,
            recipient: if recipient.as_deref() == Some("USERONLY") {
                Recipient::UserOnly
            } else {
                Recipient::Anyone
            },
            comments: r.try_get("comments")?,
            due: status == "LIVE" || at <= now.timestamp(),
        });
    }
    Ok(out)
}

/// Talk time (`length_in_sec`) of the calls among `uniqueids` whose end VICIdial logged.
pub async fn talk_times(
    db: &MySqlPool,
    uniqueids: &[String],
) -> anyhow::Result<std::collections::HashMap<String, u32>> {
    if uniqueids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT uniqueid, CAST(length_in_sec AS SIGNED) AS length_in_sec FROM vicidial_log \
         WHERE end_epoch > 0 AND uniqueid IN ({})",
        vec!["?"; uniqueids.len()].join(", ")
    );
    let mut query = sqlx::query(&sql);
    for u in uniqueids {
        query = query.bind(u);
    }
    let mut out = std::collections::HashMap::new();
    for r in query.fetch_all(db).await? {
        let length: Option<i64> = r.try_get("length_in_sec")?;
        if let Some(l) = length {
            out.insert(r.try_get("uniqueid")?, l.clamp(0, u32::MAX as i64) as u32);
        }
    }
    Ok(out)
}

/// A VICIdial number as people read it: international format (`+1 312-555-1006`) when it is
/// a valid number for its `phone_code`, else the digits as VICIdial has them.
pub fn phone_for_people(phone_code: &str, number: &str) -> String {
    let raw = number.trim();
    let parsed = crate::ghl::contact::E164::parse(raw, phone_code)
        .and_then(|e| phonenumber::parse(None, e.as_str()).ok());
    match parsed {
        Some(p) => p
            .format()
            .mode(phonenumber::Mode::International)
            .to_string(),
        None if phone_code.trim().is_empty() || raw.is_empty() => raw.to_string(),
        None => format!("+{} {raw}", phone_code.trim().trim_start_matches('+')),
    }
}

/// Whether `date` is within `days_limit` days of `today` (0: no limit), as VICIdial's callback
/// calendar offers days.
pub fn within_days(today: NaiveDate, date: NaiveDate, days_limit: u32) -> bool {
    days_limit == 0 || (date - today).num_days() <= days_limit as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_read_them() {
        assert_eq!(phone_for_people("1", "3125551006"), "+1 312-555-1006");
        assert_eq!(phone_for_people("44", "2079460000"), "+44 20 7946 0000");
        assert_eq!(phone_for_people("1", "12"), "+1 12");
        assert_eq!(phone_for_people("", "5551006"), "5551006");
    }

    #[test]
    fn the_days_limit_counts_calendar_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(within_days(d("2026-12-01"), d("2026-12-31"), 30));
        assert!(!within_days(d("2026-12-01"), d("2027-01-01"), 30));
        assert!(within_days(d("2026-12-01"), d("2030-01-01"), 0));
    }
}
