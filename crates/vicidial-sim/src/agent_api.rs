//! `agc/api.php`, the Agent API (reference §3): every function only writes a request column
//! of the agent's `vicidial_live_agents` row; the agent screen ([`crate::screen`]) acts on it.
//! Checks and answers follow api.php 2.14-81 in its order: the function's own validity check,
//! the permission list, `alt_user`, then "logged in".

use std::fmt::Write as _;

use sqlx::MySqlPool;

use crate::{
    auth::{user_authorization, AuthResult, Caller},
    db::{self, Now},
    params::{self, Params},
    sim::{Api, LedgerEntry, Shared},
};

/// `VERSION:` of api.php 2.14-81.
pub const VERSION: &str = "2.14-81";
/// `BUILD:` of api.php 2.14-81.
pub const BUILD: &str = "240429-2220";

const FUNCTIONS: &[&str] = &[
    "external_dial",
    "external_hangup",
    "external_status",
    "external_pause",
    "pause_code",
    "logout",
    "send_dtmf",
    "call_agent",
];

/// Handles one request; returns the body.
pub(crate) async fn handle(shared: &Shared, p: &Params) -> anyhow::Result<String> {
    let function = p.filtered("function", params::word);
    let mut agent_user = p.filtered("agent_user", params::alnum);
    let out = run(shared, p, &function, &mut agent_user).await?;
    let first = out.lines().next().unwrap_or("").to_string();
    if !first.is_empty() || FUNCTIONS.contains(&function.as_str()) || function == "version" {
        log_api(&shared.pool, p, &function, &agent_user, &first).await?;
    }
    shared.record(LedgerEntry::ApiRequest {
        api: Api::Agent,
        function,
        agent_user,
        result: first,
        at: Now::get().utc,
    });
    Ok(out)
}

/// `vicidial_api_log` (api.php's `api_log()`); the password is never stored.
async fn log_api(
    pool: &MySqlPool,
    p: &Params,
    function: &str,
    agent_user: &str,
    first: &str,
) -> anyhow::Result<()> {
    let (result, reason) = first.split_once(": ").unwrap_or((first, ""));
    let reason = reason.split(" - ").next().unwrap_or("");
    sqlx::query(
        "INSERT INTO vicidial_api_log (user, api_date, api_script, function, agent_user, value, result, result_reason, source, data) \
         VALUES (?, NOW(), 'agent', ?, ?, ?, ?, ?, ?, '')",
    )
    .bind(p.filtered("user", params::word))
    .bind(function)
    .bind(agent_user)
    .bind(p.filtered("value", params::value_char))
    .bind(result)
    .bind(reason)
    .bind(p.filtered("source", params::alnum).chars().take(20).collect::<String>())
    .execute(pool)
    .await?;
    Ok(())
}

struct ApiUser {
    user: String,
    allowed_functions: String,
    user_group: String,
}

impl ApiUser {
    fn may(&self, function: &str) -> bool {
        self.allowed_functions.contains(&format!(" {function} "))
            || self.allowed_functions.contains("ALL_FUNCTIONS")
    }
}

async fn run(
    shared: &Shared,
    p: &Params,
    function: &str,
    agent_user: &mut String,
) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let now = Now::get();
    if function == "version" {
        return Ok(format!(
            "VERSION: {VERSION}|BUILD: {BUILD}|DATE: {}|EPOCH: {}\n",
            now.datetime(),
            now.epoch()
        ));
    }
    let source = p.filtered("source", params::alnum);
    if source.len() < 2 {
        return Ok(format!("ERROR: Invalid Source - {source}\n"));
    }
    let user = p.filtered("user", params::word);
    let pass = p.filtered("pass", params::pass_char);
    let auth = user_authorization(pool, &user, &pass, Caller::AgentApi).await?;
    let auth_api: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vicidial_users WHERE user = ? AND vdc_agent_api_access = '1'",
    )
    .bind(&user)
    .fetch_one(pool)
    .await?;
    let auth_ok = auth == AuthResult::Good;
    if user.len() < 2 || pass.len() < 2 || !auth_ok || auth_api == 0 {
        return Ok(format!(
            "ERROR: Invalid Username/Password: |{user}|{pass}|{}|{auth_api}|{}|\n",
            u8::from(auth_ok),
            auth.message()
        ));
    }
    let active: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM system_settings WHERE vdc_agent_api_active = '1'")
            .fetch_one(pool)
            .await?;
    if active == 0 {
        return Ok("ERROR: System API NOT ACTIVE\n".to_string());
    }
    let row = sqlx::query(
        "SELECT COALESCE(api_allowed_functions, '') AS f, COALESCE(user_group, '') AS g FROM vicidial_users WHERE user = ?",
    )
    .bind(&user)
    .fetch_one(pool)
    .await?;
    let api_user = ApiUser {
        user,
        allowed_functions: db::s(&row, "f"),
        user_group: db::s(&row, "g"),
    };
    let value = p.filtered("value", params::value_char);
    let alt_user = p.filtered("alt_user", params::alnum);
    let mut out = String::new();

    // The function's own validity check, before permission and login.
    let invalid = match function {
        // external_dial checks more fields itself.
        "external_dial" => false,
        "external_hangup" | "external_status" | "send_dtmf" => {
            value.is_empty() || (agent_user.is_empty() && alt_user.len() < 2)
        }
        "external_pause" => {
            value.is_empty()
                || (agent_user.is_empty() && alt_user.is_empty())
                || !(value.contains("PAUSE") || value.contains("RESUME"))
        }
        "logout" => {
            value.is_empty()
                || (agent_user.is_empty() && alt_user.is_empty())
                || !value.contains("LOGOUT")
        }
        "pause_code" => {
            value.is_empty() || value.len() > 6 || (agent_user.is_empty() && alt_user.len() < 2)
        }
        "call_agent" => value != "CALL" || (agent_user.is_empty() && alt_user.len() < 2),
        // Unknown functions: api.php has no block for them, the body stays empty.
        _ => return Ok(String::new()),
    };
    if invalid {
        return Ok(format!(
            "ERROR: {function} not valid - {value}|{agent_user}\n"
        ));
    }
    if function == "external_dial" {
        return external_dial(shared, p, &api_user, agent_user, &alt_user, now).await;
    }
    if !api_user.may(function) {
        return Ok(permission_error(&value, &api_user, function));
    }
    resolve_alt_user(pool, &alt_user, agent_user, &mut out).await?;
    let Some(live) = live_agent(pool, agent_user).await? else {
        let _ = writeln!(out, "ERROR: agent_user is not logged in - {agent_user}");
        return Ok(out);
    };
    let agent = agent_user.as_str();
    match function {
        "external_hangup" => {
            set_column(pool, agent, "external_hangup", &value).await?;
            let _ = writeln!(
                out,
                "SUCCESS: external_hangup function set - {value}|{agent}"
            );
        }
        "external_status" => {
            let status = external_status_value(pool, p, &value, &live.campaign_id).await?;
            set_column(pool, agent, "external_status", &status).await?;
            let _ = writeln!(
                out,
                "SUCCESS: external_status function set - {status}|{agent}"
            );
        }
        "external_pause" => {
            if value.contains("RESUME")
                && ["READY", "QUEUE", "INCALL", "CLOSER"].contains(&live.status.as_str())
            {
                let _ = writeln!(
                    out,
                    "ERROR: external_pause agent is not paused - {value}|{agent}"
                );
                return Ok(out);
            }
            let epoch = now.epoch();
            set_column(pool, agent, "external_pause", &format!("{value}!{epoch}")).await?;
            let _ = writeln!(
                out,
                "SUCCESS: external_pause function set - {value}|{epoch}|{agent}"
            );
        }
        "logout" => {
            set_column(pool, agent, "external_pause", &value).await?;
            let _ = writeln!(
                out,
                "SUCCESS: logout function set - {value}|{}|{agent}",
                now.epoch()
            );
        }
        "pause_code" => {
            if live.status != "PAUSED" {
                let _ = writeln!(
                    out,
                    "ERROR: pause_code error - agent is not paused - {agent}"
                );
                return Ok(out);
            }
            set_column(pool, agent, "external_pause_code", &value).await?;
            let _ = writeln!(out, "SUCCESS: pause_code function sent - {agent}");
        }
        "send_dtmf" => {
            set_column(pool, agent, "external_dtmf", &value).await?;
            let _ = writeln!(out, "SUCCESS: send_dtmf function set - {value}|{agent}");
        }
        "call_agent" => {
            let call: Option<String> = sqlx::query_scalar(
                "SELECT COALESCE(agent_login_call, '') FROM vicidial_session_data WHERE user = ?",
            )
            .bind(agent)
            .fetch_optional(pool)
            .await?;
            match call {
                None => {
                    let _ = writeln!(out, "ERROR: call_agent error - no session data - {agent}");
                }
                Some(call) if call.len() <= 5 => {
                    let _ = writeln!(out, "ERROR: call_agent error - entry is empty - {agent}");
                }
                Some(call) => {
                    requeue_login_call(pool, &call).await?;
                    let _ = writeln!(out, "SUCCESS: call_agent function sent - {agent}");
                }
            }
        }
        _ => unreachable!("filtered above"),
    }
    Ok(out)
}

fn permission_error(value: &str, api_user: &ApiUser, function: &str) -> String {
    format!(
        "ERROR: auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION - {value}|{}|{function}|{}\n",
        api_user.user, api_user.user_group
    )
}

/// `alt_user`: the agent is the user whose `custom_three` matches; when none does, api.php
/// prints an error line and carries on with `agent_user`.
async fn resolve_alt_user(
    pool: &MySqlPool,
    alt_user: &str,
    agent_user: &mut String,
    out: &mut String,
) -> anyhow::Result<()> {
    if alt_user.len() > 1 {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT user FROM vicidial_users WHERE custom_three = ? ORDER BY user LIMIT 1",
        )
        .bind(alt_user)
        .fetch_optional(pool)
        .await?;
        match found {
            Some(u) => *agent_user = u,
            None => {
                let _ = writeln!(out, "ERROR: no user found - {alt_user}");
            }
        }
    }
    Ok(())
}

struct Live {
    status: String,
    lead_id: i64,
    campaign_id: String,
}

async fn live_agent(pool: &MySqlPool, agent: &str) -> anyhow::Result<Option<Live>> {
    let row = sqlx::query(
        "SELECT COALESCE(status, '') AS status, CAST(lead_id AS SIGNED) AS lead_id, COALESCE(campaign_id, '') AS campaign_id \
         FROM vicidial_live_agents WHERE user = ? LIMIT 1",
    )
    .bind(agent)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Live {
        status: db::s(&r, "status"),
        lead_id: db::n(&r, "lead_id"),
        campaign_id: db::s(&r, "campaign_id"),
    }))
}

async fn set_column(
    pool: &MySqlPool,
    agent: &str,
    column: &str,
    value: &str,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "UPDATE vicidial_live_agents SET {column} = ? WHERE user = ?"
    ))
    .bind(value)
    .bind(agent)
    .execute(pool)
    .await?;
    Ok(())
}

/// The `external_status` column value: the status, or for a scheduled-callback status with a
/// date `<status>!<datetime>!<type>!<comments>!`, plus the QueueMetrics code.
async fn external_status_value(
    pool: &MySqlPool,
    p: &Params,
    value: &str,
    campaign_id: &str,
) -> anyhow::Result<String> {
    let datetime: String = p
        .raw("callback_datetime")
        .replace('+', " ")
        .chars()
        .filter(|c| params::datetime_char(*c))
        .collect();
    let mut callback_type = p.filtered("callback_type", params::upper);
    let comments: String = p
        .raw("callback_comments")
        .replace('+', " ")
        .chars()
        .filter(|c| params::comment_char(*c))
        .collect();
    let qm = p.filtered("qm_dispo_code", |c| params::word(c) || c == '.');
    let mut status = value.to_string();
    let mut cb_found = false;
    if datetime.len() > 12 {
        cb_found = is_callback_status(pool, value, campaign_id).await?;
        if cb_found {
            if callback_type.len() < 4 {
                callback_type = "ANYONE".to_string();
            }
            let comments: String = comments.chars().take(200).collect();
            status = format!("{value}!{datetime}!{callback_type}!{comments}!");
        }
    }
    if !qm.is_empty() {
        if cb_found {
            status.push_str(&qm);
        } else {
            status = format!("{status}!!!!{qm}");
        }
    }
    Ok(status)
}

/// Whether `status` is flagged `scheduled_callback='Y'` system-wide or in `campaign_id`.
pub(crate) async fn is_callback_status(
    pool: &MySqlPool,
    status: &str,
    campaign_id: &str,
) -> anyhow::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM vicidial_statuses WHERE status = ? AND scheduled_callback = 'Y') + \
         (SELECT COUNT(*) FROM vicidial_campaign_statuses WHERE campaign_id = ? AND status = ? AND scheduled_callback = 'Y')",
    )
    .bind(status)
    .bind(campaign_id)
    .bind(status)
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}

/// api.php's `call_agent`: the saved login Originate (`|`-separated `vicidial_manager` values)
/// inserted again.
async fn requeue_login_call(pool: &MySqlPool, call: &str) -> anyhow::Result<()> {
    let mut values: Vec<&str> = call.split('|').collect();
    values.resize(19, "");
    let mut q = sqlx::query(
        "INSERT INTO vicidial_manager (uniqueid, entry_date, status, response, server_ip, channel, action, callerid, \
         cmd_line_b, cmd_line_c, cmd_line_d, cmd_line_e, cmd_line_f, cmd_line_g, cmd_line_h, cmd_line_i, cmd_line_j, cmd_line_k) \
         VALUES (?, NOW(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    // values[0] is man_id (auto) and values[2] the entry date (now).
    q = q.bind(values[1]);
    for v in &values[3..19] {
        q = q.bind(*v);
    }
    q.execute(pool).await?;
    Ok(())
}

async fn external_dial(
    shared: &Shared,
    p: &Params,
    api_user: &ApiUser,
    agent_user: &mut String,
    alt_user: &str,
    now: Now,
) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let mut value = p.filtered("value", params::value_char);
    if value != "MANUALNEXT" {
        value.retain(|c| c.is_ascii_digit());
    }
    let mut phone_code = p.filtered("phone_code", params::phone_code_char);
    let search = p.filtered("search", params::word);
    let preview = p.filtered("preview", params::word);
    let focus = p.filtered("focus", params::word);
    let lead_id = p.filtered("lead_id", params::digit);
    let vendor_id: String = p
        .raw("vendor_id")
        .replace('+', " ")
        .chars()
        .filter(|c| *c != ';' && *c != '#')
        .collect();
    let dial_prefix = p.filtered("dial_prefix", params::alnum);
    let group_alias = p.filtered("group_alias", params::alnum);
    let alt_dial = p.filtered("alt_dial", |c| c.is_ascii_digit() || c.is_ascii_uppercase());
    let mut dial_ingroup = p.filtered("dial_ingroup", params::word);
    let vtiger_callback = p.filtered("vtiger_callback", params::upper);
    let mut out = String::new();
    if (value.len() < 2 && lead_id.is_empty())
        || (agent_user.len() < 2 && alt_user.len() < 2)
        || search.len() < 2
        || preview.len() < 2
        || focus.len() < 2
    {
        let _ = writeln!(
            out,
            "ERROR: external_dial not valid - {value}|{phone_code}|{search}|{preview}|{focus}|{lead_id}|{agent_user}|{alt_user}"
        );
        return Ok(out);
    }
    if !api_user.may("external_dial") {
        return Ok(permission_error(&value, api_user, "external_dial"));
    }
    resolve_alt_user(pool, alt_user, agent_user, &mut out).await?;
    let agent = agent_user.clone();
    let Some(live) = live_agent(pool, &agent).await? else {
        let _ = writeln!(out, "ERROR: agent_user is not logged in - {agent}");
        return Ok(out);
    };
    if !dial_ingroup.is_empty() {
        // The simulator has no in-groups: VICIdial continues without one.
        let _ = writeln!(
            out,
            "NOTICE: defined dial_ingroup not found - {dial_ingroup}"
        );
        dial_ingroup.clear();
    }
    // api_manual_dial STANDARD (QUEUE modes are not simulated and checked the same way).
    if !(live.status == "PAUSED" && live.lead_id < 1) {
        let _ = writeln!(out, "ERROR: agent_user is not paused - {agent}");
        return Ok(out);
    }
    let manual: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vicidial_users WHERE user = ? AND agentcall_manual = '1'",
    )
    .bind(&agent)
    .fetch_one(pool)
    .await?;
    if manual == 0 {
        let _ = writeln!(
            out,
            "ERROR: agent_user is not allowed to place manual dial calls - {agent}"
        );
        return Ok(out);
    }
    if !group_alias.is_empty() {
        let _ = writeln!(
            out,
            "ERROR: group_alias is not valid - {agent}|{group_alias}"
        );
        return Ok(out);
    }
    if !lead_id.is_empty() {
        let lead = sqlx::query(
            "SELECT COALESCE(phone_number, '') AS phone_number, COALESCE(phone_code, '') AS phone_code \
             FROM vicidial_list WHERE lead_id = ?",
        )
        .bind(lead_id.parse::<u64>().unwrap_or(0))
        .fetch_optional(pool)
        .await?;
        let Some(lead) = lead else {
            let _ = writeln!(out, "ERROR: lead_id is not valid - {agent}|{lead_id}");
            return Ok(out);
        };
        value = db::s(&lead, "phone_number");
        phone_code = db::s(&lead, "phone_code");
    }
    let epoch = now.epoch();
    let caller_id_number = "";
    let column = format!(
        "{value}!{phone_code}!{search}!{preview}!{focus}!{vendor_id}!{epoch}!{dial_prefix}!{group_alias}!{caller_id_number}!{vtiger_callback}!{lead_id}!{alt_dial}!{dial_ingroup}"
    );
    set_column(pool, &agent, "external_dial", &column).await?;
    let _ = writeln!(
        out,
        "SUCCESS: external_dial function set - {value}|{agent}|{phone_code}|{search}|{preview}|{focus}|{vendor_id}|{epoch}|{dial_prefix}|{group_alias}|{caller_id_number}|{alt_dial}"
    );
    Ok(out)
}
