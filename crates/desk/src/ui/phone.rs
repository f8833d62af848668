//! The phone's pieces of the desk: the registration badge and the call-quality meter for the
//! header, the call controls, the phone's alerts, and the support diagnostics (raw SIP dial,
//! DTMF keypad, call trace). They read the phone's view signal and send commands; the phone
//! module does the rest. The desk starts the phone (`phone::start`) and places them.

use dialdeck_web::text::{concat, push_number};
use leptos::prelude::*;

use crate::phone::{
    self,
    quality::{fixed, Grade, OneWay},
    state::clock,
    CallView, CheckOutcome, PhoneCommand, PhoneView, RegView,
};

/// Seconds until the next reconnect attempt, as the badge counts them.
fn seconds_until(at_ms: f64, now_ms: f64) -> u64 {
    ((at_ms - now_ms) / 1000.0).ceil().max(0.0) as u64
}

/// Registration in words and colour: Registered, Registering…, Reconnecting in N s, or
/// Failed with the reason, what to do, and Retry.
#[component]
pub fn PhoneBadge(view: RwSignal<PhoneView>) -> impl IntoView {
    let reg = move || view.with(|v| v.registration.clone());
    let state = move || match reg() {
        RegView::Off => "off",
        RegView::Registering => "registering",
        RegView::Registered => "registered",
        RegView::Reconnecting { .. } => "reconnecting",
        RegView::Failed(_) => "failed",
    };
    let text = move || match reg() {
        RegView::Off => "Phone off".to_string(),
        RegView::Registering => "Registering…".into(),
        RegView::Registered => "Registered".into(),
        RegView::Reconnecting { at_ms, .. } => {
            let secs = view.with(|v| seconds_until(at_ms, v.now_ms));
            format!("Reconnecting in {secs} s")
        }
        RegView::Failed(why) => format!("Failed: {why}"),
    };
    let title = move || match reg() {
        RegView::Reconnecting { attempt, .. } => {
            format!("The phone server is unreachable (attempt {attempt}); it retries by itself")
        }
        _ => String::new(),
    };
    view! {
        <div class="phone-badge" data-state=state>
            <span class="phone-badge-dot" aria-hidden="true"></span>
            <span id="phone-registration" role="status" aria-live="polite" data-state=state
                title=title>{text}</span>
            {move || match reg() {
                RegView::Failed(why) => Some(view! {
                    <span class="phone-badge-fix" id="phone-registration-fix">{why.fix()}</span>
                    <button type="button" class="phone-badge-retry" id="phone-retry"
                        on:click=move |_| phone::command(PhoneCommand::Register)>"Retry"</button>
                }),
                _ => None,
            }}
        </div>
    }
}

/// A compact call-quality meter for the header: the estimated MOS as four bars and a word,
/// the figures on hover or focus; after a call, the last call's summary.
#[component]
pub fn QualityMeter(view: RwSignal<PhoneView>) -> impl IntoView {
    move || {
        view.with(|v| {
            if v.call.active() {
                let q = v.quality.clone()?;
                // The MOS estimate knows delay and loss, not silence: one-way audio is bad
                // whatever the figures say.
                let (grade, word) = match v.alarm {
                    Some(OneWay::NothingReceived) => (Grade::Bad, "No audio in"),
                    Some(OneWay::NothingSent) => (Grade::Bad, "No audio out"),
                    None => (Grade::of(q.mos), Grade::of(q.mos).word()),
                };
                let rtt = q.rtt_ms.map_or("–".to_string(), |r| {
                    let mut s = String::new();
                    push_number(&mut s, u64::from(r));
                    s.push_str(" ms");
                    s
                });
                Some(
                    view! {
                        <div class="quality-meter" data-grade=grade.key() tabindex="0"
                            aria-label=concat(&["Call quality: ", word])
                            aria-describedby="phone-quality">
                            {bars(grade.bars())}
                            <span class="quality-word">{word}</span>
                            <div class="quality-details" role="tooltip">
                                <dl id="phone-quality"
                                    data-packets-received=q.packets_received
                                    data-packets-sent=q.packets_sent
                                    data-level-in=fixed(q.level_in, 4)
                                    data-level-out=fixed(q.level_out, 4)
                                    data-mos=fixed(q.mos, 2)
                                    data-dtls=q.dtls_state.clone()
                                    data-codec=q.codec.clone()>
                                    <dt>"MOS"</dt><dd>{fixed(q.mos, 1)}</dd>
                                    <dt>"Codec"</dt><dd>{q.codec.clone()}</dd>
                                    <dt>"Round trip"</dt><dd>{rtt}</dd>
                                    <dt>"Jitter"</dt><dd>{concat(&[&fixed(q.jitter_ms, 0), " ms"])}</dd>
                                    <dt>"Loss"</dt><dd>{concat(&[&fixed(q.loss_pct, 1), " %"])}</dd>
                                    <dt>"Level in / out"</dt>
                                    <dd>{concat(&[&fixed(q.level_in, 2), " / ", &fixed(q.level_out, 2)])}</dd>
                                </dl>
                            </div>
                        </div>
                    }
                    .into_any(),
                )
            } else {
                let s = v.summary.clone()?;
                let grade = Grade::of(s.mos_avg);
                Some(
                    view! {
                        <div class="quality-meter last" data-grade=grade.key() tabindex="0"
                            aria-label=format!("Last call: {}", grade.word())
                            aria-describedby="phone-summary">
                            {bars(grade.bars())}
                            <span class="quality-word">"Last call: " {grade.word()}</span>
                            <div class="quality-details" role="tooltip">
                                <p id="phone-summary">{s.to_string()}</p>
                            </div>
                        </div>
                    }
                    .into_any(),
                )
            }
        })
    }
}

fn bars(lit: u8) -> impl IntoView {
    view! {
        <span class="quality-bars" aria-hidden="true">
            {(1..=4u8).map(|i| view! { <i class:on=i <= lit></i> }).collect_view()}
        </span>
    }
}

/// The phone's call: its state and clock, answer or decline when it rings, mute and hold
/// (`aria-pressed`, confirmed state only), and the microphone and speaker pickers.
#[component]
pub fn CallControls(view: RwSignal<PhoneView>) -> impl IntoView {
    let call = move || view.with(|v| v.call.clone());
    let established = move || call() == CallView::Established;
    let muted = move || view.with(|v| v.muted);
    let held = move || view.with(|v| v.held);
    let call_text = move || {
        view.with(|v| {
            let since = v.since_ms.map(|s| clock(v.now_ms - s)).unwrap_or_default();
            match &v.call {
                CallView::Idle => "No call".to_string(),
                CallView::Dialing(t) => format!("Dialing {t}…"),
                CallView::Ringing => "Ringing…".into(),
                CallView::Incoming(from) => format!("Incoming call from {from}"),
                // These three change every second: no `format!`.
                CallView::Established if v.held => concat(&["On hold ", &since]),
                CallView::Established => concat(&["In call ", &since]),
                CallView::Reconnecting => concat(&["Reconnecting… ", &since]),
                CallView::Ended(why) => format!("Call ended: {why}"),
            }
        })
    };
    let call_state = move || match call() {
        CallView::Idle => "idle",
        CallView::Dialing(_) => "dialing",
        CallView::Ringing => "ringing",
        CallView::Incoming(_) => "incoming",
        CallView::Established => "established",
        CallView::Reconnecting => "reconnecting",
        CallView::Ended(_) => "ended",
    };
    view! {
        <div class="call-controls" role="group" aria-label="Phone">
            <p id="phone-call" class="phone-call" data-state=call_state
                data-held=move || held().to_string()>
                <span class="phone-call-dot" aria-hidden="true"></span>
                {call_text}
            </p>
            {move || matches!(call(), CallView::Incoming(_)).then(|| view! {
                <button type="button" id="phone-answer" class="call-button answer"
                    on:click=move |_| phone::command(PhoneCommand::Answer)>"Answer"</button>
                <button type="button" id="phone-decline" class="call-button decline"
                    on:click=move |_| phone::command(PhoneCommand::Hangup)>"Decline"</button>
            })}
            <button type="button" id="phone-mute" class="call-toggle" disabled=move || !established()
                aria-pressed=move || muted().to_string()
                on:click=move |_| phone::command(PhoneCommand::Mute(!view.with_untracked(|v| v.muted)))>
                <span class="call-toggle-icon mic" aria-hidden="true"></span>
                {move || if muted() { "Unmute" } else { "Mute" }}</button>
            <button type="button" id="phone-hold" class="call-toggle" disabled=move || !established()
                aria-pressed=move || held().to_string()
                on:click=move |_| phone::command(PhoneCommand::Hold(!view.with_untracked(|v| v.held)))>
                <span class="call-toggle-icon hold" aria-hidden="true"></span>
                {move || if held() { "Resume" } else { "Hold" }}</button>
            <DevicePicker view=view id="phone-input" microphone=true />
            <DevicePicker view=view id="phone-output" microphone=false />
        </div>
    }
}

/// A microphone or speaker picker; the choice is remembered by the phone.
#[component]
pub fn DevicePicker(
    view: RwSignal<PhoneView>,
    /// The select's element id.
    id: &'static str,
    /// Microphones (else speakers).
    microphone: bool,
) -> impl IntoView {
    let list = move || {
        view.with(|v| {
            if microphone {
                v.inputs.clone()
            } else {
                v.outputs.clone()
            }
        })
    };
    // The chosen device while it is listed; otherwise the first entry, which is what the
    // browser uses without a choice (the default device comes first).
    let current = move || {
        view.with(|v| {
            let (list, chosen) = if microphone {
                (&v.inputs, &v.input)
            } else {
                (&v.outputs, &v.output)
            };
            chosen
                .as_ref()
                .filter(|c| list.iter().any(|(id, _)| id == *c))
                .or(list.first().map(|(id, _)| id))
                .cloned()
                .unwrap_or_default()
        })
    };
    let label = if microphone { "Microphone" } else { "Speaker" };
    view! {
        <label class="device-picker" for=id>
            <span class="device-picker-label">{label}</span>
            <select id=id prop:value=current
                on:change=move |ev| {
                    let id = event_target_value(&ev);
                    phone::command(if microphone {
                        PhoneCommand::SelectInput(id)
                    } else {
                        PhoneCommand::SelectOutput(id)
                    });
                }>
                {move || {
                    let list = list();
                    if list.is_empty() {
                        let none = if microphone {
                            "No microphone found"
                        } else {
                            "The browser's default speaker"
                        };
                        return view! { <option value="">{none}</option> }.into_any();
                    }
                    list.into_iter().map(|(dev, name)| {
                        // Before the microphone is allowed, browsers list one nameless entry
                        // per kind: the default device.
                        let name = match (name.is_empty(), dev.is_empty()) {
                            (false, _) => name,
                            (true, true) if microphone => "Default microphone".to_string(),
                            (true, true) => "Default speaker".to_string(),
                            (true, false) => "(unnamed device)".to_string(),
                        };
                        let selected = current() == dev;
                        view! { <option value=dev selected=selected>{name}</option> }
                    }).collect_view().into_any()
                }}
            </select>
        </label>
    }
}

/// What the agent must know about the phone right now, each with what to do: audio the
/// browser blocked, one-way audio, the phone server lost, a passing notice, and a phone
/// check that did not pass.
#[component]
pub fn PhoneAlerts(view: RwSignal<PhoneView>) -> impl IntoView {
    let blocked = move || view.with(|v| v.audio_blocked);
    let alarm = move || view.with(|v| v.alarm);
    let lost = move || {
        view.with(|v| match (&v.registration, &v.call) {
            (_, CallView::Reconnecting) => Some(
                "The call's connection dropped; the phone is recovering it. Stay on the line."
                    .to_string(),
            ),
            (RegView::Reconnecting { at_ms, .. }, _) => Some(format!(
                "Connection to the phone server lost; next try in {} s. Check your network or \
                 VPN connection: calls cannot reach you until it is back.",
                seconds_until(*at_ms, v.now_ms)
            )),
            _ => None,
        })
    };
    let notice = move || view.with(|v| v.notice.clone());
    let check = move || view.with(|v| v.check.clone());
    view! {
        <div class="phone-alerts">
            {move || blocked().then(|| view! {
                <div id="phone-audio-blocked" class="phone-alert warn" role="alert">
                    <p><strong>"The browser blocked the call audio."</strong>
                    " Click anywhere on the page to hear it."</p>
                    <button type="button" id="phone-audio-unblock"
                        on:click=move |_| phone::command(PhoneCommand::UnblockAudio)>"Play call audio"</button>
                </div>
            })}
            {move || alarm().map(|a| view! {
                <div id="phone-alarm" class="phone-alert error" role="alert">
                    <p><strong>{a.message()}</strong>" "{alarm_fix(a)}</p>
                </div>
            })}
            {move || lost().map(|t| view! {
                <div id="phone-socket-lost" class="phone-alert warn" role="alert"><p>{t}</p></div>
            })}
            {move || notice().map(|n| view! {
                <div class="phone-alert info" role="status"><p id="phone-notice">{n}</p></div>
            })}
            {move || match check() {
                CheckOutcome::ContinuedWith(items) => Some(view! {
                    <div id="phone-check-warning" class="phone-alert warn" role="status">
                        <p>"The phone check did not pass: "
                        {items.iter().map(|i| i.title()).collect::<Vec<_>>().join(", ")}
                        ". Calls may fail; run the phone check again once it is fixed."</p>
                    </div>
                }),
                _ => None,
            }}
        </div>
    }
}

fn alarm_fix(alarm: OneWay) -> &'static str {
    match alarm {
        OneWay::NothingReceived => {
            "Ask the other side to speak; if it stays silent, hang up and call again."
        }
        OneWay::NothingSent => {
            "Check the mute switch on your headset or pick another microphone; if that does \
             not help, call again."
        }
    }
}

/// For support, not for agents' calls: a raw SIP dial box with hang-up, the DTMF keypad and
/// the call trace download.
#[component]
pub fn PhoneDiagnostics(view: RwSignal<PhoneView>) -> impl IntoView {
    let call = move || view.with(|v| v.call.clone());
    let registered = move || view.with(|v| v.registration == RegView::Registered);
    let established = move || call() == CallView::Established;
    let target = RwSignal::new(String::new());
    let dial = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        phone::command(PhoneCommand::Dial(target.get_untracked()));
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
    view! {
        <div class="phone-diagnostics">
            <p class="diagnostics-note">"For support: calls a SIP address directly, outside \
                VICIdial. Customers' calls go through the desk."</p>
            <form id="phone-dial-form" class="diagnostics-dial" on:submit=dial>
                <label for="phone-dial">"SIP address or number"</label>
                <input id="phone-dial" placeholder="sip:user@host or 8600051" bind:value=target
                    autocomplete="off" />
                <button type="submit" id="phone-dial-button"
                    disabled=move || call().active() || !registered()>"Call"</button>
                <button type="button" id="phone-hangup" class="danger"
                    disabled=move || !call().active()
                    on:click=move |_| phone::command(PhoneCommand::Hangup)>"Hang up"</button>
            </form>
            <div class="phone-keypad" id="phone-keypad" role="group" aria-label="DTMF keypad">{keypad}</div>
            <p class="diagnostics-dtmf">"Sent: "<span id="phone-dtmf-sent">{move || view.with(|v| v.dtmf.clone())}</span></p>
            <button type="button" id="phone-trace" class="secondary"
                on:click=move |_| phone::command(PhoneCommand::DownloadTrace)>"Download call trace"</button>
        </div>
    }
}

fn dtmf_id(d: char) -> String {
    match d {
        '*' => "star".into(),
        '#' => "hash".into(),
        d => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::seconds_until;

    #[test]
    fn the_countdown_rounds_up_and_stops_at_zero() {
        assert_eq!(seconds_until(10_000.0, 7_400.0), 3);
        assert_eq!(seconds_until(10_000.0, 9_999.0), 1);
        assert_eq!(seconds_until(10_000.0, 12_000.0), 0);
    }
}
