//! Leptos components. They read signals and send commands; they never call web-sys.

mod call;
mod callbacks;
mod desk;
mod dialbox;
mod header;
mod lead;
mod login;
mod modal;
mod phone;
mod readiness;
mod recent;
mod screen;
mod status;
mod toast;
mod words;

use dialdeck_shared::{AgentProfile, RuntimeConfig};
use leptos::prelude::*;

use crate::shell::http::{self, HttpError};

pub use self::{desk::Desk, login::LoginScreen, status::StatusLine};

/// Whether the mandatory disposition modal is open: everything else in the page is `inert`
/// meanwhile (no clicks, no focus, no screen-reader access).
#[derive(Clone, Copy)]
pub struct ModalOpen(pub RwSignal<bool>);

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

/// The root component: the server's configuration and the agent's session (`GET /api/me`,
/// so a reload brings a logged-in agent straight back to the desk), then the login screen or
/// the desk.
#[component]
pub fn App() -> impl IntoView {
    let config = LocalResource::new(|| http::get_json::<RuntimeConfig>("/api/config"));
    let me = LocalResource::new(|| http::get_json::<Option<AgentProfile>>("/api/me"));
    let link = Signal::derive(move || match config.get() {
        None => ServerLink::Connecting,
        Some(Ok(cfg)) => ServerLink::Connected(cfg),
        Some(Err(e)) => ServerLink::Failed(e),
    });
    let runtime = Signal::derive(move || match link.get() {
        ServerLink::Connected(cfg) => Some(cfg),
        _ => None,
    });
    let agent = RwSignal::new(None::<AgentProfile>);
    // `None` until `/api/me` has answered: neither the login form nor the desk flashes up
    // before we know which one the agent needs.
    let known = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(answer) = me.get() {
            if let Ok(Some(profile)) = answer {
                agent.set(Some(profile));
            }
            known.set(true);
        }
    });
    let modal_open = ModalOpen(RwSignal::new(false));
    provide_context(modal_open);

    view! {
        <div class="app" inert=move || modal_open.0.get()>
            {move || match (known.get(), agent.get()) {
                (_, Some(profile)) => view! { <Desk profile=profile /> }.into_any(),
                (true, None) => view! {
                    <main class="login-page">
                        <LoginScreen config=runtime agent=agent />
                    </main>
                }.into_any(),
                (false, None) => view! {
                    <main class="login-page" aria-busy="true">
                        <p class="loading">"Loading dialdeck…"</p>
                    </main>
                }.into_any(),
            }}
            <StatusLine link=link />
        </div>
    }
}
