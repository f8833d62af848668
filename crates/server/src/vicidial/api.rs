//! A typed client for VICIdial's Agent API (`agc/api.php`) and Non-Agent API
//! (`vicidial/non_agent_api.php`); reference §2–§5.
//!
//! Every request is a form POST, so the API password never appears in a URL (VICIdial stores
//! request URLs in `vicidial_api_urls`) nor in our logs. Answers are plain text, HTTP 200
//! even for errors; each line is matched by its prefix and VICIdial's exact reason text.
//! `SUCCESS` from the Agent API means only "queued for the agent screen".

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::config::VicidialArgs;

/// What went wrong with a VICIdial API call, typed from its answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VicidialError {
    /// No answer, a timeout, or an HTTP error status: VICIdial's web server is unreachable.
    #[error("VICIdial is unreachable: {0}")]
    Unreachable(String),
    /// The API account was refused (`BAD`, `LOCK`, `ERRSERVERS`, `IPBLOCK`, or no API access).
    /// The account's password, which VICIdial echoes back, is never kept.
    #[error("VICIdial refused the API account ({0})")]
    AuthFailed(String),
    /// `system_settings.vdc_agent_api_active` is off.
    #[error("VICIdial's Agent API is not active")]
    ApiNotActive,
    /// The API account may not use this function (`api_allowed_functions`).
    #[error("the API account may not use {0}")]
    PermissionDenied(String),
    /// The agent has no live VICIdial session (`vicidial_live_agents` row).
    #[error("the agent is not logged into VICIdial")]
    NotLoggedIn,
    /// The agent is not paused, or still has a lead on screen.
    #[error("the agent is not paused (a call or a disposition is in progress)")]
    NotPaused,
    /// `vicidial_users.agentcall_manual` is not `1`.
    #[error("the agent is not allowed to place manual dial calls")]
    ManualDialNotAllowed,
    /// The lead or phone number was refused or not found.
    #[error("VICIdial refused the number or lead: {0}")]
    InvalidTarget(String),
    /// No record matched (Non-Agent API `NO MATCHES FOUND`, `NO RECORDS FOUND`).
    #[error("no matching record in VICIdial: {0}")]
    NotFound(String),
    /// Another `ERROR:` line, kept as VICIdial wrote it (minus echoed secrets).
    #[error("VICIdial error: {0}")]
    Other(String),
    /// An empty or unrecognised answer (e.g. an unknown function).
    #[error("unexpected answer from VICIdial: {0:?}")]
    Unexpected(String),
}

impl VicidialError {
    /// Whether trying again later can help.
    pub fn is_transient(&self) -> bool {
        matches!(self, VicidialError::Unreachable(_))
    }
}

/// What to dial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialTarget {
    /// A number: digits only, with its country calling code.
    Number {
        /// 6 to 18 digits.
        digits: String,
        /// Country calling code, e.g. `1`.
        phone_code: String,
    },
    /// A lead by id (VICIdial takes the number and phone code from the lead).
    Lead(i64),
}

/// A scheduled callback as `external_status` / `update_lead` take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackSpec {
    /// VICIdial server local time, `YYYY-MM-DD HH:MM:SS`.
    pub local_datetime: String,
    /// `USERONLY` or `ANYONE`.
    pub recipient: &'static str,
    /// Comments, already filtered to what VICIdial keeps.
    pub comments: String,
}

/// The two API clients over one HTTP connection pool.
#[derive(Clone)]
pub struct VicidialApi {
    http: reqwest::Client,
    agent_url: String,
    non_agent_url: String,
    user: String,
    pass: SecretString,
    source: String,
}

impl std::fmt::Debug for VicidialApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VicidialApi")
            .field("agent_url", &self.agent_url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Keeps what VICIdial's input filter keeps for `callback_comments`: `[- ._0-9a-zA-Z]`, 200
/// characters.
pub fn filter_callback_comments(comments: &str) -> String {
    comments
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " -._".contains(*c))
        .take(200)
        .collect()
}

/// Keeps what VICIdial keeps of a status code: `[-_0-9a-zA-Z]`, 6 characters.
pub fn filter_status(status: &str) -> String {
    status
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(6)
        .collect()
}

/// Maps keypad digits to what `send_dtmf` keeps: digits, `S` for `*`, `P` for `#`.
pub fn dtmf_value(digits: &str) -> Option<String> {
    let mapped: Option<String> = digits
        .chars()
        .map(|c| match c {
            '0'..='9' => Some(c),
            '*' => Some('S'),
            '#' => Some('P'),
            _ => None,
        })
        .collect();
    mapped.filter(|m| !m.is_empty() && m.len() <= 32)
}

impl VicidialApi {
    /// A client for the configured VICIdial web server.
    pub fn new(args: &VicidialArgs) -> anyhow::Result<VicidialApi> {
        let base = args
            .web_url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("DIALDECK_VICIDIAL_WEB_URL is not set"))?
            .trim_end_matches('/');
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(args.api_timeout_ms))
            .connect_timeout(Duration::from_millis(args.api_timeout_ms.min(3000)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(VicidialApi {
            http,
            agent_url: format!("{base}/agc/api.php"),
            non_agent_url: format!("{base}/vicidial/non_agent_api.php"),
            user: args.api_user.clone().unwrap_or_default(),
            pass: args
                .api_pass
                .clone()
                .unwrap_or_else(|| SecretString::from(String::new())),
            source: args.api_source.clone(),
        })
    }

    async fn call(
        &self,
        url: &str,
        function: &str,
        params: &[(&str, &str)],
    ) -> Result<String, VicidialError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("source", &self.source),
            ("user", &self.user),
            ("pass", self.pass.expose_secret()),
            ("function", function),
        ];
        form.extend_from_slice(params);
        let resp = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| VicidialError::Unreachable(describe(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(VicidialError::Unreachable(format!(
                "HTTP {}",
                status.as_u16()
            )));
        }
        let body = resp
            .text()
            .await
            .map_err(|e| VicidialError::Unreachable(describe(&e)))?;
        tracing::debug!(function, answer = %first_line_safe(&body), "VICIdial API answered");
        Ok(body)
    }

    async fn agent(
        &self,
        function: &str,
        agent_user: &str,
        params: &[(&str, &str)],
    ) -> Result<String, VicidialError> {
        let mut all: Vec<(&str, &str)> = vec![("agent_user", agent_user)];
        all.extend_from_slice(params);
        let body = self.call(&self.agent_url, function, &all).await?;
        parse_agent_answer(&body, function)
    }

    async fn non_agent(
        &self,
        function: &str,
        params: &[(&str, &str)],
    ) -> Result<String, VicidialError> {
        let body = self.call(&self.non_agent_url, function, params).await?;
        parse_non_agent_answer(&body, function)
    }

    /// `external_dial` with `search=YES`, `preview=NO`, `focus=NO` (a hidden screen).
    pub async fn external_dial(
        &self,
        agent_user: &str,
        target: &DialTarget,
    ) -> Result<String, VicidialError> {
        let base = [("search", "YES"), ("preview", "NO"), ("focus", "NO")];
        match target {
            DialTarget::Number { digits, phone_code } => {
                let mut p = vec![
                    ("value", digits.as_str()),
                    ("phone_code", phone_code.as_str()),
                ];
                p.extend_from_slice(&base);
                self.agent("external_dial", agent_user, &p).await
            }
            DialTarget::Lead(id) => {
                let id = id.to_string();
                let mut p = vec![("lead_id", id.as_str())];
                p.extend_from_slice(&base);
                self.agent("external_dial", agent_user, &p).await
            }
        }
    }

    /// `external_hangup` (`value=1`): the screen hangs the customer up and opens its
    /// disposition step.
    pub async fn external_hangup(&self, agent_user: &str) -> Result<String, VicidialError> {
        self.agent("external_hangup", agent_user, &[("value", "1")])
            .await
    }

    /// `external_status`, with the callback fields when there is a callback (never without its
    /// date: a hidden screen would stall on its date picker).
    pub async fn external_status(
        &self,
        agent_user: &str,
        status: &str,
        callback: Option<&CallbackSpec>,
    ) -> Result<String, VicidialError> {
        let status = filter_status(status);
        match callback {
            None => {
                self.agent("external_status", agent_user, &[("value", &status)])
                    .await
            }
            Some(cb) => {
                self.agent(
                    "external_status",
                    agent_user,
                    &[
                        ("value", &status),
                        ("callback_datetime", &cb.local_datetime),
                        ("callback_type", cb.recipient),
                        ("callback_comments", &cb.comments),
                    ],
                )
                .await
            }
        }
    }

    /// `pause_code`: the agent (paused) takes a break with this code.
    pub async fn pause_code(&self, agent_user: &str, code: &str) -> Result<String, VicidialError> {
        self.agent("pause_code", agent_user, &[("value", code)])
            .await
    }

    /// `external_pause` with `PAUSE` or `RESUME`.
    pub async fn external_pause(
        &self,
        agent_user: &str,
        resume: bool,
    ) -> Result<String, VicidialError> {
        self.agent(
            "external_pause",
            agent_user,
            &[("value", if resume { "RESUME" } else { "PAUSE" })],
        )
        .await
    }

    /// `send_dtmf` (digits, `S` = `*`, `P` = `#`): played into the conference toward the customer.
    pub async fn send_dtmf(&self, agent_user: &str, value: &str) -> Result<String, VicidialError> {
        self.agent("send_dtmf", agent_user, &[("value", value)])
            .await
    }

    /// `logout` (`value=LOGOUT`).
    pub async fn logout(&self, agent_user: &str) -> Result<String, VicidialError> {
        self.agent("logout", agent_user, &[("value", "LOGOUT")])
            .await
    }

    /// Non-Agent `update_lead`: the lead's status (and a callback) when the agent screen could
    /// not apply a disposition. `callback=Y` does not hold the lead, so callbacks also send
    /// `status=CBHOLD`.
    pub async fn update_lead(
        &self,
        lead_id: i64,
        status: &str,
        callback: Option<(&CallbackSpec, &str, &str)>,
    ) -> Result<String, VicidialError> {
        let lead = lead_id.to_string();
        let status = filter_status(status);
        match callback {
            None => {
                self.non_agent("update_lead", &[("lead_id", &lead), ("status", &status)])
                    .await
            }
            Some((cb, agent_user, campaign_id)) => {
                self.non_agent(
                    "update_lead",
                    &[
                        ("lead_id", &lead),
                        ("status", "CBHOLD"),
                        ("callback", "Y"),
                        ("callback_status", &status),
                        ("callback_datetime", &cb.local_datetime),
                        ("callback_type", cb.recipient),
                        ("callback_user", agent_user),
                        ("callback_comments", &cb.comments),
                        ("campaign_id", campaign_id),
                    ],
                )
                .await
            }
        }
    }

    /// Non-Agent `update_lead` with `callback=REMOVE`: the lead's `ACTIVE`/`LIVE` callbacks
    /// become `INACTIVE`, as VICIdial's own screen (`manDiaLnextCaLL` with a `callback_id`)
    /// marks a callback the agent dials from its list. The Agent API's `external_dial` has no
    /// way to say "this is a callback".
    pub async fn take_callbacks(&self, lead_id: i64) -> Result<String, VicidialError> {
        let lead = lead_id.to_string();
        self.non_agent("update_lead", &[("lead_id", &lead), ("callback", "REMOVE")])
            .await
    }

    /// Non-Agent `update_log_entry`: the status of the call's `vicidial_log` row, by VICIdial's
    /// call id (`M…`).
    pub async fn update_log_entry(
        &self,
        campaign_id: &str,
        call_id: &str,
        status: &str,
    ) -> Result<String, VicidialError> {
        let status = filter_status(status);
        self.non_agent(
            "update_log_entry",
            &[
                ("group", campaign_id),
                ("call_id", call_id),
                ("status", &status),
            ],
        )
        .await
    }

    /// Non-Agent `add_dnc_phone` into the system list (`SYSTEM_INTERNAL`) or a campaign's.
    /// A number already listed counts as success.
    pub async fn add_dnc_phone(
        &self,
        phone_number: &str,
        list: &str,
    ) -> Result<String, VicidialError> {
        match self
            .non_agent(
                "add_dnc_phone",
                &[("phone_number", phone_number), ("campaign_id", list)],
            )
            .await
        {
            Err(VicidialError::Other(m)) if m.contains("DNC NUMBER ALREADY EXISTS") => Ok(m),
            other => other,
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        // Without the URL: it is not secret, but keep log lines short and uniform.
        let mut text = e.to_string();
        if let Some(url) = e.url() {
            text = text.replace(url.as_str(), "VICIdial");
        }
        text
    }
}

/// The first line of an answer with everything after an auth failure's marker dropped, since
/// VICIdial echoes the API password there.
fn first_line_safe(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.contains("Invalid Username/Password") || line.contains("Login incorrect") {
        line.split(':').take(2).collect::<Vec<_>>().join(":")
    } else {
        line.chars().take(300).collect()
    }
}

/// Turns an Agent API answer into the `SUCCESS` line's data or a typed error.
pub fn parse_agent_answer(body: &str, function: &str) -> Result<String, VicidialError> {
    let mut errors = Vec::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("SUCCESS: ") {
            return Ok(rest.to_string());
        }
        if let Some(rest) = line.strip_prefix("ERROR: ") {
            errors.push(rest);
        }
    }
    let Some(err) = errors.first() else {
        return Err(VicidialError::Unexpected(first_line_safe(body)));
    };
    Err(classify_error(err, function))
}

/// Turns a Non-Agent API answer into the `SUCCESS` data (with any `NOTICE` lines appended) or
/// a typed error.
pub fn parse_non_agent_answer(body: &str, function: &str) -> Result<String, VicidialError> {
    let mut success = None;
    let mut notices = Vec::new();
    let mut errors = Vec::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("SUCCESS: ") {
            success.get_or_insert(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("NOTICE: ") {
            notices.push(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("ERROR: ") {
            errors.push(rest.to_string());
        }
    }
    if let Some(s) = success {
        let mut all = s;
        for n in notices {
            all.push('\n');
            all.push_str(&n);
        }
        return Ok(all);
    }
    match errors.first() {
        Some(err) => Err(classify_error(err, function)),
        None => Err(VicidialError::Unexpected(first_line_safe(body))),
    }
}

fn classify_error(err: &str, function: &str) -> VicidialError {
    if err.starts_with("Invalid Username/Password") || err.starts_with("Login incorrect") {
        // Fields: |user|pass|auth|auth_api|auth_message|… — keep only the verdict.
        let verdict = ["LOCK", "ERRSERVERS", "IPBLOCK", "BAD"]
            .into_iter()
            .find(|v| err.contains(&format!("|{v}")))
            .unwrap_or("BAD");
        return VicidialError::AuthFailed(verdict.to_string());
    }
    if err.starts_with("Too many login attempts") {
        return VicidialError::AuthFailed("LOCK".into());
    }
    if err.starts_with("System API NOT ACTIVE") {
        return VicidialError::ApiNotActive;
    }
    if err.starts_with("auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION") {
        return VicidialError::PermissionDenied(function.to_string());
    }
    if err.starts_with("agent_user is not logged in") {
        return VicidialError::NotLoggedIn;
    }
    if err.starts_with("agent_user is not paused")
        || err.starts_with("pause_code error - agent is not paused")
    {
        return VicidialError::NotPaused;
    }
    if err.starts_with("agent_user is not allowed to place manual dial calls") {
        return VicidialError::ManualDialNotAllowed;
    }
    if err.starts_with("lead_id is not valid")
        || err.starts_with("phone number is not valid")
        || err.starts_with("phone number lead_id search not found")
        || err.starts_with("external_dial not valid")
    {
        return VicidialError::InvalidTarget(err.to_string());
    }
    if err.contains("NO MATCHES FOUND")
        || err.contains("NO RECORDS FOUND")
        || err.contains("NOT FOUND")
    {
        return VicidialError::NotFound(err.to_string());
    }
    VicidialError::Other(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_lines_are_data() {
        let body =
            "SUCCESS: external_dial function set - 3125551212|1001|1|YES|NO|NO||1795574736||||\n";
        assert_eq!(
            parse_agent_answer(body, "external_dial").unwrap(),
            "external_dial function set - 3125551212|1001|1|YES|NO|NO||1795574736||||"
        );
        // A NOTICE before the result does not hide it.
        let body = "NOTICE: defined dial_ingroup not found - X\nSUCCESS: external_dial function set - 1|2\n";
        assert!(parse_agent_answer(body, "external_dial").is_ok());
    }

    #[test]
    fn reference_errors_are_typed() {
        let cases = [
            ("ERROR: agent_user is not logged in - 1001", VicidialError::NotLoggedIn),
            ("ERROR: agent_user is not paused - 1001", VicidialError::NotPaused),
            ("ERROR: pause_code error - agent is not paused - 1001", VicidialError::NotPaused),
            (
                "ERROR: agent_user is not allowed to place manual dial calls - 1001",
                VicidialError::ManualDialNotAllowed,
            ),
            ("ERROR: System API NOT ACTIVE", VicidialError::ApiNotActive),
            (
                "ERROR: auth USER DOES NOT HAVE PERMISSION TO USE THIS FUNCTION - 1|apiuser|external_dial|ADMIN",
                VicidialError::PermissionDenied("external_dial".into()),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                parse_agent_answer(body, "external_dial").unwrap_err(),
                want,
                "{body}"
            );
        }
        assert!(matches!(
            parse_agent_answer("ERROR: lead_id is not valid - 1001|77", "external_dial"),
            Err(VicidialError::InvalidTarget(_))
        ));
    }

    #[test]
    fn auth_failures_never_keep_the_echoed_password() {
        let body = "ERROR: Invalid Username/Password: |apiuser|s3cretpw|0|0|BAD|SELECT count(*) FROM vicidial_users WHERE user='apiuser' and pass='s3cretpw'|\n";
        let err = parse_agent_answer(body, "external_dial").unwrap_err();
        assert_eq!(err, VicidialError::AuthFailed("BAD".into()));
        assert!(!err.to_string().contains("s3cretpw"));
        assert!(!first_line_safe(body).contains("s3cretpw"));
        let lock = "ERROR: Invalid Username/Password: |apiuser|x|0|0|LOCK|\n";
        assert_eq!(
            parse_agent_answer(lock, "f").unwrap_err(),
            VicidialError::AuthFailed("LOCK".into())
        );
        let na = "ERROR: Login incorrect, please try again: |apiuser|s3cretpw|BAD|\n";
        let err = parse_non_agent_answer(na, "update_lead").unwrap_err();
        assert_eq!(err, VicidialError::AuthFailed("BAD".into()));
    }

    #[test]
    fn non_agent_answers_keep_notices() {
        let body = "SUCCESS: update_lead LEAD HAS BEEN UPDATED - apiuser|8|1|||\nNOTICE: update_lead SCHEDULED CALLBACK ADDED - 8|TESTCAMP|2026-12-01 10:30:00|USERONLY|1001|CB\n";
        let out = parse_non_agent_answer(body, "update_lead").unwrap();
        assert!(out.contains("SCHEDULED CALLBACK ADDED"));
        let none = "ERROR: update_lead NO MATCHES FOUND IN THE SYSTEM: |apiuser|424242||\n";
        assert!(matches!(
            parse_non_agent_answer(none, "update_lead"),
            Err(VicidialError::NotFound(_))
        ));
        assert!(matches!(
            parse_agent_answer("", "nosuch"),
            Err(VicidialError::Unexpected(_))
        ));
    }

    #[test]
    fn inputs_are_filtered_as_vicidial_filters_them() {
        assert_eq!(filter_status("SALE!!"), "SALE");
        assert_eq!(filter_status("CALLBACK"), "CALLBA");
        assert_eq!(
            filter_callback_comments("call after lunch, ok?"),
            "call after lunch ok"
        );
        assert_eq!(dtmf_value("12*3#").as_deref(), Some("12S3P"));
        assert_eq!(dtmf_value("1a"), None);
        assert_eq!(dtmf_value(""), None);
    }
}
