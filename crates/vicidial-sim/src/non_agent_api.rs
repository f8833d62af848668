//! `vicidial/non_agent_api.php`, the Non-Agent API (reference §5): `version`,
//! `agent_status`, `logged_in_agents`, `update_lead`, `update_log_entry`, `add_dnc_phone`,
//! `lead_all_info`. Successes print `SUCCESS: <reason> - <data>`, errors
//! `ERROR: <reason>: <data>`, read functions bare rows.

use std::fmt::Write as _;

use chrono::Offset;
use sqlx::MySqlPool;

use crate::{
    auth::{user_authorization, AuthResult, Caller},
    db::{self, Now},
    params::{self, Params},
    screen::{self, add_dnc},
    sim::{Api, LedgerEntry, Shared},
};

/// `VERSION:` of non_agent_api.php 2.14-194.
pub const VERSION: &str = "2.14-194";
/// `BUILD:` of non_agent_api.php 2.14-194.
pub const BUILD: &str = "241004-1518";

const FUNCTIONS: &[&str] = &[
    "agent_status",
    "logged_in_agents",
    "update_lead",
    "update_log_entry",
    "add_dnc_phone",
    "lead_all_info",
];

/// Handles one request; returns the body.
pub(crate) async fn handle(shared: &Shared, p: &Params) -> anyhow::Result<String> {
    let function = p.filtered("function", params::word);
    let agent_user = p.filtered("agent_user", params::word);
    let out = run(shared, p, &function, &agent_user).await?;
    shared.record(LedgerEntry::ApiRequest {
        api: Api::NonAgent,
        function,
        agent_user,
        result: out.lines().next().unwrap_or("").to_string(),
        at: Now::get().utc,
    });
    Ok(out)
}

/// The API user's rights.
struct ApiUser {
    user: String,
    user_level: i64,
    vdc_agent_api_access: bool,
    view_reports: bool,
    modify_leads: i64,
    modify_lists: bool,
    allowed_functions: String,
    user_group: String,
}

async fn run(
    shared: &Shared,
    p: &Params,
    function: &str,
    agent_user: &str,
) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let now = Now::get();
    if function == "version" {
        let offset = now.local.offset().fix().local_minus_utc() as f64 / 3600.0;
        return Ok(format!(
            "VERSION: {VERSION}|BUILD: {BUILD}|DATE: {}|EPOCH: {}|DST: 0|TZ: {offset:.2}|TZNOW: {offset:.2}|\n",
            now.datetime(),
            now.epoch()
        ));
    }
    let source = p.filtered("source", params::alnum);
    if source.len() < 2 {
        return Ok(format!(
            "ERROR: Invalid Source - {source}\nERROR: Invalid Source: ||\n"
        ));
    }
    if !FUNCTIONS.contains(&function) {
        return Ok("ERROR: NO FUNCTION SPECIFIED\n".to_string());
    }
    let user = p.filtered("user", params::word);
    let pass = p.filtered("pass", params::pass_char);
    match user_authorization(pool, &user, &pass, Caller::NonAgentApi).await? {
        AuthResult::Good => {}
        AuthResult::Lock => {
            return Ok(format!(
                "ERROR: Too many login attempts, try again in 15 minutes: |{user}|LOCK|\n"
            ))
        }
        other => {
            return Ok(format!(
                "ERROR: Login incorrect, please try again: |{user}|{pass}|{}|\n",
                other.message()
            ))
        }
    }
    let row = sqlx::query(
        "SELECT CAST(user_level AS SIGNED) AS user_level, vdc_agent_api_access, view_reports, \
         CAST(modify_leads AS CHAR) AS modify_leads, modify_lists, COALESCE(api_allowed_functions, '') AS f, \
         COALESCE(user_group, '') AS user_group FROM vicidial_users WHERE user = ?",
    )
    .bind(&user)
    .fetch_one(pool)
    .await?;
    let api = ApiUser {
        user: user.clone(),
        user_level: db::n(&row, "user_level"),
        vdc_agent_api_access: db::s(&row, "vdc_agent_api_access") == "1",
        view_reports: db::s(&row, "view_reports") == "1",
        modify_leads: db::s(&row, "modify_leads").parse().unwrap_or(0),
        modify_lists: db::s(&row, "modify_lists") == "1",
        allowed_functions: db::s(&row, "f"),
        user_group: db::s(&row, "user_group"),
    };
    if !(api.allowed_functions.contains(&format!(" {function} "))
        || api.allowed_functions.contains("ALL_FUNCTIONS"))
    {
        return Ok(format!(
            "ERROR: auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION: |{user}|{function}|{}|\n",
            api.user_group
        ));
    }
    match function {
        "agent_status" => agent_status(shared, &api, agent_user).await,
        "logged_in_agents" => logged_in_agents(shared, &api, p).await,
        "lead_all_info" => lead_all_info(pool, &api, p).await,
        "update_lead" => update_lead(shared, &api, p, now).await,
        "update_log_entry" => update_log_entry(shared, &api, p, now).await,
        "add_dnc_phone" => add_dnc_phone(shared, &api, p, now).await,
        _ => unreachable!("checked against FUNCTIONS"),
    }
}

fn may_view(api: &ApiUser) -> bool {
    api.vdc_agent_api_access && api.view_reports && api.user_level > 6
}

fn may_modify_leads(api: &ApiUser) -> bool {
    api.vdc_agent_api_access && (1..=4).contains(&api.modify_leads) && api.user_level > 7
}

async fn agent_status(shared: &Shared, api: &ApiUser, agent_user: &str) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let user = &api.user;
    if !may_view(api) {
        return Ok(format!(
            "ERROR: agent_status USER DOES NOT HAVE PERMISSION TO GET AGENT INFO: |{user}|0|\n"
        ));
    }
    if agent_user.is_empty() {
        return Ok(format!(
            "ERROR: agent_status INVALID SEARCH PARAMETERS: {user}|\n"
        ));
    }
    let Some(u) = sqlx::query(
        "SELECT COALESCE(full_name, '') AS full_name, COALESCE(user_group, '') AS user_group, \
         CAST(user_level AS SIGNED) AS user_level FROM vicidial_users WHERE user = ?",
    )
    .bind(agent_user)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(format!(
            "ERROR: agent_status AGENT NOT FOUND: {user}|{agent_user}\n"
        ));
    };
    let Some(la) = sqlx::query(
        "SELECT COALESCE(a.status, '') AS status, COALESCE(a.callerid, '') AS callerid, CAST(a.lead_id AS SIGNED) AS lead_id, \
         COALESCE(a.campaign_id, '') AS campaign_id, CAST(COALESCE(a.calls_today, 0) AS SIGNED) AS calls_today, \
         COALESCE(a.pause_code, '') AS pause_code, COALESCE(a.conf_exten, '') AS conf_exten, \
         CAST(COALESCE(a.preview_lead_id, 0) AS SIGNED) AS preview_lead_id, COALESCE(a.uniqueid, '') AS uniqueid, \
         COALESCE(l.phone_number, '') AS phone_number, COALESCE(l.vendor_lead_code, '') AS vendor_lead_code \
         FROM vicidial_live_agents a LEFT JOIN vicidial_list l ON l.lead_id = a.lead_id AND a.lead_id > 0 WHERE a.user = ?",
    )
    .bind(agent_user)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(format!("ERROR: agent_status AGENT NOT LOGGED IN: {user}|{agent_user}\n"));
    };
    let status = db::s(&la, "status");
    let lead_id = db::n(&la, "lead_id");
    let sub = screen::sub_status(
        pool,
        &status,
        &db::s(&la, "callerid"),
        &db::s(&la, "uniqueid"),
        lead_id,
        db::n(&la, "preview_lead_id"),
    )
    .await?;
    Ok(format!(
        "{status}|{}|{lead_id}|{}|{}|{}|{}|{}|{}|{sub}|{}|{}|{}\n",
        db::s(&la, "callerid"),
        db::s(&la, "campaign_id"),
        db::n(&la, "calls_today"),
        db::s(&u, "full_name"),
        db::s(&u, "user_group"),
        db::n(&u, "user_level"),
        db::s(&la, "pause_code"),
        db::s(&la, "phone_number"),
        db::s(&la, "vendor_lead_code"),
        db::s(&la, "conf_exten"),
    ))
}

async fn logged_in_agents(shared: &Shared, api: &ApiUser, p: &Params) -> anyhow::Result<String> {
    let user = &api.user;
    if !may_view(api) {
        return Ok(format!(
            "ERROR: logged_in_agents USER DOES NOT HAVE PERMISSION TO GET AGENT INFO: |{user}|0|\n"
        ));
    }
    let campaigns: Vec<String> = p
        .filtered("campaigns", |c| params::word(c) || c == '|')
        .split('|')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let show_sub = p.raw("show_sub_status") == "YES";
    let rows = sqlx::query(
        "SELECT a.user, COALESCE(a.campaign_id, '') AS campaign_id, COALESCE(a.conf_exten, '') AS conf_exten, \
         COALESCE(a.status, '') AS status, CAST(a.lead_id AS SIGNED) AS lead_id, COALESCE(a.callerid, '') AS callerid, \
         CAST(COALESCE(a.calls_today, 0) AS SIGNED) AS calls_today, COALESCE(u.full_name, '') AS full_name, \
         COALESCE(u.user_group, '') AS user_group, CAST(COALESCE(u.user_level, 0) AS SIGNED) AS user_level, \
         COALESCE(a.pause_code, '') AS pause_code, CAST(COALESCE(a.preview_lead_id, 0) AS SIGNED) AS preview_lead_id, \
         COALESCE(a.uniqueid, '') AS uniqueid \
         FROM vicidial_live_agents a LEFT JOIN vicidial_users u ON u.user = a.user ORDER BY a.user",
    )
    .fetch_all(&shared.pool)
    .await?;
    let mut out = String::new();
    for r in rows {
        let campaign = db::s(&r, "campaign_id");
        if !campaigns.is_empty() && !campaigns.contains(&campaign) {
            continue;
        }
        let agent = db::s(&r, "user");
        let status = db::s(&r, "status");
        let lead_id = db::n(&r, "lead_id");
        let _ = write!(
            out,
            "{agent}|{campaign}|{}|{status}|{lead_id}|{}|{}|{}|{}|{}",
            db::s(&r, "conf_exten"),
            db::s(&r, "callerid"),
            db::n(&r, "calls_today"),
            db::s(&r, "full_name"),
            db::s(&r, "user_group"),
            db::n(&r, "user_level"),
        );
        if show_sub {
            let sub = screen::sub_status(
                &shared.pool,
                &status,
                &db::s(&r, "callerid"),
                &db::s(&r, "uniqueid"),
                lead_id,
                db::n(&r, "preview_lead_id"),
            )
            .await?;
            let _ = write!(out, "|{}|{sub}", db::s(&r, "pause_code"));
        }
        out.push('\n');
    }
    if out.is_empty() {
        return Ok(format!(
            "ERROR: logged_in_agents NO LOGGED IN AGENTS: |{user}|\n"
        ));
    }
    Ok(out)
}

const LEAD_FIELDS: &str = "COALESCE(status, '') AS status, COALESCE(user, '') AS user, \
     COALESCE(vendor_lead_code, '') AS vendor_lead_code, COALESCE(source_id, '') AS source_id, \
     CAST(list_id AS CHAR) AS list_id, CAST(gmt_offset_now AS CHAR) AS gmt_offset_now, COALESCE(phone_code, '') AS phone_code, \
     phone_number, COALESCE(title, '') AS title, COALESCE(first_name, '') AS first_name, \
     COALESCE(middle_initial, '') AS middle_initial, COALESCE(last_name, '') AS last_name, \
     COALESCE(address1, '') AS address1, COALESCE(address2, '') AS address2, COALESCE(address3, '') AS address3, \
     COALESCE(city, '') AS city, COALESCE(state, '') AS state, COALESCE(province, '') AS province, \
     COALESCE(postal_code, '') AS postal_code, COALESCE(country_code, '') AS country_code, COALESCE(gender, '') AS gender, \
     COALESCE(CAST(date_of_birth AS CHAR), '') AS date_of_birth, COALESCE(alt_phone, '') AS alt_phone, \
     COALESCE(email, '') AS email, COALESCE(security_phrase, '') AS security_phrase, COALESCE(comments, '') AS comments, \
     CAST(called_count AS CHAR) AS called_count, COALESCE(CAST(last_local_call_time AS CHAR), '') AS last_local_call_time, \
     CAST(`rank` AS CHAR) AS `rank`, COALESCE(owner, '') AS owner, CAST(entry_list_id AS CHAR) AS entry_list_id, \
     CAST(lead_id AS CHAR) AS lead_id";

const LEAD_COLUMNS: &[&str] = &[
    "status",
    "user",
    "vendor_lead_code",
    "source_id",
    "list_id",
    "gmt_offset_now",
    "phone_code",
    "phone_number",
    "title",
    "first_name",
    "middle_initial",
    "last_name",
    "address1",
    "address2",
    "address3",
    "city",
    "state",
    "province",
    "postal_code",
    "country_code",
    "gender",
    "date_of_birth",
    "alt_phone",
    "email",
    "security_phrase",
    "comments",
    "called_count",
    "last_local_call_time",
    "rank",
    "owner",
    "entry_list_id",
    "lead_id",
];

async fn lead_all_info(pool: &MySqlPool, api: &ApiUser, p: &Params) -> anyhow::Result<String> {
    let user = &api.user;
    if !(may_view(api) && (1..=5).contains(&api.modify_leads)) {
        return Ok(format!(
            "ERROR: lead_all_info USER DOES NOT HAVE PERMISSION TO GET LEAD INFO: |{user}|0|\n"
        ));
    }
    let lead_id = p.filtered("lead_id", params::digit);
    let phone = p.filtered("phone_number", params::digit);
    let rows = if !lead_id.is_empty() {
        sqlx::query(&format!(
            "SELECT {LEAD_FIELDS} FROM vicidial_list WHERE lead_id = ?"
        ))
        .bind(lead_id.parse::<u64>().unwrap_or(0))
        .fetch_all(pool)
        .await?
    } else if !phone.is_empty() {
        sqlx::query(&format!(
            "SELECT {LEAD_FIELDS} FROM vicidial_list WHERE phone_number = ? ORDER BY lead_id DESC LIMIT 1000"
        ))
        .bind(&phone)
        .fetch_all(pool)
        .await?
    } else {
        Vec::new()
    };
    if rows.is_empty() {
        return Ok(format!(
            "ERROR: lead_all_info LEAD NOT FOUND: {user}|{lead_id}|\n"
        ));
    }
    let mut out = String::new();
    for r in rows {
        let fields: Vec<String> = LEAD_COLUMNS.iter().map(|c| db::s(&r, c)).collect();
        let _ = writeln!(out, "{}", fields.join("|"));
    }
    Ok(out)
}

/// Lead columns `update_lead` may set, with their parameter names.
const EDITABLE: &[(&str, &str)] = &[
    ("status", "status"),
    ("user_field", "user"),
    ("list_id_field", "list_id"),
    ("vendor_lead_code", "vendor_lead_code"),
    ("source_id", "source_id"),
    ("phone_code", "phone_code"),
    ("phone_number", "phone_number"),
    ("title", "title"),
    ("first_name", "first_name"),
    ("middle_initial", "middle_initial"),
    ("last_name", "last_name"),
    ("address1", "address1"),
    ("address2", "address2"),
    ("address3", "address3"),
    ("city", "city"),
    ("state", "state"),
    ("province", "province"),
    ("postal_code", "postal_code"),
    ("country_code", "country_code"),
    ("gender", "gender"),
    ("date_of_birth", "date_of_birth"),
    ("alt_phone", "alt_phone"),
    ("email", "email"),
    ("security_phrase", "security_phrase"),
    ("comments", "comments"),
    ("called_count", "called_count"),
    ("rank", "`rank`"),
    ("owner", "owner"),
];

/// `callback_datetime`: `YYYY-MM-DD HH:MM:SS`, `NOW` or `<n>DAYS`.
fn callback_time(raw: &str, now: Now) -> Option<String> {
    let raw = raw.replace('+', " ");
    if raw == "NOW" {
        return Some(now.datetime());
    }
    if let Some(days) = raw.strip_suffix("DAYS").and_then(|d| d.parse::<i64>().ok()) {
        return Some(
            (now.local + chrono::Duration::days(days))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        );
    }
    chrono::NaiveDateTime::parse_from_str(&raw, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
}

async fn update_lead(
    shared: &Shared,
    api: &ApiUser,
    p: &Params,
    now: Now,
) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let user = &api.user;
    if !may_modify_leads(api) {
        return Ok(format!(
            "ERROR: update_lead USER DOES NOT HAVE PERMISSION TO UPDATE LEADS: |{user}|{}|\n",
            api.modify_leads
        ));
    }
    let lead_id = p.filtered("lead_id", params::digit);
    let vendor = p.raw("vendor_lead_code");
    let phone = p.filtered("phone_number", params::digit);
    let search_method = p.filtered("search_method", params::word);
    let lead: Option<u64> = if search_method.contains("PHONE_NUMBER") && !phone.is_empty() {
        sqlx::query_scalar("SELECT CAST(lead_id AS UNSIGNED) FROM vicidial_list WHERE phone_number = ? ORDER BY lead_id DESC LIMIT 1")
            .bind(&phone)
            .fetch_optional(pool)
            .await?
    } else if search_method.contains("VENDOR_LEAD_CODE") && !vendor.is_empty() {
        sqlx::query_scalar("SELECT CAST(lead_id AS UNSIGNED) FROM vicidial_list WHERE vendor_lead_code = ? ORDER BY lead_id DESC LIMIT 1")
            .bind(&vendor)
            .fetch_optional(pool)
            .await?
    } else if !lead_id.is_empty() {
        sqlx::query_scalar("SELECT CAST(lead_id AS UNSIGNED) FROM vicidial_list WHERE lead_id = ?")
            .bind(lead_id.parse::<u64>().unwrap_or(0))
            .fetch_optional(pool)
            .await?
    } else {
        None
    };
    let Some(lead) = lead else {
        return Ok(format!(
            "ERROR: update_lead NO MATCHES FOUND IN THE SYSTEM: |{user}|{lead_id}|{vendor}|{phone}\n"
        ));
    };
    // (column as written in SQL, value)
    let mut sets: Vec<(&str, String)> = Vec::new();
    for (param, column) in EDITABLE {
        // With a phone-number search, phone_number is the search key, not a new value.
        if p.has(param) && !(*param == "phone_number" && search_method.contains("PHONE_NUMBER")) {
            let mut v = p.raw(param).replace(['\'', '"', '\\', ';'], "");
            if v == "--BLANK--" {
                v.clear();
            }
            sets.push((column, v));
        }
    }
    let mut affected = 0;
    if !sets.is_empty() && p.raw("no_update") != "Y" {
        let set: Vec<String> = sets.iter().map(|(c, _)| format!("{c} = ?")).collect();
        let sql = format!(
            "UPDATE vicidial_list SET {} WHERE lead_id = ?",
            set.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (_, v) in &sets {
            query = query.bind(v.clone());
        }
        affected = query.bind(lead).execute(pool).await?.rows_affected();
    }
    let fields: Vec<(String, String)> = sets
        .into_iter()
        .map(|(c, v)| (c.trim_matches('`').to_string(), v))
        .collect();
    let mut out =
        format!("SUCCESS: update_lead LEAD HAS BEEN UPDATED - {user}|{lead}|{affected}|||\n");
    let mut callback_note = None;
    match p.raw("callback").as_str() {
        "Y" => {
            let campaign = p.filtered("campaign_id", params::word);
            let cb_status = match p.filtered("callback_status", params::word) {
                s if s.is_empty() => "CALLBK".to_string(),
                s => s,
            };
            let cb_type = if p.raw("callback_type") == "USERONLY" {
                "USERONLY"
            } else {
                "ANYONE"
            };
            let cb_user = p.filtered("callback_user", params::word);
            let cb_comments: String = p
                .raw("callback_comments")
                .replace('+', " ")
                .chars()
                .take(255)
                .collect();
            let time = callback_time(&p.raw("callback_datetime"), now);
            let camp_ok: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_campaigns WHERE campaign_id = ?")
                    .bind(&campaign)
                    .fetch_one(pool)
                    .await?;
            match time {
                Some(time) if camp_ok > 0 => {
                    let existing: Option<u64> = sqlx::query_scalar(
                        "SELECT CAST(callback_id AS UNSIGNED) FROM vicidial_callbacks WHERE lead_id = ? AND status IN ('ACTIVE', 'LIVE') \
                         ORDER BY callback_id DESC LIMIT 1",
                    )
                    .bind(lead)
                    .fetch_optional(pool)
                    .await?;
                    if let Some(id) = existing {
                        sqlx::query(
                            "UPDATE vicidial_callbacks SET callback_time = ?, recipient = ?, user = IF(? = '', user, ?), \
                             comments = IF(? = '', comments, ?), lead_status = ?, campaign_id = ? WHERE callback_id = ?",
                        )
                        .bind(&time)
                        .bind(cb_type)
                        .bind(&cb_user)
                        .bind(&cb_user)
                        .bind(&cb_comments)
                        .bind(&cb_comments)
                        .bind(&cb_status)
                        .bind(&campaign)
                        .bind(id)
                        .execute(pool)
                        .await?;
                        let _ = writeln!(
                            out,
                            "NOTICE: update_lead SCHEDULED CALLBACK UPDATED - {lead}|{campaign}|{time}|{}|{}|{}",
                            if p.has("callback_type") { cb_type } else { "" },
                            cb_user,
                            if p.has("callback_status") { cb_status.as_str() } else { "" },
                        );
                        callback_note = Some(format!("UPDATED {time}"));
                    } else {
                        let list_id: i64 = sqlx::query_scalar(
                            "SELECT CAST(list_id AS SIGNED) FROM vicidial_list WHERE lead_id = ?",
                        )
                        .bind(lead)
                        .fetch_one(pool)
                        .await?;
                        sqlx::query(
                            "INSERT INTO vicidial_callbacks (lead_id, list_id, campaign_id, status, entry_time, callback_time, user, \
                             recipient, comments, user_group, lead_status) VALUES (?, ?, ?, 'ACTIVE', NOW(), ?, ?, ?, ?, ?, ?)",
                        )
                        .bind(lead)
                        .bind(list_id)
                        .bind(&campaign)
                        .bind(&time)
                        .bind(&cb_user)
                        .bind(cb_type)
                        .bind(&cb_comments)
                        .bind(&api.user_group)
                        .bind(&cb_status)
                        .execute(pool)
                        .await?;
                        let _ = writeln!(
                            out,
                            "NOTICE: update_lead SCHEDULED CALLBACK ADDED - {lead}|{campaign}|{time}|{cb_type}|{cb_user}|{cb_status}"
                        );
                        callback_note = Some(format!("ADDED {time}"));
                    }
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "NOTICE: update_lead SCHEDULED CALLBACK NOT ADDED - {lead}|{campaign}|{}|",
                        p.raw("callback_datetime")
                    );
                }
            }
        }
        "REMOVE" => {
            let removed = sqlx::query("UPDATE vicidial_callbacks SET status = 'INACTIVE' WHERE lead_id = ? AND status IN ('ACTIVE', 'LIVE')")
                .bind(lead)
                .execute(pool)
                .await?
                .rows_affected();
            let _ = writeln!(
                out,
                "NOTICE: update_lead SCHEDULED CALLBACK DELETED - {user}|{lead}|{removed}|1"
            );
            callback_note = Some("DELETED".to_string());
        }
        _ => {}
    }
    shared.record(LedgerEntry::LeadUpdated {
        lead_id: lead,
        fields,
        callback: callback_note,
        at: now.utc,
    });
    Ok(out)
}

async fn update_log_entry(
    shared: &Shared,
    api: &ApiUser,
    p: &Params,
    now: Now,
) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let user = &api.user;
    if !may_modify_leads(api) {
        return Ok(format!(
            "ERROR: update_log_entry USER DOES NOT HAVE PERMISSION TO UPDATE LOGS: |{user}|{}|\n",
            api.modify_leads
        ));
    }
    let group = p.filtered("group", params::word);
    let call_id = p.filtered("call_id", params::alnum);
    let status = p.filtered("status", params::word);
    if group.is_empty() || call_id.is_empty() || status.is_empty() {
        return Ok(format!(
            "ERROR: update_log_entry INVALID SEARCH PARAMETERS: |{user}|{group}|{call_id}|{status}|\n"
        ));
    }
    let camp: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_campaigns WHERE campaign_id = ?")
            .bind(&group)
            .fetch_one(pool)
            .await?;
    if camp == 0 {
        return Ok(format!(
            "ERROR: update_log_entry GROUP NOT FOUND: |{user}|{group}|\n"
        ));
    }
    // A call ID (M..., V..., Y...: letter, mdHis, lead_id padded to 9) ends in the lead_id;
    // anything else is matched as a uniqueid (whose dot the filter already removed, as in
    // VICIdial).
    let row = if call_id.len() > 17 {
        let lead_id: u64 = call_id[call_id.len() - 9..].parse().unwrap_or(0);
        sqlx::query(
            "SELECT uniqueid, COALESCE(status, '') AS status FROM vicidial_log WHERE lead_id = ? AND campaign_id = ? \
             ORDER BY call_date DESC, start_epoch DESC LIMIT 1",
        )
        .bind(lead_id)
        .bind(&group)
        .fetch_optional(pool)
        .await?
    } else {
        sqlx::query("SELECT uniqueid, COALESCE(status, '') AS status FROM vicidial_log WHERE uniqueid = ? AND campaign_id = ?")
            .bind(&call_id)
            .bind(&group)
            .fetch_optional(pool)
            .await?
    };
    let Some(row) = row else {
        return Ok(format!(
            "ERROR: update_log_entry NO RECORDS FOUND: |{user}|{group}|{call_id}|\n"
        ));
    };
    let uniqueid = db::s(&row, "uniqueid");
    let old = db::s(&row, "status");
    sqlx::query("UPDATE vicidial_log SET status = ? WHERE uniqueid = ?")
        .bind(&status)
        .bind(&uniqueid)
        .execute(pool)
        .await?;
    shared.record(LedgerEntry::LogEntryUpdated {
        uniqueid: uniqueid.clone(),
        old_status: old.clone(),
        new_status: status.clone(),
        at: now.utc,
    });
    Ok(format!(
        "SUCCESS: update_log_entry RECORD HAS BEEN UPDATED - {user}|{user}|{group}|{call_id}|{status}|{old}|{uniqueid}|\n"
    ))
}

async fn add_dnc_phone(
    shared: &Shared,
    api: &ApiUser,
    p: &Params,
    now: Now,
) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let user = &api.user;
    if !(api.modify_lists && api.user_level >= 8) {
        return Ok(format!(
            "ERROR: add_dnc_phone USER DOES NOT HAVE PERMISSION TO ADD DNC NUMBERS: |{user}|{}\n",
            u8::from(api.modify_lists)
        ));
    }
    let phone = p.filtered("phone_number", params::digit);
    let campaign = p.filtered("campaign_id", params::word);
    if phone.len() < 6 || campaign.is_empty() {
        return Ok(format!(
            "ERROR: add_dnc_phone INVALID DATA: |{user}|{phone}|{campaign}\n"
        ));
    }
    let target = if campaign == "SYSTEM_INTERNAL" {
        None
    } else {
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_campaigns WHERE campaign_id = ?")
                .bind(&campaign)
                .fetch_one(pool)
                .await?;
        if exists == 0 {
            return Ok(format!(
                "ERROR: add_dnc_phone CAMPAIGN DOES NOT EXIST: |{user}|{phone}|{campaign}\n"
            ));
        }
        Some(campaign.as_str())
    };
    let present: i64 = match target {
        None => {
            sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_dnc WHERE phone_number = ?")
                .bind(&phone)
                .fetch_one(pool)
                .await?
        }
        Some(c) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM vicidial_campaign_dnc WHERE phone_number = ? AND campaign_id = ?",
        )
        .bind(&phone)
        .bind(c)
        .fetch_one(pool)
        .await?,
    };
    if present > 0 {
        return Ok(format!(
            "ERROR: add_dnc_phone DNC NUMBER ALREADY EXISTS: |{user}|{phone}|{campaign}\n"
        ));
    }
    add_dnc(pool, &phone, target, user).await?;
    shared.record(LedgerEntry::DncAdded {
        phone_number: phone.clone(),
        list: campaign.clone(),
        by: user.clone(),
        at: now.utc,
    });
    Ok(format!(
        "SUCCESS: add_dnc_phone DNC NUMBER HAS BEEN ADDED - {user}|{phone}|{campaign}\n"
    ))
}
