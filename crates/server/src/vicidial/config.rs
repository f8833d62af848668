//! VICIdial settings (`DIALDECK_VICIDIAL_*`). VICIdial is off until its database URL is set.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigError;

/// How to reach VICIdial.
#[derive(Clone, Debug, Args)]
pub struct VicidialArgs {
    /// VICIdial's MariaDB, e.g. `mysql://dialdeck:…@db.example/asterisk` (read for agents,
    /// phones, statuses, leads and live agent state). Secret: it holds a password.
    #[arg(
        long = "vicidial-db-url",
        env = "DIALDECK_VICIDIAL_DB_URL",
        hide_env_values = true
    )]
    pub db_url: Option<SecretString>,
    /// For single-campaign setups: the campaign of a login that names none (it must still be
    /// allowed to the agent). Empty (the default): every login names its campaign, one of
    /// those `POST /api/login/campaigns` offers.
    #[arg(
        long = "vicidial-campaign",
        env = "DIALDECK_VICIDIAL_CAMPAIGN",
        default_value_t = String::new(),
        hide_default_value = true
    )]
    pub campaign: String,
    /// ICE servers handed to the softphone, comma-separated `stun:`/`turn:` URLs.
    #[arg(
        long = "vicidial-ice-servers",
        env = "DIALDECK_VICIDIAL_ICE_SERVERS",
        value_delimiter = ','
    )]
    pub ice_servers: Vec<String>,
    /// Base URL of VICIdial's web server, e.g. `https://dialer.example` (Agent API at
    /// `/agc/api.php`, Non-Agent API at `/vicidial/non_agent_api.php`, agent screen at
    /// `/agc/vicidial.php`).
    #[arg(long = "vicidial-web-url", env = "DIALDECK_VICIDIAL_WEB_URL")]
    pub web_url: Option<String>,
    /// The API account (`vicidial_users.user` with `vdc_agent_api_access`, level 8).
    #[arg(long = "vicidial-api-user", env = "DIALDECK_VICIDIAL_API_USER")]
    pub api_user: Option<String>,
    /// The API account's password. Secret: sent only in POST bodies, never in a URL or a log.
    #[arg(
        long = "vicidial-api-pass",
        env = "DIALDECK_VICIDIAL_API_PASS",
        hide_env_values = true
    )]
    pub api_pass: Option<SecretString>,
    /// The `source` label VICIdial logs with every API call.
    #[arg(
        long = "vicidial-api-source",
        env = "DIALDECK_VICIDIAL_API_SOURCE",
        default_value = "dialdeck"
    )]
    pub api_source: String,
    /// Timeout of one VICIdial API request, in milliseconds.
    #[arg(
        long = "vicidial-api-timeout-ms",
        env = "DIALDECK_VICIDIAL_API_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub api_timeout_ms: u64,
    /// How often the live agent state is read from `vicidial_live_agents`, in milliseconds.
    #[arg(
        long = "vicidial-poll-ms",
        env = "DIALDECK_VICIDIAL_POLL_MS",
        default_value_t = 1000
    )]
    pub poll_ms: u64,
    /// How long one attempt waits for the agent screen to apply a disposition, in seconds.
    #[arg(
        long = "vicidial-confirm-secs",
        env = "DIALDECK_VICIDIAL_CONFIRM_SECS",
        default_value_t = 8
    )]
    pub confirm_secs: u64,
    /// VICIdial's agent screen counts as not polling when its `last_update_time` is older
    /// than this many seconds (it refreshes it about once a second).
    #[arg(
        long = "vicidial-screen-stale-secs",
        env = "DIALDECK_VICIDIAL_SCREEN_STALE_SECS",
        default_value_t = 5
    )]
    pub screen_stale_secs: u64,
    /// After a dial VICIdial did not place within the confirm window was withdrawn, how long
    /// to look again for the call (the screen may have taken it just before), in
    /// milliseconds.
    #[arg(
        long = "vicidial-dial-grace-ms",
        env = "DIALDECK_VICIDIAL_DIAL_GRACE_MS",
        default_value_t = 2000
    )]
    pub dial_grace_ms: u64,
    /// The region (ISO 3166 alpha-2) the dial box starts with and numbers are read in when
    /// the agent chose none.
    #[arg(
        long = "default-country",
        env = "DIALDECK_DEFAULT_COUNTRY",
        default_value = "US"
    )]
    pub default_country: String,
    /// After this many seconds without the agent screen applying a disposition, it is applied
    /// through the Non-Agent API (`update_lead`) and recorded as reconciled.
    #[arg(
        long = "vicidial-reconcile-secs",
        env = "DIALDECK_VICIDIAL_RECONCILE_SECS",
        default_value_t = 45
    )]
    pub reconcile_secs: u64,
    /// Per-campaign wrap-up deadlines, comma-separated `CAMPAIGN=SECONDS:STATUS` (e.g.
    /// `TESTCAMP=300:N`): when a call has waited that long for its disposition and the agent's
    /// tab is gone, the server applies STATUS (a selectable status of the campaign) and pauses
    /// the agent. Campaigns not listed have no deadline.
    #[arg(
        long = "wrapup-deadlines",
        env = "DIALDECK_WRAPUP_DEADLINES",
        value_delimiter = ','
    )]
    pub wrapup_deadlines: Vec<String>,
}

/// A campaign's wrap-up deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapupDeadline {
    /// Seconds after the call ended.
    pub secs: u64,
    /// The fallback status applied.
    pub status: String,
}

impl VicidialArgs {
    /// Whether VICIdial is configured.
    pub fn enabled(&self) -> bool {
        self.db_url.is_some()
    }

    /// The origin (`scheme://host[:port]`) of [`VicidialArgs::web_url`].
    pub fn web_origin(&self) -> Option<String> {
        let url = self.web_url.as_deref()?;
        let scheme_end = url.find("://")? + 3;
        let rest = &url[scheme_end..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        Some(format!("{}{}", &url[..scheme_end], &rest[..host_end]))
    }

    /// The campaign of a login that names none ([`VicidialArgs::campaign`]), if configured.
    pub fn default_campaign(&self) -> Option<&str> {
        Some(self.campaign.as_str()).filter(|c| !c.is_empty())
    }

    /// The deadline of `campaign_id`, if it has one.
    pub fn wrapup_deadline(&self, campaign_id: &str) -> Option<WrapupDeadline> {
        self.wrapup_deadlines.iter().find_map(|d| {
            let (campaign, rest) = d.split_once('=')?;
            let (secs, status) = rest.split_once(':')?;
            if campaign.trim() != campaign_id {
                return None;
            }
            Some(WrapupDeadline {
                secs: secs.trim().parse().ok()?,
                status: status.trim().to_string(),
            })
        })
    }

    /// Checks the values clap cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for d in &self.wrapup_deadlines {
            let ok = d.split_once('=').and_then(|(c, rest)| {
                let (secs, status) = rest.split_once(':')?;
                let secs: u64 = secs.trim().parse().ok()?;
                let status = status.trim();
                (!c.trim().is_empty()
                    && c.trim().len() <= 8
                    && secs >= 1
                    && (1..=6).contains(&status.len())
                    && status
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
                .then_some(())
            });
            if ok.is_none() {
                return Err(ConfigError {
                    variable: "DIALDECK_WRAPUP_DEADLINES",
                    problem: format!("{d:?} is not CAMPAIGN=SECONDS:STATUS (whole seconds, a VICIdial status code)"),
                });
            }
        }
        if self.db_url.is_some() {
            if self.web_url.is_none() {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_WEB_URL",
                    problem:
                        "is required with DIALDECK_VICIDIAL_DB_URL (the Agent API lives there)"
                            .into(),
                });
            }
            if self.api_user.as_deref().unwrap_or("").is_empty() {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_API_USER",
                    problem: "is required with DIALDECK_VICIDIAL_DB_URL".into(),
                });
            }
            if self
                .api_pass
                .as_ref()
                .is_none_or(|p| p.expose_secret().is_empty())
            {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_API_PASS",
                    problem: "is required with DIALDECK_VICIDIAL_DB_URL".into(),
                });
            }
        }
        if let Some(url) = &self.web_url {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && !url.contains(['?', '#', '@', ' '])
                && self
                    .web_origin()
                    .is_some_and(|o| o.len() > "https://".len());
            if !ok {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_WEB_URL",
                    problem: format!(
                        "{url:?} must be an http(s) base URL without query or credentials"
                    ),
                });
            }
        }
        if self.api_source.is_empty()
            || self.api_source.len() > 20
            || !self.api_source.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError {
                variable: "DIALDECK_VICIDIAL_API_SOURCE",
                problem: "must be 1 to 20 letters or digits (VICIdial keeps only those)".into(),
            });
        }
        if self.poll_ms < 100 {
            return Err(ConfigError {
                variable: "DIALDECK_VICIDIAL_POLL_MS",
                problem: "must be at least 100".into(),
            });
        }
        if self.confirm_secs == 0 || self.reconcile_secs < self.confirm_secs {
            return Err(ConfigError {
                variable: "DIALDECK_VICIDIAL_RECONCILE_SECS",
                problem: "must be at least DIALDECK_VICIDIAL_CONFIRM_SECS, which must be positive"
                    .into(),
            });
        }
        if let Some(url) = &self.db_url {
            if !url.expose_secret().starts_with("mysql://")
                && !url.expose_secret().starts_with("mariadb://")
            {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_DB_URL",
                    problem:
                        "must be a mysql:// URL (the value is not shown: it may hold a password)"
                            .into(),
                });
            }
        }
        if self.screen_stale_secs < 2 {
            return Err(ConfigError {
                variable: "DIALDECK_VICIDIAL_SCREEN_STALE_SECS",
                problem: "must be at least 2 (the screen polls about once a second)".into(),
            });
        }
        if crate::vicidial::phone::region(&self.default_country).is_none() {
            return Err(ConfigError {
                variable: "DIALDECK_DEFAULT_COUNTRY",
                problem: format!(
                    "{:?} is not a region libphonenumber knows (ISO 3166 alpha-2, e.g. US)",
                    self.default_country
                ),
            });
        }
        if self.campaign.len() > 8
            || !self
                .campaign
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ConfigError {
                variable: "DIALDECK_VICIDIAL_CAMPAIGN",
                problem:
                    "must be a VICIdial campaign_id (up to 8 letters, digits, - or _), or unset"
                        .into(),
            });
        }
        for ice in &self.ice_servers {
            if !(ice.starts_with("stun:") || ice.starts_with("turn:") || ice.starts_with("turns:"))
            {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_ICE_SERVERS",
                    problem: format!("{ice:?} is not a stun:, turn: or turns: URL"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::config::Config;

    fn parse(extra: &[&str]) -> Result<Config, String> {
        let mut args = vec!["dialdeck"];
        args.extend_from_slice(extra);
        let config = Config::try_parse_from(args).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn desk_settings_have_defaults_and_are_checked() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.vicidial.screen_stale_secs, 5);
        assert_eq!(config.vicidial.dial_grace_ms, 2000);
        assert_eq!(config.vicidial.default_country, "US");
        assert_eq!(
            parse(&["--default-country", "it"])
                .unwrap()
                .vicidial
                .default_country,
            "it"
        );
        let err = parse(&["--default-country", "ZZ"]).unwrap_err();
        assert!(err.contains("DIALDECK_DEFAULT_COUNTRY"), "{err}");
        let err = parse(&["--vicidial-screen-stale-secs", "1"]).unwrap_err();
        assert!(err.contains("DIALDECK_VICIDIAL_SCREEN_STALE_SECS"), "{err}");
    }
}
