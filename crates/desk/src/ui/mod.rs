//! Leptos components. They read signals and send commands; they never call web-sys.

mod call;
mod callbacks;
mod desk;
mod dialbox;
mod header;
mod lead;
mod modal;
mod phone;
mod readiness;
mod recent;
mod screen;
mod toast;
mod words;

use dialdeck_shared::{AgentProfile, RuntimeConfig};
use dialdeck_web::status::{ServerLink, StatusLine};
use leptos::prelude::*;

use crate::shell::http;

pub use self::desk::Desk;

/// Whether the mandatory disposition modal is open: everything else in the page is `inert`
/// meanwhile (no clicks, no focus, no screen-reader access).
#[derive(Clone, Copy)]
pub struct ModalOpen(pub RwSignal<bool>);

/// The desk module's root: the desk for the logged-in agent and the status line, with the
/// server's configuration the login page passed on (asked again when it had none).
#[component]
pub fn DeskApp(config: Option<RuntimeConfig>, profile: AgentProfile) -> impl IntoView {
    let link = match config {
        Some(cfg) => Signal::stored(ServerLink::Connected(cfg)),
        None => {
            let config = LocalResource::new(|| http::get_json::<RuntimeConfig>("/api/config"));
            Signal::derive(move || match config.get() {
                None => ServerLink::Connecting,
                Some(Ok(cfg)) => ServerLink::Connected(cfg),
                Some(Err(e)) => ServerLink::Failed(e),
            })
        }
    };
    let modal_open = ModalOpen(RwSignal::new(false));
    provide_context(modal_open);

    view! {
        <div class="app" inert=move || modal_open.0.get()>
            <Desk profile=profile />
            <StatusLine link=link />
        </div>
    }
}
