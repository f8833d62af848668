//! The agent login screen: VICIdial user and password.

use dialdeck_shared::{AgentProfile, LoginRequest, RuntimeConfig};
use leptos::prelude::*;

use crate::shell::http;

/// Login form. Submitting is possible only when the server says login is available.
#[component]
pub fn LoginScreen(config: Signal<Option<RuntimeConfig>>) -> impl IntoView {
    let user = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let agent = use_context::<super::Agent>();

    let available = move || config.get().is_some_and(|c| c.login_available);
    let notice = move || match config.get() {
        Some(cfg) if !cfg.login_available => {
            Some("Login is not available: this server has no VICIdial connection configured.")
        }
        _ => None,
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() || !available() {
            return;
        }
        let request = LoginRequest {
            user: user.get_untracked().trim().to_string(),
            password: password.get_untracked(),
            campaign: None,
        };
        if request.user.is_empty() || request.password.is_empty() {
            error.set(Some("Enter your agent user and password.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let result = http::post_json::<_, AgentProfile>("/api/login", &request).await;
            busy.set(false);
            match result {
                Ok(profile) => {
                    if let Some(agent) = agent {
                        agent.set(Some(profile));
                    }
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };

    view! {
        <section class="login card" aria-labelledby="login-title">
            <h1 id="login-title">"Agent login"</h1>
            <form id="login-form" on:submit=submit novalidate>
                <label for="login-user">"Agent user"</label>
                <input id="login-user" name="user" autocomplete="username" required
                    bind:value=user />
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password"
                    autocomplete="current-password" required bind:value=password />
                <button type="submit" disabled=move || busy.get() || !available()>
                    {move || if busy.get() { "Logging in…" } else { "Log in" }}
                </button>
                {move || notice().map(|n| view! { <p class="notice">{n}</p> })}
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            </form>
        </section>
    }
}
