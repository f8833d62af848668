//! Server configuration: command-line flags and environment variables (clap with `env`),
//! validated at start-up with messages that name the flag or variable at fault.
//!
//! Every option has an embedded default except secrets and upstream addresses, so
//! `dialdeck` with no arguments serves the app locally.

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use secrecy::{ExposeSecret, SecretString};

/// Everything the server needs to start.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "dialdeck",
    version,
    about = "dialdeck: the call-centre agent desktop server"
)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "DIALDECK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the embedded store (SQLite) and other server state; created if missing.
    #[arg(long, env = "DIALDECK_DATA_DIR", default_value = "dialdeck-data")]
    pub data_dir: PathBuf,

    /// A shared MariaDB/MySQL database for the server's own store
    /// (`mysql://user:password@host:3306/dialdeck`), for several instances behind a load
    /// balancer. Unset: the embedded SQLite file in the data directory. Secret: it holds a
    /// password.
    #[arg(long, env = "DIALDECK_STORE_URL", hide_env_values = true)]
    pub store_url: Option<SecretString>,

    /// Public base URL agents open (used in logs and for cookie security). Defaults to
    /// `http://<listen>`.
    #[arg(long, env = "DIALDECK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Origin (scheme://host[:port]) of the VICIdial web server whose agent screen runs in a
    /// hidden frame; allowed by the Content-Security-Policy `frame-src`.
    #[arg(long, env = "DIALDECK_VICIDIAL_WEB_ORIGIN")]
    pub vicidial_web_origin: Option<String>,

    /// Origins (`wss://host[:port]`, or `ws://` for a lab on loopback) of the SIP WebSocket
    /// servers agents' phones connect to, comma-separated; added to the
    /// Content-Security-Policy `connect-src` (which allows any `wss:` already).
    #[arg(long, env = "DIALDECK_PHONE_WS_ORIGINS", value_delimiter = ',')]
    pub phone_ws_origins: Vec<String>,

    /// Log filter in `tracing` syntax, e.g. `info` or `dialdeck_server=debug,tower_http=info`.
    #[arg(long, env = "DIALDECK_LOG", default_value = "info")]
    pub log: String,

    /// Seconds to let in-flight requests finish after SIGTERM / Ctrl-C.
    #[arg(long, env = "DIALDECK_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// GoHighLevel sync (`DIALDECK_GHL_*`); off unless a location is configured.
    #[command(flatten)]
    pub ghl: crate::ghl::GhlArgs,

    /// The disposition outbox (`DIALDECK_OUTBOX_*`).
    #[command(flatten)]
    pub outbox: crate::outbox::OutboxArgs,

    /// VICIdial (`DIALDECK_VICIDIAL_*`); off unless its database URL is set.
    #[command(flatten)]
    pub vicidial: crate::vicidial::VicidialArgs,

    /// Load protection: timeouts, connection, request and event-stream caps.
    #[command(flatten)]
    pub limits: crate::http::LimitArgs,

    /// The login throttle (per client address and per VICIdial user).
    #[command(flatten)]
    pub throttle: crate::http::ThrottleArgs,
}

/// A configuration value that cannot be used, named by its environment variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable (flag names follow from it).
    pub variable: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

impl Config {
    /// Checks values clap cannot check on its own. Called once at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(origin) = &self.vicidial_web_origin {
            validate_origin(origin).map_err(|problem| ConfigError {
                variable: "DIALDECK_VICIDIAL_WEB_ORIGIN",
                problem,
            })?;
        }
        for origin in &self.phone_ws_origins {
            validate_ws_origin(origin).map_err(|problem| ConfigError {
                variable: "DIALDECK_PHONE_WS_ORIGINS",
                problem,
            })?;
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError {
                    variable: "DIALDECK_PUBLIC_URL",
                    problem: format!("{url:?} must start with http:// or https://"),
                });
            }
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError {
                variable: "DIALDECK_DATA_DIR",
                problem: "must not be empty".into(),
            });
        }
        if let Some(url) = &self.store_url {
            let url = url.expose_secret();
            if !(url.starts_with("mysql://") || url.starts_with("mariadb://")) {
                return Err(ConfigError {
                    variable: "DIALDECK_STORE_URL",
                    problem: "must be a mysql:// or mariadb:// URL (leave it unset for the embedded SQLite store)".into(),
                });
            }
        }
        self.ghl.validate()?;
        self.outbox.validate()?;
        self.vicidial.validate()?;
        self.limits.validate()?;
        self.throttle.validate()?;
        // A dial waits this long for VICIdial's screen; the request must outlive the wait.
        let longest_wait_secs =
            self.vicidial.confirm_secs + self.vicidial.api_timeout_ms.div_ceil(1000);
        if self.limits.request_timeout_secs <= longest_wait_secs {
            return Err(ConfigError {
                variable: "DIALDECK_REQUEST_TIMEOUT_SECS",
                problem: format!(
                    "must be more than DIALDECK_VICIDIAL_CONFIRM_SECS plus the VICIdial API timeout ({longest_wait_secs} s)"
                ),
            });
        }
        Ok(())
    }

    /// The VICIdial web origin allowed to be framed: `DIALDECK_VICIDIAL_WEB_ORIGIN`, or the
    /// origin of `DIALDECK_VICIDIAL_WEB_URL`.
    pub fn frame_origin(&self) -> Option<String> {
        self.vicidial_web_origin
            .clone()
            .or_else(|| self.vicidial.web_origin())
    }

    /// The URL agents open, for the start-up log line.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

/// An origin is `scheme://host[:port]` with no path, query or credentials.
fn validate_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin:?} must start with https:// or http://"))?;
    if rest.is_empty() {
        return Err(format!("{origin:?} has no host"));
    }
    if rest.contains(['/', '?', '#', '@', ' ', '\'', ';']) {
        return Err(format!(
            "{origin:?} must be an origin only (scheme://host[:port]), without path, query or credentials"
        ));
    }
    Ok(())
}

/// A WebSocket origin is `ws[s]://host[:port]` with no path, query or credentials.
fn validate_ws_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("wss://")
        .or_else(|| origin.strip_prefix("ws://"))
        .ok_or_else(|| format!("{origin:?} must start with wss:// or ws://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ', '\'', ';', ',']) {
        return Err(format!(
            "{origin:?} must be an origin only (ws[s]://host[:port]), without path, query or credentials"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("dialdeck").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_are_usable() {
        let cfg = parse(&[]);
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn bad_origin_names_the_variable() {
        let cfg = parse(&["--vicidial-web-origin", "https://dialer.example/agc/"]);
        let err = cfg.validate().unwrap_err();
        assert_eq!(err.variable, "DIALDECK_VICIDIAL_WEB_ORIGIN");
        assert!(err.to_string().contains("DIALDECK_VICIDIAL_WEB_ORIGIN"));
    }

    #[test]
    fn the_store_url_must_be_mariadb_and_is_never_printed() {
        let cfg = parse(&["--store-url", "postgres://dd:hunter2@db/dialdeck"]);
        let err = cfg.validate().unwrap_err();
        assert_eq!(err.variable, "DIALDECK_STORE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{cfg:?}").contains("hunter2"));
        let cfg = parse(&["--store-url", "mysql://dd:hunter2@db:3306/dialdeck"]);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn good_origin_passes() {
        let cfg = parse(&["--vicidial-web-origin", "https://dialer.example:8443"]);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn phone_ws_origins_are_checked() {
        let cfg = parse(&[
            "--phone-ws-origins",
            "ws://127.0.0.1:8080,wss://sip.example",
        ]);
        assert_eq!(cfg.phone_ws_origins.len(), 2);
        assert!(cfg.validate().is_ok());
        let err = parse(&["--phone-ws-origins", "ws://127.0.0.1:8080/ws"])
            .validate()
            .unwrap_err();
        assert_eq!(err.variable, "DIALDECK_PHONE_WS_ORIGINS");
        assert!(parse(&["--phone-ws-origins", "http://x"])
            .validate()
            .is_err());
    }

    #[test]
    fn limits_and_throttle_are_checked_by_name() {
        let cfg = parse(&[]);
        assert_eq!(cfg.limits.request_timeout_secs, 30);
        assert_eq!(cfg.throttle.user_failures, 5);
        assert!(cfg.throttle.trusted_proxies.is_empty(), "opt-in");
        let err = parse(&["--login-user-failures", "10"])
            .validate()
            .unwrap_err();
        assert_eq!(err.variable, "DIALDECK_LOGIN_USER_FAILURES");
        let err = parse(&["--request-timeout-secs", "5"])
            .validate()
            .unwrap_err();
        assert_eq!(err.variable, "DIALDECK_REQUEST_TIMEOUT_SECS");
        let err = parse(&["--max-streams-per-agent", "0"])
            .validate()
            .unwrap_err();
        assert_eq!(err.variable, "DIALDECK_MAX_STREAMS_PER_AGENT");
        let cfg = parse(&["--trusted-proxies", "10.0.0.0/8,::1"]);
        assert_eq!(cfg.throttle.trusted_proxies.len(), 2);
        let err =
            Config::try_parse_from(["dialdeck", "--trusted-proxies", "lb.example"]).unwrap_err();
        assert!(err.to_string().contains("--trusted-proxies"), "{err}");
    }

    #[test]
    fn bad_listen_address_is_rejected_by_name() {
        let err = Config::try_parse_from(["dialdeck", "--listen", "nowhere"]).unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
    }
}
