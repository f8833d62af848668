//! The softphone: one driver owns the SIP user agent (`dialdeck_sip`) and every browser object
//! of the phone (WebSocket, peer connection, timers). Browser callbacks become [`Msg`]s, the
//! core's outputs become shell calls, and the desk's phone components (`ui::phone`) read one
//! [`PhoneView`] signal. The readiness check before the first call runs beside it
//! ([`check`], with its logic in [`readiness`]).

pub mod check;
pub mod quality;
pub mod readiness;
pub mod state;
pub mod trace;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use dialdeck_shared::PhoneConfig;
use dialdeck_sip::call::CallEvent;
use dialdeck_sip::random::SplitMix64;
use dialdeck_sip::register::RegistrationState;
use dialdeck_sip::timer::{Duration, Instant};
use dialdeck_sip::ua::{Command, Config, Event, Input, MediaAction, MediaEvent, Output, UserAgent};
use leptos::prelude::*;

use crate::shell::clock::{self, Gestures, Interval, Timer};
use crate::shell::rtc::{self, DeviceWatch, MediaError, Peer, PeerEvent, PeerSettings};
use crate::shell::stats;
use crate::shell::ws::{SipSocket, SocketEvent};

pub use readiness::CheckOutcome;
pub use state::{CallView, PhoneView, RegFailure, RegView};
use trace::{Kind, Trace};

/// ICE gathering time limit (ends earlier on completion or a reflexive/relay candidate).
const GATHER_LIMIT_MS: f64 = 3_000.0;
const INSTANCE_KEY: &str = "dialdeck.phone.instance";
const INPUT_KEY: &str = "dialdeck.phone.input";
const OUTPUT_KEY: &str = "dialdeck.phone.output";

/// What the phone components (and the desk) ask the phone to do.
#[derive(Clone, Debug, PartialEq)]
pub enum PhoneCommand {
    /// Call a SIP URI or a number / extension.
    Dial(String),
    /// Answer the ringing call.
    Answer,
    /// Hang up, cancel or decline.
    Hangup,
    /// Mute or unmute the microphone.
    Mute(bool),
    /// Hold or resume.
    Hold(bool),
    /// Send one DTMF digit.
    Dtmf(char),
    /// Use this microphone.
    SelectInput(String),
    /// Use this speaker.
    SelectOutput(String),
    /// Save the call trace as a file.
    DownloadTrace,
    /// Register again after registration failed.
    Register,
    /// Play the call audio the browser blocked (the agent's click allows it).
    UnblockAudio,
    /// List the audio devices again (labels appear once the microphone is allowed).
    RefreshDevices,
}

/// Everything that happens to the driver, queued and handled one at a time.
enum Msg {
    Start(Box<PhoneConfig>, RwSignal<PhoneView>),
    Stop,
    Ua(Input),
    Command(PhoneCommand),
    Socket(u32, SocketEvent),
    Peer(u32, PeerEvent),
    /// A media operation finished: (peer generation, whether it was to produce a local
    /// description, its result).
    MediaDone(u32, bool, Result<Option<String>, MediaError>),
    Stats(u32, quality::RawStats),
    Devices(Vec<(String, String, String)>),
    Gesture,
}

thread_local! {
    static DRIVER: RefCell<Option<Driver>> = const { RefCell::new(None) };
    static INBOX: RefCell<VecDeque<Msg>> = const { RefCell::new(VecDeque::new()) };
}

/// Starts the phone for this agent's account (replacing a running one); the phone
/// components render `view`.
pub fn start(config: PhoneConfig, view: RwSignal<PhoneView>) {
    post(Msg::Start(Box::new(config), view));
}

/// Unregisters and releases everything (logout).
pub fn stop() {
    post(Msg::Stop);
}

/// Sends a command from the phone components.
pub fn command(cmd: PhoneCommand) {
    post(Msg::Command(cmd));
}

fn post(msg: Msg) {
    INBOX.with(|q| q.borrow_mut().push_back(msg));
    // If the driver is already running up the stack, it drains the inbox itself.
    DRIVER.with(|d| {
        let Ok(mut d) = d.try_borrow_mut() else {
            return;
        };
        while let Some(msg) = INBOX.with(|q| q.borrow_mut().pop_front()) {
            match msg {
                Msg::Start(cfg, view) => {
                    if let Some(mut old) = d.take() {
                        old.shutdown();
                    }
                    *d = Driver::new(*cfg, view);
                }
                Msg::Stop => {
                    if let Some(mut old) = d.take() {
                        old.shutdown();
                    }
                }
                msg => {
                    if let Some(driver) = d.as_mut() {
                        driver.handle(msg);
                    }
                }
            }
        }
    });
}

/// The media work queue: one operation at a time, in order.
#[derive(Default)]
struct MediaQueue {
    pending: VecDeque<MediaAction>,
    busy: bool,
}

struct Driver {
    ua: UserAgent,
    cfg: PhoneConfig,
    view: RwSignal<PhoneView>,
    socket: Option<SipSocket>,
    socket_gen: u32,
    socket_open: bool,
    peer: Option<Rc<Peer>>,
    peer_gen: u32,
    media: MediaQueue,
    timer: Option<(Instant, Timer)>,
    stats_timer: Option<Interval>,
    monitor: quality::Monitor,
    trace: Trace,
    /// Whether we asked for an ICE restart since the last Reconnecting.
    restart_asked: bool,
    /// Whether the WebSocket was ever lost while a call was reconnecting.
    call_reconnecting: bool,
    /// Ticks the clock once a second while the badge counts down to the next reconnect.
    countdown: Option<Interval>,
    _gestures: Gestures,
    _devices: DeviceWatch,
}

fn now() -> Instant {
    Instant::from_millis(clock::now_ms() as u64)
}

/// The registrar of an address of record: `sip:<host>[:port]`.
fn registrar_of(aor: &str) -> String {
    match dialdeck_sip::msg::Uri::parse(aor) {
        Ok(u) => match u.port {
            Some(p) => format!("{}:{}:{p}", u.scheme, u.host),
            None => format!("{}:{}", u.scheme, u.host),
        },
        Err(_) => aor.to_string(),
    }
}

impl Driver {
    fn new(cfg: PhoneConfig, view: RwSignal<PhoneView>) -> Option<Driver> {
        let mut config = Config::new(
            &cfg.sip_uri,
            &registrar_of(&cfg.sip_uri),
            &cfg.auth_user,
            &cfg.password,
        );
        config.display_name = Some(cfg.display_name.clone()).filter(|n| !n.is_empty());
        config.secure = cfg.ws_url.starts_with("wss:");
        config.auto_answer = cfg.auto_answer;
        config.instance_id = clock::load(INSTANCE_KEY);
        config.user_agent = format!("dialdeck/{}", env!("CARGO_PKG_VERSION"));
        // Gathering has its own limit; this covers getUserMedia on top of it.
        config.local_sdp_timeout = Duration::from_millis(GATHER_LIMIT_MS as u64 + 7_000);
        let ua = match UserAgent::new(config, SplitMix64::new(clock::random_seed())) {
            Ok(ua) => ua,
            Err(e) => {
                view.update(|v| {
                    v.registration = RegView::Failed(RegFailure::Account(e.to_string()))
                });
                return None;
            }
        };
        clock::store(INSTANCE_KEY, ua.instance_id());
        view.update(|v| {
            v.input = clock::load(INPUT_KEY);
            v.output = clock::load(OUTPUT_KEY);
        });
        let mut d = Driver {
            ua,
            cfg,
            view,
            socket: None,
            socket_gen: 0,
            socket_open: false,
            peer: None,
            peer_gen: 0,
            media: MediaQueue::default(),
            timer: None,
            stats_timer: None,
            monitor: quality::Monitor::default(),
            trace: Trace::default(),
            restart_asked: false,
            call_reconnecting: false,
            countdown: None,
            _gestures: Gestures::listen(|| post(Msg::Gesture)),
            _devices: DeviceWatch::start(refresh_devices),
        };
        refresh_devices();
        d.handle(Msg::Ua(Input::Command(Command::Register)));
        Some(d)
    }

    fn shutdown(&mut self) {
        self.handle(Msg::Ua(Input::Command(Command::Hangup)));
        self.handle(Msg::Ua(Input::Command(Command::Unregister)));
        self.close_media();
        self.socket = None;
        self.timer = None;
        self.countdown = None;
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Start(..) | Msg::Stop => {}
            Msg::Ua(input) => self.feed(input),
            Msg::Command(cmd) => self.on_command(cmd),
            Msg::Socket(gen, ev) if gen == self.socket_gen => self.on_socket(ev),
            Msg::Peer(gen, ev) if gen == self.peer_gen => self.on_peer(ev),
            Msg::MediaDone(gen, wants_sdp, result) => {
                self.media.busy = false;
                if gen == self.peer_gen {
                    self.on_media_done(wants_sdp, result);
                }
                self.run_media();
            }
            Msg::Stats(gen, raw) if gen == self.peer_gen && self.peer.is_some() => {
                let (q, alarm) = self.monitor.sample(raw);
                if alarm != self.view.with_untracked(|v| v.alarm) {
                    let what = alarm.map_or("one-way audio alarm cleared", |a| a.message());
                    self.trace.push(clock::now_ms(), Kind::State, what);
                }
                self.view.update(|v| {
                    v.quality = Some(q);
                    v.alarm = alarm;
                    v.now_ms = clock::now_ms();
                });
            }
            Msg::Devices(list) => self.view.update(|v| {
                let pick = |kind: &str| {
                    list.iter()
                        .filter(|(k, ..)| k == kind)
                        .map(|(_, id, label)| (id.clone(), label.clone()))
                        .collect()
                };
                v.inputs = pick("audioinput");
                v.outputs = pick("audiooutput");
            }),
            Msg::Gesture => {
                if self.view.with_untracked(|v| v.audio_blocked) {
                    if let Some(peer) = &self.peer {
                        let gen = self.peer_gen;
                        peer.retry_playback(move |ev| post(Msg::Peer(gen, ev)));
                    }
                }
            }
            // Events of a socket or peer connection that is already gone.
            Msg::Socket(..) | Msg::Peer(..) | Msg::Stats(..) => {}
        }
    }

    fn on_command(&mut self, cmd: PhoneCommand) {
        let ua = |c| Msg::Ua(Input::Command(c));
        match cmd {
            PhoneCommand::Dial(target) => {
                let target = target.trim().to_string();
                if !target.is_empty() && !self.ua.has_call() {
                    self.handle(ua(Command::Call { target }));
                }
            }
            PhoneCommand::Answer => self.handle(ua(Command::Answer)),
            PhoneCommand::Hangup => self.handle(ua(Command::Hangup)),
            PhoneCommand::Hold(on) => {
                self.handle(ua(if on { Command::Hold } else { Command::Unhold }))
            }
            PhoneCommand::Mute(on) => {
                if let Some(peer) = &self.peer {
                    peer.set_muted(on);
                    self.view.update(|v| v.muted = on);
                }
            }
            PhoneCommand::Dtmf(digit) => {
                if self
                    .view
                    .with_untracked(|v| v.call != CallView::Established)
                {
                    return;
                }
                let by_rtp = self.peer.as_ref().is_some_and(|p| p.send_dtmf_rtp(digit));
                if !by_rtp {
                    self.handle(ua(Command::SendDtmf {
                        digit,
                        duration_ms: 160,
                    }));
                }
                let how = if by_rtp { "RFC 4733" } else { "SIP INFO" };
                self.trace.push(
                    clock::now_ms(),
                    Kind::State,
                    format!("DTMF {digit} by {how}"),
                );
                self.view.update(|v| v.dtmf.push(digit));
            }
            PhoneCommand::SelectInput(id) => {
                clock::store(INPUT_KEY, &id);
                self.view.update(|v| v.input = Some(id.clone()));
                if let Some(peer) = self.peer.clone() {
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = peer.switch_input(Some(id)).await;
                    });
                }
            }
            PhoneCommand::SelectOutput(id) => {
                clock::store(OUTPUT_KEY, &id);
                if let Some(peer) = &self.peer {
                    peer.set_output(&id);
                }
                self.view.update(|v| v.output = Some(id));
            }
            PhoneCommand::Register => {
                if matches!(
                    self.view.with_untracked(|v| v.registration.clone()),
                    RegView::Failed(_)
                ) {
                    self.handle(ua(Command::Register));
                }
            }
            PhoneCommand::RefreshDevices => refresh_devices(),
            PhoneCommand::UnblockAudio => self.handle(Msg::Gesture),
            PhoneCommand::DownloadTrace => {
                let name = format!("dialdeck-call-{}.txt", self.trace.call());
                if let Err(e) = clock::download_text(&name, &self.trace.render()) {
                    self.view
                        .update(|v| v.notice = Some(format!("Cannot save the trace: {e}")));
                }
            }
        }
    }

    fn on_socket(&mut self, ev: SocketEvent) {
        match ev {
            SocketEvent::Open => {
                self.socket_open = true;
                self.trace
                    .push(clock::now_ms(), Kind::State, "WebSocket open (sip)");
                self.view.update(|v| v.socket_error = None);
                self.feed(Input::TransportConnected);
            }
            SocketEvent::Text(text) => {
                if !text.trim().is_empty() {
                    self.trace
                        .push(clock::now_ms(), Kind::Received, text.clone());
                }
                self.feed(Input::Frame(text));
            }
            SocketEvent::Closed { why } => {
                self.socket_open = false;
                self.socket = None;
                self.trace.push(clock::now_ms(), Kind::State, why.clone());
                self.view.update(|v| v.socket_error = Some(why));
                self.feed(Input::TransportClosed);
            }
        }
    }

    fn on_peer(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::State(kind, state) => {
                self.trace
                    .push(clock::now_ms(), Kind::State, format!("{kind}: {state}"));
            }
            PeerEvent::PlaybackBlocked(blocked) => {
                self.view.update(|v| v.audio_blocked = blocked);
            }
        }
    }

    fn on_media_done(&mut self, wants_sdp: bool, result: Result<Option<String>, MediaError>) {
        match result {
            Err(MediaError::Failed(why)) if !wants_sdp => {
                // The remote answer cannot be used: there is no audio, so end the call.
                self.trace.push(clock::now_ms(), Kind::State, why.clone());
                self.view.update(|v| v.notice = Some(why));
                self.feed(Input::Command(Command::Hangup));
            }
            Ok(Some(sdp)) => self.feed(Input::Media(MediaEvent::LocalSdpReady { sdp })),
            Ok(None) => {}
            Err(MediaError::NoCandidates) => {
                self.trace
                    .push(clock::now_ms(), Kind::State, "ICE gathering: no candidates");
                self.feed(Input::Media(MediaEvent::NoCandidates));
            }
            Err(MediaError::Failed(why)) => {
                self.trace.push(clock::now_ms(), Kind::State, why.clone());
                self.view.update(|v| v.notice = Some(why));
                // The core ends the call the way it ends one without a usable description.
                self.feed(Input::Media(MediaEvent::IceGatheringTimedOut));
            }
        }
    }

    /// Feeds one input to the core and carries out everything it asks for.
    fn feed(&mut self, input: Input) {
        self.ua.handle_input(now(), input);
        loop {
            match self.ua.poll_output() {
                Output::Timeout(at) => {
                    self.schedule(at);
                    break;
                }
                Output::Send(text) => {
                    if !text.trim().is_empty() {
                        self.trace.push(clock::now_ms(), Kind::Sent, text.clone());
                    }
                    let sent =
                        self.socket_open && self.socket.as_ref().is_some_and(|s| s.send(&text));
                    if !sent {
                        self.trace.push(
                            clock::now_ms(),
                            Kind::State,
                            "WebSocket not open: not sent",
                        );
                    }
                }
                Output::Connect => self.connect(),
                Output::Disconnect => {
                    self.socket = None;
                    self.socket_open = false;
                    self.socket_gen += 1;
                    // Our own close fires no event any more: tell the core now.
                    self.ua.handle_input(now(), Input::TransportClosed);
                }
                Output::Media(action) => {
                    self.media.pending.push_back(action);
                    self.run_media();
                }
                Output::Event(ev) => self.on_event(ev),
            }
        }
    }

    fn schedule(&mut self, at: Instant) {
        if self.timer.as_ref().is_some_and(|(t, _)| *t == at) {
            return;
        }
        let delay = at.as_millis() as f64 - clock::now_ms();
        let timer = Timer::once(delay.max(0.0) + 1.0, || post(Msg::Ua(Input::Timeout)));
        self.timer = Some((at, timer));
    }

    fn connect(&mut self) {
        self.socket_gen += 1;
        self.socket_open = false;
        let gen = self.socket_gen;
        self.trace.push(
            clock::now_ms(),
            Kind::State,
            format!("WebSocket connecting to {}", self.cfg.ws_url),
        );
        match SipSocket::open(&self.cfg.ws_url, move |ev| post(Msg::Socket(gen, ev))) {
            Ok(s) => self.socket = Some(s),
            Err(why) => {
                self.socket = None;
                self.trace.push(clock::now_ms(), Kind::State, why.clone());
                // Failing to even construct counts as a closed socket: the core backs off.
                let _ = Timer::once(0.0, move || {
                    post(Msg::Socket(gen, SocketEvent::Closed { why }))
                });
            }
        }
    }

    fn on_event(&mut self, ev: Event) {
        let now_ms = clock::now_ms();
        let offset = now_ms - now().as_millis() as f64;
        match ev {
            Event::Registration(state) => {
                self.trace
                    .push(now_ms, Kind::State, format!("registration: {state:?}"));
                let registered = matches!(state, RegistrationState::Registered { .. });
                self.view.update(|v| {
                    v.on_registration(&state, |ms| ms as f64 + offset);
                    v.now_ms = now_ms;
                });
                self.countdown =
                    matches!(state, RegistrationState::Reconnecting { .. }).then(|| {
                        let view = self.view;
                        Interval::every(1000, move || {
                            view.try_update(|v| v.now_ms = clock::now_ms());
                        })
                    });
                // Recovery: once registered again over the new WebSocket, renegotiate the
                // call's media with an ICE restart.
                if registered && self.call_reconnecting && !self.restart_asked {
                    self.restart_asked = true;
                    self.ua
                        .handle_input(now(), Input::Command(Command::IceRestart));
                }
            }
            Event::Call(ev) => {
                match &ev {
                    CallEvent::Dialing { .. } | CallEvent::Incoming { .. } => {
                        self.trace.new_call();
                        self.monitor = quality::Monitor::default();
                        self.view.update(|v| v.summary = None);
                    }
                    CallEvent::Reconnecting => {
                        self.call_reconnecting = true;
                        self.restart_asked = false;
                    }
                    CallEvent::Recovered | CallEvent::Ended { .. } => {
                        self.call_reconnecting = false;
                    }
                    _ => {}
                }
                self.trace
                    .push(now_ms, Kind::State, format!("call: {ev:?}"));
                let summary = matches!(ev, CallEvent::Ended { .. })
                    .then(|| self.monitor.summary())
                    .flatten();
                self.view.update(|v| {
                    v.on_call(&ev, now_ms);
                    v.now_ms = now_ms;
                    if let Some(s) = summary {
                        v.summary = Some(s);
                    }
                });
                if matches!(ev, CallEvent::Established) {
                    self.start_stats();
                }
            }
        }
    }

    fn run_media(&mut self) {
        if self.media.busy {
            return;
        }
        let Some(action) = self.media.pending.pop_front() else {
            return;
        };
        if let MediaAction::CloseMedia = action {
            self.close_media();
            return self.run_media();
        }
        let peer = match &self.peer {
            Some(p) => p.clone(),
            None => {
                let gen = self.peer_gen + 1;
                let settings = PeerSettings {
                    ice_servers: self.cfg.ice_servers.clone(),
                    input_device: self.view.with_untracked(|v| v.input.clone()),
                    output_device: self.view.with_untracked(|v| v.output.clone()),
                    gather_limit_ms: GATHER_LIMIT_MS,
                };
                match Peer::new(settings, move |ev| post(Msg::Peer(gen, ev))) {
                    Ok(p) => {
                        self.peer_gen = gen;
                        let p = Rc::new(p);
                        self.peer = Some(p.clone());
                        p
                    }
                    Err(e) => {
                        self.peer_gen = gen;
                        let wants_sdp = matches!(
                            action,
                            MediaAction::CreateOffer { .. } | MediaAction::CreateAnswer { .. }
                        );
                        return self.on_media_done(wants_sdp, Err(e));
                    }
                }
            }
        };
        self.media.busy = true;
        let gen = self.peer_gen;
        self.trace.push(
            clock::now_ms(),
            Kind::State,
            format!("media: {}", describe(&action)),
        );
        let wants_sdp = matches!(
            action,
            MediaAction::CreateOffer { .. } | MediaAction::CreateAnswer { .. }
        );
        wasm_bindgen_futures::spawn_local(async move {
            let result = match action {
                MediaAction::CreateOffer { ice_restart, hold } => {
                    peer.create_offer(ice_restart, hold).await.map(Some)
                }
                MediaAction::CreateAnswer { remote_sdp } => {
                    peer.create_answer(&remote_sdp).await.map(Some)
                }
                MediaAction::ApplyRemoteAnswer { sdp } => {
                    peer.apply_answer(&sdp).await.map(|_| None)
                }
                MediaAction::RollbackOffer => {
                    peer.rollback().await;
                    Ok(None)
                }
                MediaAction::CloseMedia => Ok(None),
            };
            post(Msg::MediaDone(gen, wants_sdp, result));
        });
    }

    fn start_stats(&mut self) {
        let gen = self.peer_gen;
        let Some(peer) = self.peer.clone() else {
            return;
        };
        let weak = Rc::downgrade(&peer);
        self.stats_timer = Some(Interval::every(1000, move || {
            let Some(peer) = weak.upgrade() else {
                return;
            };
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(report) = peer.stats().await {
                    let mut raw = stats::read(&report, clock::now_ms());
                    raw.one_way_expected = !peer.two_way();
                    post(Msg::Stats(gen, raw));
                }
            });
        }));
    }

    fn close_media(&mut self) {
        self.stats_timer = None;
        if let Some(peer) = self.peer.take() {
            peer.close();
            self.peer_gen += 1;
            self.trace
                .push(clock::now_ms(), Kind::State, "media closed");
        }
        // Whatever was queued for the old connection is moot.
        self.media.pending.retain(|a| {
            !matches!(
                a,
                MediaAction::ApplyRemoteAnswer { .. } | MediaAction::RollbackOffer
            )
        });
    }
}

fn describe(action: &MediaAction) -> &'static str {
    match action {
        MediaAction::CreateOffer {
            ice_restart: true, ..
        } => "create offer (ICE restart)",
        MediaAction::CreateOffer { hold: true, .. } => "create offer (hold)",
        MediaAction::CreateOffer { .. } => "create offer",
        MediaAction::CreateAnswer { .. } => "create answer",
        MediaAction::ApplyRemoteAnswer { .. } => "apply remote answer",
        MediaAction::RollbackOffer => "roll back offer",
        MediaAction::CloseMedia => "close",
    }
}

fn refresh_devices() {
    wasm_bindgen_futures::spawn_local(async {
        post(Msg::Devices(rtc::audio_devices().await));
    });
}
