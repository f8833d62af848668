//! The phone panel: registration, dial box, call state with its clock, call controls, DTMF
//! keypad, devices, call quality and the trace download. It reads the phone's view signal
//! and sends commands; the phone module does the rest.

use dialdeck_shared::PhoneConfig;
use leptos::prelude::*;

use crate::phone::{
    self, quality::fixed, state::clock, CallView, PhoneCommand, PhoneView, RegView,
};

/// The softphone's diagnostics panel (the desk starts and stops the phone itself).
#[component]
pub fn PhonePanel(view: RwSignal<PhoneView>) -> impl IntoView {
    let v = move || view.get();
    let reg_text = move || match v().registration {
        RegView::Off => "Phone off".to_string(),
        RegView::Registering => "Registering…".into(),
        RegView::Registered => "Registered".into(),
        RegView::Reconnecting { attempt, at_ms } => {
            let secs = ((at_ms - v().now_ms) / 1000.0).ceil().max(0.0) as u64;
            format!("Reconnecting (attempt {attempt}, next in {secs} s)")
        }
        RegView::Failed(why) => format!("Registration failed: {why}"),
    };
    let reg_class = move || match v().registration {
        RegView::Registered => "phone-reg ok",
        RegView::Failed(_) => "phone-reg error",
        _ => "phone-reg pending",
    };
    let call_text = move || {
        let v = v();
        let since = v.since_ms.map(|s| clock(v.now_ms - s)).unwrap_or_default();
        match v.call {
            CallView::Idle => "No call".to_string(),
            CallView::Dialing(t) => format!("Dialing {t}…"),
            CallView::Ringing => "Ringing…".into(),
            CallView::Incoming(from) => format!("Incoming call from {from}"),
            CallView::Established if v.held => format!("On hold {since}"),
            CallView::Established => format!("In call {since}"),
            CallView::Reconnecting => format!("Reconnecting… {since}"),
            CallView::Ended(why) => format!("Call ended: {why}"),
        }
    };
    let call_state = move || match v().call {
        CallView::Idle => "idle",
        CallView::Dialing(_) => "dialing",
        CallView::Ringing => "ringing",
        CallView::Incoming(_) => "incoming",
        CallView::Established => "established",
        CallView::Reconnecting => "reconnecting",
        CallView::Ended(_) => "ended",
    };
    let in_call = move || v().call.active();
    let established = move || v().call == CallView::Established;

    let target = RwSignal::new(String::new());
    let dial = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        phone::command(PhoneCommand::Dial(target.get_untracked()));
    };

    let quality = move || {
        v().quality.map(|q| {
            let rtt = q.rtt_ms.map_or("–".to_string(), |r| format!("{r} ms"));
            view! {
                <dl id="phone-quality" class="phone-quality"
                    data-packets-received=q.packets_received
                    data-packets-sent=q.packets_sent
                    data-level-in=fixed(q.level_in, 4)
                    data-level-out=fixed(q.level_out, 4)
                    data-mos=fixed(q.mos, 2)
                    data-dtls=q.dtls_state.clone()
                    data-codec=q.codec.clone()>
                    <dt>"Codec"</dt><dd>{q.codec.clone()}</dd>
                    <dt>"MOS"</dt><dd>{fixed(q.mos, 1)}</dd>
                    <dt>"RTT"</dt><dd>{rtt}</dd>
                    <dt>"Jitter"</dt><dd>{format!("{} ms", fixed(q.jitter_ms, 0))}</dd>
                    <dt>"Loss"</dt><dd>{format!("{} %", fixed(q.loss_pct, 1))}</dd>
                    <dt>"Level in/out"</dt>
                    <dd>{format!("{} / {}", fixed(q.level_in, 2), fixed(q.level_out, 2))}</dd>
                </dl>
            }
        })
    };

    let keypad = "123456789*0#"
        .chars()
        .map(|d| {
            view! {
                <button type="button" id=format!("phone-dtmf-{}", dtmf_id(d))
                    disabled=move || !established()
                    on:click=move |_| phone::command(PhoneCommand::Dtmf(d))>{d.to_string()}</button>
            }
        })
        .collect_view();

    let device_select = move |inputs: bool| {
        let list = move || if inputs { v().inputs } else { v().outputs };
        let current = move || if inputs { v().input } else { v().output }.unwrap_or_default();
        view! {
            <select id=if inputs { "phone-input" } else { "phone-output" }
                prop:value=current
                on:change=move |ev| {
                    let id = event_target_value(&ev);
                    phone::command(if inputs {
                        PhoneCommand::SelectInput(id)
                    } else {
                        PhoneCommand::SelectOutput(id)
                    });
                }>
                {move || list().into_iter().map(|(id, label)| {
                    let label = if label.is_empty() { "(unnamed device)".to_string() } else { label };
                    view! { <option value=id>{label}</option> }
                }).collect_view()}
            </select>
        }
    };

    view! {
        <section class="phone card" aria-labelledby="phone-title">
            <h2 id="phone-title">"Phone"</h2>
            <p id="phone-registration" class=reg_class role="status">{reg_text}</p>
            {move || v().audio_blocked.then(|| view! {
                <p id="phone-audio-blocked" class="phone-warning" role="alert">
                    "The browser blocked the call audio. Click anywhere on the page to hear it."
                </p>
            })}
            <form id="phone-dial-form" on:submit=dial>
                <label for="phone-dial">"Dial"</label>
                <input id="phone-dial" placeholder="number or sip:user@host" bind:value=target
                    autocomplete="off" />
                <button type="submit" id="phone-dial-button"
                    disabled=move || in_call() || v().registration != RegView::Registered>"Call"</button>
            </form>
            <p id="phone-call" class="phone-call" data-state=call_state>{call_text}</p>
            {move || v().alarm.map(|a| view! {
                <p id="phone-alarm" class="phone-warning" role="alert">{a.message()}</p>
            })}
            {move || v().notice.map(|n| view! { <p id="phone-notice" class="notice">{n}</p> })}
            <div class="phone-controls">
                {move || matches!(v().call, CallView::Incoming(_)).then(|| view! {
                    <button type="button" id="phone-answer"
                        on:click=move |_| phone::command(PhoneCommand::Answer)>"Answer"</button>
                })}
                <button type="button" id="phone-hangup" disabled=move || !in_call()
                    on:click=move |_| phone::command(PhoneCommand::Hangup)>"Hang up"</button>
                <button type="button" id="phone-mute" disabled=move || !established()
                    aria-pressed=move || v().muted.to_string()
                    on:click=move |_| phone::command(PhoneCommand::Mute(!view.get_untracked().muted))>
                    {move || if v().muted { "Unmute" } else { "Mute" }}</button>
                <button type="button" id="phone-hold" disabled=move || !established()
                    aria-pressed=move || v().held.to_string()
                    on:click=move |_| phone::command(PhoneCommand::Hold(!view.get_untracked().held))>
                    {move || if v().held { "Resume" } else { "Hold" }}</button>
            </div>
            <div class="phone-keypad" id="phone-keypad">{keypad}</div>
            <p id="phone-dtmf-sent" class="phone-dtmf">{move || v().dtmf}</p>
            {quality}
            {move || v().summary.map(|s| view! { <p id="phone-summary" class="phone-summary">{s}</p> })}
            <details class="phone-devices">
                <summary>"Devices"</summary>
                <label for="phone-input">"Microphone"</label>
                {device_select(true)}
                <label for="phone-output">"Speaker"</label>
                {device_select(false)}
            </details>
            <button type="button" id="phone-trace"
                on:click=move |_| phone::command(PhoneCommand::DownloadTrace)>"Download call trace"</button>
        </section>
    }
}

fn dtmf_id(d: char) -> String {
    match d {
        '*' => "star".into(),
        '#' => "hash".into(),
        d => d.to_string(),
    }
}

// Stand-ins for the phone engineer's components (their branch replaces this part): each shows
// the phone's real state from `PhoneView`, nothing made up.

/// Registration in words.
#[component]
pub fn PhoneBadge(view: RwSignal<PhoneView>) -> impl IntoView {
    let text = move || match view.with(|v| v.registration.clone()) {
        RegView::Off => "Phone off".to_string(),
        RegView::Registering => "Phone registering…".into(),
        RegView::Registered => "Phone registered".into(),
        RegView::Reconnecting { attempt, .. } => format!("Phone reconnecting (attempt {attempt})"),
        RegView::Failed(why) => format!("Phone failed: {why}"),
    };
    let class = move || match view.with(|v| v.registration.clone()) {
        RegView::Registered => "phone-badge ok",
        RegView::Failed(_) => "phone-badge error",
        _ => "phone-badge pending",
    };
    view! { <span id="phone-badge" class=class role="status">{text}</span> }
}

/// Call quality (MOS) while a call has statistics.
#[component]
pub fn QualityMeter(view: RwSignal<PhoneView>) -> impl IntoView {
    move || {
        view.with(|v| v.quality.clone()).map(|q| {
            view! { <span class="quality-meter" id="quality-meter">"MOS "{fixed(q.mos, 1)}</span> }
        })
    }
}

/// Mute and hold of the phone's leg.
#[component]
pub fn CallControls(view: RwSignal<PhoneView>) -> impl IntoView {
    let established = move || view.with(|v| v.call == CallView::Established);
    view! {
        <div class="call-controls">
            <button type="button" id="call-mute" class="secondary" disabled=move || !established()
                aria-pressed=move || view.with(|v| v.muted).to_string()
                on:click=move |_| phone::command(PhoneCommand::Mute(!view.get_untracked().muted))>
                {move || if view.with(|v| v.muted) { "Unmute" } else { "Mute" }}</button>
            <button type="button" id="call-hold" class="secondary" disabled=move || !established()
                aria-pressed=move || view.with(|v| v.held).to_string()
                on:click=move |_| phone::command(PhoneCommand::Hold(!view.get_untracked().held))>
                {move || if view.with(|v| v.held) { "Resume" } else { "Hold" }}</button>
        </div>
    }
}

/// The phone's warnings: socket down, blocked audio, one-way audio.
#[component]
pub fn PhoneAlerts(view: RwSignal<PhoneView>) -> impl IntoView {
    let down = move || {
        view.with(|v| match &v.registration {
            RegView::Reconnecting { .. } => Some("The phone's connection is down: reconnecting. Calls have no audio until it is back.".to_string()),
            RegView::Failed(why) => Some(format!("The phone cannot register ({why}). Calls have no audio; tell your supervisor.")),
            _ => None,
        })
    };
    view! {
        {move || down().map(|d| view! { <p class="warning" id="phone-socket-down" role="alert">{d}</p> })}
        {move || view.with(|v| v.audio_blocked).then(|| view! {
            <p class="warning" id="phone-audio-blocked" role="alert">
                "The browser blocked the call audio. Click anywhere on the page to hear it."
            </p>
        })}
        {move || view.with(|v| v.alarm).map(|a| view! {
            <p class="warning" id="phone-alarm" role="alert">{a.message()}</p>
        })}
    }
}

/// The readiness check: the phone's registration, with the diagnostics; done once the phone
/// is registered, or when the agent goes on anyway.
#[component]
pub fn ReadinessCheck(
    config: PhoneConfig,
    view: RwSignal<PhoneView>,
    on_done: Callback<()>,
) -> impl IntoView {
    let _ = config;
    let registered = move || view.with(|v| v.registration == RegView::Registered);
    view! {
        <section class="card readiness" id="readiness" aria-labelledby="readiness-title">
            <h2 id="readiness-title">"Before your first call"</h2>
            <p><PhoneBadge view=view /></p>
            <button type="button" id="readiness-done" class="primary"
                on:click=move |_| on_done.run(())>
                {move || if registered() { "Start" } else { "Continue anyway" }}
            </button>
            <details class="diagnostics">
                <summary>"Diagnostics"</summary>
                <PhonePanel view=view />
            </details>
        </section>
    }
}
