//! What the phone panel shows, derived from confirmed protocol state only (the SIP core's
//! events), never from what was requested.

use dialdeck_sip::call::{CallEvent, EndReason};
use dialdeck_sip::register::{RegistrationFailure, RegistrationState};

use super::quality::{OneWay, Quality, Summary};
use super::readiness::CheckOutcome;

/// The registration as the agent sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RegView {
    /// Not started (no phone configured yet).
    #[default]
    Off,
    /// Connecting or waiting for the registrar.
    Registering,
    /// Registered.
    Registered,
    /// The WebSocket is down; the next attempt is at `at_ms` (`performance.now()`).
    Reconnecting {
        /// Failed attempts in a row.
        attempt: u32,
        /// When the next attempt starts.
        at_ms: f64,
    },
    /// Gave up, with the reason.
    Failed(RegFailure),
}

/// Why the phone gave up registering; each has a sentence and what the agent can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegFailure {
    /// The phone server refused the phone's credentials.
    Credentials,
    /// The server's challenge asks for something this phone cannot answer.
    UnsupportedChallenge(String),
    /// The registrar answered with a final failure.
    Rejected {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// No final answer from the registrar.
    Timeout,
    /// The phone account from VICIdial cannot be used (its address does not parse).
    Account(String),
}

impl RegFailure {
    /// What went wrong, in words.
    pub fn why(&self) -> String {
        match self {
            RegFailure::Credentials => "the phone server refused the phone's password".into(),
            RegFailure::UnsupportedChallenge(c) => format!("unsupported challenge ({c})"),
            RegFailure::Rejected { code, reason } => format!("{code} {reason}"),
            RegFailure::Timeout => "no answer from the phone server".into(),
            RegFailure::Account(e) => format!("unusable phone account ({e})"),
        }
    }

    /// What the agent can do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            RegFailure::Credentials | RegFailure::Account(_) => {
                "Ask your supervisor to check your phone's account in VICIdial, then press Retry."
            }
            RegFailure::UnsupportedChallenge(_) => {
                "The phone server asks for a login this phone cannot do: tell support."
            }
            RegFailure::Rejected { code, .. } if *code >= 500 => {
                "The phone server has a problem (not your computer): press Retry in a minute,                  and tell support if it stays."
            }
            RegFailure::Rejected { .. } => {
                "The phone server refuses this phone: tell your supervisor the code shown."
            }
            RegFailure::Timeout => {
                "Check your network or VPN connection, then press Retry; tell support if it stays."
            }
        }
    }
}

impl std::fmt::Display for RegFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why())
    }
}

/// The call as the agent sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum CallView {
    /// No call.
    #[default]
    Idle,
    /// Placing a call to this target.
    Dialing(String),
    /// The far end is alerting.
    Ringing,
    /// A call is coming in from this party.
    Incoming(String),
    /// Talking.
    Established,
    /// The WebSocket dropped during the call; recovering.
    Reconnecting,
    /// The last call ended, with the reason for the agent.
    Ended(String),
}

impl CallView {
    /// Whether a call exists (the dial box is disabled meanwhile).
    pub fn active(&self) -> bool {
        !matches!(self, CallView::Idle | CallView::Ended(_))
    }
}

/// Everything the phone panel renders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhoneView {
    /// Registration.
    pub registration: RegView,
    /// The call.
    pub call: CallView,
    /// When the current call state's clock started (established, or reconnecting), ms.
    pub since_ms: Option<f64>,
    /// Updated about once a second while a call is up, for clocks.
    pub now_ms: f64,
    /// Microphone muted.
    pub muted: bool,
    /// On hold (confirmed by the 200 to our re-INVITE).
    pub held: bool,
    /// The call's audio quality.
    pub quality: Option<Quality>,
    /// One-way-audio alarm.
    pub alarm: Option<OneWay>,
    /// The browser blocked remote audio playback (autoplay rules).
    pub audio_blocked: bool,
    /// A passing problem worth showing (hold failed, microphone denied, ...).
    pub notice: Option<String>,
    /// Quality summary of the last call.
    pub summary: Option<Summary>,
    /// DTMF digits sent in this call, and how (`rtp` or `info`).
    pub dtmf: String,
    /// Microphones: (deviceId, label).
    pub inputs: Vec<(String, String)>,
    /// Speakers: (deviceId, label).
    pub outputs: Vec<(String, String)>,
    /// The chosen microphone.
    pub input: Option<String>,
    /// The chosen speaker.
    pub output: Option<String>,
    /// Why the phone's WebSocket last closed (or could not open), until it opens again.
    pub socket_error: Option<String>,
    /// How the readiness check ended, for the desk's warning.
    pub check: CheckOutcome,
}

/// The sentence for an end reason.
pub fn end_reason(reason: &EndReason) -> String {
    match reason {
        EndReason::Busy => "Busy: the other side is on another call (486 Busy Here)".into(),
        EndReason::Cancelled => "Cancelled before it was answered".into(),
        EndReason::Rejected { code, reason } => format!("Rejected: {code} {reason}"),
        EndReason::RemoteHangup => "The other side hung up".into(),
        EndReason::LocalHangup => "You hung up".into(),
        EndReason::TransportLost => {
            "Connection to the phone server lost; the call could not be recovered".into()
        }
        EndReason::Timeout => "No answer from the phone server (timeout)".into(),
        EndReason::SessionExpired => "The session expired (no refresh)".into(),
        EndReason::NoIceCandidates => {
            "No ICE candidates: the browser found no network path for audio".into()
        }
        EndReason::AuthenticationFailed => {
            "The phone server refused the phone's credentials".into()
        }
        EndReason::InvalidTarget(t) => format!("Cannot dial {t:?}"),
    }
}

fn failure(reason: &RegistrationFailure) -> RegFailure {
    match reason {
        RegistrationFailure::AuthenticationFailed => RegFailure::Credentials,
        RegistrationFailure::UnsupportedChallenge(c) => RegFailure::UnsupportedChallenge(c.clone()),
        RegistrationFailure::Rejected { code, reason } => RegFailure::Rejected {
            code: *code,
            reason: reason.clone(),
        },
        RegistrationFailure::Timeout => RegFailure::Timeout,
    }
}

impl PhoneView {
    /// Applies a registration change; `to_ms` converts the core's instants to page time.
    pub fn on_registration(&mut self, state: &RegistrationState, to_ms: impl Fn(u64) -> f64) {
        self.registration = match state {
            RegistrationState::Unregistered => RegView::Off,
            RegistrationState::Registering => RegView::Registering,
            RegistrationState::Registered { .. } => RegView::Registered,
            RegistrationState::Reconnecting { attempt, at } => RegView::Reconnecting {
                attempt: *attempt,
                at_ms: to_ms(at.as_millis()),
            },
            RegistrationState::Failed { reason } => RegView::Failed(failure(reason)),
        };
    }

    /// Applies a call event at page time `now_ms`.
    pub fn on_call(&mut self, event: &CallEvent, now_ms: f64) {
        match event {
            CallEvent::Dialing { target } => {
                self.reset_call();
                self.call = CallView::Dialing(target.clone());
            }
            CallEvent::Incoming { from, .. } => {
                self.reset_call();
                self.call = CallView::Incoming(from.clone());
            }
            CallEvent::Ringing | CallEvent::EarlyMedia => {
                if matches!(self.call, CallView::Dialing(_)) {
                    self.call = CallView::Ringing;
                }
            }
            CallEvent::Established | CallEvent::Recovered => {
                if self.call != CallView::Reconnecting || matches!(event, CallEvent::Recovered) {
                    if !matches!(self.call, CallView::Established | CallView::Reconnecting) {
                        self.since_ms = Some(now_ms);
                    }
                    self.call = CallView::Established;
                    if matches!(event, CallEvent::Recovered) {
                        self.notice = Some("Reconnected: the call was recovered".into());
                    }
                }
            }
            CallEvent::Held => self.held = true,
            CallEvent::Resumed => self.held = false,
            CallEvent::HoldFailed { code, reason } => {
                self.notice = Some(format!("Hold failed: {code} {reason}"));
            }
            CallEvent::DtmfSent { .. } => {}
            CallEvent::DtmfFailed { code } => {
                self.notice = Some(format!("DTMF failed ({code})"));
            }
            CallEvent::Reconnecting => {
                self.call = CallView::Reconnecting;
                self.since_ms = Some(now_ms);
            }
            CallEvent::Ended { reason } => {
                self.call = CallView::Ended(end_reason(reason));
                self.since_ms = None;
                self.held = false;
                self.muted = false;
                self.alarm = None;
            }
        }
    }

    fn reset_call(&mut self) {
        self.since_ms = None;
        self.held = false;
        self.muted = false;
        self.quality = None;
        self.alarm = None;
        self.audio_blocked = false;
        self.notice = None;
        self.dtmf.clear();
    }
}

/// `mm:ss` for a clock.
pub fn clock(ms: f64) -> String {
    // Every second of a call: integer digits, no `format!`.
    let s = (ms.max(0.0) / 1000.0) as u64;
    let mut text = String::with_capacity(8);
    dialdeck_web::text::push_two(&mut text, s / 60);
    text.push(':');
    dialdeck_web::text::push_two(&mut text, s % 60);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_states_follow_confirmed_events() {
        let mut v = PhoneView::default();
        v.on_call(
            &CallEvent::Dialing {
                target: "sip:1002@x".into(),
            },
            0.0,
        );
        assert!(v.call.active());
        v.on_call(&CallEvent::Ringing, 10.0);
        assert_eq!(v.call, CallView::Ringing);
        v.on_call(&CallEvent::Established, 20.0);
        assert_eq!(
            (v.call.clone(), v.since_ms),
            (CallView::Established, Some(20.0))
        );
        v.on_call(&CallEvent::Reconnecting, 30.0);
        assert_eq!(v.call, CallView::Reconnecting);
        v.on_call(&CallEvent::Recovered, 40.0);
        assert_eq!(v.call, CallView::Established);
        v.on_call(
            &CallEvent::Ended {
                reason: EndReason::Busy,
            },
            50.0,
        );
        assert!(matches!(&v.call, CallView::Ended(r) if r.contains("486")));
        assert!(!v.call.active());
    }

    #[test]
    fn a_failed_registration_keeps_its_reason_and_what_to_do() {
        let mut v = PhoneView::default();
        let failed = |reason| RegistrationState::Failed { reason };
        v.on_registration(&failed(RegistrationFailure::AuthenticationFailed), |ms| {
            ms as f64
        });
        assert_eq!(v.registration, RegView::Failed(RegFailure::Credentials));
        let RegView::Failed(f) = &v.registration else {
            unreachable!()
        };
        assert_eq!(
            f.to_string(),
            "the phone server refused the phone's password"
        );
        assert!(f.fix().contains("supervisor") && f.fix().contains("Retry"));
        let busy = RegFailure::Rejected {
            code: 503,
            reason: "Service Unavailable".into(),
        };
        assert_eq!(busy.why(), "503 Service Unavailable");
        assert!(busy.fix().contains("not your computer"));
        let forbidden = RegFailure::Rejected {
            code: 403,
            reason: "Forbidden".into(),
        };
        assert!(forbidden.fix().contains("code shown"));
        v.on_registration(&failed(RegistrationFailure::Timeout), |ms| ms as f64);
        assert!(matches!(
            &v.registration,
            RegView::Failed(RegFailure::Timeout)
        ));
        v.on_registration(
            &RegistrationState::Reconnecting {
                attempt: 2,
                at: dialdeck_sip::timer::Instant::from_millis(9_000),
            },
            |ms| ms as f64 + 100.0,
        );
        assert_eq!(
            v.registration,
            RegView::Reconnecting {
                attempt: 2,
                at_ms: 9_100.0
            }
        );
    }

    #[test]
    fn no_candidates_has_a_clear_sentence() {
        assert!(end_reason(&EndReason::NoIceCandidates).starts_with("No ICE candidates"));
        assert!(end_reason(&EndReason::Cancelled).contains("Cancelled"));
    }

    #[test]
    fn clock_formats_minutes_and_seconds() {
        assert_eq!(clock(83_400.0), "01:23");
        assert_eq!(clock(-5.0), "00:00");
        assert_eq!(
            clock(6_005_000.0),
            "100:05",
            "minutes keep counting past an hour"
        );
    }
}
