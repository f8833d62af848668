//! The agent's desk after login: VICIdial's live state pushed by the server, the phone, the
//! header, the call and dial box, the lead, the shift's callbacks and calls, and the mandatory
//! disposition modal whenever a call waits for its disposition. [`DeskCtx`] holds the signals
//! and commands the desk's components share.

use dialdeck_shared::{
    AgentProfile, AgentState, CampaignInfo, DialRequest, DispositionAccepted, LeadView, WrapupInfo,
};
use leptos::prelude::*;

use super::{
    call::CallCard,
    callbacks::MyCallbacks,
    dialbox::{dial_refusal_text, DialBox},
    header::DeskHeader,
    lead::LeadPanel,
    modal::DispositionModal,
    readiness::ReadinessCheck,
    recent::RecentCalls,
    screen::VicidialScreen,
    toast::{ToastStack, Toasts},
    words::Phase,
    ModalOpen,
};
use crate::{
    phone::{self, PhoneCommand, PhoneView, RegView},
    shell::{
        focus,
        http::{self, HttpError},
        keyboard::{self, KeyPress},
        sse, storage, time,
    },
};

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

/// The desk's shortcuts (shown in the page and on the controls).
pub mod keys {
    /// Focus the number to dial.
    pub const FOCUS_NUMBER: &str = "F2";
    /// Hang up the customer's call.
    pub const HANG_UP: &str = "F8";
    /// Ready / Pause (campaigns that dial by themselves).
    pub const READY_PAUSE: &str = "F9";
}

/// A shortcut of the desk (outside the modal, which has its own keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    /// [`keys::FOCUS_NUMBER`].
    FocusNumber,
    /// [`keys::HANG_UP`].
    HangUp,
    /// [`keys::READY_PAUSE`].
    ReadyPause,
}

impl Shortcut {
    /// The shortcut a key press means, if any.
    pub fn of(k: &KeyPress) -> Option<Shortcut> {
        if !k.plain() || k.shift {
            return None;
        }
        Some(match k.key.as_str() {
            keys::FOCUS_NUMBER => Shortcut::FocusNumber,
            keys::HANG_UP => Shortcut::HangUp,
            keys::READY_PAUSE => Shortcut::ReadyPause,
            _ => return None,
        })
    }
}

/// Session-storage key: the readiness check was done in this tab for this user.
const READINESS_KEY: &str = "dialdeck.readiness";

/// The signals and commands the desk's components share (provided as context).
#[derive(Clone, Copy)]
pub struct DeskCtx {
    /// The logged-in agent.
    pub profile: StoredValue<AgentProfile>,
    /// VICIdial's state of the agent, as the server last pushed it.
    pub state: RwSignal<Option<AgentState>>,
    /// The campaign's settings, once loaded.
    pub campaign: Signal<Option<CampaignInfo>>,
    /// Why the campaign's settings are not loaded (retried meanwhile).
    pub campaign_error: Signal<Option<String>>,
    /// Unix seconds by the server's clock, ticking every second.
    pub now: RwSignal<i64>,
    /// The live-state stream: `None` before it first opened, then up or down.
    pub live: RwSignal<Option<bool>>,
    /// The phone.
    pub phone: RwSignal<PhoneView>,
    /// What the desk says about VICIdial's screen while it is being (re)joined.
    pub screen_notice: RwSignal<Option<String>>,
    /// The lead on screen (the call's, or the one waiting for its disposition).
    pub lead: Signal<Option<LeadView>>,
    /// Dispositions of this page and their targets' latest states.
    pub dispositions: RwSignal<Vec<DispositionAccepted>>,
    /// Bumped to reload the recent calls.
    pub calls_version: RwSignal<u32>,
    /// Bumped to reload the callbacks.
    pub callbacks_version: RwSignal<u32>,
    /// Messages that come and go.
    pub toasts: Toasts,
    /// The readiness check is done (or the agent went on anyway): Ready and Dial are on.
    pub readiness_done: RwSignal<bool>,
    /// The number in the dial box.
    pub number: RwSignal<String>,
    /// A manual dial through VICIdial.
    pub dial: Action<DialRequest, Result<AgentState, HttpError>>,
    /// Hang up the customer's call through VICIdial.
    pub hangup: Action<(), Result<AgentState, HttpError>>,
    /// Why the last dial failed.
    pub dial_error: RwSignal<Option<String>>,
    /// Why the last hang-up failed.
    pub hangup_error: RwSignal<Option<String>>,
}

impl DeskCtx {
    /// The phase of the agent now.
    pub fn phase(&self) -> Option<Phase> {
        self.state.with(|s| s.as_ref().map(Phase::of))
    }

    /// Records a disposition's latest target states (from its 202 or its live updates).
    pub fn disposition_seen(&self, d: DispositionAccepted) {
        let mut known = false;
        self.dispositions.update(|list| {
            if let Some(old) = list.iter_mut().find(|o| o.id == d.id) {
                *old = d.clone();
                known = true;
            } else {
                list.push(d.clone());
            }
        });
        if !known {
            self.calls_version.update(|v| *v += 1);
        }
    }
}

/// The desk for `profile`.
#[component]
pub fn Desk(profile: AgentProfile) -> impl IntoView {
    let phone_view = RwSignal::new(PhoneView::default());
    phone::start(profile.phone.clone(), phone_view);
    on_cleanup(phone::stop);

    let state = RwSignal::new(None::<AgentState>);
    let live = RwSignal::new(None::<bool>);
    let now = RwSignal::new(time::server_now_secs());
    time::every(1000, move || now.set(time::server_now_secs()));

    let campaign_res = LocalResource::new(|| http::get_json::<CampaignInfo>("/api/campaign"));
    // A campaign that failed to load is asked again, more slowly each time.
    let campaign_failures = StoredValue::new(0u32);
    Effect::new(move |_| {
        if let Some(Err(_)) = campaign_res.get() {
            let n = campaign_failures.get_value() + 1;
            campaign_failures.set_value(n);
            leptos::task::spawn_local(async move {
                time::sleep(1000 * (2u32 << n.min(4))).await;
                campaign_res.refetch();
            });
        }
    });
    let campaign = Signal::derive(move || campaign_res.get().and_then(|r| r.ok()));
    let campaign_error = Signal::derive(move || match campaign_res.get() {
        Some(Err(e)) => {
            let mut s = String::from("The campaign's settings could not be loaded (");
            s.push_str(&e.to_string());
            s.push_str("); trying again.");
            Some(s)
        }
        _ => None,
    });

    let lead_id = Memo::new(move |_| {
        state.with(|s| {
            s.as_ref()
                .map(|s| s.wrapup.as_ref().map(|w| w.lead_id).unwrap_or(s.lead_id))
                .unwrap_or(0)
        })
    });
    let lead_res = LocalResource::new(move || {
        let id = lead_id.get();
        async move {
            if id > 0 {
                Some(http::get_json::<LeadView>(&format!("/api/lead/{id}")).await)
            } else {
                None
            }
        }
    });
    let lead = Signal::derive(move || lead_res.get().flatten().and_then(|r| r.ok()));

    let dial_error = RwSignal::new(None::<String>);
    let hangup_error = RwSignal::new(None::<String>);
    let dial = Action::new_local(|req: &DialRequest| {
        let req = req.clone();
        async move { http::post_json::<_, AgentState>("/api/call/dial", &req).await }
    });
    let hangup = Action::new_local(|_: &()| async move {
        http::post_for::<AgentState>("/api/call/hangup").await
    });
    for (action, error) in [(dial.value(), dial_error), (hangup.value(), hangup_error)] {
        Effect::new(move |_| match action.get() {
            Some(Ok(s)) => {
                error.set(None);
                state.set(Some(s));
            }
            Some(Err(e)) => error.set(Some(dial_refusal_text(&e))),
            None => {}
        });
    }

    let ready =
        RwSignal::new(storage::tab_get(READINESS_KEY).as_deref() == Some(profile.user.as_str()));
    let ctx = DeskCtx {
        profile: StoredValue::new(profile.clone()),
        state,
        campaign,
        campaign_error,
        now,
        live,
        phone: phone_view,
        screen_notice: RwSignal::new(None),
        lead,
        dispositions: RwSignal::new(Vec::new()),
        calls_version: RwSignal::new(0),
        callbacks_version: RwSignal::new(0),
        toasts: Toasts::new(),
        readiness_done: ready,
        number: RwSignal::new(String::new()),
        dial,
        hangup,
        dial_error,
        hangup_error,
    };
    provide_context(ctx);

    // Live updates for as long as the desk is shown.
    let streams = StoredValue::new_local(Vec::new());
    match sse::listen::<AgentState>(
        "/api/agent/events",
        "state",
        move |s| state.set(Some(s)),
        move |up| live.set(Some(up)),
    ) {
        Ok(s) => streams.update_value(|v| v.push(s)),
        Err(_) => live.set(Some(false)),
    }
    if let Ok(s) = sse::listen::<DispositionAccepted>(
        "/api/dispositions/events",
        "disposition",
        move |d| ctx.disposition_seen(d),
        |_| {},
    ) {
        streams.update_value(|v| v.push(s));
    }

    // The phone joins VICIdial's session conference (webphones dial in; see above).
    let joined = RwSignal::new(None::<String>);
    let join_by_dialing = profile.phone.join_by_dialing;
    let prefix = profile.phone.conference_prefix.clone();
    let rejoin_prefix = prefix.clone();
    let session_conf = Memo::new(move |_| {
        state.with(|s| {
            s.as_ref()
                .filter(|s| s.logged_in())
                .map(|s| s.conf_exten.clone())
        })
    });
    Effect::new(move |_| {
        let conf = session_conf.get();
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
    let can_rejoin = Signal::derive(move || {
        join_by_dialing
            && session_conf.get().is_some_and(|c| !c.is_empty())
            && phone_view.with(|v| v.registration == RegView::Registered && !v.call.active())
            && joined.with(Option::is_some)
            && state.with(|s| s.as_ref().is_some_and(|s| !s.phone_in_session))
    });
    // The agent asked: dial the room now (the effect above only dials once per session).
    let rejoin = Callback::new(move |_| {
        if let Some(conf) = session_conf.get_untracked().filter(|c| !c.is_empty()) {
            joined.set(Some(conf.clone()));
            phone::command(PhoneCommand::Dial(format!("{rejoin_prefix}{conf}")));
        }
    });

    // Keyboard shortcuts (the modal has its own; the page behind it is inert).
    let modal_open = expect_context::<ModalOpen>().0;
    let pause_toggle = RwSignal::new(0u32);
    keyboard::on_shortcut(move |k| {
        if modal_open.get_untracked() || !ready.get_untracked() {
            return false;
        }
        match Shortcut::of(k) {
            Some(Shortcut::FocusNumber) => focus::focus_id("dial-number"),
            Some(Shortcut::HangUp) => {
                if ctx.phase().is_some_and(Phase::has_call) && !hangup.pending().get_untracked() {
                    hangup.dispatch(());
                }
                true
            }
            Some(Shortcut::ReadyPause) => {
                pause_toggle.update(|n| *n += 1);
                true
            }
            None => false,
        }
    });

    let user = profile.user.clone();
    let on_ready = Callback::new(move |_| {
        storage::tab_set(READINESS_KEY, &user);
        ready.set(true);
        focus::focus_soon("dial-number");
    });
    let wrapup = Memo::new(move |_| state.with(|s| s.as_ref().and_then(|s| s.wrapup.clone())));
    let phone_config = profile.phone.clone();
    // The check again beside the desk (the header's Phone check): for an agent whose audio
    // went wrong mid-shift and for support, with its diagnostics; it never gates the desk.
    let recheck = RwSignal::new(false);
    let recheck_config = StoredValue::new(profile.phone.clone());

    view! {
        <div class="desk">
            <DeskHeader pause_toggle=pause_toggle can_rejoin=can_rejoin on_rejoin=rejoin
                recheck=recheck />
            <Show
                when=move || ready.get()
                fallback=move || view! {
                    <main class="readiness-page" aria-label="Readiness check">
                        <ReadinessCheck config=phone_config.clone() view=phone_view on_done=on_ready />
                    </main>
                }
            >
                <main class="desk-grid" aria-label="Agent desk">
                    <section class="col col-call" aria-label="Call">
                        <CallCard />
                        <DialBox />
                    </section>
                    <section class="col col-lead" aria-label="Lead">
                        <LeadPanel />
                    </section>
                    <aside class="col col-lists" aria-label="My callbacks and recent calls">
                        <MyCallbacks />
                        <RecentCalls />
                    </aside>
                </main>
                {move || recheck.get().then(|| view! {
                    <aside class="recheck" id="recheck" aria-label="Phone check">
                        <button type="button" id="check-close" class="secondary small recheck-close"
                            on:click=move |_| recheck.set(false)>"Close"</button>
                        <ReadinessCheck config=recheck_config.get_value() view=phone_view
                            on_done=Callback::new(|_| ()) />
                    </aside>
                })}
                <p class="shortcuts" id="shortcuts">
                    <kbd>{keys::FOCUS_NUMBER}</kbd>" number · "<kbd>"Enter"</kbd>" dial · "
                    <kbd>{keys::HANG_UP}</kbd>" hang up · "<kbd>{keys::READY_PAUSE}</kbd>" ready / pause · "
                    "in wrap-up "<kbd>"1"</kbd>"–"<kbd>"9"</kbd>" pick a status, "
                    <kbd>"Ctrl"</kbd>"+"<kbd>"Enter"</kbd>" save"
                </p>
            </Show>
            <ToastStack />
            <VicidialScreen />
            {move || wrapup.get().map(|w: WrapupInfo| view! { <DispositionModal wrapup=w /> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn shortcuts_are_plain_function_keys() {
        let key = |k: &str| KeyPress {
            key: k.into(),
            ..KeyPress::default()
        };
        assert_eq!(Shortcut::of(&key("F2")), Some(Shortcut::FocusNumber));
        assert_eq!(Shortcut::of(&key("F8")), Some(Shortcut::HangUp));
        assert_eq!(Shortcut::of(&key("F9")), Some(Shortcut::ReadyPause));
        assert_eq!(Shortcut::of(&key("8")), None);
        let ctrl = KeyPress {
            ctrl: true,
            ..key("F8")
        };
        assert_eq!(Shortcut::of(&ctrl), None, "Ctrl+F8 is not hang up");
        // Function keys work from inside a field too (F2 from the notes, F8 while typing).
        let typing = KeyPress {
            in_text: true,
            ..key("F8")
        };
        assert_eq!(Shortcut::of(&typing), Some(Shortcut::HangUp));
    }
}
