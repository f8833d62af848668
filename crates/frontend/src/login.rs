//! The agent login: VICIdial user and password, then one of the campaigns VICIdial allows
//! this agent (chosen for them when there is only one), then the desk. The password lives in
//! this form's fields only: once logged in the form is gone, and the server keeps what
//! VICIdial's own screen needs.

use dialdeck_shared::{CampaignOption, LoginRequest, RuntimeConfig};
use dialdeck_web::{
    focus,
    http::{self, HttpError},
    text, time,
};
use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::JsValue;

/// The sentence for a failed login step. `retry_in` is the seconds left before the server
/// takes another attempt (`too_many_attempts` with `Retry-After`).
pub fn login_error_text(err: &HttpError, retry_in: Option<u64>) -> String {
    let HttpError::Api { body, .. } = err else {
        return "Cannot reach dialdeck's server. Check your network connection and try again."
            .into();
    };
    match body.code.as_str() {
        "invalid_credentials" => "Wrong user or password.".into(),
        "locked_out" => "VICIdial has locked this user after too many failed logins. Wait 15 minutes, or ask a supervisor to unlock it.".into(),
        "vicidial_unreachable" | "vicidial_db_unavailable" => "VICIdial is not answering right now. Try again in a moment; if it goes on, tell your supervisor.".into(),
        "campaign_not_allowed" => "Your user may not log into this campaign. Choose another one, or ask a supervisor.".into(),
        "campaign_required" => "Choose a campaign.".into(),
        "too_many_attempts" => match retry_in {
            Some(secs) if secs > 0 => {
                let mut s = String::from("Too many login attempts. Try again in ");
                s.push_str(&text::wait_text(0, secs as i64));
                s.push('.');
                s
            }
            _ => "Too many login attempts. Wait a moment before trying again.".into(),
        },
        "login_not_allowed" => "This VICIdial user may not use the agent screen. Ask a supervisor.".into(),
        "no_phone" => "Your VICIdial user has no phone. Ask a supervisor to give you one.".into(),
        "vicidial_not_configured" => "Login is not available: this server has no VICIdial connection configured.".into(),
        _ => body.message.clone(),
    }
}

/// Where the form stands.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// User and password.
    Credentials,
    /// The campaigns VICIdial allows this user.
    Campaign(Vec<CampaignOption>),
}

/// A failed step, kept with when the server takes the next attempt.
#[derive(Clone, Debug, PartialEq)]
struct Failure {
    error: HttpError,
    /// Browser ms when `Retry-After` ends.
    retry_at_ms: Option<f64>,
}

/// The login form. Logging in is possible only when the server says it is available; a
/// successful login sets `agent` to the profile's JSON (the desk decodes it).
#[component]
pub fn LoginScreen(
    config: Signal<Option<RuntimeConfig>>,
    agent: RwSignal<Option<JsValue>, LocalStorage>,
) -> impl IntoView {
    let user = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let campaign = RwSignal::new(String::new());
    let step = RwSignal::new(Step::Credentials);
    let failure = RwSignal::new(None::<Failure>);
    let local_error = RwSignal::new(None::<&'static str>);
    let now_ms = RwSignal::new(time::now_ms());
    time::every(1000, move || now_ms.set(time::now_ms()));

    let request = move || LoginRequest {
        user: user.get_untracked().trim().to_string(),
        password: password.get_untracked(),
        campaign: Some(campaign.get_untracked()).filter(|c| !c.is_empty()),
    };
    let fail = move |error: HttpError| {
        let retry_at_ms = match &error {
            HttpError::Api {
                retry_after: Some(s),
                ..
            } => Some(time::now_ms() + f64::from(*s) * 1000.0),
            _ => None,
        };
        failure.set(Some(Failure { error, retry_at_ms }));
    };
    // Plain tasks and signals rather than actions: the first load carries as little of
    // Leptos's async machinery as it can.
    let campaigns_pending = RwSignal::new(false);
    let login_pending = RwSignal::new(false);
    let ask_campaigns = move |req: LoginRequest| {
        campaigns_pending.set(true);
        spawn_local(async move {
            let answer =
                http::post_js::<_, Vec<CampaignOption>>("/api/login/campaigns", &req).await;
            campaigns_pending.set(false);
            match answer {
                Ok(list) => {
                    if list.is_empty() {
                        local_error.set(Some(
                            "VICIdial allows your user no active campaign. Ask a supervisor.",
                        ));
                        return;
                    }
                    let only = list.len() == 1;
                    campaign.set(list[0].campaign_id.clone());
                    step.set(Step::Campaign(list));
                    focus::focus_soon(if only {
                        "login-submit"
                    } else {
                        "login-campaign"
                    });
                }
                Err(e) => fail(e),
            }
        });
    };
    let log_in = move |req: LoginRequest| {
        login_pending.set(true);
        spawn_local(async move {
            let answer = http::post_js_value("/api/login", &req).await;
            login_pending.set(false);
            match answer {
                Ok(profile) => {
                    password.set(String::new());
                    agent.set(Some(profile));
                }
                Err(e) => {
                    if e.code() == Some("invalid_credentials") {
                        // The password changed between the steps: start again.
                        step.set(Step::Credentials);
                        password.set(String::new());
                        focus::focus_soon("login-password");
                    }
                    fail(e)
                }
            }
        });
    };

    let available = move || config.get().is_some_and(|c| c.login_available);
    // Once the form can be used: mark the moment and fetch the desk while the agent types.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        if !available() {
            return false;
        }
        request_animation_frame(crate::desk::login_ready);
        true
    });
    let busy = move || campaigns_pending.get() || login_pending.get();
    let wait_secs = move || {
        failure.with(|f| {
            f.as_ref()
                .and_then(|f| f.retry_at_ms)
                .map(|at| ((at - now_ms.get()) / 1000.0).ceil().max(0.0) as u64)
                .filter(|s| *s > 0)
        })
    };
    let blocked = move || busy() || !available() || wait_secs().is_some();
    let error_text = move || {
        if let Some(e) = local_error.get() {
            return Some(e.to_string());
        }
        failure.with(|f| f.as_ref().map(|f| login_error_text(&f.error, wait_secs())))
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if blocked() {
            return;
        }
        failure.set(None);
        local_error.set(None);
        let req = request();
        if req.user.is_empty() || req.password.is_empty() {
            local_error.set(Some("Enter your agent user and password."));
            return;
        }
        match step.get_untracked() {
            Step::Credentials => ask_campaigns(req),
            Step::Campaign(_) if req.campaign.is_none() => {
                local_error.set(Some("Choose a campaign."));
            }
            Step::Campaign(_) => log_in(req),
        }
    };
    let back = move |_| {
        step.set(Step::Credentials);
        campaign.set(String::new());
        failure.set(None);
        local_error.set(None);
        focus::focus_soon("login-password");
    };
    let notice = move || match config.get() {
        Some(cfg) if !cfg.login_available => {
            Some("Login is not available: this server has no VICIdial connection configured.")
        }
        _ => None,
    };
    let on_credentials = move || step.with(|s| *s == Step::Credentials);

    view! {
        <section class="login card" aria-labelledby="login-title">
            <p class="login-brand" aria-hidden="true"><span class="brand-mark"></span>"dialdeck"</p>
            <h1 id="login-title">"Agent login"</h1>
            <form id="login-form" on:submit=submit novalidate>
                <label for="login-user">"Agent user"</label>
                <input id="login-user" name="user" autocomplete="username" required
                    autofocus prop:readOnly=move || !on_credentials()
                    bind:value=user />
                <Show when=on_credentials fallback=move || view! {
                    <label for="login-campaign">"Campaign"</label>
                    <select id="login-campaign" name="campaign"
                        prop:value=move || campaign.get()
                        on:change=move |ev| campaign.set(event_target_value(&ev))>
                        {move || match step.get() {
                            Step::Campaign(list) => list.into_iter().map(|c| {
                                let label = if c.campaign_name.is_empty() {
                                    c.campaign_id.clone()
                                } else {
                                    let mut l = c.campaign_name.clone();
                                    l.push_str(" (");
                                    l.push_str(&c.campaign_id);
                                    l.push(')');
                                    l
                                };
                                view! { <option value=c.campaign_id.clone()>{label}</option> }
                            }).collect_view().into_any(),
                            Step::Credentials => ().into_any(),
                        }}
                    </select>
                    <div class="login-actions">
                        <button type="button" class="secondary" id="login-back" on:click=back>
                            "Change user"
                        </button>
                        <button type="submit" id="login-submit" disabled=blocked>
                            {move || if login_pending.get() { "Logging in…" } else { "Log in" }}
                        </button>
                    </div>
                }>
                    <label for="login-password">"Password"</label>
                    <input id="login-password" name="password" type="password"
                        autocomplete="current-password" required bind:value=password />
                    <button type="submit" id="login-continue" disabled=blocked>
                        {move || if campaigns_pending.get() { "Checking…" } else { "Continue" }}
                    </button>
                </Show>
                {move || notice().map(|n| view! { <p class="notice">{n}</p> })}
                <p id="login-error" class="form-error" role="alert" aria-live="assertive">
                    {error_text}
                </p>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialdeck_shared::ApiErrorBody;

    fn api(code: &str) -> HttpError {
        HttpError::Api {
            status: 400,
            body: ApiErrorBody {
                code: code.into(),
                message: format!("server says {code}"),
            },
            retry_after: None,
        }
    }

    #[test]
    fn every_login_refusal_has_its_own_sentence() {
        let codes = [
            "invalid_credentials",
            "locked_out",
            "vicidial_unreachable",
            "campaign_not_allowed",
            "too_many_attempts",
            "login_not_allowed",
            "no_phone",
        ];
        let texts: Vec<String> = codes
            .iter()
            .map(|c| login_error_text(&api(c), None))
            .collect();
        for (c, t) in codes.iter().zip(&texts) {
            assert!(!t.contains("server says"), "{c}: {t}");
        }
        let mut unique = texts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "{texts:#?}");
        assert_eq!(
            login_error_text(&api("too_many_attempts"), Some(42)),
            "Too many login attempts. Try again in 42 s."
        );
        assert_eq!(
            login_error_text(&api("too_many_attempts"), Some(300)),
            "Too many login attempts. Try again in 5 min."
        );
        assert_eq!(
            login_error_text(&api("something_new"), None),
            "server says something_new",
            "unknown codes keep the server's sentence"
        );
        assert!(
            login_error_text(&HttpError::Unreachable("offline".into()), None)
                .starts_with("Cannot reach dialdeck's server")
        );
    }
}
