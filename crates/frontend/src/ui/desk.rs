//! The agent's desk after login: VICIdial's session (its own screen in a hidden frame), the
//! live state pushed by the server, call controls, the lead on screen, and the mandatory
//! disposition modal whenever a call waits for its disposition.

use dialdeck_shared::{
    AgentProfile, AgentState, AgentStatus, DialRequest, DispositionAccepted, LeadView, SubStatus,
};
use leptos::prelude::*;

use super::{
    modal::DispositionModal,
    phone::{CallControls, PhoneAlerts, PhoneBadge, QualityMeter},
    readiness::ReadinessCheck,
};
use crate::{
    phone::{self, CallView, PhoneCommand, PhoneView, RegView},
    shell::{frame, http, sse, time},
};

/// Name of the hidden frame that holds VICIdial's agent screen.
const SCREEN_FRAME: &str = "vicidial-screen";

/// What the phone should dial to join VICIdial's session conference now, if anything: only
/// for a webphone (VICIdial calls other phones itself), once VICIdial's session is up and the
/// phone registered and idle, and only once per session (after that, the agent rejoins with
/// the button: a phone that redials by itself could loop against a broken dialplan).
pub fn conference_to_join(
    join_by_dialing: bool,
    prefix: &str,
    session_conf: Option<&str>,
    registered: bool,
    phone_idle: bool,
    already_dialled: Option<&str>,
) -> Option<String> {
    let conf = session_conf.filter(|c| !c.is_empty())?;
    (join_by_dialing && registered && phone_idle && already_dialled != Some(conf))
        .then(|| format!("{prefix}{conf}"))
}

/// The desk. `password` is the one the agent just typed (memory only), needed to log
/// VICIdial's own screen in; after a page reload the agent types it again.
#[component]
pub fn Desk(profile: AgentProfile, password: RwSignal<Option<String>>) -> impl IntoView {
    let state = RwSignal::new(None::<AgentState>);
    let live = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let lead = RwSignal::new(None::<LeadView>);
    let last_dispo = RwSignal::new(None::<DispositionAccepted>);
    let call_started = RwSignal::new(None::<f64>);
    let screen_posted = RwSignal::new(false);
    let phone_view = RwSignal::new(PhoneView::default());
    phone::start(profile.phone.clone(), phone_view);
    on_cleanup(phone::stop);
    let joined = RwSignal::new(None::<String>);

    if let Err(e) = sse::listen::<AgentState>(
        "/api/agent/events",
        "state",
        move |s| state.set(Some(s)),
        move |up| live.set(up),
    ) {
        error.set(Some(format!("Live updates are unavailable: {e}")));
    }
    let _ = sse::listen::<DispositionAccepted>(
        "/api/dispositions/events",
        "disposition",
        move |d| last_dispo.set(Some(d)),
        |_| {},
    );

    // Log VICIdial's own screen in once we know it is not, with the password just typed.
    let screen = profile.screen.clone();
    let user = profile.user.clone();
    Effect::new(move |_| {
        let logged_in = state.with(|s| s.as_ref().map(|s| s.logged_in()));
        if logged_in != Some(false) || screen_posted.get() {
            return;
        }
        let Some(pass) = password.get() else { return };
        screen_posted.set(true);
        let fields = [
            ("VD_login", user.as_str()),
            ("VD_pass", pass.as_str()),
            ("VD_campaign", screen.campaign.as_str()),
            ("phone_login", screen.phone_login.as_str()),
            ("phone_pass", screen.phone_pass.as_str()),
        ];
        if let Err(e) = frame::post_to_frame(SCREEN_FRAME, &screen.url, &fields) {
            error.set(Some(format!("Cannot open VICIdial's agent screen: {e}")));
        }
    });

    // The phone joins VICIdial's session conference (webphones dial in; see above).
    let join_by_dialing = profile.phone.join_by_dialing;
    let prefix = profile.phone.conference_prefix.clone();
    let session_conf = move || {
        state.with(|s| {
            s.as_ref()
                .filter(|s| s.logged_in())
                .map(|s| s.conf_exten.clone())
        })
    };
    Effect::new(move |_| {
        let conf = session_conf();
        let (registered, idle) =
            phone_view.with(|v| (v.registration == RegView::Registered, !v.call.active()));
        if let Some(target) = conference_to_join(
            join_by_dialing,
            &prefix,
            conf.as_deref(),
            registered,
            idle,
            joined.get_untracked().as_deref(),
        ) {
            joined.set(conf);
            phone::command(PhoneCommand::Dial(target));
        }
    });
    let in_session = move || {
        phone_view.with(|v| v.call == CallView::Established) && joined.with(Option::is_some)
    };
    let can_rejoin = move || {
        join_by_dialing
            && session_conf().is_some_and(|c| !c.is_empty())
            && phone_view.with(|v| v.registration == RegView::Registered && !v.call.active())
            && joined.with(Option::is_some)
    };
    let rejoin = move |_| joined.set(None);

    // The lead on screen (current call, or the call waiting for its disposition).
    Effect::new(move |prev: Option<i64>| {
        let id = state.with(|s| {
            s.as_ref()
                .map(|s| s.wrapup.as_ref().map(|w| w.lead_id).unwrap_or(s.lead_id))
                .unwrap_or(0)
        });
        if Some(id) != prev {
            if id > 0 {
                leptos::task::spawn_local(async move {
                    match http::get_json::<LeadView>(&format!("/api/lead/{id}")).await {
                        Ok(l) => lead.set(Some(l)),
                        Err(e) => error.set(Some(e.to_string())),
                    }
                });
            } else {
                lead.set(None);
            }
        }
        id
    });
    // When the call started, for the disposition's call facts.
    Effect::new(move |_| {
        let in_call = state.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.status == Some(AgentStatus::InCall))
        });
        if in_call && call_started.get_untracked().is_none() {
            call_started.set(Some(time::now_ms()));
        }
    });

    let number = RwSignal::new(String::new());
    let country = RwSignal::new("US".to_string());
    let can_dial =
        move || state.with(|s| s.as_ref().is_some_and(|s| s.dial_block().is_none())) && !busy.get();
    let in_call = move || {
        state.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.status == Some(AgentStatus::InCall))
        })
    };
    let act = move |path: &'static str, body: Option<DialRequest>| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let result = match body {
                Some(b) => http::post_json::<_, AgentState>(path, &b).await,
                None => http::post_json::<_, AgentState>(path, &()).await,
            };
            busy.set(false);
            match result {
                Ok(s) => state.set(Some(s)),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let dial = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !can_dial() {
            return;
        }
        call_started.set(None);
        act(
            "/api/call/dial",
            Some(DialRequest {
                phone_number: Some(number.get_untracked()),
                country: Some(country.get_untracked()),
                lead_id: None,
                callback_id: None,
            }),
        );
    };
    let hangup = move |_| act("/api/call/hangup", None);
    let logout = move |_| {
        leptos::task::spawn_local(async move {
            let _ = http::post_json::<_, ()>("/api/logout", &()).await;
            time::reload();
        });
    };

    let state_text = move || match state.get() {
        None => "Connecting…".to_string(),
        Some(s) if !s.logged_in() => {
            if password.with(Option::is_some) {
                "Logging into VICIdial…".to_string()
            } else {
                "VICIdial session closed: enter your password to reconnect.".to_string()
            }
        }
        Some(s) => {
            let mut t = match (s.status, s.sub_status) {
                (Some(AgentStatus::InCall), SubStatus::Dial) => "Dialling".to_string(),
                (Some(AgentStatus::InCall), _) => "In call".to_string(),
                (Some(AgentStatus::Paused), SubStatus::Dispo) => "Wrap-up".to_string(),
                (Some(AgentStatus::Paused), _) => "Ready to dial".to_string(),
                (other, _) => format!("{other:?}"),
            };
            if !s.pause_code.is_empty() {
                t.push_str(&format!(" · break {}", s.pause_code));
            }
            t
        }
    };
    let reconnect_pass = RwSignal::new(String::new());
    let reconnect = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let p = reconnect_pass.get_untracked();
        if !p.is_empty() {
            screen_posted.set(false);
            password.set(Some(p));
        }
    };
    let wrapup = move || state.with(|s| s.as_ref().and_then(|s| s.wrapup.clone()));

    view! {
        <section class="desk" aria-label="Agent desk">
            <header class="desk-head card">
                <div>
                    <strong id="agent-name">{profile.full_name.clone()}</strong>
                    " · " {profile.user.clone()} " · campaign " {profile.campaign_id.clone()}
                </div>
                <div id="agent-state" class="agent-state" data-status=move || state.with(|s| s.as_ref().and_then(|s| s.status).map(|st| format!("{st:?}")).unwrap_or_default())>
                    {state_text}
                    {move || (!live.get()).then(|| view! { <span class="notice">" (live updates reconnecting)"</span> })}
                </div>
                <PhoneBadge view=phone_view />
                <QualityMeter view=phone_view />
                <button class="secondary" on:click=logout>"Log out"</button>
            </header>
            <PhoneAlerts view=phone_view />
            <ReadinessCheck config=profile.phone.clone() view=phone_view on_done=Callback::new(|_| ()) />
            {move || (state.with(|s| s.as_ref().is_some_and(|s| !s.logged_in())) && password.with(Option::is_none)).then(|| view! {
                <form class="card reconnect" on:submit=reconnect>
                    <label for="reconnect-pass">"Password"</label>
                    <input id="reconnect-pass" type="password" autocomplete="current-password" bind:value=reconnect_pass />
                    <button type="submit">"Reconnect VICIdial"</button>
                </form>
            })}
            <form class="card dial" on:submit=dial>
                <label for="dial-code">"Country code"</label>
                <input id="dial-code" class="code" inputmode="numeric" bind:value=country />
                <label for="dial-number">"Phone number"</label>
                <input id="dial-number" inputmode="tel" autocomplete="off" bind:value=number />
                <button id="dial-button" type="submit" disabled=move || !can_dial()>"Manual dial"</button>
                <button id="hangup-button" type="button" class="danger" disabled=move || !in_call() || busy.get() on:click=hangup>"Hang up"</button>
            </form>
            <CallControls view=phone_view />
            <p class="session-audio" id="session-audio">
                {move || if in_session() { "Phone in the VICIdial session" } else { "Phone not in the VICIdial session" }}
                {move || can_rejoin().then(|| view! { <button type="button" class="secondary" id="rejoin-button" on:click=rejoin>"Join session"</button> })}
            </p>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert" id="desk-error">{e}</p> })}
            {move || lead.get().map(|l| view! {
                <article class="card lead" id="lead-panel" aria-label="Lead">
                    <h2>{format!("{} {}", l.first_name, l.last_name)}</h2>
                    <dl>
                        <dt>"Phone"</dt><dd>{format!("+{} {}", l.phone_code, l.phone_number)}</dd>
                        <dt>"Email"</dt><dd>{l.email.clone()}</dd>
                        <dt>"Address"</dt><dd>{format!("{} {} {} {}", l.address1, l.city, l.state, l.postal_code)}</dd>
                        <dt>"Last status"</dt><dd>{l.status.clone()}</dd>
                        <dt>"Called"</dt><dd>{format!("{} times", l.called_count)}</dd>
                        <dt>"Comments"</dt><dd>{l.comments.clone()}</dd>
                    </dl>
                </article>
            })}
            {move || last_dispo.get().map(|d| view! {
                <p class="sync" id="sync-status">
                    "Last disposition: "
                    {d.targets.iter().map(|t| format!("{} {:?}{} ", t.target, t.state,
                        t.last_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())).collect::<String>()}
                </p>
            })}
            {move || wrapup().map(|w| view! {
                <DispositionModal wrapup=w lead=lead on_saved=move |d| {
                    last_dispo.set(Some(d));
                    call_started.set(None);
                    state.update(|s| if let Some(s) = s { s.wrapup = None });
                } />
            })}
            <iframe name=SCREEN_FRAME class="screen-frame" title="VICIdial agent screen" aria-hidden="true" tabindex="-1"></iframe>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::conference_to_join;

    #[test]
    fn a_webphone_dials_the_session_once_when_ready() {
        let join = |j, conf, reg, idle, done| conference_to_join(j, "", conf, reg, idle, done);
        assert_eq!(
            join(true, Some("8600051"), true, true, None).as_deref(),
            Some("8600051")
        );
        assert_eq!(
            conference_to_join(true, "2", Some("9600051"), true, true, None).as_deref(),
            Some("29600051")
        );
        assert_eq!(
            join(false, Some("8600051"), true, true, None),
            None,
            "VICIdial calls non-webphones"
        );
        assert_eq!(join(true, None, true, true, None), None, "no session yet");
        assert_eq!(join(true, Some(""), true, true, None), None);
        assert_eq!(
            join(true, Some("8600051"), false, true, None),
            None,
            "not registered"
        );
        assert_eq!(
            join(true, Some("8600051"), true, false, None),
            None,
            "phone busy"
        );
        assert_eq!(
            join(true, Some("8600051"), true, true, Some("8600051")),
            None,
            "once per session"
        );
        assert_eq!(
            join(true, Some("8600052"), true, true, Some("8600051")).as_deref(),
            Some("8600052"),
            "a new session"
        );
    }
}
