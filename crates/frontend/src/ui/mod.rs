//! Leptos components. They read signals and send commands; they never call web-sys.

mod login;
mod status;

use dialdeck_shared::RuntimeConfig;
use leptos::prelude::*;

use crate::shell::http::{self, HttpError};

pub use self::{login::LoginScreen, status::StatusLine};

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

/// The root component: fetches the runtime configuration, then shows the login screen.
#[component]
pub fn App() -> impl IntoView {
    let (link, set_link) = signal(ServerLink::Connecting);
    leptos::task::spawn_local(async move {
        let next = match http::get_json::<RuntimeConfig>("/api/config").await {
            Ok(cfg) => ServerLink::Connected(cfg),
            Err(err) => ServerLink::Failed(err),
        };
        set_link.set(next);
    });
    let config = Signal::derive(move || match link.get() {
        ServerLink::Connected(cfg) => Some(cfg),
        _ => None,
    });
    view! {
        <div class="app">
            <header class="topbar">
                <span class="brand">"dialdeck"</span>
            </header>
            <main class="content">
                <LoginScreen config=config />
            </main>
            <StatusLine link=link />
        </div>
    }
}
