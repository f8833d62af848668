//! GoHighLevel settings (`DIALDECK_GHL_*`), flattened into [`crate::config::Config`] as `ghl`.
//!
//! GHL is optional: with no location id and no credentials the server starts without the sync.
//! With a location id, exactly one credential is required: a Private Integration token, or an
//! OAuth client id + secret + refresh token.

use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigError;

/// GHL's API v2 base URL.
pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

/// A VICIdial agent user mapped to a GHL user id (`1001=ghlUserId`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentUser {
    /// VICIdial `user`.
    pub vicidial_user: String,
    /// GHL user id (for `assignedTo` / `userId`).
    pub ghl_user_id: String,
}

fn parse_agent_user(s: &str) -> Result<AgentUser, String> {
    let (v, g) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} must look like VICIDIAL_USER=GHL_USER_ID"))?;
    let (v, g) = (v.trim(), g.trim());
    if v.is_empty() || g.is_empty() {
        return Err(format!("{s:?} must look like VICIDIAL_USER=GHL_USER_ID"));
    }
    Ok(AgentUser {
        vicidial_user: v.to_string(),
        ghl_user_id: g.to_string(),
    })
}

fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.trim()))
}

/// The GHL part of the configuration. `Debug` shows secrets as `[REDACTED]`.
#[derive(Clone, Debug, clap::Args)]
pub struct GhlArgs {
    /// GHL API base URL (tests and development point it at `dialdeck-ghl-sim`).
    #[arg(long = "ghl-base-url", env = "DIALDECK_GHL_BASE_URL", default_value = DEFAULT_BASE_URL)]
    pub base_url: String,

    /// GHL location (sub-account) id. Unset: GHL sync is off.
    #[arg(long = "ghl-location-id", env = "DIALDECK_GHL_LOCATION_ID")]
    pub location_id: Option<String>,

    /// Sub-account Private Integration token.
    #[arg(long = "ghl-private-token", env = "DIALDECK_GHL_PRIVATE_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub private_token: Option<SecretString>,

    /// OAuth app client id (with the secret and a refresh token, instead of a private token).
    #[arg(long = "ghl-oauth-client-id", env = "DIALDECK_GHL_OAUTH_CLIENT_ID")]
    pub oauth_client_id: Option<String>,

    /// OAuth app client secret.
    #[arg(long = "ghl-oauth-client-secret", env = "DIALDECK_GHL_OAUTH_CLIENT_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub oauth_client_secret: Option<SecretString>,

    /// The first OAuth refresh token. Refresh tokens are single-use: after the first refresh
    /// the rotated one lives in the store and this value is no longer used.
    #[arg(long = "ghl-oauth-refresh-token", env = "DIALDECK_GHL_OAUTH_REFRESH_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub oauth_refresh_token: Option<SecretString>,

    /// Pipeline for sales (statuses with VICIdial's `sale` flag). Unset: sales are tagged only.
    #[arg(long = "ghl-sale-pipeline-id", env = "DIALDECK_GHL_SALE_PIPELINE_ID")]
    pub sale_pipeline_id: Option<String>,

    /// Stage of that pipeline for won sales.
    #[arg(long = "ghl-sale-stage-id", env = "DIALDECK_GHL_SALE_STAGE_ID")]
    pub sale_stage_id: Option<String>,

    /// Monetary value put on sale opportunities.
    #[arg(long = "ghl-sale-value", env = "DIALDECK_GHL_SALE_VALUE")]
    pub sale_value: Option<f64>,

    /// Workflows a DNC contact is removed from (comma-separated ids).
    #[arg(
        long = "ghl-dnc-workflow-ids",
        env = "DIALDECK_GHL_DNC_WORKFLOW_IDS",
        value_delimiter = ','
    )]
    pub dnc_workflow_ids: Vec<String>,

    /// Whether a DNC contact is also removed from all campaigns.
    #[arg(long = "ghl-dnc-leave-campaigns", env = "DIALDECK_GHL_DNC_LEAVE_CAMPAIGNS", default_value_t = true, action = clap::ArgAction::Set)]
    pub dnc_leave_campaigns: bool,

    /// VICIdial agent to GHL user mapping, e.g. `1001=ghlUserA,1002=ghlUserB`.
    #[arg(long = "ghl-agent-users", env = "DIALDECK_GHL_AGENT_USERS", value_delimiter = ',', value_parser = parse_agent_user)]
    pub agent_users: Vec<AgentUser>,

    /// Prefix of the tags dialdeck adds (`<prefix>:<status>`); GHL stores tags lower-case.
    #[arg(
        long = "ghl-tag-prefix",
        env = "DIALDECK_GHL_TAG_PREFIX",
        default_value = "dialdeck"
    )]
    pub tag_prefix: String,

    /// Timeout of one GHL request in milliseconds.
    #[arg(
        long = "ghl-timeout-ms",
        env = "DIALDECK_GHL_TIMEOUT_MS",
        default_value_t = 15_000
    )]
    pub timeout_ms: u64,
}

/// How dialdeck authenticates to GHL.
#[derive(Clone, Debug)]
pub enum GhlAuth {
    /// A static Private Integration token.
    PrivateToken(SecretString),
    /// OAuth: access tokens from single-use refresh tokens.
    OAuth {
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: SecretString,
        /// The refresh token to start from when the store has none.
        initial_refresh_token: SecretString,
    },
}

impl GhlArgs {
    /// Whether any GHL setting asks for the sync.
    pub fn enabled(&self) -> bool {
        self.location_id.is_some()
            || self.private_token.is_some()
            || self.oauth_client_id.is_some()
            || self.oauth_refresh_token.is_some()
    }

    /// Checks the combination of values; called from [`crate::config::Config::validate`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |variable, problem: &str| {
            Err(ConfigError {
                variable,
                problem: problem.to_string(),
            })
        };
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return err(
                "DIALDECK_GHL_BASE_URL",
                "must start with https:// (or http:// for the simulator)",
            );
        }
        if !self.enabled() {
            return Ok(());
        }
        if self
            .location_id
            .as_deref()
            .is_none_or(|l| l.trim().is_empty())
        {
            return err(
                "DIALDECK_GHL_LOCATION_ID",
                "is required when GHL credentials are set",
            );
        }
        self.auth()?;
        if self.sale_stage_id.is_some() && self.sale_pipeline_id.is_none() {
            return err(
                "DIALDECK_GHL_SALE_PIPELINE_ID",
                "is required when DIALDECK_GHL_SALE_STAGE_ID is set",
            );
        }
        if self.tag_prefix.trim().is_empty() {
            return err("DIALDECK_GHL_TAG_PREFIX", "must not be empty");
        }
        if self.timeout_ms == 0 {
            return err("DIALDECK_GHL_TIMEOUT_MS", "must be above 0");
        }
        Ok(())
    }

    /// The credential to use (exactly one kind must be configured).
    pub fn auth(&self) -> Result<GhlAuth, ConfigError> {
        let oauth_any = self.oauth_client_id.is_some()
            || self.oauth_client_secret.is_some()
            || self.oauth_refresh_token.is_some();
        match (&self.private_token, oauth_any) {
            (Some(_), true) => Err(ConfigError {
                variable: "DIALDECK_GHL_PRIVATE_TOKEN",
                problem: "set either a private integration token or the OAuth client, not both"
                    .into(),
            }),
            (Some(t), false) if t.expose_secret().is_empty() => Err(ConfigError {
                variable: "DIALDECK_GHL_PRIVATE_TOKEN",
                problem: "must not be empty".into(),
            }),
            (Some(t), false) => Ok(GhlAuth::PrivateToken(t.clone())),
            (None, true) => {
                let missing = |v| ConfigError {
                    variable: v,
                    problem: "is required for OAuth (with the client id, secret and refresh token)"
                        .into(),
                };
                Ok(GhlAuth::OAuth {
                    client_id: self
                        .oauth_client_id
                        .clone()
                        .ok_or_else(|| missing("DIALDECK_GHL_OAUTH_CLIENT_ID"))?,
                    client_secret: self
                        .oauth_client_secret
                        .clone()
                        .ok_or_else(|| missing("DIALDECK_GHL_OAUTH_CLIENT_SECRET"))?,
                    initial_refresh_token: self
                        .oauth_refresh_token
                        .clone()
                        .ok_or_else(|| missing("DIALDECK_GHL_OAUTH_REFRESH_TOKEN"))?,
                })
            }
            (None, false) => Err(ConfigError {
                variable: "DIALDECK_GHL_PRIVATE_TOKEN",
                problem: "a GHL location is set but no credential: set a private integration token or the DIALDECK_GHL_OAUTH_* values".into(),
            }),
        }
    }

    /// The GHL user mapped to a VICIdial agent.
    pub fn ghl_user_for(&self, vicidial_user: &str) -> Option<&str> {
        self.agent_users
            .iter()
            .find(|a| a.vicidial_user == vicidial_user)
            .map(|a| a.ghl_user_id.as_str())
    }

    /// Settings for tests: a private token, the given base URL and location, everything else
    /// default.
    pub fn for_tests(base_url: &str, location_id: &str, token: &str) -> GhlArgs {
        GhlArgs {
            base_url: base_url.to_string(),
            location_id: Some(location_id.to_string()),
            private_token: Some(SecretString::from(token)),
            oauth_client_id: None,
            oauth_client_secret: None,
            oauth_refresh_token: None,
            sale_pipeline_id: None,
            sale_stage_id: None,
            sale_value: None,
            dnc_workflow_ids: Vec::new(),
            dnc_leave_campaigns: true,
            agent_users: Vec::new(),
            tag_prefix: "dialdeck".into(),
            timeout_ms: 15_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        ghl: GhlArgs,
    }

    fn parse(args: &[&str]) -> GhlArgs {
        Wrap::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .ghl
    }

    #[test]
    fn unconfigured_is_off_and_valid() {
        let g = parse(&[]);
        assert!(!g.enabled());
        assert!(g.validate().is_ok());
        assert_eq!(g.base_url, DEFAULT_BASE_URL);
    }

    #[test]
    fn private_token_with_location_is_valid_and_redacted() {
        let g = parse(&[
            "--ghl-location-id",
            "loc1",
            "--ghl-private-token",
            "pit-very-secret",
            "--ghl-agent-users",
            "1001=uA, 1002=uB",
            "--ghl-dnc-workflow-ids",
            "wf1,wf2",
        ]);
        assert!(g.validate().is_ok());
        assert!(matches!(g.auth().unwrap(), GhlAuth::PrivateToken(_)));
        assert_eq!(g.ghl_user_for("1002"), Some("uB"));
        assert_eq!(g.dnc_workflow_ids, vec!["wf1", "wf2"]);
        assert!(!format!("{g:?}").contains("very-secret"));
    }

    #[test]
    fn credentials_without_location_name_the_variable() {
        let g = parse(&["--ghl-private-token", "t"]);
        assert_eq!(
            g.validate().unwrap_err().variable,
            "DIALDECK_GHL_LOCATION_ID"
        );
    }

    #[test]
    fn incomplete_oauth_names_the_missing_variable() {
        let g = parse(&[
            "--ghl-location-id",
            "l",
            "--ghl-oauth-client-id",
            "c",
            "--ghl-oauth-refresh-token",
            "r",
        ]);
        assert_eq!(
            g.validate().unwrap_err().variable,
            "DIALDECK_GHL_OAUTH_CLIENT_SECRET"
        );
    }

    #[test]
    fn both_credentials_are_refused() {
        let g = parse(&[
            "--ghl-location-id",
            "l",
            "--ghl-private-token",
            "t",
            "--ghl-oauth-client-id",
            "c",
        ]);
        assert!(g.validate().is_err());
    }

    #[test]
    fn bad_agent_mapping_is_rejected() {
        assert!(Wrap::try_parse_from(["x", "--ghl-agent-users", "1001"]).is_err());
    }
}
