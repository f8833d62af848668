//! Leptos components. They read signals and send commands; they never call web-sys.

mod desk;
mod login;
mod modal;
mod phone;
mod readiness;
mod status;

use dialdeck_shared::{AgentProfile, RuntimeConfig};
use leptos::prelude::*;

use crate::shell::http::{self, HttpError};

pub use self::{desk::Desk, login::LoginScreen, status::StatusLine};

/// The logged-in agent, once `/api/me` or `/api/login` says who it is.
pub type Agent = RwSignal<Option<AgentProfile>>;

/// The password the agent typed at login, kept in memory only, to log VICIdial's own agent
/// screen in (it is never stored, and a reload asks for it again).
#[derive(Clone, Copy)]
pub struct ScreenPassword(pub RwSignal<Option<String>>);

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
    let agent: Agent = RwSignal::new(None);
    let password = ScreenPassword(RwSignal::new(None));
    provide_context(agent);
    provide_context(password);
    leptos::task::spawn_local(async move {
        if let Ok(Some(profile)) = http::get_json::<Option<AgentProfile>>("/api/me").await {
            agent.set(Some(profile));
        }
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
                {move || match agent.get() {
                    Some(profile) => view! { <Desk profile=profile password=password.0 /> }.into_any(),
                    None => view! { <LoginScreen config=config /> }.into_any(),
                }}
            </main>
            <StatusLine link=link />
        </div>
    }
}
