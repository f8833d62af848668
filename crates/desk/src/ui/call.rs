//! The call card: the call's state in a banner (Dialling, In call 02:13, Customer hung up...)
//! with VICIdial's clock, the one Hang up (through VICIdial: it ends the customer's call, never
//! the phone's session leg), and the phone's mute, hold and devices.

use leptos::prelude::*;

use super::{
    desk::{keys, DeskCtx},
    phone::CallControls,
    words::{call_banner, Phase},
};

/// The call card.
#[component]
pub fn CallCard() -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    let banner = move || {
        let now = ctx.now.get();
        ctx.state
            .with(|s| s.as_ref().and_then(|s| call_banner(s, now)))
    };
    let phase = move || ctx.phase();
    let can_hang_up = move || phase().is_some_and(Phase::has_call) && !ctx.hangup.pending().get();
    let hang_up = move |_| {
        if can_hang_up() {
            ctx.hangup.dispatch(());
        }
    };
    let idle_text = move || match phase() {
        None => "Connecting to VICIdial…",
        Some(Phase::NoSession | Phase::ScreenLost) => "Waiting for VICIdial's agent screen.",
        Some(Phase::Ready) => "Waiting for VICIdial to send a call.",
        _ => "No call. Dial a number or a due callback.",
    };
    view! {
        <section class="card call-card" aria-labelledby="call-title"
            data-phase=move || phase().map(|p| p.words()).unwrap_or("")>
            <h2 id="call-title" class="card-title">"Call"</h2>
            <div id="call-banner" class="call-banner" role="status" aria-live="polite"
                aria-atomic="true">
                {move || match banner() {
                    Some(b) => view! {
                        <p class=format!("banner-title {}", b.phase.tone())>{b.title}</p>
                        <p class="banner-line">
                            <span class="banner-number">{b.number}</span>
                            {b.clock.map(|c| view! {
                                <span id="call-clock" class="call-clock" aria-label="Call time">{c}</span>
                            })}
                        </p>
                    }.into_any(),
                    None => view! { <p class="banner-idle">{idle_text}</p> }.into_any(),
                }}
            </div>
            <button type="button" id="hangup-button" class="danger wide"
                disabled=move || !can_hang_up()
                aria-keyshortcuts=keys::HANG_UP on:click=hang_up>
                {move || if ctx.hangup.pending().get() { "Hanging up…" } else { "Hang up" }}
                <kbd>{keys::HANG_UP}</kbd>
            </button>
            {move || ctx.hangup_error.get().map(|e| view! {
                <p class="form-error" id="call-error" role="alert">{e}</p>
            })}
            <CallControls view=ctx.phone />
        </section>
    }
}
