//! The phone check before the first Ready or dial: microphone (permission and a live level),
//! speaker (a test tone the agent confirms), the phone server (registration) and a network
//! path for audio (ICE candidates), each green or red with what to do, re-runnable; plus the
//! support diagnostics. The check's runner (`phone::check`) owns what it opens; this renders
//! its state and sends commands.

use dialdeck_shared::PhoneConfig;
use dialdeck_web::text::push_number;
use leptos::prelude::*;

use super::phone::{DevicePicker, PhoneDiagnostics};
use crate::phone::{
    self,
    check::{self, CheckCommand, CheckSignals},
    readiness::{CheckItem, CheckOutcome, ItemState, Problem, Readiness, Step},
    PhoneCommand, PhoneView,
};

/// The check. `on_done` fires when every item is green or the agent chooses "Continue
/// anyway" (what was not green is kept in `view`'s `check` for the desk's warning). Every
/// browser object of a run is released when it ends and when this unmounts. One check at a
/// time: mounting a second one restarts the run for it.
#[component]
pub fn ReadinessCheck(
    config: PhoneConfig,
    view: RwSignal<PhoneView>,
    on_done: Callback<()>,
) -> impl IntoView {
    let state = RwSignal::new(Readiness::default());
    let level = RwSignal::new(0u8);
    let signals = CheckSignals { state, level };
    let config = StoredValue::new(config);
    let run = move || config.with_value(|c| check::start(c, view, signals));
    run();
    on_cleanup(check::stop);

    // The phone's own registration is the socket's proof (the run publishes only changes).
    Effect::new(move |_| {
        view.track();
        check::command(CheckCommand::PhoneChanged);
    });
    Effect::new(move |prev: Option<Option<String>>| {
        let now = view.with(|v| v.input.clone());
        if prev.is_some_and(|p| p != now) {
            check::command(CheckCommand::MicrophoneChanged);
        }
        now
    });
    let finished = move || state.with(|s| s.outcome().is_some());
    Effect::new(move |was: Option<bool>| {
        let now = finished();
        if now && was == Some(false) {
            on_done.run(());
        }
        now
    });

    let outcome = move || {
        state.with(|s| match s.outcome() {
            None => "running",
            Some(CheckOutcome::Passed) => "passed",
            Some(_) => "continued",
        })
    };
    let summary = move || {
        state.with(|s| match s.outcome() {
            None => {
                let ready = CheckItem::ALL.len() - s.not_ok().len();
                format!("Before your first call: {ready} of 4 ready.")
            }
            Some(CheckOutcome::Passed) | Some(CheckOutcome::NotRun) => {
                "All set: microphone, speaker, phone server and network path are ready.".into()
            }
            Some(CheckOutcome::ContinuedWith(items)) => format!(
                "Continued with problems: {}.",
                items
                    .iter()
                    .map(|i| i.title())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    };

    view! {
        <section id="phone-check" class="readiness card" data-outcome=outcome
            aria-labelledby="check-title">
            <header class="check-header">
                <h2 id="check-title">"Phone check"</h2>
                <p id="check-summary" role="status" aria-live="polite">{summary}</p>
            </header>
            {move || (!finished()).then(|| view! {
                <ol class="check-items">
                    {CheckItem::ALL.into_iter().map(|item| view! { <Item item state level view /> }).collect_view()}
                </ol>
            })}
            <div class="check-actions">
                {move || (!finished()).then(|| view! {
                    <button type="button" id="check-continue" class="secondary"
                        on:click=move |_| check::command(CheckCommand::ContinueAnyway)>
                        "Continue anyway"</button>
                })}
                <button type="button" id="check-rerun" class="secondary" on:click=move |_| run()>
                    "Run again"</button>
            </div>
            <details class="diagnostics" id="phone-diagnostics">
                <summary>"Diagnostics"</summary>
                <PhoneDiagnostics view=view />
            </details>
        </section>
    }
}

/// One item: its icon, name, status, what to do when red, and its own controls.
#[component]
fn Item(
    item: CheckItem,
    state: RwSignal<Readiness>,
    level: RwSignal<u8>,
    view: RwSignal<PhoneView>,
) -> impl IntoView {
    let st = move || state.with(|s| s.item(item).clone());
    let key = item.key();
    let controls = match item {
        CheckItem::Microphone => view! {
            <div class="check-controls">
                <DevicePicker view=view id="check-input" microphone=true />
                <div class="level-meter" id="check-mic-level" role="meter"
                    aria-label="Microphone level" aria-valuemin="0" aria-valuemax="100"
                    aria-valuenow=move || level.get() data-level=move || level.get()>
                    <span class="level-meter-fill"
                        style:width=move || {
                            // Every animation frame: no `format!`.
                            let mut w = String::with_capacity(4);
                            push_number(&mut w, u64::from(level.get()));
                            w.push('%');
                            w
                        }></span>
                </div>
            </div>
        }
        .into_any(),
        CheckItem::Speaker => {
            let asking = move || {
                matches!(
                    st(),
                    ItemState::Checking(Step::AskingHeard | Step::PlayingTone)
                )
            };
            view! {
                <div class="check-controls">
                    <DevicePicker view=view id="check-output" microphone=false />
                    <button type="button" id="check-tone"
                        disabled=move || st() == ItemState::Checking(Step::PlayingTone)
                        on:click=move |_| check::command(CheckCommand::PlayTone)>
                        "Play test tone"</button>
                    {move || asking().then(|| view! {
                        <span class="check-ask">
                            <button type="button" id="check-heard" class="ok"
                                on:click=move |_| check::command(CheckCommand::Heard(true))>
                                "Yes, I heard it"</button>
                            <button type="button" id="check-not-heard" class="secondary"
                                on:click=move |_| check::command(CheckCommand::Heard(false))>
                                "No"</button>
                        </span>
                    })}
                </div>
            }
            .into_any()
        }
        CheckItem::Socket => view! {
            {move || matches!(st(), ItemState::Failed(Problem::Refused(_))).then(|| view! {
                <div class="check-controls">
                    <button type="button" id="check-socket-retry" class="secondary"
                        on:click=move |_| phone::command(PhoneCommand::Register)>"Retry"</button>
                </div>
            })}
        }
        .into_any(),
        CheckItem::Ice => ().into_any(),
    };
    view! {
        <li class="check-item" id=format!("check-{key}") data-state=move || st().key()>
            <span class="check-icon" aria-hidden="true"></span>
            <div class="check-body">
                <div class="check-line">
                    <strong class="check-title">{item.title()}</strong>
                    <span class="check-status" id=format!("check-{key}-status")>
                        {move || st().text(item)}</span>
                </div>
                {move || match st() {
                    ItemState::Failed(p) => Some(view! {
                        <p class="check-fix" id=format!("check-{key}-fix")>{p.fix()}</p>
                    }),
                    _ => None,
                }}
                {controls}
            </div>
        </li>
    }
}
