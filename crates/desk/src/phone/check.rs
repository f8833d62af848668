//! Runs the readiness check: owns every browser object a run opens (the microphone stream,
//! the AudioContext with its meter and test tone, the probe's peer connection, timers and
//! listeners) and releases them all when the run ends (every item green, or "Continue
//! anyway") or is stopped. Browser callbacks become [`Msg`]s tagged with their run, so a late
//! answer from an earlier run is released instead of used; the pure
//! [`Readiness`](super::readiness::Readiness) decides what each means.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use dialdeck_shared::PhoneConfig;
use leptos::prelude::*;
use web_sys::MediaStream;

use super::readiness::{decay, Candidates, CheckOutcome, Readiness};
use super::{PhoneCommand, PhoneView};
use crate::shell::audio::{Meter, Sound, Tone};
use crate::shell::clock::{self, Gestures, Interval, Timer};
use crate::shell::rtc::{self, IceProbe, MediaError, ProbeEvent};

/// How often the meter is read.
const METER_MS: i32 = 100;
/// How far the shown level may fall per reading.
const METER_FALL: u8 = 6;
/// How long the test tone plays.
const TONE_MS: u32 = 1_200;
/// How long ICE gathering may take before the candidates found so far are counted.
const ICE_LIMIT_MS: f64 = 5_000.0;

/// What the check's component asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckCommand {
    /// Play the test tone on the chosen speaker (sent from the click, which also lets the
    /// browser start audio).
    PlayTone,
    /// The agent's answer to "did you hear the tone?".
    Heard(bool),
    /// End the run with what is not green.
    ContinueAnyway,
    /// The chosen microphone changed: listen to that one.
    MicrophoneChanged,
    /// The phone's registration or socket changed.
    PhoneChanged,
}

/// The signals a run writes: the check's state, and the meter's level (0 to 100) apart, so
/// ten readings a second redraw the meter only.
#[derive(Clone, Copy)]
pub struct CheckSignals {
    /// The check.
    pub state: RwSignal<Readiness>,
    /// The meter's shown level.
    pub level: RwSignal<u8>,
}

enum Msg {
    Start(Box<PhoneConfig>, RwSignal<PhoneView>, CheckSignals),
    Stop,
    Command(CheckCommand),
    /// (run, which request of the run, the result).
    MicOpened(u32, u32, Result<MediaStream, MediaError>),
    Tick(u32),
    Gesture(u32),
    Probe(u32, ProbeEvent),
    ProbeLimit(u32),
    TonePlayed(u32, Result<(), String>),
    ToneEnded(u32),
}

thread_local! {
    static RUNNER: RefCell<Option<Runner>> = const { RefCell::new(None) };
    static INBOX: RefCell<VecDeque<Msg>> = const { RefCell::new(VecDeque::new()) };
    static RUNS: Cell<u32> = const { Cell::new(0) };
}

/// Starts a run (releasing a run in progress): the microphone and its meter, the ICE probe,
/// and the phone's registration as the socket's proof; the tone waits for the agent.
pub fn start(config: &PhoneConfig, view: RwSignal<PhoneView>, out: CheckSignals) {
    post(Msg::Start(Box::new(config.clone()), view, out));
}

/// Sends a command to the run in progress.
pub fn command(cmd: CheckCommand) {
    post(Msg::Command(cmd));
}

/// Releases the run in progress, if any (the component's cleanup).
pub fn stop() {
    post(Msg::Stop);
}

fn post(msg: Msg) {
    INBOX.with(|q| q.borrow_mut().push_back(msg));
    RUNNER.with(|r| {
        // Posted from inside a handler: the loop below picks it up.
        let Ok(mut runner) = r.try_borrow_mut() else {
            return;
        };
        while let Some(msg) = INBOX.with(|q| q.borrow_mut().pop_front()) {
            match msg {
                Msg::Start(config, view, out) => {
                    if let Some(mut old) = runner.take() {
                        old.release();
                    }
                    let run = RUNS.with(|n| {
                        n.set(n.get() + 1);
                        n.get()
                    });
                    let mut new = Runner::new(run, *config, view, out);
                    new.begin();
                    *runner = Some(new);
                }
                Msg::Stop => {
                    if let Some(mut old) = runner.take() {
                        old.release();
                    }
                }
                msg => match runner.as_mut() {
                    Some(r) => r.handle(msg),
                    None => discard(msg),
                },
            }
        }
    });
}

/// A message for a run that is gone: whatever it carries is released.
fn discard(msg: Msg) {
    if let Msg::MicOpened(_, _, Ok(stream)) = msg {
        rtc::stop_tracks(&stream);
    }
}

struct Runner {
    run: u32,
    config: PhoneConfig,
    view: RwSignal<PhoneView>,
    out: CheckSignals,
    /// Whether the run ended (everything below is released then).
    ended: bool,
    sound: Option<Sound>,
    mic: Option<MediaStream>,
    /// The latest microphone request: only its answer is used.
    mic_request: u32,
    meter: Option<Meter>,
    ticker: Option<Interval>,
    gestures: Option<Gestures>,
    tone: Option<Tone>,
    tone_timer: Option<Timer>,
    probe: Option<IceProbe>,
    probe_started: bool,
    probe_timer: Option<Timer>,
    found: Candidates,
    shown: u8,
}

impl Runner {
    fn new(run: u32, config: PhoneConfig, view: RwSignal<PhoneView>, out: CheckSignals) -> Self {
        Runner {
            run,
            config,
            view,
            out,
            ended: false,
            sound: None,
            mic: None,
            mic_request: 0,
            meter: None,
            ticker: None,
            gestures: None,
            tone: None,
            tone_timer: None,
            probe: None,
            probe_started: false,
            probe_timer: None,
            found: Candidates::default(),
            shown: 0,
        }
    }

    fn begin(&mut self) {
        let run = self.run;
        self.out.state.set(Readiness::default());
        self.out.level.set(0);
        self.open_microphone();
        self.on_phone();
        self.ticker = Some(Interval::every(METER_MS, move || post(Msg::Tick(run))));
        self.gestures = Some(Gestures::listen(move || post(Msg::Gesture(run))));
    }

    /// Starts the ICE probe once per run, after the microphone request settled: browsers
    /// gather fewer candidates for a page without microphone permission, and a call always
    /// has asked for it first.
    fn start_probe(&mut self) {
        if self.probe_started {
            return;
        }
        self.probe_started = true;
        let run = self.run;
        self.change(|s| s.gathering());
        match IceProbe::start(&self.config.ice_servers, move |ev| {
            post(Msg::Probe(run, ev))
        }) {
            Ok(probe) => {
                self.probe = Some(probe);
                self.probe_timer = Some(Timer::once(ICE_LIMIT_MS, move || {
                    post(Msg::ProbeLimit(run))
                }));
            }
            Err(e) => self.change(|s| s.probe_failed(&e.to_string())),
        }
    }

    /// Applies `f` to the check's state and publishes it only if it changed; ends the run
    /// when it reaches its outcome.
    fn change(&mut self, f: impl FnOnce(&mut Readiness)) {
        if self.ended {
            return;
        }
        let before = self.out.state.with_untracked(Clone::clone);
        let mut after = before.clone();
        f(&mut after);
        if after == before {
            return;
        }
        let outcome = after.outcome().cloned();
        self.out.state.set(after);
        if let Some(outcome) = outcome {
            self.end(outcome);
        }
    }

    fn end(&mut self, outcome: CheckOutcome) {
        self.release();
        self.view.try_update(|v| v.check = outcome);
    }

    fn handle(&mut self, msg: Msg) {
        if self.ended || msg_run(&msg).is_some_and(|run| run != self.run) {
            return discard(msg);
        }
        match msg {
            Msg::Start(..) | Msg::Stop => {}
            Msg::Command(cmd) => self.on_command(cmd),
            Msg::MicOpened(_, request, Ok(stream)) => {
                self.start_probe();
                // The agent picked another microphone meanwhile.
                if request != self.mic_request {
                    return rtc::stop_tracks(&stream);
                }
                let meter = self.sound.as_ref().map(|s| s.meter(&stream));
                match meter {
                    Some(Ok(meter)) => {
                        self.meter = Some(meter);
                        self.mic = Some(stream);
                        let running = self.sound.as_ref().is_some_and(Sound::running);
                        self.change(|s| s.microphone_open(running, clock::now_ms()));
                        // Labels and ids are complete once a microphone is allowed.
                        super::command(PhoneCommand::RefreshDevices);
                    }
                    Some(Err(e)) => {
                        rtc::stop_tracks(&stream);
                        self.change(|s| s.microphone_failed(&e));
                    }
                    None => rtc::stop_tracks(&stream),
                }
            }
            Msg::MicOpened(_, request, Err(e)) => {
                self.start_probe();
                if request == self.mic_request {
                    self.change(|s| s.microphone_failed(&e.to_string()));
                }
            }
            Msg::Tick(_) => self.on_tick(),
            Msg::Gesture(_) => {
                if let Some(sound) = &self.sound {
                    sound.resume();
                }
            }
            Msg::Probe(_, ProbeEvent::Candidate(line)) => {
                self.found.add(&line);
            }
            Msg::Probe(_, ProbeEvent::Complete) | Msg::ProbeLimit(_) => self.probe_done(),
            Msg::Probe(_, ProbeEvent::Failed(e)) => {
                self.close_probe();
                self.change(|s| s.probe_failed(&e));
            }
            Msg::TonePlayed(_, Ok(())) => {
                let run = self.run;
                self.tone_timer = Some(Timer::once(f64::from(TONE_MS), move || {
                    post(Msg::ToneEnded(run))
                }));
            }
            Msg::TonePlayed(_, Err(e)) => {
                self.tone = None;
                self.change(|s| s.tone_failed(&e));
            }
            Msg::ToneEnded(_) => {
                self.tone = None;
                self.tone_timer = None;
                self.change(Readiness::tone_played);
            }
        }
    }

    fn on_command(&mut self, cmd: CheckCommand) {
        match cmd {
            CheckCommand::PlayTone => self.play_tone(),
            CheckCommand::Heard(yes) => self.change(|s| s.heard(yes)),
            CheckCommand::ContinueAnyway => {
                let mut state = self.out.state.get_untracked();
                let outcome = state.continue_anyway().clone();
                self.out.state.set(state);
                self.end(outcome);
            }
            CheckCommand::MicrophoneChanged => {
                self.meter = None;
                if let Some(old) = self.mic.take() {
                    rtc::stop_tracks(&old);
                }
                self.open_microphone();
            }
            CheckCommand::PhoneChanged => self.on_phone(),
        }
    }

    fn open_microphone(&mut self) {
        if self.sound.is_none() {
            match Sound::new() {
                Ok(sound) => self.sound = Some(sound),
                Err(e) => {
                    self.change(|s| s.microphone_failed(&e));
                    return self.start_probe();
                }
            }
        }
        self.change(Readiness::microphone_opening);
        self.mic_request += 1;
        let (run, request) = (self.run, self.mic_request);
        let device = self.view.with_untracked(|v| v.input.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let opened = rtc::microphone(device.as_deref()).await;
            post(Msg::MicOpened(run, request, opened));
        });
    }

    fn on_phone(&mut self) {
        let (reg, error) = self
            .view
            .with_untracked(|v| (v.registration.clone(), v.socket_error.clone()));
        let url = self.config.ws_url.clone();
        self.change(|s| s.registration(&reg, &url, error.as_deref()));
    }

    fn on_tick(&mut self) {
        let Some(sound) = &self.sound else {
            return;
        };
        if self.meter.is_none() {
            return;
        }
        let running = sound.running();
        let now = clock::now_ms();
        // Whether the browser let the graph run (it may wait for a click).
        self.change(|s| s.microphone_open(running, now));
        if !running {
            return;
        }
        let level = self.meter.as_ref().map_or(0, Meter::level);
        self.change(|s| s.level(level, now));
        let shown = decay(self.shown, level, METER_FALL);
        if shown != self.shown {
            self.shown = shown;
            self.out.level.set(shown);
        }
    }

    fn play_tone(&mut self) {
        let Some(sound) = &self.sound else {
            return;
        };
        // This runs inside the agent's click: the browser lets audio start now.
        sound.resume();
        self.tone_timer = None;
        match sound.tone(TONE_MS) {
            Ok(tone) => {
                self.change(Readiness::tone_playing);
                let (run, output) = (self.run, self.view.with_untracked(|v| v.output.clone()));
                let playing = tone.play(output);
                self.tone = Some(tone);
                wasm_bindgen_futures::spawn_local(async move {
                    post(Msg::TonePlayed(run, playing.await));
                });
            }
            Err(e) => self.change(|s| s.tone_failed(&e)),
        }
    }

    fn probe_done(&mut self) {
        if self.probe.is_none() {
            return;
        }
        self.close_probe();
        let (found, servers) = (self.found, self.config.ice_servers.len());
        self.change(|s| s.gathered(found, servers));
    }

    fn close_probe(&mut self) {
        self.probe_timer = None;
        if let Some(probe) = self.probe.take() {
            probe.close();
        }
    }

    /// Releases every browser object of the run; idempotent.
    fn release(&mut self) {
        self.ended = true;
        self.ticker = None;
        self.gestures = None;
        self.tone_timer = None;
        self.tone = None;
        self.meter = None;
        if let Some(mic) = self.mic.take() {
            rtc::stop_tracks(&mic);
        }
        self.close_probe();
        if let Some(sound) = self.sound.take() {
            sound.close();
        }
    }
}

fn msg_run(msg: &Msg) -> Option<u32> {
    match msg {
        Msg::MicOpened(run, ..)
        | Msg::Tick(run)
        | Msg::Gesture(run)
        | Msg::Probe(run, _)
        | Msg::ProbeLimit(run)
        | Msg::TonePlayed(run, _)
        | Msg::ToneEnded(run) => Some(*run),
        Msg::Start(..) | Msg::Stop | Msg::Command(_) => None,
    }
}
