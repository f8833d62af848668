//! The readiness check before the first call, as pure logic: its four items and their states,
//! the microphone level meter and the ICE candidate count. The check's runner
//! (`phone::check`) feeds in what the browser reports; the component renders [`Readiness`].
//! Integer arithmetic only: the level arrives ten times a second.

use super::state::{RegFailure, RegView};

/// One item of the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckItem {
    /// Microphone permission and a level that moves.
    Microphone,
    /// A test tone on the chosen speaker, confirmed by the agent.
    Speaker,
    /// The phone's WebSocket to the phone server (registration is the proof).
    Socket,
    /// ICE candidates: a network path for the call's audio.
    Ice,
}

impl CheckItem {
    /// Every item, in the order shown.
    pub const ALL: [CheckItem; 4] = [
        CheckItem::Microphone,
        CheckItem::Speaker,
        CheckItem::Socket,
        CheckItem::Ice,
    ];

    /// The item's name for the agent.
    pub fn title(self) -> &'static str {
        match self {
            CheckItem::Microphone => "Microphone",
            CheckItem::Speaker => "Speaker",
            CheckItem::Socket => "Phone server",
            CheckItem::Ice => "Network path for audio",
        }
    }

    /// The item's part of element ids (`check-<key>`).
    pub fn key(self) -> &'static str {
        match self {
            CheckItem::Microphone => "mic",
            CheckItem::Speaker => "speaker",
            CheckItem::Socket => "socket",
            CheckItem::Ice => "ice",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How one item stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemState {
    /// Not started, or waiting for the agent (the test tone waits for a click).
    Pending,
    /// Being checked.
    Checking(Step),
    /// Green.
    Ok(Passed),
    /// Red, with what to do.
    Failed(Problem),
}

impl ItemState {
    /// `pending`, `checking`, `ok` or `failed`, for the page's `data-state`.
    pub fn key(&self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Checking(_) => "checking",
            ItemState::Ok(_) => "ok",
            ItemState::Failed(_) => "failed",
        }
    }

    /// The item's status line.
    pub fn text(&self, item: CheckItem) -> String {
        match self {
            ItemState::Pending => match item {
                CheckItem::Speaker => "Play the test tone and listen".into(),
                // The probe runs with the microphone settled, as a call's connection does.
                CheckItem::Ice => "Waiting for the microphone".into(),
                _ => "Waiting".into(),
            },
            ItemState::Checking(step) => step.text().into(),
            ItemState::Ok(passed) => passed.text(),
            ItemState::Failed(problem) => problem.why(),
        }
    }
}

/// What is going on while an item is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Asking the browser for the microphone (its permission prompt may be open).
    OpeningMicrophone,
    /// The microphone is open; waiting for its level to move.
    Listening,
    /// The browser keeps audio stopped until the agent clicks in the page.
    WaitingForClick,
    /// The test tone is playing.
    PlayingTone,
    /// The tone played; did the agent hear it?
    AskingHeard,
    /// Connecting to and registering with the phone server.
    Registering,
    /// Gathering ICE candidates.
    Gathering,
}

impl Step {
    fn text(self) -> &'static str {
        match self {
            Step::OpeningMicrophone => "Asking the browser for the microphone…",
            Step::Listening => "Say something: the bar should move",
            Step::WaitingForClick => "Click anywhere in the page to start listening",
            Step::PlayingTone => "Playing the test tone…",
            Step::AskingHeard => "Did you hear the tone?",
            Step::Registering => "Connecting to the phone server…",
            Step::Gathering => "Looking for network paths…",
        }
    }
}

/// Why an item is green.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Passed {
    /// The microphone's level moved.
    Heard,
    /// The agent heard the test tone.
    ToneHeard,
    /// Registered with the phone server at this URL.
    Registered(String),
    /// ICE gathering found these candidates (with this many STUN/TURN servers configured).
    Candidates(Candidates, usize),
}

impl Passed {
    fn text(&self) -> String {
        match self {
            Passed::Heard => "We hear you".into(),
            Passed::ToneHeard => "You heard the test tone".into(),
            Passed::Registered(url) => format!("Registered through {url}"),
            Passed::Candidates(c, servers) => {
                let mut t = c.to_string();
                if *servers > 0 && c.srflx + c.relay == 0 {
                    t.push_str(" (no answer from the STUN/TURN servers)");
                }
                t
            }
        }
    }
}

/// Why an item is red; each has a sentence and what the agent can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The browser (or the agent) refused the microphone.
    MicDenied,
    /// No microphone, or the chosen one is gone.
    MicMissing,
    /// The microphone exists but cannot be opened (another program, the system).
    MicBusy,
    /// The microphone is open but nothing moves.
    MicSilent,
    /// Any other microphone failure, as the browser put it.
    MicError(String),
    /// The test tone could not play.
    ToneFailed(String),
    /// The agent did not hear the test tone.
    ToneNotHeard,
    /// The WebSocket to the phone server does not open (or keeps closing).
    SocketUnreachable {
        /// `PhoneConfig.ws_url`.
        url: String,
        /// How it last closed, if the browser said.
        why: Option<String>,
    },
    /// The phone server answered but refused to register the phone.
    Refused(RegFailure),
    /// No ICE candidate within the time limit.
    NoCandidates {
        /// How many STUN/TURN servers were configured.
        servers: usize,
    },
    /// The probe's peer connection could not even be created.
    ProbeFailed(String),
}

impl Problem {
    /// Classifies a microphone failure by its DOMException name (`NotAllowedError: ...`).
    pub fn from_microphone(error: &str) -> Problem {
        let has = |name: &str| error.contains(name);
        if has("NotAllowedError") || has("SecurityError") {
            Problem::MicDenied
        } else if has("NotFoundError") || has("OverconstrainedError") {
            Problem::MicMissing
        } else if has("NotReadableError") || has("AbortError") {
            Problem::MicBusy
        } else {
            Problem::MicError(error.to_string())
        }
    }

    /// What is wrong.
    pub fn why(&self) -> String {
        match self {
            Problem::MicDenied => "The browser does not let this page use the microphone".into(),
            Problem::MicMissing => "No microphone found".into(),
            Problem::MicBusy => "The microphone cannot be opened".into(),
            Problem::MicSilent => "We hear nothing from the microphone".into(),
            Problem::MicError(e) => format!("The microphone failed: {e}"),
            Problem::ToneFailed(e) => format!("The test tone could not play: {e}"),
            Problem::ToneNotHeard => "You did not hear the test tone".into(),
            Problem::SocketUnreachable { url, why } => match why {
                Some(why) => format!("Cannot reach the phone server at {url} ({why})"),
                None => format!("Cannot reach the phone server at {url}"),
            },
            Problem::Refused(RegFailure::Credentials) => {
                "The phone server refused the phone's password".into()
            }
            Problem::Refused(f) => format!("The phone server refused the phone: {f}"),
            Problem::NoCandidates { .. } => {
                "The browser found no network path for the call's audio".into()
            }
            Problem::ProbeFailed(e) => format!("The network check could not run: {e}"),
        }
    }

    /// What the agent can do about it.
    pub fn fix(&self) -> String {
        match self {
            Problem::MicDenied => "Click the icon at the left of the address bar (padlock or \
                 camera), set Microphone to Allow, then press Run again."
                .into(),
            Problem::MicMissing => {
                "Plug in your headset, or choose it under Microphone, then press Run again.".into()
            }
            Problem::MicBusy => "Close other programs that use the headset (another softphone, \
                 Teams, Zoom) or pick another microphone, then press Run again."
                .into(),
            Problem::MicSilent => "Check the mute switch on your headset and its volume in the \
                 system's sound settings, or pick another microphone, then speak."
                .into(),
            Problem::MicError(_) => "Pick another microphone and press Run again.".into(),
            Problem::ToneFailed(_) => "Pick another speaker and play the tone again.".into(),
            Problem::ToneNotHeard => "Turn the volume up, check the headset is plugged in, or \
                 pick another speaker, then play the tone again."
                .into(),
            Problem::SocketUnreachable { url, .. } => {
                let mut fix = String::from(
                    "Check your network or VPN connection; the phone keeps retrying by itself. \
                     If this stays red, tell support the address ",
                );
                fix.push_str(url);
                fix.push('.');
                if url.starts_with("ws:") && !is_loopback(url) {
                    fix.push_str(
                        " It is an unencrypted ws:// address, which browsers block on \
                         https pages: ask for its wss:// address.",
                    );
                }
                fix
            }
            Problem::Refused(f) => f.fix().into(),
            Problem::NoCandidates { servers } => {
                let mut fix = String::from(
                    "A VPN, a firewall or a browser extension may block WebRTC: allow UDP, turn \
                     off extensions that block WebRTC, then press Run again.",
                );
                if *servers == 0 {
                    fix.push_str(" No STUN or TURN server is configured: ask support for one.");
                }
                fix
            }
            Problem::ProbeFailed(_) => {
                "Reload the page; if it stays red, the browser may not support WebRTC.".into()
            }
        }
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or("");
    ["127.", "localhost", "[::1]"]
        .iter()
        .any(|h| host.starts_with(h))
}

/// The kind of an ICE candidate (RFC 8445 §5.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateKind {
    /// An address of this machine.
    Host,
    /// Our address as a STUN server sees it.
    ServerReflexive,
    /// Learnt from a peer's checks.
    PeerReflexive,
    /// An address on a TURN server.
    Relay,
}

/// The kind of a candidate line (`candidate:… typ host …`, with or without `a=`), if it is
/// one.
pub fn candidate_kind(candidate: &str) -> Option<CandidateKind> {
    let mut words = candidate.split_ascii_whitespace();
    words.find(|w| *w == "typ")?;
    match words.next()? {
        "host" => Some(CandidateKind::Host),
        "srflx" => Some(CandidateKind::ServerReflexive),
        "prflx" => Some(CandidateKind::PeerReflexive),
        "relay" => Some(CandidateKind::Relay),
        _ => None,
    }
}

/// Candidates found, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Candidates {
    /// Host candidates.
    pub host: u32,
    /// Server-reflexive candidates.
    pub srflx: u32,
    /// Peer-reflexive candidates.
    pub prflx: u32,
    /// Relay candidates.
    pub relay: u32,
}

impl Candidates {
    /// Counts one candidate line; false if it is not a candidate.
    pub fn add(&mut self, candidate: &str) -> bool {
        let Some(kind) = candidate_kind(candidate) else {
            return false;
        };
        *match kind {
            CandidateKind::Host => &mut self.host,
            CandidateKind::ServerReflexive => &mut self.srflx,
            CandidateKind::PeerReflexive => &mut self.prflx,
            CandidateKind::Relay => &mut self.relay,
        } += 1;
        true
    }

    /// All of them.
    pub fn total(&self) -> u32 {
        self.host + self.srflx + self.prflx + self.relay
    }
}

impl std::fmt::Display for Candidates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (n, what) in [
            (self.host, "host"),
            (self.srflx, "server-reflexive"),
            (self.prflx, "peer-reflexive"),
            (self.relay, "relay"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        write!(f, "{} found: {}", self.total(), parts.join(", "))
    }
}

/// The level (0 to 100) from which the microphone counts as heard: above a quiet room's
/// noise after noise suppression, well below speech.
pub const HEARD_LEVEL: u8 = 20;

/// How long the microphone may stay silent before the item turns red (it turns green as
/// soon as the level moves, even after that).
pub const SILENT_AFTER_MS: f64 = 8_000.0;

/// The meter's level (0 to 100) of 8-bit time-domain samples (128 is silence): the peak,
/// on a square-root scale so quiet speech still moves the bar.
pub fn level_of(samples: &[u8]) -> u8 {
    let peak = samples
        .iter()
        .map(|&s| u32::from(s.abs_diff(128)))
        .max()
        .unwrap_or(0);
    // sqrt(peak / 128) scaled to 0..=100, as sqrt(peak * 10_000 / 128).
    isqrt((peak * 10_000 / 128).min(10_000)) as u8
}

fn isqrt(n: u32) -> u32 {
    let mut x = 0u32;
    while (x + 1) * (x + 1) <= n {
        x += 1;
    }
    x
}

/// What the meter shows next: a rise at once, a fall by at most `step` per update, so a
/// syllable stays visible.
pub fn decay(shown: u8, level: u8, step: u8) -> u8 {
    level.max(shown.saturating_sub(step))
}

/// How a run of the check ended, kept in the phone's view for the desk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Not run to its end yet.
    #[default]
    NotRun,
    /// Every item was green.
    Passed,
    /// The agent chose "Continue anyway" with these items not green.
    ContinuedWith(Vec<CheckItem>),
}

/// One run of the check.
#[derive(Clone, Debug, PartialEq)]
pub struct Readiness {
    items: [ItemState; 4],
    /// When the microphone started listening (page ms), for the silence deadline.
    listening_since: Option<f64>,
    outcome: Option<CheckOutcome>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            items: [
                ItemState::Pending,
                ItemState::Pending,
                ItemState::Pending,
                ItemState::Pending,
            ],
            listening_since: None,
            outcome: None,
        }
    }
}

impl Readiness {
    /// The state of `item`.
    pub fn item(&self, item: CheckItem) -> &ItemState {
        &self.items[item.index()]
    }

    /// How the run ended, once it has.
    pub fn outcome(&self) -> Option<&CheckOutcome> {
        self.outcome.as_ref()
    }

    /// Whether every item is green.
    pub fn all_ok(&self) -> bool {
        self.items.iter().all(|s| matches!(s, ItemState::Ok(_)))
    }

    /// The items that are not green.
    pub fn not_ok(&self) -> Vec<CheckItem> {
        CheckItem::ALL
            .into_iter()
            .filter(|i| !matches!(self.item(*i), ItemState::Ok(_)))
            .collect()
    }

    fn set(&mut self, item: CheckItem, state: ItemState) {
        if self.outcome.is_some() {
            return;
        }
        self.items[item.index()] = state;
        if self.all_ok() {
            self.outcome = Some(CheckOutcome::Passed);
        }
    }

    /// The agent chose to go on with what is not green; ends the run.
    pub fn continue_anyway(&mut self) -> &CheckOutcome {
        let not_ok = self.not_ok();
        self.outcome.get_or_insert(if not_ok.is_empty() {
            CheckOutcome::Passed
        } else {
            CheckOutcome::ContinuedWith(not_ok)
        })
    }

    /// The microphone is being opened.
    pub fn microphone_opening(&mut self) {
        self.listening_since = None;
        self.set(
            CheckItem::Microphone,
            ItemState::Checking(Step::OpeningMicrophone),
        );
    }

    /// The microphone failed to open (the browser's error, `Name: message`).
    pub fn microphone_failed(&mut self, error: &str) {
        self.listening_since = None;
        self.set(
            CheckItem::Microphone,
            ItemState::Failed(Problem::from_microphone(error)),
        );
    }

    /// The microphone is open; `running` says whether the audio graph runs (a browser may
    /// hold it until a click).
    pub fn microphone_open(&mut self, running: bool, now_ms: f64) {
        if matches!(self.item(CheckItem::Microphone), ItemState::Ok(_)) {
            return;
        }
        if running {
            self.listening_since.get_or_insert(now_ms);
            if !matches!(
                self.item(CheckItem::Microphone),
                ItemState::Failed(Problem::MicSilent)
            ) {
                self.set(CheckItem::Microphone, ItemState::Checking(Step::Listening));
            }
        } else {
            self.listening_since = None;
            self.set(
                CheckItem::Microphone,
                ItemState::Checking(Step::WaitingForClick),
            );
        }
    }

    /// One level reading (0 to 100) of the running meter.
    pub fn level(&mut self, level: u8, now_ms: f64) {
        let listening = matches!(
            self.item(CheckItem::Microphone),
            ItemState::Checking(Step::Listening) | ItemState::Failed(Problem::MicSilent)
        );
        if !listening {
            return;
        }
        if level >= HEARD_LEVEL {
            self.set(CheckItem::Microphone, ItemState::Ok(Passed::Heard));
        } else if self
            .listening_since
            .is_some_and(|t| now_ms - t >= SILENT_AFTER_MS)
        {
            self.set(CheckItem::Microphone, ItemState::Failed(Problem::MicSilent));
        }
    }

    /// The test tone started playing.
    pub fn tone_playing(&mut self) {
        self.set(CheckItem::Speaker, ItemState::Checking(Step::PlayingTone));
    }

    /// The test tone played to its end: ask the agent.
    pub fn tone_played(&mut self) {
        if matches!(
            self.item(CheckItem::Speaker),
            ItemState::Checking(Step::PlayingTone)
        ) {
            self.set(CheckItem::Speaker, ItemState::Checking(Step::AskingHeard));
        }
    }

    /// The test tone could not play.
    pub fn tone_failed(&mut self, error: &str) {
        self.set(
            CheckItem::Speaker,
            ItemState::Failed(Problem::ToneFailed(error.to_string())),
        );
    }

    /// The agent's answer to "did you hear the tone?" (also accepted while it plays).
    pub fn heard(&mut self, yes: bool) {
        if !matches!(
            self.item(CheckItem::Speaker),
            ItemState::Checking(Step::AskingHeard | Step::PlayingTone)
        ) {
            return;
        }
        self.set(
            CheckItem::Speaker,
            if yes {
                ItemState::Ok(Passed::ToneHeard)
            } else {
                ItemState::Failed(Problem::ToneNotHeard)
            },
        );
    }

    /// The phone's registration changed (the phone's own state is the proof that its
    /// WebSocket works); `socket_error` is how the socket last closed.
    pub fn registration(&mut self, reg: &RegView, ws_url: &str, socket_error: Option<&str>) {
        let state = match reg {
            RegView::Off => ItemState::Pending,
            RegView::Registering => ItemState::Checking(Step::Registering),
            RegView::Registered => ItemState::Ok(Passed::Registered(ws_url.to_string())),
            RegView::Reconnecting { .. } => ItemState::Failed(Problem::SocketUnreachable {
                url: ws_url.to_string(),
                why: socket_error.map(str::to_string),
            }),
            RegView::Failed(f) => ItemState::Failed(Problem::Refused(f.clone())),
        };
        self.set(CheckItem::Socket, state);
    }

    /// ICE gathering started.
    pub fn gathering(&mut self) {
        self.set(CheckItem::Ice, ItemState::Checking(Step::Gathering));
    }

    /// ICE gathering ended (complete or at its time limit) with these candidates.
    pub fn gathered(&mut self, found: Candidates, servers: usize) {
        self.set(
            CheckItem::Ice,
            if found.total() > 0 {
                ItemState::Ok(Passed::Candidates(found, servers))
            } else {
                ItemState::Failed(Problem::NoCandidates { servers })
            },
        );
    }

    /// The ICE probe could not start.
    pub fn probe_failed(&mut self, error: &str) {
        self.set(
            CheckItem::Ice,
            ItemState::Failed(Problem::ProbeFailed(error.to_string())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn green_but_speaker() -> Readiness {
        let mut r = Readiness::default();
        r.microphone_opening();
        r.microphone_open(true, 0.0);
        r.level(80, 100.0);
        r.registration(&RegView::Registered, "wss://pbx/ws", None);
        r.gathering();
        let mut c = Candidates::default();
        c.add("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0");
        r.gathered(c, 0);
        r
    }

    #[test]
    fn the_run_passes_once_every_item_is_green_and_not_before() {
        let mut r = green_but_speaker();
        assert_eq!(r.outcome(), None);
        assert_eq!(r.not_ok(), vec![CheckItem::Speaker]);
        r.heard(true);
        assert_eq!(r.outcome(), None, "no answer counts before the tone played");
        r.tone_playing();
        r.tone_played();
        assert_eq!(
            r.item(CheckItem::Speaker),
            &ItemState::Checking(Step::AskingHeard)
        );
        r.heard(true);
        assert!(r.all_ok());
        assert_eq!(r.outcome(), Some(&CheckOutcome::Passed));
        // Finished: later events change nothing.
        r.registration(&RegView::Registering, "wss://pbx/ws", None);
        assert!(matches!(r.item(CheckItem::Socket), ItemState::Ok(_)));
    }

    #[test]
    fn continue_anyway_remembers_what_was_not_green() {
        let mut r = green_but_speaker();
        r.tone_playing();
        r.tone_played();
        r.heard(false);
        assert_eq!(
            r.item(CheckItem::Speaker),
            &ItemState::Failed(Problem::ToneNotHeard)
        );
        assert_eq!(
            r.continue_anyway(),
            &CheckOutcome::ContinuedWith(vec![CheckItem::Speaker])
        );
        // Playing again after the end does not reopen the run.
        r.tone_playing();
        assert_eq!(
            r.item(CheckItem::Speaker),
            &ItemState::Failed(Problem::ToneNotHeard)
        );
    }

    #[test]
    fn the_microphone_is_heard_when_the_level_moves_and_red_when_silent() {
        let mut r = Readiness::default();
        r.microphone_opening();
        r.microphone_open(false, 0.0);
        assert_eq!(
            r.item(CheckItem::Microphone),
            &ItemState::Checking(Step::WaitingForClick)
        );
        r.level(90, 50.0);
        assert!(
            matches!(r.item(CheckItem::Microphone), ItemState::Checking(_)),
            "a held audio graph reads nothing"
        );
        r.microphone_open(true, 1_000.0);
        r.level(HEARD_LEVEL - 1, 1_100.0);
        r.level(3, 1_000.0 + SILENT_AFTER_MS - 1.0);
        assert_eq!(
            r.item(CheckItem::Microphone),
            &ItemState::Checking(Step::Listening)
        );
        r.level(3, 1_000.0 + SILENT_AFTER_MS);
        assert_eq!(
            r.item(CheckItem::Microphone),
            &ItemState::Failed(Problem::MicSilent)
        );
        assert!(r
            .item(CheckItem::Microphone)
            .text(CheckItem::Microphone)
            .contains("nothing"));
        r.level(HEARD_LEVEL, 20_000.0);
        assert_eq!(r.item(CheckItem::Microphone), &ItemState::Ok(Passed::Heard));
        assert_eq!(
            r.item(CheckItem::Microphone).text(CheckItem::Microphone),
            "We hear you"
        );
    }

    #[test]
    fn microphone_errors_are_classified_by_their_dom_exception() {
        let p = |e: &str| Problem::from_microphone(e);
        assert_eq!(
            p("microphone: NotAllowedError: Permission denied"),
            Problem::MicDenied
        );
        assert!(p("microphone: NotAllowedError: x")
            .fix()
            .contains("address bar"));
        assert_eq!(
            p("microphone: NotFoundError: Requested device not found"),
            Problem::MicMissing
        );
        assert_eq!(p("microphone: OverconstrainedError: "), Problem::MicMissing);
        assert_eq!(
            p("microphone: NotReadableError: Could not start audio source"),
            Problem::MicBusy
        );
        assert!(matches!(
            p("microphone: TypeError: x"),
            Problem::MicError(_)
        ));
    }

    #[test]
    fn the_socket_item_follows_registration_with_the_url_and_a_hint() {
        let mut r = Readiness::default();
        let url = "ws://10.0.0.5:8088/ws";
        r.registration(&RegView::Registering, url, None);
        assert_eq!(
            r.item(CheckItem::Socket),
            &ItemState::Checking(Step::Registering)
        );
        let lost = RegView::Reconnecting {
            attempt: 2,
            at_ms: 5.0,
        };
        r.registration(&lost, url, Some("WebSocket closed (1006 )"));
        let ItemState::Failed(problem) = r.item(CheckItem::Socket).clone() else {
            panic!("red while the socket is down")
        };
        assert!(problem.why().contains(url) && problem.why().contains("1006"));
        assert!(problem.fix().contains(url), "{}", problem.fix());
        assert!(
            problem.fix().contains("wss://"),
            "a ws:// address off loopback"
        );
        let local = Problem::SocketUnreachable {
            url: "ws://127.0.0.1:8080".into(),
            why: None,
        };
        assert!(!local.fix().contains("wss://"));
        r.registration(&RegView::Failed(RegFailure::Credentials), url, None);
        assert!(matches!(
            r.item(CheckItem::Socket),
            ItemState::Failed(Problem::Refused(RegFailure::Credentials))
        ));
        r.registration(&RegView::Registered, url, None);
        assert!(matches!(r.item(CheckItem::Socket), ItemState::Ok(_)));
    }

    #[test]
    fn candidates_are_classified_and_none_is_red() {
        assert_eq!(
            candidate_kind("a=candidate:1 1 udp 2122260223 192.168.1.5 50000 typ host"),
            Some(CandidateKind::Host)
        );
        assert_eq!(
            candidate_kind(
                "candidate:2 1 udp 1686052607 203.0.113.7 40000 typ srflx raddr 0.0.0.0 rport 0"
            ),
            Some(CandidateKind::ServerReflexive)
        );
        assert_eq!(
            candidate_kind("candidate:3 1 udp 41885439 198.51.100.2 3478 typ relay raddr x"),
            Some(CandidateKind::Relay)
        );
        assert_eq!(
            candidate_kind("candidate:4 1 tcp 1 x.local 9 typ prflx tcptype active"),
            Some(CandidateKind::PeerReflexive)
        );
        assert_eq!(candidate_kind("candidate:5 1 udp 1 10.0.0.1 9 typ"), None);
        assert_eq!(candidate_kind(""), None);

        let mut c = Candidates::default();
        assert!(c.add("candidate:1 1 udp 1 127.0.0.1 1 typ host"));
        assert!(c.add("candidate:1 1 udp 1 1.2.3.4 1 typ srflx raddr 0.0.0.0"));
        assert!(!c.add("end-of-candidates"));
        assert_eq!(c.total(), 2);
        assert_eq!(c.to_string(), "2 found: 1 host, 1 server-reflexive");

        let mut r = Readiness::default();
        assert_eq!(
            r.item(CheckItem::Ice).text(CheckItem::Ice),
            "Waiting for the microphone"
        );
        r.gathering();
        r.gathered(Candidates::default(), 0);
        let ItemState::Failed(p) = r.item(CheckItem::Ice).clone() else {
            panic!("no candidate is red")
        };
        assert!(p.fix().contains("STUN or TURN"));
        let host_only = Candidates {
            host: 1,
            ..Candidates::default()
        };
        r = Readiness::default();
        r.gathered(host_only, 2);
        assert!(r
            .item(CheckItem::Ice)
            .text(CheckItem::Ice)
            .contains("no answer from the STUN/TURN servers"));
    }

    #[test]
    fn the_level_meter_is_integer_peak_on_a_square_root_scale() {
        assert_eq!(level_of(&[]), 0);
        assert_eq!(level_of(&[128; 64]), 0, "silence");
        assert_eq!(level_of(&[128, 0, 255]), 100, "full scale");
        // A quiet peak (5 of 128) still lights a fifth of the bar.
        assert_eq!(level_of(&[128, 133, 123]), 19);
        assert!(level_of(&[128, 134]) >= HEARD_LEVEL);
        assert!(level_of(&[128, 130]) < HEARD_LEVEL, "room noise");
        assert_eq!(decay(60, 10, 8), 52);
        assert_eq!(decay(60, 90, 8), 90);
        assert_eq!(decay(3, 0, 8), 0);
    }
}
