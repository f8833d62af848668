//! The root of the first load: the server's configuration and the agent's session
//! (`GET /api/me`, so a reload brings a logged-in agent straight back to the desk), then the
//! login form or the hand-over to the desk module.

use dialdeck_shared::RuntimeConfig;
use dialdeck_web::{
    http,
    status::{ServerLink, StatusLine},
};
use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::JsValue;

use crate::{desk, login::LoginScreen};

/// Where the hand-over to the desk stands.
#[derive(Clone, Debug, PartialEq)]
enum Handover {
    /// Nobody is logged in (yet).
    NotYet,
    /// The desk module is loading for a logged-in agent.
    Loading,
    /// It could not be loaded; the words say why.
    Failed(String),
    /// The desk is mounted: this page renders nothing any more.
    Done,
}

/// The sentence for a desk module that did not load.
fn desk_failed_text(why: &str) -> String {
    let mut s = String::from("The desk could not be loaded (");
    s.push_str(why);
    s.push_str("). Check your network connection and reload the page.");
    s
}

/// The login page, until an agent is logged in; then the desk module takes over.
#[component]
pub fn App() -> impl IntoView {
    // Plain tasks and signals rather than resources: the first load carries as little of
    // Leptos's async machinery as it can.
    let link = RwSignal::new(ServerLink::Connecting);
    // `/api/config`'s JSON as the browser parsed it, passed on to the desk.
    let config_json = StoredValue::new_local(JsValue::NULL);
    spawn_local(async move {
        let answer = match http::get_value("/api/config").await {
            Ok(json) => http::read_js::<RuntimeConfig>(json.clone()).map(|cfg| (cfg, json)),
            Err(e) => Err(e),
        };
        link.set(match answer {
            Ok((cfg, json)) => {
                config_json.set_value(json);
                ServerLink::Connected(cfg)
            }
            Err(e) => ServerLink::Failed(e),
        });
    });
    let runtime = Signal::derive(move || match link.get() {
        ServerLink::Connected(cfg) => Some(cfg),
        _ => None,
    });
    // The agent's profile as the server sent it: only the desk decodes it.
    let agent = RwSignal::new_local(None::<JsValue>);
    // `false` until `/api/me` has answered: the login form does not flash up before we know
    // whether the agent needs it.
    let known = RwSignal::new(false);
    spawn_local(async move {
        if let Ok(profile) = http::get_value("/api/me").await {
            if profile.is_object() {
                agent.set(Some(profile));
            }
        }
        known.set(true);
    });
    let handover = RwSignal::new(Handover::NotYet);
    Effect::new(move |_| {
        let Some(profile) = agent.get() else { return };
        if handover.get_untracked() != Handover::NotYet {
            return;
        }
        handover.set(Handover::Loading);
        let config = config_json.get_value();
        spawn_local(async move {
            handover.set(match desk::start(&config, &profile).await {
                Ok(()) => Handover::Done,
                Err(why) => Handover::Failed(why),
            });
        });
    });

    move || {
        let page = match (known.get(), handover.get()) {
            (_, Handover::Done) => return None,
            (_, Handover::Failed(why)) => view! {
                <main class="login-page">
                    <p id="desk-error" class="form-error" role="alert">{desk_failed_text(&why)}</p>
                </main>
            }
            .into_any(),
            (true, Handover::NotYet) => view! {
                <main class="login-page">
                    <LoginScreen config=runtime agent=agent />
                </main>
            }
            .into_any(),
            (false, _) | (true, Handover::Loading) => view! {
                <main class="login-page" aria-busy="true">
                    <p class="loading">"Loading dialdeck…"</p>
                </main>
            }
            .into_any(),
        };
        Some(view! {
            <div class="app">
                {page}
                <StatusLine link=link.into() />
            </div>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::desk_failed_text;

    #[test]
    fn a_desk_that_did_not_load_says_what_to_do() {
        assert_eq!(
            desk_failed_text("Failed to fetch dynamically imported module"),
            "The desk could not be loaded (Failed to fetch dynamically imported module). \
             Check your network connection and reload the page."
        );
    }
}
