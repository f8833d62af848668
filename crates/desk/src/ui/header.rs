//! The desk's header: who and where the agent is, what VICIdial says they are doing, the
//! Ready/Pause control with the campaign's pause codes, the phone's registration, whether it is
//! in VICIdial's session and its call quality, the phone check (re-opened on request), connection
//! warnings, and Log out.

use dialdeck_shared::{CampaignInfo, PauseCodesMode, PauseRequest, ScreenLink};
use leptos::prelude::*;

use super::{
    desk::{keys, DeskCtx},
    phone::{PhoneAlerts, PhoneBadge, QualityMeter},
    words::{state_words, Phase},
};
use crate::{
    phone,
    shell::{focus, http, time},
};

/// What the Ready/Pause control offers now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadyControl {
    /// Nothing yet (no state or campaign).
    Unknown,
    /// A manual campaign: the agent stays paused between calls; Ready is off, with the reason.
    ManualOnly,
    /// An auto-dial campaign, paused: Ready resumes.
    CanReady,
    /// An auto-dial campaign, waiting for calls: Pause (with a code when `code_required`).
    CanPause {
        /// `agent_pause_codes_active = FORCE`.
        code_required: bool,
    },
    /// In a call or wrap-up: neither, with the reason.
    Busy(&'static str),
}

/// The Ready/Pause control for `phase` in `campaign`.
pub fn ready_control(phase: Option<Phase>, campaign: Option<&CampaignInfo>) -> ReadyControl {
    let (Some(phase), Some(c)) = (phase, campaign) else {
        return ReadyControl::Unknown;
    };
    match phase {
        Phase::NoSession | Phase::ScreenLost => {
            ReadyControl::Busy("Waiting for VICIdial's agent screen.")
        }
        Phase::Dialling | Phase::InCall | Phase::CustomerGone | Phase::Incoming => {
            ReadyControl::Busy("In a call.")
        }
        Phase::WrapUp => ReadyControl::Busy("Save the disposition first."),
        _ if !c.auto_dial => ReadyControl::ManualOnly,
        Phase::Paused | Phase::OnBreak => ReadyControl::CanReady,
        Phase::Ready => ReadyControl::CanPause {
            code_required: c.pause_codes_mode == PauseCodesMode::Forced,
        },
    }
}

/// The header. `pause_toggle` is bumped by the Ready/Pause shortcut; `recheck` is whether the
/// phone check is open again beside the desk (its button toggles it once the first check is done).
#[component]
pub fn DeskHeader(
    pause_toggle: RwSignal<u32>,
    can_rejoin: Signal<bool>,
    on_rejoin: Callback<()>,
    recheck: RwSignal<bool>,
) -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    let profile = ctx.profile.get_value();
    let campaign_label = move || {
        let name = ctx
            .campaign
            .with(|c| c.as_ref().map(|c| c.campaign_name.clone()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| profile.campaign_name.clone());
        if name.is_empty() {
            profile.campaign_id.clone()
        } else {
            name
        }
    };
    let campaign_id = ctx.profile.with_value(|p| p.campaign_id.clone());
    let pause_name = move |code: &str| {
        ctx.campaign.with_untracked(|c| {
            c.as_ref().and_then(|c| {
                c.pause_codes
                    .iter()
                    .find(|p| p.code == code)
                    .map(|p| p.name.clone())
            })
        })
    };
    let words = move || {
        ctx.state.with(|s| match s {
            Some(s) => state_words(s, pause_name),
            None => "Connecting…".to_string(),
        })
    };
    let tone = move || {
        let mut c = String::from("state-pill ");
        c.push_str(ctx.phase().map(Phase::tone).unwrap_or("tone-warn"));
        c
    };

    let pause_code = RwSignal::new(String::new());
    let control_error = RwSignal::new(None::<String>);
    let pause = Action::new_local(|req: &PauseRequest| {
        let req = req.clone();
        async move { http::post("/api/agent/pause", Some(&req)).await }
    });
    let ready =
        Action::new_local(|_: &()| async move { http::post::<()>("/api/agent/ready", None).await });
    for result in [pause.value(), ready.value()] {
        Effect::new(move |_| {
            if let Some(r) = result.get() {
                control_error.set(r.err().map(|e| e.to_string()));
            }
        });
    }
    let control = Memo::new(move |_| {
        if !ctx.readiness_done.get() {
            return ReadyControl::Busy("Finish the readiness check first.");
        }
        ctx.campaign
            .with(|c| ready_control(ctx.phase(), c.as_ref()))
    });
    let codes_mode = move || {
        ctx.campaign
            .with(|c| c.as_ref().map(|c| c.pause_codes_mode))
            .unwrap_or(PauseCodesMode::Off)
    };
    let busy = move || pause.pending().get() || ready.pending().get();
    let do_pause = move || {
        let code = Some(pause_code.get_untracked()).filter(|c| !c.is_empty());
        if code.is_none()
            && matches!(
                control.get_untracked(),
                ReadyControl::CanPause {
                    code_required: true
                }
            )
        {
            control_error.set(Some("Choose a pause code first.".into()));
            focus::focus_id("pause-code");
            return;
        }
        control_error.set(None);
        pause.dispatch(PauseRequest { code });
    };
    let do_ready = move || {
        control_error.set(None);
        ready.dispatch(());
    };
    // The shortcut: Ready when paused, Pause when ready, the pause codes in a manual campaign.
    Effect::new(move |prev: Option<u32>| {
        let n = pause_toggle.get();
        if prev.is_some_and(|p| p != n) && !untrack(busy) {
            match control.get_untracked() {
                ReadyControl::CanReady => do_ready(),
                ReadyControl::CanPause { .. } => do_pause(),
                ReadyControl::ManualOnly => {
                    focus::focus_id("pause-code");
                }
                _ => {}
            }
        }
        n
    });
    // In a manual campaign a chosen pause code is the break itself.
    let manual_break = move |code: String| {
        if control.get_untracked() == ReadyControl::ManualOnly {
            control_error.set(None);
            pause.dispatch(PauseRequest {
                code: Some(code).filter(|c| !c.is_empty()),
            });
        }
    };

    let codes = move || {
        ctx.campaign.with(|c| {
            c.as_ref()
                .map(|c| c.pause_codes.clone())
                .unwrap_or_default()
        })
    };
    let pause_select = move || {
        (codes_mode() != PauseCodesMode::Off && !codes().is_empty()).then(|| {
            let none_label = if control.get() == ReadyControl::ManualOnly {
                "No break"
            } else {
                "Pause code…"
            };
            view! {
                <label class="sr-only" for="pause-code">"Pause code"</label>
                <select id="pause-code" class="pause-code"
                    prop:value=move || pause_code.get()
                    disabled=move || matches!(control.get(), ReadyControl::Busy(_) | ReadyControl::Unknown) || busy()
                    on:change=move |ev| {
                        let code = event_target_value(&ev);
                        pause_code.set(code.clone());
                        manual_break(code);
                    }>
                    <option value="">{none_label}</option>
                    {codes().into_iter().map(|p| view! {
                        <option value=p.code.clone()>{p.name.clone()}</option>
                    }).collect_view()}
                </select>
            }
        })
    };
    let control_view = move || {
        match control.get() {
        ReadyControl::Unknown => view! {
            <button type="button" id="ready-button" class="secondary" disabled
                aria-describedby="ready-why">"Ready"</button>
            <span id="ready-why" class="sr-only">"Waiting for VICIdial and the campaign's settings."</span>
        }
        .into_any(),
        ReadyControl::ManualOnly => view! {
            <button type="button" id="ready-button" class="secondary" disabled
                aria-describedby="ready-why">"Ready"</button>
            <span id="ready-why" class="why">"Manual campaign: you stay paused and dial yourself."</span>
        }
        .into_any(),
        ReadyControl::CanReady => view! {
            <button type="button" id="ready-button" class="ok" disabled=busy
                aria-keyshortcuts=keys::READY_PAUSE on:click=move |_| do_ready()>
                "Ready" <kbd>{keys::READY_PAUSE}</kbd>
            </button>
        }
        .into_any(),
        ReadyControl::CanPause { .. } => view! {
            <button type="button" id="pause-button" class="secondary" disabled=busy
                aria-keyshortcuts=keys::READY_PAUSE on:click=move |_| do_pause()>
                "Pause" <kbd>{keys::READY_PAUSE}</kbd>
            </button>
        }
        .into_any(),
        // The state pill already says why; the reason stays for screen readers and on hover.
        ReadyControl::Busy(why) => view! {
            <button type="button" id="ready-button" class="secondary" disabled title=why
                aria-describedby="ready-why">"Ready"</button>
            <span id="ready-why" class="sr-only">{why}</span>
        }
        .into_any(),
    }
    };

    let logout = Action::new_local(|_: &()| async move {
        let _ = http::post::<()>("/api/logout", None).await;
        phone::stop();
        time::reload();
    });
    let in_call = move || ctx.phase().is_some_and(Phase::has_call);

    // Connection warnings, most urgent first.
    let live_lost = move || ctx.live.get() == Some(false);
    let phone_out = move || {
        ctx.state.with(|s| {
            s.as_ref().is_some_and(|s| {
                s.screen == ScreenLink::Connected && s.wrapup.is_none() && !s.phone_in_session
            })
        })
    };
    let phone_in = move || {
        ctx.state.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.screen == ScreenLink::Connected && s.phone_in_session)
        })
    };

    view! {
        <header class="desk-head">
            <div class="brand" aria-hidden="true"><span class="brand-mark"></span>"dialdeck"</div>
            <div class="who">
                <strong id="agent-name">{profile.full_name.clone()}</strong>
                <span class="muted">{profile.user.clone()}</span>
            </div>
            <div class="where" title=campaign_id.clone()>
                <span class="label">"Campaign"</span>
                <span id="agent-campaign">{campaign_label}</span>
            </div>
            <div id="agent-state" class=tone role="status" aria-live="polite"
                data-phase=move || ctx.phase().map(|p| p.words()).unwrap_or("")>
                {words}
            </div>
            <div class="ready-control" id="ready-control">
                {pause_select}
                {control_view}
            </div>
            <div class="head-phone">
                <PhoneBadge view=ctx.phone />
                {move || phone_in().then(|| view! {
                    <span class="session-chip" id="phone-session"
                        title="Your phone is in your VICIdial session: calls have audio">"In session"</span>
                })}
                <QualityMeter view=ctx.phone />
                {move || ctx.readiness_done.get().then(|| view! {
                    <button type="button" id="phone-check-open" class="secondary small"
                        aria-pressed=move || recheck.get().to_string() aria-controls="recheck"
                        on:click=move |_| recheck.update(|open| *open = !*open)>"Phone check"</button>
                })}
            </div>
            <button type="button" id="logout-button" class="secondary"
                disabled=move || in_call() || logout.pending().get()
                title=move || if in_call() { "Hang up first" } else { "" }
                on:click=move |_| { logout.dispatch(()); }>
                {move || if logout.pending().get() { "Logging out…" } else { "Log out" }}
            </button>
        </header>
        <div class="warnings" id="desk-warnings" aria-live="polite">
            {move || live_lost().then(|| view! {
                <p class="warning" id="warn-live">
                    "Live updates lost: the desk may be out of date. Reconnecting…"
                </p>
            })}
            {move || ctx.screen_notice.get().map(|n| view! {
                <p class="warning" id="warn-screen">{n}</p>
            })}
            {move || phone_out().then(|| view! {
                <p class="warning" id="warn-phone-session">
                    "Your phone is not in the VICIdial session: calls would have no audio."
                    {move || can_rejoin.get().then(|| view! {
                        <button type="button" class="secondary small" id="rejoin-button"
                            on:click=move |_| on_rejoin.run(())>"Join session"</button>
                    })}
                </p>
            })}
            {move || ctx.campaign_error.get().map(|e| view! {
                <p class="warning" id="warn-campaign">{e}</p>
            })}
            {move || control_error.get().map(|e| view! {
                <p class="warning error" id="control-error" role="alert">{e}</p>
            })}
            <PhoneAlerts view=ctx.phone />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialdeck_shared::{CallbackRules, PauseCodesMode};

    fn campaign(auto_dial: bool, mode: PauseCodesMode) -> CampaignInfo {
        CampaignInfo {
            campaign_id: "TESTCAMP".into(),
            campaign_name: "Test campaign".into(),
            auto_dial,
            pause_codes_mode: mode,
            pause_codes: Vec::new(),
            statuses: Vec::new(),
            hotkeys: Vec::new(),
            callbacks: CallbackRules {
                allowed: true,
                me_allowed: true,
                me_by_default: true,
                days_limit: 0,
            },
            default_country: "US".into(),
            countries: Vec::new(),
        }
    }

    #[test]
    fn ready_is_offered_only_where_the_campaign_dials_by_itself() {
        let manual = campaign(false, PauseCodesMode::Optional);
        let auto = campaign(true, PauseCodesMode::Optional);
        let forced = campaign(true, PauseCodesMode::Forced);
        assert_eq!(
            ready_control(Some(Phase::Paused), None),
            ReadyControl::Unknown
        );
        assert_eq!(
            ready_control(Some(Phase::Paused), Some(&manual)),
            ReadyControl::ManualOnly
        );
        assert_eq!(
            ready_control(Some(Phase::Paused), Some(&auto)),
            ReadyControl::CanReady
        );
        assert_eq!(
            ready_control(Some(Phase::OnBreak), Some(&auto)),
            ReadyControl::CanReady
        );
        assert_eq!(
            ready_control(Some(Phase::Ready), Some(&auto)),
            ReadyControl::CanPause {
                code_required: false
            }
        );
        assert_eq!(
            ready_control(Some(Phase::Ready), Some(&forced)),
            ReadyControl::CanPause {
                code_required: true
            }
        );
        assert!(matches!(
            ready_control(Some(Phase::InCall), Some(&auto)),
            ReadyControl::Busy(_)
        ));
        assert!(matches!(
            ready_control(Some(Phase::WrapUp), Some(&manual)),
            ReadyControl::Busy("Save the disposition first.")
        ));
    }
}
