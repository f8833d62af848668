//! The connection-status line at the bottom of every screen.

use leptos::prelude::*;

use super::ServerLink;

/// Shows whether the app reached its server, and the server's version.
#[component]
pub fn StatusLine(link: Signal<ServerLink>) -> impl IntoView {
    let text = move || match link.get() {
        ServerLink::Connecting => "Connecting to the server…".to_string(),
        ServerLink::Connected(cfg) => format!("Server connected · dialdeck {}", cfg.version),
        ServerLink::Failed(err) => format!("Server unavailable: {err}"),
    };
    let class = move || match link.get() {
        ServerLink::Connecting => "status-line pending",
        ServerLink::Connected(_) => "status-line ok",
        ServerLink::Failed(_) => "status-line error",
    };
    view! {
        <footer class=class>
            <span role="status" aria-live="polite" id="connection-status">{text}</span>
        </footer>
    }
}
