//! Request and response types shared by `crates/server` and `crates/frontend`.
//!
//! No I/O here: plain serde types, so both the native server and the wasm frontend compile them.

use serde::{Deserialize, Serialize};

/// Runtime configuration the frontend fetches from `GET /api/config` at start-up.
///
/// Nothing deployment-specific is compiled into the frontend: it learns everything here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Product version of the running server (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Origin of the VICIdial web server whose agent screen runs in a hidden frame, if configured.
    pub vicidial_web_origin: Option<String>,
    /// Whether the server is ready to log agents in (its VICIdial side is configured).
    pub login_available: bool,
}

/// Body of every 4xx answer from the API: a stable machine code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable, snake_case error code (for example `invalid_credentials`).
    pub code: String,
    /// Human-readable explanation, safe to show to the agent.
    pub message: String,
}

/// `POST /api/login`: an agent's VICIdial user and password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// VICIdial `vicidial_users.user`.
    pub user: String,
    /// The agent's VICIdial password (sent over HTTPS only, never stored by the browser).
    pub password: String,
}

/// Health answer of `GET /readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `true` when every dependency checked is usable.
    pub ready: bool,
    /// One line per dependency: name and state.
    pub checks: Vec<ReadinessCheck>,
}

/// One dependency's state in [`Readiness`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessCheck {
    /// Dependency name, e.g. `store`.
    pub name: String,
    /// Whether it answered.
    pub ok: bool,
    /// What went wrong when it did not.
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_config_round_trips_through_json() {
        let cfg = RuntimeConfig {
            version: "1.2.3".into(),
            vicidial_web_origin: Some("https://dialer.example".into()),
            login_available: true,
        };
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains("\"vicidial_web_origin\":\"https://dialer.example\""));
        assert_eq!(serde_json::from_str::<RuntimeConfig>(&json).unwrap(), cfg);
    }

    #[test]
    fn api_error_body_has_code_and_message() {
        let body: ApiErrorBody = serde_json::from_str(
            r#"{"code":"invalid_credentials","message":"Wrong user or password"}"#,
        )
        .unwrap();
        assert_eq!(body.code, "invalid_credentials");
    }
}
