//! The connection-status line at the bottom of every screen (the login page's and the desk's).

use dialdeck_shared::RuntimeConfig;
use leptos::prelude::*;

use crate::http::HttpError;

/// Where the app stands with its own server.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerLink {
    /// Fetching `/api/config`.
    Connecting,
    /// The server answered with its runtime configuration.
    Connected(RuntimeConfig),
    /// The server could not be reached or answered badly.
    Failed(HttpError),
}

impl ServerLink {
    /// The line's words.
    pub fn words(&self) -> String {
        match self {
            ServerLink::Connecting => "Connecting to the server…".to_string(),
            ServerLink::Connected(cfg) => {
                let mut s = String::from("Server connected · dialdeck ");
                s.push_str(&cfg.version);
                s
            }
            ServerLink::Failed(err) => {
                let mut s = String::from("Server unavailable: ");
                s.push_str(&err.to_string());
                s
            }
        }
    }

    /// The CSS class that colours it.
    pub fn class(&self) -> &'static str {
        match self {
            ServerLink::Connecting => "status-line pending",
            ServerLink::Connected(_) => "status-line ok",
            ServerLink::Failed(_) => "status-line error",
        }
    }
}

/// Shows whether the app reached its server, and the server's version.
#[component]
pub fn StatusLine(link: Signal<ServerLink>) -> impl IntoView {
    view! {
        <footer class=move || link.with(ServerLink::class)>
            <span role="status" aria-live="polite" id="connection-status">
                {move || link.with(ServerLink::words)}
            </span>
        </footer>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_version_or_the_failure() {
        let cfg = RuntimeConfig {
            version: "1.2.3".into(),
            vicidial_web_origin: None,
            login_available: true,
        };
        assert_eq!(
            ServerLink::Connected(cfg).words(),
            "Server connected · dialdeck 1.2.3"
        );
        assert_eq!(
            ServerLink::Failed(HttpError::Unreachable("offline".into())).words(),
            "Server unavailable: cannot reach the server (offline)"
        );
        assert_eq!(ServerLink::Connecting.class(), "status-line pending");
    }
}
