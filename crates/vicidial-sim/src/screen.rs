//! The agent screen: `agc/vicidial.php` (login and the page), `agc/conf_exten_check.php` (its
//! poll) and what the page's JavaScript does on each poll ([`tick`]): the manual dial of
//! `manDiaLnextCaLL`, the call log of `manDiaLlogCaLL`, the hangup, `updateDISPO` (reference
//! §6), pause codes, DTMF and `userLOGout`, driven by the `external_*` request columns the
//! Agent API writes (reference §3, §4).

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    response::Response,
};
use sqlx::{mysql::MySqlRow, MySqlPool};

use crate::{
    agent_api::is_callback_status,
    auth::{user_authorization, vicidial_pass_hash, AuthResult, Caller},
    channels,
    db::{self, Now},
    params::{self, Params},
    sim::{html, internal, Call, Callback, LedgerEntry, Outcome, Shared},
};

/// The fields VICIdial's login form posts to `agc/vicidial.php`, in the page's order (stock
/// 2.14 `vicidial.php`, its "Re-Login" form, which has every field the other login forms
/// have: `DB`, the browser size its `browser_dimensions()` fills in on load, `admin_test`,
/// the five `LOGINvar`s, `hide_relogin_fields`, the phone and user logins and the campaign).
/// PHP reads each by name, so the order does not matter to vicidial.php; an absent field is
/// an empty one. `JS_browser_height` must hold the window height: vicidial.php computes
/// `$CHheight = ($JS_browser_height - 50)` unconditionally, which PHP 8 refuses for an empty
/// string (the login then dies after writing its rows). `JS_browser_width` is only used in
/// arithmetic for users with `agent_fullscreen='Y'` (a column this schema does not have).
pub const LOGIN_FORM_FIELDS: &[&str] = &[
    "DB",
    "JS_browser_height",
    "JS_browser_width",
    "admin_test",
    "LOGINvarONE",
    "LOGINvarTWO",
    "LOGINvarTHREE",
    "LOGINvarFOUR",
    "LOGINvarFIVE",
    "hide_relogin_fields",
    "phone_login",
    "phone_pass",
    "VD_login",
    "VD_pass",
    "VD_campaign",
];

/// How the simulated carrier's channels are named (`SIP/carrier-0000002a`).
const CUSTOMER_CHANNEL: &str = "SIP/carrier-";

/// The line of stock vicidial.php 2.14-710c that dies on PHP 8 when the login form carried no
/// browser height (`$CHheight = ($JS_browser_height - 50);`).
const FATAL_LINE: u32 = 5666;
/// Where vicidial.php lives on a ViciBox install (the path PHP prints in its fatal error).
const VICIDIAL_PHP_PATH: &str = "/srv/www/htdocs/agc/vicidial.php";

/// Why the agent screen refused a login, with VICIdial's wording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginRefused {
    /// Wrong user/password, inactive, API-only or unknown user.
    BadLogin,
    /// Ten failed logins in the last 15 minutes.
    Locked,
    /// The phone login/password does not match an active phone.
    BadPhone,
    /// The campaign does not exist or is inactive.
    BadCampaign,
    /// Manual campaign without `no_hopper_leads_logins='Y'` (the simulator has no hopper).
    NoHopper,
    /// Every conference room of the phone's server is taken.
    NoConference,
}

impl LoginRefused {
    /// The text of VICIdial's error page.
    pub fn message(&self) -> &'static str {
        match self {
            LoginRefused::BadLogin => "Login incorrect, please try again",
            LoginRefused::Locked => "Too many login attempts, try again in 15 minutes",
            LoginRefused::BadPhone => "Sorry, your phone login and password are not active in this system, please try again",
            LoginRefused::BadCampaign => "Sorry, you are not allowed to login to this campaign",
            LoginRefused::NoHopper => "Sorry, there are no leads in the hopper for this campaign",
            LoginRefused::NoConference => "Sorry, there are no available sessions",
        }
    }
}

/// An open agent session.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: String,
    pub conf_exten: String,
    pub session_name: String,
    pub server_ip: String,
    pub extension: String,
    pub agent_log_id: u64,
}

/// Opens the session of `user` in `campaign` with the phone whose `phones.login` is
/// `phone_login`: the rows of a successful vicidial.php login (reference §4.1). Passwords
/// are checked by the caller.
pub(crate) async fn open_session(
    shared: &Shared,
    user: &str,
    campaign: &str,
    phone_login: &str,
) -> anyhow::Result<Result<Session, LoginRefused>> {
    let pool = &shared.pool;
    let now = Now::get();
    let Some(u) = sqlx::query(
        "SELECT CAST(user_level AS SIGNED) AS user_level, COALESCE(user_group, '') AS user_group \
         FROM vicidial_users WHERE user = ? AND active = 'Y' AND user_level > 0 AND api_only_user != '1'",
    )
    .bind(user)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(Err(LoginRefused::BadLogin));
    };
    let Some(phone) = sqlx::query(
        "SELECT extension, server_ip, COALESCE(protocol, 'SIP') AS protocol, COALESCE(is_webphone, 'N') AS is_webphone \
         FROM phones WHERE login = ? AND active = 'Y' LIMIT 1",
    )
    .bind(phone_login)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(Err(LoginRefused::BadPhone));
    };
    let Some(camp) = sqlx::query(
        "SELECT COALESCE(dial_method, 'MANUAL') AS dial_method, COALESCE(no_hopper_leads_logins, 'N') AS no_hopper \
         FROM vicidial_campaigns WHERE campaign_id = ? AND active = 'Y'",
    )
    .bind(campaign)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(Err(LoginRefused::BadCampaign));
    };
    if db::s(&camp, "no_hopper") != "Y" {
        return Ok(Err(LoginRefused::NoHopper));
    }
    let ext = db::s(&phone, "extension");
    let server_ip = db::s(&phone, "server_ip");
    let protocol = db::s(&phone, "protocol");
    let extension = format!("{protocol}/{ext}");
    let user_group = db::s(&u, "user_group");

    // The conference room: the one this phone already holds, else the first free one.
    let mut room: Option<i64> =
        sqlx::query_scalar("SELECT CAST(conf_exten AS SIGNED) FROM vicidial_conferences WHERE server_ip = ? AND extension = ? LIMIT 1")
            .bind(&server_ip)
            .bind(&extension)
            .fetch_optional(pool)
            .await?;
    if room.is_none() {
        sqlx::query(
            "UPDATE vicidial_conferences SET extension = ? WHERE server_ip = ? AND (extension = '' OR extension IS NULL) \
             ORDER BY conf_exten LIMIT 1",
        )
        .bind(&extension)
        .bind(&server_ip)
        .execute(pool)
        .await?;
        room = sqlx::query_scalar(
            "SELECT CAST(conf_exten AS SIGNED) FROM vicidial_conferences WHERE server_ip = ? AND extension = ? LIMIT 1",
        )
        .bind(&server_ip)
        .bind(&extension)
        .fetch_optional(pool)
        .await?;
    }
    let Some(room) = room else {
        return Ok(Err(LoginRefused::NoConference));
    };
    let conf_exten = room.to_string();

    // Leads this user left in the middle of a call.
    sqlx::query(
        "UPDATE vicidial_list SET status = 'ERI' WHERE user = ? AND status IN ('QUEUE', 'INCALL')",
    )
    .bind(user)
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM vicidial_live_agents WHERE user = ?")
        .bind(user)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM vicidial_session_data WHERE user = ?")
        .bind(user)
        .execute(pool)
        .await?;

    let n = shared.next_n();
    let random8 = 10_000_000 + (now.utc.timestamp_subsec_nanos() as u64 + n * 7919) % 90_000_000;
    let session_name = format!("{}_{ext}{random8}", now.epoch());
    sqlx::query("INSERT INTO web_client_sessions (extension, server_ip, program, start_time, session_name) VALUES (?, ?, 'vicidial', NOW(), ?)")
        .bind(&ext)
        .bind(&server_ip)
        .bind(&session_name)
        .execute(pool)
        .await?;
    // The Originate that puts a (non-web) phone into the room; call_agent re-sends it.
    let login_callerid = format!("ACagcW{}{user}", now.local.format("%Y%m%d%H%M%S"));
    let login_call = [
        "".to_string(),
        "".to_string(),
        now.datetime(),
        "NEW".to_string(),
        "N".to_string(),
        server_ip.clone(),
        "".to_string(),
        "Originate".to_string(),
        login_callerid.chars().take(20).collect(),
        format!("Channel: {extension}"),
        "Context: default".to_string(),
        format!("Exten: {conf_exten}"),
        "Priority: 1".to_string(),
        format!("Callerid: \"{conf_exten}\" <{conf_exten}>"),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]
    .join("|");
    sqlx::query(
        "INSERT INTO vicidial_session_data (session_name, user, campaign_id, server_ip, conf_exten, extension, login_time, webphone_url, agent_login_call) \
         VALUES (?, ?, ?, ?, ?, ?, NOW(), '', ?)",
    )
    .bind(&session_name)
    .bind(user)
    .bind(campaign)
    .bind(&server_ip)
    .bind(&conf_exten)
    .bind(&extension)
    .bind(&login_call)
    .execute(pool)
    .await?;
    let agent_log_id = sqlx::query(
        "INSERT INTO vicidial_agent_log (user, server_ip, event_time, campaign_id, pause_epoch, pause_sec, wait_epoch, \
         user_group, sub_status, pause_type) VALUES (?, ?, NOW(), ?, ?, 0, ?, ?, 'LOGIN', 'AGENT')",
    )
    .bind(user)
    .bind(&server_ip)
    .bind(campaign)
    .bind(now.epoch())
    .bind(now.epoch())
    .bind(&user_group)
    .execute(pool)
    .await?
    .last_insert_id();
    sqlx::query(
        "INSERT INTO vicidial_live_agents (user, server_ip, conf_exten, extension, status, lead_id, campaign_id, uniqueid, \
         callerid, channel, random_id, last_call_time, last_update_time, last_call_finish, closer_campaigns, user_level, \
         comments, calls_today, agent_log_id, last_state_change, outbound_autodial, on_hook_agent) \
         VALUES (?, ?, ?, ?, 'PAUSED', 0, ?, '', '', '', ?, NOW(), NOW(), NOW(), '', ?, '', 0, ?, NOW(), 'N', 'N')",
    )
    .bind(user)
    .bind(&server_ip)
    .bind(&conf_exten)
    .bind(&extension)
    .bind(campaign)
    .bind(random8 as u32)
    .bind(db::n(&u, "user_level"))
    .bind(agent_log_id)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO vicidial_user_log (user, event, campaign_id, event_date, event_epoch, user_group, session_id, server_ip, \
         extension, computer_ip, browser, data, phone_login) VALUES (?, 'LOGIN', ?, NOW(), ?, ?, ?, ?, ?, '127.0.0.1', 'vicidial-sim', '', ?)",
    )
    .bind(user)
    .bind(campaign)
    .bind(now.epoch())
    .bind(&user_group)
    .bind(&conf_exten)
    .bind(&server_ip)
    .bind(&extension)
    .bind(phone_login)
    .execute(pool)
    .await?;
    if db::s(&phone, "is_webphone") == "N" {
        insert_manager(
            pool,
            &server_ip,
            "Originate",
            &login_callerid,
            &[
                &format!("Channel: {extension}"),
                "Context: default",
                &format!("Exten: {conf_exten}"),
                "Priority: 1",
                &format!("Callerid: \"{conf_exten}\" <{conf_exten}>"),
            ],
        )
        .await?;
    }
    shared.reset_screen(user, &session_name);
    shared.record(LedgerEntry::Login {
        agent: user.to_string(),
        campaign: campaign.to_string(),
        conf_exten: conf_exten.clone(),
        at: now.utc,
    });
    Ok(Ok(Session {
        user: user.to_string(),
        conf_exten,
        session_name,
        server_ip,
        extension,
        agent_log_id,
    }))
}

/// A `vicidial_manager` command for the telephony server's AMI daemon.
async fn insert_manager(
    pool: &MySqlPool,
    server_ip: &str,
    action: &str,
    callerid: &str,
    lines: &[&str],
) -> anyhow::Result<()> {
    let mut cmd: Vec<&str> = lines.to_vec();
    cmd.resize(10, "");
    let mut q = sqlx::query(
        "INSERT INTO vicidial_manager (uniqueid, entry_date, status, response, server_ip, channel, action, callerid, \
         cmd_line_b, cmd_line_c, cmd_line_d, cmd_line_e, cmd_line_f, cmd_line_g, cmd_line_h, cmd_line_i, cmd_line_j, cmd_line_k) \
         VALUES ('', NOW(), 'NEW', 'N', ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(server_ip)
    .bind(action)
    .bind(callerid.chars().take(20).collect::<String>());
    for line in cmd {
        q = q.bind(line);
    }
    q.execute(pool).await?;
    Ok(())
}

/// `agc/vicidial.php`: without credentials the login form; with them the login and the agent
/// screen page, or VICIdial's error page. No `X-Frame-Options`: the page may be framed.
///
/// A login whose form lacks `JS_browser_height` (or has it empty) dies as stock vicidial.php
/// 2.14 dies on PHP 8: every session row is written first (`vicidial_live_agents`,
/// `vicidial_session_data`, `web_client_sessions`, `vicidial_agent_log`, ...), then
/// `$CHheight = ($JS_browser_height - 50)` throws `TypeError: Unsupported operand types:
/// string - int`. The answer is HTTP 200, not 500: by then the page has printed far more
/// than php.ini's `output_buffering` (4096 bytes), so PHP has already sent its headers. The
/// body is the page so far followed by PHP's message as `display_errors=On` prints it (with
/// the production `display_errors=Off` the same page simply ends there). Either way the page
/// has no script: nothing polls `conf_exten_check.php`, nothing queued is ever carried out.
pub(crate) async fn vicidial_php(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::parse(q.as_deref(), &body);
    match vicidial_php_page(&shared, &p).await {
        Ok(page) => html(page),
        Err(e) => internal(e),
    }
}

/// PHP 8 arithmetic accepts a string with a numeric prefix (with a warning for trailing
/// junk) and throws a `TypeError` for any other, the empty string included. vicidial.php
/// keeps only `[0-9a-z]` of the field, so a numeric prefix is a leading digit.
fn php_arithmetic_ok(value: &str) -> bool {
    value.chars().next().is_some_and(|c| c.is_ascii_digit())
}

async fn vicidial_php_page(shared: &Shared, p: &Params) -> anyhow::Result<String> {
    let user = p.filtered("VD_login", params::word);
    let pass = params::filter_password(&p.raw("VD_pass"));
    let campaign = p.filtered("VD_campaign", params::word).to_uppercase();
    let mut phone_login = p.filtered("phone_login", params::word);
    let mut phone_pass = params::filter_password(&p.raw("phone_pass"));
    let browser_height = p.filtered("JS_browser_height", |c| {
        c.is_ascii_digit() || c.is_ascii_lowercase()
    });
    if user.is_empty() || pass.is_empty() || campaign.is_empty() {
        return Ok(login_form(&user, &campaign, &phone_login));
    }
    match user_authorization(&shared.pool, &user, &pass, Caller::AgentScreen).await? {
        AuthResult::Good => {}
        AuthResult::Lock => return Ok(error_page(LoginRefused::Locked.message())),
        _ => return Ok(error_page(LoginRefused::BadLogin.message())),
    }
    if phone_login.is_empty() {
        let row = sqlx::query(
            "SELECT COALESCE(phone_login, '') AS phone_login, COALESCE(phone_pass, '') AS phone_pass FROM vicidial_users WHERE user = ?",
        )
        .bind(&user)
        .fetch_one(&shared.pool)
        .await?;
        phone_login = db::s(&row, "phone_login");
        phone_pass = db::s(&row, "phone_pass");
    }
    let phone_ok: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM phones WHERE login = ? AND pass = ? AND active = 'Y'",
    )
    .bind(&phone_login)
    .bind(&phone_pass)
    .fetch_one(&shared.pool)
    .await?;
    if phone_ok == 0 {
        return Ok(error_page(LoginRefused::BadPhone.message()));
    }
    let session = match open_session(shared, &user, &campaign, &phone_login).await? {
        Ok(session) => session,
        Err(refused) => return Ok(error_page(refused.message())),
    };
    if !php_arithmetic_ok(&browser_height) {
        let message = "Uncaught TypeError: Unsupported operand types: string - int";
        shared.record(LedgerEntry::PhpFatal {
            agent: user.clone(),
            script: "vicidial.php".to_string(),
            message: message.to_string(),
            at: Now::get().utc,
        });
        return Ok(fatal_page(&session, message));
    }
    let settings = sqlx::query(
        "SELECT COALESCE(pass_hash_enabled, '0') AS pass_hash_enabled, COALESCE(pass_key, '') AS pass_key, \
         CAST(COALESCE(pass_cost, 2) AS SIGNED) AS pass_cost FROM system_settings LIMIT 1",
    )
    .fetch_one(&shared.pool)
    .await?;
    // The page keeps the agent's password in its JavaScript for every AJAX call; with
    // hashing on it keeps the hash (`user_authorization()` returns it) and the polls send
    // that with `bcrypt` left at its default.
    let page_pass = if db::s(&settings, "pass_hash_enabled") == "1" {
        vicidial_pass_hash(
            &pass,
            &db::s(&settings, "pass_key"),
            db::n(&settings, "pass_cost") as u32,
        )
        .unwrap_or_default()
    } else {
        pass.clone()
    };
    let auto_dial_level: String = sqlx::query_scalar(
        "SELECT COALESCE(auto_dial_level, '0') FROM vicidial_campaigns WHERE campaign_id = ?",
    )
    .bind(&campaign)
    .fetch_optional(&shared.pool)
    .await?
    .unwrap_or_else(|| "0".to_string());
    Ok(agent_page(
        &session,
        &campaign,
        &page_pass,
        &auto_dial_level,
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JavaScript string literal's content (the page's `var pass = "...";`).
fn js_string(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('<', "\\x3c")
}

fn login_form(user: &str, campaign: &str, phone_login: &str) -> String {
    let mut hidden = String::new();
    for field in LOGIN_FORM_FIELDS {
        if !matches!(
            *field,
            "phone_login" | "phone_pass" | "VD_login" | "VD_pass" | "VD_campaign"
        ) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{field}\" id=\"{field}\" value=\"\" />\n"
            ));
        }
    }
    format!(
        "<html>\n<head><title>Agent web client: Campaign Login</title></head>\n\
         <body onresize=\"browser_dimensions();\" onload=\"browser_dimensions();\">\n\
         <script>function browser_dimensions() {{ document.vicidial_form.JS_browser_width.value = window.innerWidth; \
         document.vicidial_form.JS_browser_height.value = window.innerHeight; }}</script>\n\
         <form name=\"vicidial_form\" id=\"vicidial_form\" action=\"vicidial.php\" method=\"post\">\n{hidden}\
         Phone Login: <input type=\"text\" name=\"phone_login\" value=\"{}\"><br>\n\
         Phone Password: <input type=\"password\" name=\"phone_pass\"><br>\n\
         User Login: <input type=\"text\" name=\"VD_login\" value=\"{}\"><br>\n\
         User Password: <input type=\"password\" name=\"VD_pass\"><br>\n\
         Campaign: <input type=\"text\" name=\"VD_campaign\" value=\"{}\"><br>\n\
         <input type=\"submit\" name=\"SUBMIT\" value=\"SUBMIT\">\n</form>\n</body>\n</html>\n",
        escape(phone_login),
        escape(user),
        escape(campaign)
    )
}

fn error_page(message: &str) -> String {
    format!(
        "<html>\n<head><title>Agent web client: Login Error</title></head>\n<body>\n\
         <b>{message}</b><br>\n<a href=\"vicidial.php\">Back to login</a>\n</body>\n</html>\n"
    )
}

/// What vicidial.php has printed when it dies at [`FATAL_LINE`] (the head and the comments of
/// the login steps), then PHP's fatal error message (`html_errors` on, as php-fpm has it).
fn fatal_page(session: &Session, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n\
         <meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\" />\n\
         <!-- campaign is set to manual dial: 0 -->\n\
         <!-- new vicidial_live_agents record inserted: |1| -->\n\
         <!-- client web browser used: W3C-Compliant |vicidial-sim|0| -->\n\
         <!-- vicidial_agent_log record inserted: |1|{agent_log}| -->\n\
         <br />\n<b>Fatal error</b>:  {message} in {VICIDIAL_PHP_PATH}:{FATAL_LINE}\n\
         Stack trace:\n#0 {{main}}\n  thrown in <b>{VICIDIAL_PHP_PATH}</b> on line <b>{FATAL_LINE}</b><br />\n",
        agent_log = session.agent_log_id,
    )
}

/// The agent screen: shows the session and polls `conf_exten_check.php` every second with
/// what vicidial.php's `check_for_conf_calls()` sends (`server_ip`, `session_name`, `user`,
/// `pass`, `client=vdc`, `conf_exten`, `auto_dial_level`, `campagentstdisp`). Like the real
/// page it holds the password (or its hash) in its JavaScript.
fn agent_page(session: &Session, campaign: &str, pass: &str, auto_dial_level: &str) -> String {
    format!(
        r#"<html>
<head><title>Agent web client: {user}</title></head>
<body>
<div id="session">user {user} | campaign {campaign} | session_id {conf} | server_ip {server} | extension {ext}</div>
<pre id="status">waiting for the first poll</pre>
<script>
var user = "{js_user}";
var pass = "{js_pass}";
var session_name = "{js_session}";
var server_ip = "{js_server}";
var session_id = "{js_conf}";
var auto_dial_level = "{js_level}";
var campagentstdisp = "NO";
var timer = setInterval(function () {{
  var checkconf_query = "server_ip=" + server_ip + "&session_name=" + session_name + "&user=" + user + "&pass=" + encodeURIComponent(pass)
    + "&client=vdc&conf_exten=" + session_id + "&auto_dial_level=" + auto_dial_level + "&campagentstdisp=" + campagentstdisp;
  fetch("conf_exten_check.php", {{method: "POST", headers: {{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}}, body: checkconf_query}})
    .then(function (r) {{ return r.text(); }})
    .then(function (t) {{
      document.getElementById("status").textContent = t;
      if (t.indexOf("Logged-in: DEAD_VLA") >= 0 || t.indexOf("Logged-in: API_LOGOUT") >= 0 || t.indexOf("Invalid ") == 0) {{ clearInterval(timer); }}
    }})
    .catch(function (e) {{ document.getElementById("status").textContent = "poll failed: " + e; }});
}}, 1000);
</script>
</body>
</html>
"#,
        user = escape(&session.user),
        campaign = escape(campaign),
        conf = escape(&session.conf_exten),
        server = escape(&session.server_ip),
        ext = escape(&session.extension),
        js_user = js_string(&session.user),
        js_pass = js_string(pass),
        js_session = js_string(&session.session_name),
        js_server = js_string(&session.server_ip),
        js_conf = js_string(&session.conf_exten),
        js_level = js_string(auto_dial_level),
    )
}

/// `agc/conf_exten_check.php` (2.14-54), the screen's once-a-second poll, with its checks in
/// its order: the agent's `user`/`pass` (the plain password, or with hashing on the hash the
/// page holds, `bcrypt` left at 1; a wrong one counts toward the lockout like any login),
/// `server_ip` and `session_name` (known in `web_client_sessions`), `conf_exten`. With
/// `client=vdc` it refreshes the agent's row (`random_id`, which also refreshes the classic
/// TIMESTAMP `last_update_time`), detects a dead call from `vicidial_auto_calls` and prints
/// the status line; then, for every client, the channels of the conference from
/// `live_sip_channels` and `live_channels`. The page's handling of the answer (what its
/// JavaScript does with the `API...` fields) is [`tick`], run after the answer is made.
pub(crate) async fn conf_exten_check(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::parse(q.as_deref(), &body);
    match conf_exten_check_body(&shared, &p).await {
        Ok(body) => html(body),
        Err(e) => internal(e),
    }
}

/// conf_exten_check.php's filter for `session_name`, `server_ip`, `pass`: quotes, backslash
/// and `;` removed (and spaces for `user`/`pass`).
fn strip_sql_chars(s: &str, spaces: bool) -> String {
    s.chars()
        .filter(|c| !(matches!(c, '\'' | '"' | '\\' | ';') || (spaces && *c == ' ')))
        .collect()
}

async fn conf_exten_check_body(shared: &Shared, p: &Params) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let user: String = strip_sql_chars(&p.raw("user"), true)
        .chars()
        .filter(|c| params::word(*c))
        .collect();
    let pass = strip_sql_chars(&p.raw("pass"), true);
    let server_ip = strip_sql_chars(&p.raw("server_ip"), false);
    let session_name = strip_sql_chars(&p.raw("session_name"), false);
    let conf_exten = p.filtered("conf_exten", params::word);
    let client = if p.has("client") {
        p.raw("client")
    } else {
        "agc".to_string()
    };
    let action = if p.has("ACTION") {
        p.raw("ACTION")
    } else {
        "refresh".to_string()
    };
    // bcrypt=1 (the default) means `pass` already is the hash when hashing is on.
    let pass_is_hash = p.raw("bcrypt") != "OFF" && p.raw("bcrypt") != "0";
    let auth = user_authorization(pool, &user, &pass, Caller::ScreenPoll { pass_is_hash }).await?;
    if user.len() < 2 || pass.len() < 2 || auth != AuthResult::Good {
        return Ok(format!(
            "Invalid Username/Password: |{user}|{pass}|{}|\n",
            auth_message(pool, auth, &user, &pass, pass_is_hash).await?
        ));
    }
    if server_ip.len() < 6 || session_name.len() < 12 {
        return Ok(format!(
            "Invalid server_ip: {server_ip} or Invalid session_name: {session_name}\n"
        ));
    }
    let known: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM web_client_sessions WHERE session_name = ? AND server_ip = ?",
    )
    .bind(&session_name)
    .bind(&server_ip)
    .fetch_one(pool)
    .await?;
    if known == 0 {
        return Ok(format!(
            "Invalid session_name: |{session_name}|{server_ip}|\n"
        ));
    }
    if action != "refresh" {
        return Ok(String::new());
    }
    if conf_exten.is_empty() {
        return Ok("Conf Exten  is not valid\n".to_string());
    }
    let mut out = String::new();
    let mut act = false;
    if client == "vdc" {
        let (line, current) = status_line(shared, p, &user, &server_ip, &session_name).await?;
        out.push_str(&line);
        act = current;
    }
    let channels = channels::conference(pool, &server_ip, &conf_exten).await?;
    out.push_str(&format!("{}|", channels.len()));
    for channel in &channels {
        out.push_str(channel);
        out.push_str(" ~");
    }
    out.push('\n');
    // The page acts on the answer after it arrived; an older login's page acts on nothing.
    if act {
        tick(shared, &user, &session_name).await?;
    }
    Ok(out)
}

/// `auth_message` as `user_authorization()` returns it: for a bad password `BAD|` and the
/// SQL it ran (which echoes the password).
async fn auth_message(
    pool: &MySqlPool,
    auth: AuthResult,
    user: &str,
    pass: &str,
    pass_is_hash: bool,
) -> anyhow::Result<String> {
    if auth != AuthResult::Bad {
        return Ok(auth.message().to_string());
    }
    let hashing: Option<String> =
        sqlx::query_scalar("SELECT COALESCE(pass_hash_enabled, '0') FROM system_settings LIMIT 1")
            .fetch_optional(pool)
            .await?;
    let pass_sql = if hashing.as_deref() == Some("1") && pass_is_hash {
        format!("pass_hash='{pass}'")
    } else {
        format!("pass='{pass}'")
    };
    let lock_over = Now::get().epoch() - crate::auth::LOCK_SECONDS;
    Ok(format!(
        "BAD|SELECT count(*) from vicidial_users where user='{user}' and {pass_sql} and user_level > 0 and active='Y' \
         and ( (failed_login_count < {}) or (UNIX_TIMESTAMP(last_login_date) < {lock_over}) );",
        crate::auth::LOCK_TRIGGER_ATTEMPTS
    ))
}

/// The `client=vdc` part of the poll: refresh the row, dead-call check, the status line.
/// Also says whether this poll comes from the page of the agent's current login.
async fn status_line(
    shared: &Shared,
    p: &Params,
    user: &str,
    server_ip: &str,
    session_name: &str,
) -> anyhow::Result<(String, bool)> {
    let pool = &shared.pool;
    let now = Now::get();
    let live = sqlx::query(
        "SELECT COALESCE(status, '') AS status, COALESCE(callerid, '') AS callerid, \
         CAST(COALESCE(agent_log_id, 0) AS SIGNED) AS agent_log_id, COALESCE(campaign_id, '') AS campaign_id, \
         COALESCE(external_hangup, '') AS external_hangup, COALESCE(external_status, '') AS external_status, \
         COALESCE(external_pause, '') AS external_pause, COALESCE(external_dial, '') AS external_dial, \
         COALESCE(external_update_fields, '') AS external_update_fields, \
         COALESCE(external_update_fields_data, '') AS external_update_fields_data, \
         COALESCE(external_timer_action, '') AS external_timer_action, \
         COALESCE(external_timer_action_message, '') AS external_timer_action_message, \
         COALESCE(external_timer_action_seconds, '') AS external_timer_action_seconds, \
         COALESCE(external_dtmf, '') AS external_dtmf, COALESCE(external_transferconf, '') AS external_transferconf, \
         COALESCE(external_park, '') AS external_park, \
         COALESCE(external_timer_action_destination, '') AS external_timer_action_destination, \
         COALESCE(external_recording, '') AS external_recording, COALESCE(external_pause_code, '') AS external_pause_code, \
         CAST(COALESCE(external_lead_id, 0) AS CHAR) AS external_lead_id, COALESCE(comments, '') AS comments \
         FROM vicidial_live_agents WHERE user = ? AND server_ip = ?",
    )
    .bind(user)
    .bind(server_ip)
    .fetch_optional(pool)
    .await?;
    let sessions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vicidial_session_data WHERE user = ? AND server_ip = ? AND session_name = ?",
    )
    .bind(user)
    .bind(server_ip)
    .bind(session_name)
    .fetch_one(pool)
    .await?;
    // The screen shows it is alive: a new random number each poll, which makes MariaDB
    // refresh the row's TIMESTAMP column `last_update_time`.
    sqlx::query("UPDATE vicidial_live_agents SET random_id = ? WHERE user = ? AND server_ip = ?")
        .bind(random_id(shared))
        .bind(user)
        .bind(server_ip)
        .execute(pool)
        .await?;
    let f = |col: &str| live.as_ref().map(|r| db::s(r, col)).unwrap_or_default();
    let status = f("status");
    let callerid = f("callerid");
    let calls: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_auto_calls WHERE callerid = ?")
            .bind(&callerid)
            .fetch_one(pool)
            .await?;
    if calls > 0 && status.contains("INCALL") {
        sqlx::query("UPDATE vicidial_auto_calls SET last_update_time = NOW() WHERE callerid = ?")
            .bind(&callerid)
            .execute(pool)
            .await?;
    }
    let dead = calls < 1 && status.contains("INCALL") && !f("agent_log_id").is_empty();
    let campagentstdisp = p.raw("campagentstdisp") == "YES";
    let mut logged_in = if campagentstdisp {
        status.clone()
    } else {
        "N".to_string()
    };
    let current = live.is_some() && sessions > 0;
    if !current {
        logged_in = "DEAD_VLA".to_string();
    }
    let mut external_pause = f("external_pause");
    if external_pause == "LOGOUT" {
        logged_in = "API_LOGOUT".to_string();
        external_pause.clear();
    }
    let mut external_status = f("external_status");
    if external_status.is_empty() {
        external_status = "::::::::::".to_string();
    }
    let counts = if campagentstdisp { "0" } else { "N" };
    let line = format!(
        "DateTime: {}|UnixTime: {}|Logged-in: {logged_in}|CampCalls: {counts}|Status: {status}|DiaLCalls: {counts}|\
         APIHanguP: {}|APIStatuS: {external_status}|APIPausE: {external_pause}|APIDiaL: {}|DEADcall: {}|\
         InGroupChange: 0|||APIFields: {}|APIFieldsData: {}|APITimerAction: {}|APITimerMessage: {}|\
         APITimerSeconds: {}|APIdtmf: {}|APItransferconf: {}|APIpark: {}|APITimerDestination: {}|\
         APIManualDialQueue: 0|APIRecording: {}|APIPaUseCodE: {}|WaitinGChats: N|WaitinGEmails: N|\
         LivEAgentCommentS: |LeadIDSwitch: {}|DEADxfer: 0\n",
        now.datetime(),
        now.epoch(),
        f("external_hangup"),
        f("external_dial"),
        u8::from(dead),
        f("external_update_fields"),
        f("external_update_fields_data"),
        f("external_timer_action"),
        f("external_timer_action_message"),
        f("external_timer_action_seconds"),
        f("external_dtmf"),
        f("external_transferconf"),
        f("external_park"),
        f("external_timer_action_destination"),
        f("external_recording"),
        f("external_pause_code"),
        f("external_lead_id"),
    );
    Ok((line, current))
}

/// conf_exten_check.php's `rand(1000000, 9999999) + 10000000`.
fn random_id(shared: &Shared) -> u32 {
    let n = shared.next_n();
    (10_000_000 + 1_000_000 + (n.wrapping_mul(2_654_435_761) % 9_000_000)) as u32
}

/// The `session_name` of the agent's current login (`vicidial_session_data`).
pub(crate) async fn current_session(
    pool: &MySqlPool,
    user: &str,
) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT session_name FROM vicidial_session_data WHERE user = ? LIMIT 1")
            .bind(user)
            .fetch_optional(pool)
            .await?,
    )
}

/// One poll of a virtual screen (the page of `session_name`): the row refresh a
/// `conf_exten_check.php` request makes, then the page's handling of the answer.
pub(crate) async fn virtual_poll(
    shared: &Shared,
    user: &str,
    session_name: &str,
) -> anyhow::Result<Tick> {
    let current = current_session(&shared.pool, user).await?;
    if current.as_deref() != Some(session_name) {
        // Logged out, or logged in again elsewhere: this page is done.
        return Ok(Tick::LoggedOut);
    }
    sqlx::query("UPDATE vicidial_live_agents SET random_id = ? WHERE user = ?")
        .bind(random_id(shared))
        .bind(user)
        .execute(&shared.pool)
        .await?;
    tick(shared, user, session_name).await
}

/// What a tick found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tick {
    /// The agent is logged in; the screen keeps polling.
    Running,
    /// There is no session (any more): the screen stops.
    LoggedOut,
}

/// The agent's `vicidial_live_agents` row.
struct LiveRow {
    status: String,
    lead_id: u64,
    campaign_id: String,
    server_ip: String,
    conf_exten: String,
    callerid: String,
    agent_log_id: u64,
    preview_lead_id: u64,
    external_hangup: String,
    external_status: String,
    external_pause: String,
    external_dial: String,
    external_dtmf: String,
    external_pause_code: String,
}

async fn load_live(pool: &MySqlPool, user: &str) -> anyhow::Result<Option<LiveRow>> {
    let row = sqlx::query(
        "SELECT COALESCE(status, '') AS status, CAST(lead_id AS SIGNED) AS lead_id, COALESCE(campaign_id, '') AS campaign_id, \
         server_ip, COALESCE(conf_exten, '') AS conf_exten, COALESCE(callerid, '') AS callerid, \
         CAST(COALESCE(agent_log_id, 0) AS SIGNED) AS agent_log_id, CAST(COALESCE(preview_lead_id, 0) AS SIGNED) AS preview_lead_id, \
         COALESCE(external_hangup, '') AS external_hangup, COALESCE(external_status, '') AS external_status, \
         COALESCE(external_pause, '') AS external_pause, COALESCE(external_dial, '') AS external_dial, \
         COALESCE(external_dtmf, '') AS external_dtmf, COALESCE(external_pause_code, '') AS external_pause_code \
         FROM vicidial_live_agents WHERE user = ? LIMIT 1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| LiveRow {
        status: db::s(&r, "status"),
        lead_id: db::n(&r, "lead_id") as u64,
        campaign_id: db::s(&r, "campaign_id"),
        server_ip: db::s(&r, "server_ip"),
        conf_exten: db::s(&r, "conf_exten"),
        callerid: db::s(&r, "callerid"),
        agent_log_id: db::n(&r, "agent_log_id") as u64,
        preview_lead_id: db::n(&r, "preview_lead_id") as u64,
        external_hangup: db::s(&r, "external_hangup"),
        external_status: db::s(&r, "external_status"),
        external_pause: db::s(&r, "external_pause"),
        external_dial: db::s(&r, "external_dial"),
        external_dtmf: db::s(&r, "external_dtmf"),
        external_pause_code: db::s(&r, "external_pause_code"),
    }))
}

/// The campaign settings the screen consults.
struct Campaign {
    manual_dial_list_id: u64,
    manual_dial_filter: String,
    use_internal_dnc: String,
    use_campaign_dnc: String,
    use_other_campaign_dnc: String,
    auto_dial_level: String,
    dial_prefix: String,
    campaign_cid: String,
}

async fn load_campaign(pool: &MySqlPool, campaign_id: &str) -> anyhow::Result<Campaign> {
    let r = sqlx::query(
        "SELECT CAST(COALESCE(manual_dial_list_id, 998) AS SIGNED) AS list_id, COALESCE(manual_dial_filter, 'NONE') AS filter, \
         COALESCE(use_internal_dnc, 'N') AS internal_dnc, COALESCE(use_campaign_dnc, 'N') AS campaign_dnc, \
         COALESCE(use_other_campaign_dnc, '') AS other_dnc, COALESCE(auto_dial_level, '0') AS auto_dial_level, \
         COALESCE(dial_prefix, '') AS dial_prefix, COALESCE(campaign_cid, '') AS campaign_cid \
         FROM vicidial_campaigns WHERE campaign_id = ?",
    )
    .bind(campaign_id)
    .fetch_optional(pool)
    .await?;
    let r = r.ok_or_else(|| anyhow::anyhow!("campaign {campaign_id} not found"))?;
    Ok(Campaign {
        manual_dial_list_id: db::n(&r, "list_id") as u64,
        manual_dial_filter: db::s(&r, "filter"),
        use_internal_dnc: db::s(&r, "internal_dnc"),
        use_campaign_dnc: db::s(&r, "campaign_dnc"),
        use_other_campaign_dnc: db::s(&r, "other_dnc"),
        auto_dial_level: db::s(&r, "auto_dial_level"),
        dial_prefix: db::s(&r, "dial_prefix"),
        campaign_cid: db::s(&r, "campaign_cid"),
    })
}

async fn set_live(pool: &MySqlPool, user: &str, set: &str) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "UPDATE vicidial_live_agents SET {set} WHERE user = ?"
    ))
    .bind(user)
    .execute(pool)
    .await?;
    Ok(())
}

/// What the page of `session_name` does with one poll's answer: what vicidial.php's
/// JavaScript does with the `API...` fields of `conf_exten_check.php`. At most one call-flow
/// step per tick (dial, answer, hangup, dispo, logout), as the real screen takes a poll or
/// more per step. A page of an older login does nothing.
///
/// A queued `APIDiaL` is taken only from the third poll on (`check_n > 2`) and only while a
/// channel of the agent's phone is in the session conference: without one the real screen
/// counts empty polls, shows its "No one is in your session" box and sets
/// `WaitingForNextStep`, which makes it ignore `APIDiaL`. The request stays in
/// `vicidial_live_agents.external_dial`, and once the phone is back the screen places it,
/// however long ago it was queued.
pub(crate) async fn tick(shared: &Shared, user: &str, session_name: &str) -> anyhow::Result<Tick> {
    let pool = &shared.pool;
    let cell = shared.screen(user);
    let mut screen = cell.lock().await;
    if screen.session_name != session_name {
        return Ok(Tick::LoggedOut);
    }
    let Some(la) = load_live(pool, user).await? else {
        screen.call = None;
        return Ok(Tick::LoggedOut);
    };
    screen.polls += 1;
    let now = Now::get();

    // DTMF is played into the conference whenever it arrives.
    if !la.external_dtmf.is_empty() {
        set_live(pool, user, "external_dtmf = ''").await?;
        shared.record(LedgerEntry::Dtmf {
            agent: user.to_string(),
            digits: la.external_dtmf.clone(),
            at: now.utc,
        });
    }

    if let Some(call) = screen.call.clone() {
        let hangup = la.external_hangup == "1";
        if call.uniqueid.is_none() {
            if hangup {
                end_unanswered(shared, user, &la, &call, now, None).await?;
                screen.call = None;
            } else if call.dialed.elapsed() >= shared.opts.answer_after {
                match call.outcome {
                    Outcome::Answer => {
                        let uniqueid = answer(shared, user, &la, &call, now).await?;
                        if let Some(c) = screen.call.as_mut() {
                            c.uniqueid = Some(uniqueid);
                            c.start_epoch = now.epoch();
                        }
                    }
                    outcome => {
                        end_unanswered(shared, user, &la, &call, now, Some(outcome)).await?;
                        screen.call = None;
                    }
                }
            }
        } else if hangup {
            let uniqueid = hang_up(shared, user, &la, &call, now).await?;
            screen.last_uniqueid = uniqueid;
            screen.call = None;
        }
        return Ok(Tick::Running);
    }

    let idle = la.status == "PAUSED" && la.lead_id == 0;
    let dispo_step = la.status == "PAUSED" && la.lead_id > 0 && la.preview_lead_id == 0;

    if dispo_step && !la.external_status.is_empty() {
        let last_uniqueid = screen.last_uniqueid.clone();
        if update_dispo(
            shared,
            user,
            &la,
            &last_uniqueid,
            now,
            &mut screen.stalled_on,
        )
        .await?
        {
            screen.last_uniqueid.clear();
            screen.last_dial = None;
        }
        return Ok(Tick::Running);
    }

    if idle && la.external_pause.starts_with("LOGOUT") {
        user_logout(shared, user, &la, now).await?;
        screen.call = None;
        return Ok(Tick::LoggedOut);
    }

    if idle
        && !la.external_dial.is_empty()
        && screen.polls > 2
        && channels::phone_in_session(pool, user).await?
    {
        // The screen ignores a request it already handled (same epoch). It remembers the
        // whole request, and forgets it at each dispo, so that a test dialling the same
        // number twice within one second is not ignored.
        if screen.last_dial.as_deref() != Some(la.external_dial.as_str()) {
            screen.last_dial = Some(la.external_dial.clone());
            if let Some(call) = manual_dial(shared, user, &la, now).await? {
                screen.call = Some(call);
                return Ok(Tick::Running);
            }
        }
    }

    if la.status == "PAUSED" && !la.external_pause_code.is_empty() {
        sqlx::query("UPDATE vicidial_live_agents SET pause_code = ?, external_pause_code = '' WHERE user = ?")
            .bind(&la.external_pause_code)
            .bind(user)
            .execute(pool)
            .await?;
        sqlx::query("UPDATE vicidial_agent_log SET sub_status = ? WHERE agent_log_id = ?")
            .bind(&la.external_pause_code)
            .bind(la.agent_log_id)
            .execute(pool)
            .await?;
        shared.record(LedgerEntry::PauseCode {
            agent: user.to_string(),
            code: la.external_pause_code.clone(),
            at: now.utc,
        });
    }

    if !la.external_pause.is_empty()
        && !la.external_pause.starts_with("LOGOUT")
        && screen.last_pause.as_deref() != Some(la.external_pause.as_str())
    {
        screen.last_pause = Some(la.external_pause.clone());
        let value = la
            .external_pause
            .split('!')
            .next()
            .unwrap_or("")
            .to_string();
        // RESUME only means something when the campaign dials automatically.
        if value.contains("RESUME") && idle {
            let campaign = load_campaign(pool, &la.campaign_id).await?;
            if campaign.auto_dial_level.parse::<f64>().unwrap_or(0.0) > 0.0 {
                set_live(pool, user, "status = 'READY', last_state_change = NOW()").await?;
            }
        } else if value.contains("PAUSE") && la.status == "READY" {
            // AutoDial_ReSume_PauSe("VDADpause"): the agent stops taking calls.
            set_live(pool, user, "status = 'PAUSED', last_state_change = NOW()").await?;
        }
        shared.record(LedgerEntry::Pause {
            agent: user.to_string(),
            value,
            at: now.utc,
        });
    }
    Ok(Tick::Running)
}

/// `manDiaLnextCaLL`: find or create the lead, mark it `INCALL`, put the agent `INCALL` with
/// the `M` call ID and queue the Originate. `None` when the request was consumed without a
/// call.
async fn manual_dial(
    shared: &Shared,
    user: &str,
    la: &LiveRow,
    now: Now,
) -> anyhow::Result<Option<Call>> {
    let pool = &shared.pool;
    let mut f: Vec<String> = la.external_dial.split('!').map(str::to_string).collect();
    f.resize(14, String::new());
    let (number, phone_code, search, preview, vendor, dial_prefix) =
        (&f[0], &f[1], &f[2], &f[3], &f[5], &f[7]);
    let lead_id: u64 = f[11].parse().unwrap_or(0);
    let campaign = load_campaign(pool, &la.campaign_id).await?;
    let refuse = |reason: &str| LedgerEntry::DialRefused {
        agent: user.to_string(),
        phone_number: number.clone(),
        reason: reason.to_string(),
        at: now.utc,
    };
    if number == "MANUALNEXT" && lead_id == 0 {
        set_live(pool, user, "external_dial = ''").await?;
        shared.record(refuse(
            "no leads in the hopper (the simulator has no hopper)",
        ));
        return Ok(None);
    }
    let lead_sql = "SELECT CAST(lead_id AS SIGNED) AS lead_id FROM vicidial_list";
    let mut lead: Option<i64> = if lead_id > 0 {
        sqlx::query_scalar(&format!("{lead_sql} WHERE lead_id = ?"))
            .bind(lead_id)
            .fetch_optional(pool)
            .await?
    } else if search == "YES" {
        // With the campaign's `manual_dial_search_filter` at its default (NONE) VICIdial's
        // lead lookup searches every list of the system.
        sqlx::query_scalar(&format!(
            "{lead_sql} WHERE phone_number = ? ORDER BY lead_id DESC LIMIT 1"
        ))
        .bind(number)
        .fetch_optional(pool)
        .await?
    } else {
        None
    };
    if campaign.manual_dial_filter.contains("DNC") {
        let internal: i64 = if matches!(campaign.use_internal_dnc.as_str(), "Y" | "AREACODE") {
            sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_dnc WHERE phone_number = ?")
                .bind(number)
                .fetch_one(pool)
                .await?
        } else {
            0
        };
        let camp: i64 = if matches!(campaign.use_campaign_dnc.as_str(), "Y" | "AREACODE") {
            sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_campaign_dnc WHERE phone_number = ? AND campaign_id = ?")
                .bind(number)
                .bind(&la.campaign_id)
                .fetch_one(pool)
                .await?
        } else {
            0
        };
        if internal + camp > 0 {
            set_live(pool, user, "external_dial = ''").await?;
            shared.record(refuse("DNC"));
            return Ok(None);
        }
    }
    if lead_id > 0 && lead.is_none() {
        set_live(pool, user, "external_dial = ''").await?;
        shared.record(refuse("lead not found"));
        return Ok(None);
    }
    if lead.is_none() {
        let id = sqlx::query(
            "INSERT INTO vicidial_list (entry_date, status, user, vendor_lead_code, list_id, gmt_offset_now, phone_code, \
             phone_number, called_count, entry_list_id) VALUES (NOW(), 'QUEUE', '', ?, ?, 0, ?, ?, 0, 0)",
        )
        .bind(vendor)
        .bind(campaign.manual_dial_list_id)
        .bind(if phone_code.is_empty() { "1" } else { phone_code.as_str() })
        .bind(number)
        .execute(pool)
        .await?
        .last_insert_id();
        lead = Some(id as i64);
    }
    let lead_id = lead.unwrap_or(0) as u64;
    if preview == "YES" {
        // Preview: the lead is shown and the screen waits for the agent to press dial.
        sqlx::query("UPDATE vicidial_live_agents SET lead_id = ?, preview_lead_id = ?, external_dial = '' WHERE user = ?")
            .bind(lead_id)
            .bind(lead_id)
            .bind(user)
            .execute(pool)
            .await?;
        shared.record(refuse("preview: waiting for the agent to dial"));
        return Ok(None);
    }
    sqlx::query(
        "UPDATE vicidial_list SET status = 'INCALL', user = ?, called_count = called_count + 1, \
         last_local_call_time = NOW(), called_since_last_reset = 'Y' WHERE lead_id = ?",
    )
    .bind(user)
    .bind(lead_id)
    .execute(pool)
    .await?;
    let row: MySqlRow = sqlx::query(
        "SELECT CAST(list_id AS SIGNED) AS list_id, COALESCE(phone_code, '') AS phone_code, phone_number, \
         CAST(called_count AS SIGNED) AS called_count FROM vicidial_list WHERE lead_id = ?",
    )
    .bind(lead_id)
    .fetch_one(pool)
    .await?;
    // VICIdial's manual call ID: M + mdHis + lead_id padded to 9 = the 20 characters of
    // vicidial_live_agents.callerid.
    let callerid = format!("M{}{:09}", now.cid_date(), lead_id);
    sqlx::query(
        "UPDATE vicidial_live_agents SET status = 'INCALL', lead_id = ?, callerid = ?, comments = 'MANUAL', \
         external_dial = '', external_hangup = '', external_status = '', uniqueid = '', channel = '', \
         last_call_time = NOW(), calls_today = calls_today + 1, last_state_change = NOW() WHERE user = ?",
    )
    .bind(lead_id)
    .bind(&callerid)
    .bind(user)
    .execute(pool)
    .await?;
    let call_phone_code = db::s(&row, "phone_code");
    let call_number = db::s(&row, "phone_number");
    let prefix = if dial_prefix.is_empty() {
        campaign.dial_prefix.clone()
    } else {
        dial_prefix.clone()
    };
    insert_manager(
        pool,
        &la.server_ip,
        "Originate",
        &callerid,
        &[
            &format!("Exten: {prefix}{call_phone_code}{call_number}"),
            "Context: default",
            &format!("Channel: Local/{}@default", la.conf_exten),
            "Priority: 1",
            &format!("Callerid: \"{callerid}\" <{}>", campaign.campaign_cid),
            "Timeout: 60000",
        ],
    )
    .await?;
    sqlx::query(
        "INSERT INTO vicidial_auto_calls (server_ip, campaign_id, status, lead_id, uniqueid, callerid, channel, phone_code, \
         phone_number, call_time, call_type, stage, alt_dial) VALUES (?, ?, 'XFER', ?, '', ?, '', ?, ?, NOW(), 'OUT', 'START', 'MAIN')",
    )
    .bind(&la.server_ip)
    .bind(&la.campaign_id)
    .bind(lead_id)
    .bind(&callerid)
    .bind(&call_phone_code)
    .bind(&call_number)
    .execute(pool)
    .await?;
    sqlx::query(
        "UPDATE vicidial_agent_log SET lead_id = ?, pause_sec = IF(pause_epoch > 0, ? - pause_epoch, 0), wait_epoch = ?, \
         talk_epoch = ? WHERE agent_log_id = ?",
    )
    .bind(lead_id)
    .bind(now.epoch())
    .bind(now.epoch())
    .bind(now.epoch())
    .bind(la.agent_log_id)
    .execute(pool)
    .await?;
    let outcome = shared.outcome_for(&call_number);
    shared.record(LedgerEntry::DialPlaced {
        agent: user.to_string(),
        lead_id,
        phone_code: call_phone_code.clone(),
        phone_number: call_number.clone(),
        callerid,
        at: now.utc,
    });
    Ok(Some(Call {
        lead_id,
        list_id: db::n(&row, "list_id") as u64,
        phone_code: call_phone_code,
        phone_number: call_number,
        called_count: db::n(&row, "called_count"),
        dialed: tokio::time::Instant::now(),
        outcome,
        uniqueid: None,
        start_epoch: 0,
        customer_gone: false,
    }))
}

async fn user_group(pool: &MySqlPool, user: &str) -> anyhow::Result<String> {
    let g: Option<String> =
        sqlx::query_scalar("SELECT COALESCE(user_group, '') FROM vicidial_users WHERE user = ?")
            .bind(user)
            .fetch_optional(pool)
            .await?;
    Ok(g.unwrap_or_default())
}

/// Inserts the call's `vicidial_log` row (`manDiaLlogCaLL stage=start`).
async fn insert_log(
    shared: &Shared,
    user: &str,
    la: &LiveRow,
    call: &Call,
    uniqueid: &str,
    now: Now,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO vicidial_log (uniqueid, lead_id, list_id, campaign_id, call_date, start_epoch, status, phone_code, \
         phone_number, user, comments, processed, user_group, alt_dial, called_count) \
         VALUES (?, ?, ?, ?, NOW(), ?, 'INCALL', ?, ?, ?, 'MANUAL', 'N', ?, 'MAIN', ?)",
    )
    .bind(uniqueid)
    .bind(call.lead_id)
    .bind(call.list_id)
    .bind(&la.campaign_id)
    .bind(now.epoch())
    .bind(&call.phone_code)
    .bind(&call.phone_number)
    .bind(user)
    .bind(user_group(&shared.pool, user).await?)
    .bind(call.called_count)
    .execute(&shared.pool)
    .await?;
    Ok(())
}

/// The customer answered: the agent gets the call's `uniqueid` and channel, the call is logged.
async fn answer(
    shared: &Shared,
    user: &str,
    la: &LiveRow,
    call: &Call,
    now: Now,
) -> anyhow::Result<String> {
    let n = shared.next_n();
    let uniqueid = format!("{}.{n}", now.epoch());
    let channel = format!("{CUSTOMER_CHANNEL}{n:08x}");
    // The customer's channel is bridged into the agent's conference and the call logged;
    // the agent's row learns the call's uniqueid last, so whoever sees it finds the log.
    channels::add(&shared.pool, &la.server_ip, &la.conf_exten, &channel).await?;
    sqlx::query("UPDATE vicidial_auto_calls SET uniqueid = ?, channel = ? WHERE callerid = ?")
        .bind(&uniqueid)
        .bind(&channel)
        .bind(&la.callerid)
        .execute(&shared.pool)
        .await?;
    insert_log(shared, user, la, call, &uniqueid, now).await?;
    sqlx::query("UPDATE vicidial_live_agents SET uniqueid = ?, channel = ? WHERE user = ?")
        .bind(&uniqueid)
        .bind(&channel)
        .bind(user)
        .execute(&shared.pool)
        .await?;
    shared.record(LedgerEntry::CallAnswered {
        agent: user.to_string(),
        lead_id: call.lead_id,
        uniqueid: uniqueid.clone(),
        at: now.utc,
    });
    Ok(uniqueid)
}

/// The agent side of any call end: `PAUSED` with the lead kept (the dispo step).
async fn to_dispo_step(
    shared: &Shared,
    user: &str,
    la: &LiveRow,
    now: Now,
    talk_ended: bool,
) -> anyhow::Result<()> {
    let pool = &shared.pool;
    set_live(
        pool,
        user,
        "status = 'PAUSED', uniqueid = '', channel = '', external_hangup = '', last_call_finish = NOW(), last_state_change = NOW()",
    )
    .await?;
    sqlx::query("DELETE FROM vicidial_auto_calls WHERE callerid = ?")
        .bind(&la.callerid)
        .execute(pool)
        .await?;
    channels::remove(pool, &la.server_ip, &la.conf_exten, CUSTOMER_CHANNEL).await?;
    // Unanswered calls had no talk time.
    let talk = if talk_ended {
        "IF(talk_epoch > 0, ? - talk_epoch, 0)"
    } else {
        "0 * ?"
    };
    sqlx::query(&format!(
        "UPDATE vicidial_agent_log SET talk_sec = {talk}, dispo_epoch = ? WHERE agent_log_id = ?"
    ))
    .bind(now.epoch())
    .bind(now.epoch())
    .bind(la.agent_log_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A dial that ended before an answer: busy, no answer, or hung up by the agent while ringing.
async fn end_unanswered(
    shared: &Shared,
    user: &str,
    la: &LiveRow,
    call: &Call,
    now: Now,
    outcome: Option<Outcome>,
) -> anyhow::Result<()> {
    let uniqueid = format!("{}.{}", now.epoch(), shared.next_n());
    insert_log(shared, user, la, call, &uniqueid, now).await?;
    sqlx::query("UPDATE vicidial_log SET end_epoch = start_epoch, length_in_sec = 0, term_reason = ? WHERE uniqueid = ?")
        .bind(if outcome.is_some() { "NONE" } else { "AGENT" })
        .bind(&uniqueid)
        .execute(&shared.pool)
        .await?;
    to_dispo_step(shared, user, la, now, false).await?;
    shared.record(match outcome {
        Some(outcome) => LedgerEntry::CallFailed {
            agent: user.to_string(),
            lead_id: call.lead_id,
            outcome,
            at: now.utc,
        },
        None => LedgerEntry::CallHungUp {
            agent: user.to_string(),
            lead_id: call.lead_id,
            uniqueid: String::new(),
            at: now.utc,
        },
    });
    Ok(())
}

/// `external_hangup` on an answered call: hang the customer up, log the end
/// (`manDiaLlogCaLL stage=end`), open the dispo step.
async fn hang_up(
    shared: &Shared,
    user: &str,
    la: &LiveRow,
    call: &Call,
    now: Now,
) -> anyhow::Result<String> {
    let uniqueid = call.uniqueid.clone().unwrap_or_default();
    sqlx::query("UPDATE vicidial_log SET end_epoch = ?, length_in_sec = ? - start_epoch, term_reason = ? WHERE uniqueid = ?")
        .bind(now.epoch())
        .bind(now.epoch())
        .bind(if call.customer_gone { "CALLER" } else { "AGENT" })
        .bind(&uniqueid)
        .execute(&shared.pool)
        .await?;
    if !call.customer_gone {
        insert_manager(
            &shared.pool,
            &la.server_ip,
            "Hangup",
            &format!("HLagcW{}{user}", now.epoch()),
            &[&format!(
                "Channel: SIP/carrier-{}",
                uniqueid.rsplit('.').next().unwrap_or("")
            )],
        )
        .await?;
    }
    to_dispo_step(shared, user, la, now, true).await?;
    shared.record(LedgerEntry::CallHungUp {
        agent: user.to_string(),
        lead_id: call.lead_id,
        uniqueid: uniqueid.clone(),
        at: now.utc,
    });
    Ok(uniqueid)
}

/// `updateDISPO` (reference §6). Returns false when the screen stalls (scheduled-callback
/// status without a date: the real screen opens its date picker and waits for a human).
async fn update_dispo(
    shared: &Shared,
    user: &str,
    la: &LiveRow,
    last_uniqueid: &str,
    now: Now,
    stalled_on: &mut Option<String>,
) -> anyhow::Result<bool> {
    let pool = &shared.pool;
    let mut parts: Vec<&str> = la.external_status.split('!').collect();
    parts.resize(5, "");
    let status = parts[0].to_string();
    let datetime = parts[1].to_string();
    let recipient = if parts[2] == "USERONLY" {
        "USERONLY"
    } else {
        "ANYONE"
    };
    let comments = parts[3].to_string();
    let is_callback = is_callback_status(pool, &status, &la.campaign_id).await?;
    if is_callback && datetime.len() < 13 {
        if stalled_on.as_deref() != Some(la.external_status.as_str()) {
            *stalled_on = Some(la.external_status.clone());
            shared.record(LedgerEntry::DispoStalled {
                agent: user.to_string(),
                lead_id: la.lead_id,
                status,
                at: now.utc,
            });
        }
        return Ok(false);
    }
    *stalled_on = None;
    let dnc: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM vicidial_statuses WHERE status = ? AND dnc = 'Y') + \
         (SELECT COUNT(*) FROM vicidial_campaign_statuses WHERE campaign_id = ? AND status = ? AND dnc = 'Y')",
    )
    .bind(&status)
    .bind(&la.campaign_id)
    .bind(&status)
    .fetch_one(pool)
    .await?;
    let lead = sqlx::query(
        "SELECT CAST(list_id AS SIGNED) AS list_id, phone_number FROM vicidial_list WHERE lead_id = ?",
    )
    .bind(la.lead_id)
    .fetch_optional(pool)
    .await?;
    let (list_id, phone_number) = match &lead {
        Some(r) => (db::n(r, "list_id"), db::s(r, "phone_number")),
        None => (0, String::new()),
    };
    let lead_status = if is_callback {
        "CBHOLD"
    } else {
        status.as_str()
    };
    let group = user_group(pool, user).await?;

    // 1. the lead.
    sqlx::query("UPDATE vicidial_list SET status = ?, user = ? WHERE lead_id = ?")
        .bind(lead_status)
        .bind(user)
        .bind(la.lead_id)
        .execute(pool)
        .await?;
    // 2. the call log: the newest row of this lead and agent in the last 4 hours.
    let log_uniqueid: Option<String> = sqlx::query_scalar(
        "SELECT uniqueid FROM vicidial_log WHERE lead_id = ? AND user = ? AND call_date > NOW() - INTERVAL 4 HOUR \
         ORDER BY call_date DESC, start_epoch DESC LIMIT 1",
    )
    .bind(la.lead_id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    let log_uniqueid = match log_uniqueid {
        Some(u) => {
            sqlx::query("UPDATE vicidial_log SET status = ? WHERE uniqueid = ?")
                .bind(&status)
                .bind(&u)
                .execute(pool)
                .await?;
            u
        }
        None => {
            let u = format!("{}.{}", now.epoch(), shared.next_n());
            sqlx::query(
                "INSERT INTO vicidial_log (uniqueid, lead_id, list_id, campaign_id, call_date, start_epoch, end_epoch, \
                 length_in_sec, status, phone_code, phone_number, user, comments, processed, user_group) \
                 SELECT ?, lead_id, list_id, ?, NOW(), ?, ?, 0, ?, phone_code, phone_number, ?, 'MANUAL', 'N', ? \
                 FROM vicidial_list WHERE lead_id = ?",
            )
            .bind(&u)
            .bind(&la.campaign_id)
            .bind(now.epoch())
            .bind(now.epoch())
            .bind(&status)
            .bind(user)
            .bind(&group)
            .bind(la.lead_id)
            .execute(pool)
            .await?;
            u
        }
    };
    // 3. DNC lists, as the campaign says.
    if dnc > 0 && !phone_number.is_empty() {
        let campaign = load_campaign(pool, &la.campaign_id).await?;
        if matches!(campaign.use_internal_dnc.as_str(), "Y" | "AREACODE") {
            add_dnc(pool, &phone_number, None, user).await?;
            shared.record(LedgerEntry::DncAdded {
                phone_number: phone_number.clone(),
                list: "SYSTEM_INTERNAL".to_string(),
                by: user.to_string(),
                at: now.utc,
            });
        }
        if matches!(campaign.use_campaign_dnc.as_str(), "Y" | "AREACODE") {
            let target = if campaign.use_other_campaign_dnc.is_empty() {
                la.campaign_id.clone()
            } else {
                campaign.use_other_campaign_dnc.clone()
            };
            add_dnc(pool, &phone_number, Some(&target), user).await?;
            shared.record(LedgerEntry::DncAdded {
                phone_number: phone_number.clone(),
                list: target,
                by: user.to_string(),
                at: now.utc,
            });
        }
    }
    // 4. the agent log: this cycle gets the status, a new cycle starts (manual campaign).
    let uniqueid = if last_uniqueid.is_empty() {
        log_uniqueid.as_str()
    } else {
        last_uniqueid
    };
    sqlx::query(
        "UPDATE vicidial_agent_log SET status = ?, lead_id = ?, uniqueid = ?, \
         dispo_sec = IF(dispo_epoch > 0, ? - dispo_epoch, 0) WHERE agent_log_id = ?",
    )
    .bind(&status)
    .bind(la.lead_id)
    .bind(uniqueid)
    .bind(now.epoch())
    .bind(la.agent_log_id)
    .execute(pool)
    .await?;
    let next = sqlx::query(
        "INSERT INTO vicidial_agent_log (user, server_ip, event_time, campaign_id, pause_epoch, pause_sec, wait_epoch, \
         user_group, pause_type) VALUES (?, ?, NOW(), ?, ?, 0, ?, ?, 'AGENT')",
    )
    .bind(user)
    .bind(&la.server_ip)
    .bind(&la.campaign_id)
    .bind(now.epoch())
    .bind(now.epoch())
    .bind(&group)
    .execute(pool)
    .await?
    .last_insert_id();
    sqlx::query("UPDATE vicidial_live_agents SET agent_log_id = ? WHERE user = ?")
        .bind(next)
        .bind(user)
        .execute(pool)
        .await?;
    // 5. the callback.
    let callback = if is_callback {
        sqlx::query(
            "INSERT INTO vicidial_callbacks (lead_id, list_id, campaign_id, status, entry_time, callback_time, user, \
             recipient, comments, user_group, lead_status) VALUES (?, ?, ?, 'ACTIVE', NOW(), ?, ?, ?, ?, ?, ?)",
        )
        .bind(la.lead_id)
        .bind(list_id)
        .bind(&la.campaign_id)
        .bind(&datetime)
        .bind(user)
        .bind(recipient)
        .bind(&comments)
        .bind(&group)
        .bind(&status)
        .execute(pool)
        .await?;
        Some(Callback {
            datetime,
            recipient: recipient.to_string(),
            comments,
        })
    } else {
        None
    };
    // 6. last, the agent: no lead, requests cleared, paused. The screen leaves the dispo
    // step only once everything above is saved, so `lead_id = 0` means the dispo is done.
    set_live(
        pool,
        user,
        "lead_id = 0, external_hangup = '', external_status = '', external_update_fields = '0', \
         external_update_fields_data = '', external_timer_action_seconds = '-1', external_dtmf = '', \
         external_transferconf = '', external_park = '', status = 'PAUSED', callerid = '', comments = '', \
         uniqueid = '', channel = '', preview_lead_id = 0, last_state_change = NOW()",
    )
    .await?;
    shared.record(LedgerEntry::ScreenDispo {
        agent: user.to_string(),
        lead_id: la.lead_id,
        status,
        callback,
        at: now.utc,
    });
    Ok(true)
}

/// Adds a number to `vicidial_dnc` (`campaign` None) or `vicidial_campaign_dnc`, logged in
/// `vicidial_dnc_log`. Returns whether it was new.
pub(crate) async fn add_dnc(
    pool: &MySqlPool,
    phone_number: &str,
    campaign: Option<&str>,
    by: &str,
) -> anyhow::Result<bool> {
    let inserted = match campaign {
        None => sqlx::query("INSERT IGNORE INTO vicidial_dnc (phone_number) VALUES (?)")
            .bind(phone_number)
            .execute(pool)
            .await?
            .rows_affected(),
        Some(c) => sqlx::query(
            "INSERT IGNORE INTO vicidial_campaign_dnc (phone_number, campaign_id) VALUES (?, ?)",
        )
        .bind(phone_number)
        .bind(c)
        .execute(pool)
        .await?
        .rows_affected(),
    };
    sqlx::query("INSERT INTO vicidial_dnc_log (phone_number, campaign_id, action, action_date, user) VALUES (?, ?, 'add', NOW(), ?)")
        .bind(phone_number)
        .bind(campaign.unwrap_or("-SYSINT-"))
        .bind(by)
        .execute(pool)
        .await?;
    Ok(inserted > 0)
}

/// `userLOGout` (reference §4.3).
async fn user_logout(shared: &Shared, user: &str, la: &LiveRow, now: Now) -> anyhow::Result<()> {
    let pool = &shared.pool;
    let session: Option<String> =
        sqlx::query_scalar("SELECT session_name FROM vicidial_session_data WHERE user = ?")
            .bind(user)
            .fetch_optional(pool)
            .await?;
    if let Some(session) = session {
        sqlx::query("DELETE FROM web_client_sessions WHERE session_name = ?")
            .bind(&session)
            .execute(pool)
            .await?;
    }
    sqlx::query("DELETE FROM vicidial_live_agents WHERE user = ?")
        .bind(user)
        .execute(pool)
        .await?;
    sqlx::query(
        "UPDATE vicidial_agent_log SET pause_sec = IF(pause_epoch > 0, ? - pause_epoch, 0), sub_status = 'LOGOUT' \
         WHERE agent_log_id = ?",
    )
    .bind(now.epoch())
    .bind(la.agent_log_id)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO vicidial_user_log (user, event, campaign_id, event_date, event_epoch, user_group, session_id, server_ip, \
         extension, computer_ip, browser, data) VALUES (?, 'LOGOUT', ?, NOW(), ?, ?, ?, ?, '', '127.0.0.1', 'vicidial-sim', '')",
    )
    .bind(user)
    .bind(&la.campaign_id)
    .bind(now.epoch())
    .bind(user_group(pool, user).await?)
    .bind(&la.conf_exten)
    .bind(&la.server_ip)
    .execute(pool)
    .await?;
    // Kick every channel out of the room; the room stays reserved for the phone.
    insert_manager(
        pool,
        &la.server_ip,
        "Originate",
        &format!("ULGH{}{user}", now.epoch()),
        &[
            &format!("Channel: Local/5555{}@default", la.conf_exten),
            "Context: default",
            "Exten: 8300",
            "Priority: 1",
            "Callerid: ULGH",
        ],
    )
    .await?;
    // The Originate of 8300 kicks every channel out of the room.
    channels::remove(pool, &la.server_ip, &la.conf_exten, "").await?;
    shared.record(LedgerEntry::Logout {
        agent: user.to_string(),
        at: now.utc,
    });
    Ok(())
}

/// The customer of `user`'s answered call hangs up.
pub(crate) async fn customer_hangup(shared: &Shared, user: &str) -> anyhow::Result<()> {
    let cell = shared
        .existing_screen(user)
        .ok_or_else(|| anyhow::anyhow!("{user} has no agent screen"))?;
    let mut screen = cell.lock().await;
    let call = screen
        .call
        .as_mut()
        .filter(|c| c.uniqueid.is_some())
        .ok_or_else(|| anyhow::anyhow!("{user} has no answered call"))?;
    if !call.customer_gone {
        call.customer_gone = true;
        let lead_id = call.lead_id;
        // Asterisk's hangup handling removes the call from vicidial_auto_calls and the
        // customer's channel from the room: that is how VICIdial sees a dead call.
        if let Some(la) = load_live(&shared.pool, user).await? {
            sqlx::query("DELETE FROM vicidial_auto_calls WHERE callerid = ?")
                .bind(&la.callerid)
                .execute(&shared.pool)
                .await?;
            channels::remove(
                &shared.pool,
                &la.server_ip,
                &la.conf_exten,
                CUSTOMER_CHANNEL,
            )
            .await?;
        }
        shared.record(LedgerEntry::CustomerHangup {
            agent: user.to_string(),
            lead_id,
            at: Now::get().utc,
        });
    }
    Ok(())
}

/// `real_time_sub_status` of Non-Agent `agent_status` and `logged_in_agents`, from the
/// database as non_agent_api.php (and the real-time report) compute it: `INCALL` with no
/// `vicidial_auto_calls` row for the agent's `callerid` is `DEAD` (the customer hung up),
/// `INCALL` before the customer channel is up (`uniqueid` still empty) is `DIAL`, `PAUSED`
/// with a previewed lead `PREVIEW`, `PAUSED` with a lead the dispo step `DISPO`.
pub(crate) async fn sub_status(
    pool: &MySqlPool,
    status: &str,
    callerid: &str,
    uniqueid: &str,
    lead_id: i64,
    preview_lead_id: i64,
) -> anyhow::Result<String> {
    if status == "INCALL" {
        let calls: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_auto_calls WHERE callerid = ?")
                .bind(callerid)
                .fetch_one(pool)
                .await?;
        return Ok(if calls < 1 {
            "DEAD"
        } else if uniqueid.is_empty() {
            "DIAL"
        } else {
            ""
        }
        .to_string());
    }
    if status == "PAUSED" && preview_lead_id > 0 {
        return Ok("PREVIEW".to_string());
    }
    if status == "PAUSED" && lead_id > 0 {
        return Ok("DISPO".to_string());
    }
    Ok(String::new())
}
