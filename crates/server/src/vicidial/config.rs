//! VICIdial settings (`DIALDECK_VICIDIAL_*`). VICIdial is off until its database URL is set.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigError;

/// How to reach VICIdial.
#[derive(Clone, Debug, Args, Default)]
pub struct VicidialArgs {
    /// VICIdial's MariaDB, e.g. `mysql://dialdeck:…@db.example/asterisk` (read for agents,
    /// phones, statuses, leads and live agent state). Secret: it holds a password.
    #[arg(long = "vicidial-db-url", env = "DIALDECK_VICIDIAL_DB_URL", hide_env_values = true)]
    pub db_url: Option<SecretString>,
    /// The campaign agents log into.
    #[arg(long = "vicidial-campaign", env = "DIALDECK_VICIDIAL_CAMPAIGN", default_value = "TESTCAMP")]
    pub campaign: String,
    /// ICE servers handed to the softphone, comma-separated `stun:`/`turn:` URLs.
    #[arg(long = "vicidial-ice-servers", env = "DIALDECK_VICIDIAL_ICE_SERVERS", value_delimiter = ',')]
    pub ice_servers: Vec<String>,
}

impl VicidialArgs {
    /// Whether VICIdial is configured.
    pub fn enabled(&self) -> bool {
        self.db_url.is_some()
    }

    /// Checks the values clap cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.db_url {
            if !url.expose_secret().starts_with("mysql://") && !url.expose_secret().starts_with("mariadb://") {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_DB_URL",
                    problem: "must be a mysql:// URL (the value is not shown: it may hold a password)".into(),
                });
            }
        }
        if self.campaign.is_empty() || self.campaign.len() > 8 {
            return Err(ConfigError {
                variable: "DIALDECK_VICIDIAL_CAMPAIGN",
                problem: "must be a VICIdial campaign_id (1 to 8 characters)".into(),
            });
        }
        for ice in &self.ice_servers {
            if !(ice.starts_with("stun:") || ice.starts_with("turn:") || ice.starts_with("turns:")) {
                return Err(ConfigError {
                    variable: "DIALDECK_VICIDIAL_ICE_SERVERS",
                    problem: format!("{ice:?} is not a stun:, turn: or turns: URL"),
                });
            }
        }
        Ok(())
    }
}
