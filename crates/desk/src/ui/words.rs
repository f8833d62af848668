//! The desk's state in words: what VICIdial says the agent is doing, the call banner, each
//! sync target's state and the clocks. Pure functions of the contract's types (tested
//! natively); the components only place them.

use dialdeck_shared::{AgentState, AgentStatus, ScreenLink, SubStatus, TargetState, TargetStatus};
pub use dialdeck_web::text::{push_number, wait_text};

/// What the agent is doing, as the header shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// VICIdial has no session for the agent (the screen is being opened).
    NoSession,
    /// VICIdial's screen stopped polling (being rejoined).
    ScreenLost,
    /// Paused without a pause code.
    Paused,
    /// Paused with a pause code.
    OnBreak,
    /// Waiting for VICIdial to send a call.
    Ready,
    /// VICIdial is sending a call to the agent.
    Incoming,
    /// A call placed and not answered yet.
    Dialling,
    /// Talking to the customer.
    InCall,
    /// The customer hung up; the agent's side of the call is still up.
    CustomerGone,
    /// The call ended and waits for its disposition.
    WrapUp,
}

impl Phase {
    /// The phase of `s`.
    pub fn of(s: &AgentState) -> Phase {
        match s.screen {
            ScreenLink::NotLoggedIn => return Phase::NoSession,
            ScreenLink::NotPolling { .. } => return Phase::ScreenLost,
            ScreenLink::Connected => {}
        }
        if s.wrapup.is_some() {
            return Phase::WrapUp;
        }
        match (s.status, s.sub_status) {
            (Some(AgentStatus::InCall), SubStatus::Dial | SubStatus::Ring) => Phase::Dialling,
            (Some(AgentStatus::InCall), SubStatus::Dead) => Phase::CustomerGone,
            (Some(AgentStatus::InCall), _) => Phase::InCall,
            (Some(AgentStatus::Queue | AgentStatus::MQueue), _) => Phase::Incoming,
            (Some(AgentStatus::Paused), SubStatus::Dispo) => Phase::WrapUp,
            (Some(AgentStatus::Paused), _) if !s.pause_code.is_empty() => Phase::OnBreak,
            (Some(AgentStatus::Paused), _) => Phase::Paused,
            (Some(AgentStatus::Ready | AgentStatus::Closer), _) => Phase::Ready,
            (None, _) => Phase::NoSession,
        }
    }

    /// The words for the header (`OnBreak` adds the pause code's name, see [`state_words`]).
    pub fn words(self) -> &'static str {
        match self {
            Phase::NoSession => "Connecting VICIdial",
            Phase::ScreenLost => "Reconnecting VICIdial",
            Phase::Paused => "Paused",
            Phase::OnBreak => "On break",
            Phase::Ready => "Ready",
            Phase::Incoming => "Call coming in",
            Phase::Dialling => "Dialling",
            Phase::InCall => "In call",
            Phase::CustomerGone => "Customer hung up",
            Phase::WrapUp => "Wrap-up",
        }
    }

    /// The CSS class that colours it.
    pub fn tone(self) -> &'static str {
        match self {
            Phase::NoSession | Phase::ScreenLost => "tone-warn",
            Phase::Paused | Phase::OnBreak => "tone-idle",
            Phase::Ready | Phase::Incoming => "tone-ready",
            Phase::Dialling | Phase::InCall => "tone-live",
            Phase::CustomerGone | Phase::WrapUp => "tone-attention",
        }
    }

    /// A customer call exists on VICIdial's side (Hang up means something).
    pub fn has_call(self) -> bool {
        matches!(
            self,
            Phase::Dialling | Phase::InCall | Phase::CustomerGone | Phase::Incoming
        )
    }
}

/// The header's words for `s`: "On break: Lunch" names the pause code by the campaign's
/// name for it (`pause_name`), or by its code when the campaign does not list it.
pub fn state_words(s: &AgentState, pause_name: impl Fn(&str) -> Option<String>) -> String {
    let phase = Phase::of(s);
    if phase == Phase::OnBreak {
        let name = pause_name(&s.pause_code).unwrap_or_else(|| s.pause_code.clone());
        let mut w = String::from("On break: ");
        w.push_str(&name);
        w
    } else {
        phase.words().to_string()
    }
}

/// The call banner's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    /// The phase it shows.
    pub phase: Phase,
    /// "Dialling", "In call", "Customer hung up — hang up to finish", ...
    pub title: &'static str,
    /// The number, for people (`+1 312-555-1001`), when VICIdial has it.
    pub number: String,
    /// The call clock (`02:13`), counting from the answer (from the dial while dialling).
    pub clock: Option<String>,
}

/// The call banner for `s` at server time `now` (Unix seconds), or `None` without a call.
pub fn call_banner(s: &AgentState, now: i64) -> Option<Banner> {
    let phase = Phase::of(s);
    let title = match phase {
        Phase::Dialling => "Dialling",
        Phase::InCall => "In call",
        Phase::CustomerGone => "Customer hung up — hang up to finish",
        Phase::Incoming => "Call coming in",
        Phase::WrapUp => "Call ended — save its disposition",
        _ => return None,
    };
    let call = s.call.as_ref();
    let number = call
        .map(|c| match c.phone.as_str() {
            "" => phone_text(&c.phone_code, &c.phone_number),
            phone => phone.to_string(),
        })
        .unwrap_or_default();
    let since = match phase {
        Phase::Dialling => call.and_then(|c| c.dialled_at),
        Phase::InCall | Phase::CustomerGone => call.and_then(|c| c.answered_at),
        _ => None,
    };
    Some(Banner {
        phase,
        title,
        number,
        clock: since.map(|t| clock_text((now - t).max(0) as u64)),
    })
}

/// `+<code> <number>` for people; the number alone without a code.
pub fn phone_text(code: &str, number: &str) -> String {
    let mut s = String::with_capacity(code.len() + number.len() + 2);
    if !code.is_empty() {
        s.push('+');
        s.push_str(code);
        s.push(' ');
    }
    s.push_str(number);
    s
}

/// `mm:ss`, or `h:mm:ss` from an hour on, with integer arithmetic (it ticks every second).
pub fn clock_text(secs: u64) -> String {
    let mut s = String::with_capacity(8);
    let hours = secs / 3600;
    if hours > 0 {
        push_number(&mut s, hours);
        s.push(':');
    }
    push_two(&mut s, (secs / 60) % 60);
    s.push(':');
    push_two(&mut s, secs % 60);
    s
}

fn push_two(s: &mut String, n: u64) {
    s.push(char::from(b'0' + (n / 10 % 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
}

/// A sync target's name for people.
pub fn target_name(target: &str) -> &str {
    match target {
        "vicidial" => "VICIdial",
        "ghl" => "GHL",
        other => other,
    }
}

/// One target's state in words at server time `now`: "Saved in VICIdial",
/// "Saving to GHL…", "GHL: retrying in 20 s", "GHL: failed, an admin will look at it".
pub fn target_words(t: &TargetStatus, now: i64) -> String {
    let name = target_name(&t.target);
    let mut s = String::new();
    match t.state {
        TargetState::Done => {
            s.push_str("Saved in ");
            s.push_str(name);
        }
        TargetState::Pending | TargetState::Running => {
            s.push_str("Saving to ");
            s.push_str(name);
            s.push('…');
        }
        TargetState::Retrying => {
            s.push_str(name);
            match t.next_attempt_at {
                Some(at) if at > now => {
                    s.push_str(": retrying in ");
                    s.push_str(&wait_text(now, at));
                }
                _ => s.push_str(": retrying now"),
            }
        }
        TargetState::Failed => {
            s.push_str(name);
            s.push_str(": failed, an admin will look at it");
        }
    }
    s
}

/// The CSS class for a target's state.
pub fn target_tone(state: TargetState) -> &'static str {
    match state {
        TargetState::Done => "sync-done",
        TargetState::Pending | TargetState::Running => "sync-pending",
        TargetState::Retrying => "sync-retrying",
        TargetState::Failed => "sync-failed",
    }
}

/// `HH:MM` of a local minute.
pub fn hhmm(hour: u32, minute: u32) -> String {
    let mut s = String::with_capacity(5);
    push_two(&mut s, hour as u64);
    s.push(':');
    push_two(&mut s, minute as u64);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialdeck_shared::{LiveCall, WrapupInfo};

    fn connected() -> AgentState {
        AgentState {
            screen: ScreenLink::Connected,
            status: Some(AgentStatus::Paused),
            sub_status: SubStatus::None,
            lead_id: 0,
            conf_exten: "8600051".into(),
            phone_in_session: true,
            call: None,
            pause_code: String::new(),
            wrapup: None,
        }
    }

    fn call(dialled: i64, answered: Option<i64>) -> Option<LiveCall> {
        Some(LiveCall {
            call_id: "M1".into(),
            phone_code: "1".into(),
            phone_number: "3125551001".into(),
            phone: String::new(),
            dialled_at: Some(dialled),
            answered_at: answered,
        })
    }

    #[test]
    fn vicidials_state_reads_as_the_agent_says_it() {
        let names = |code: &str| (code == "LUNCH").then(|| "Lunch break".to_string());
        let mut s = connected();
        assert_eq!(state_words(&s, names), "Paused");
        s.pause_code = "LUNCH".into();
        assert_eq!(state_words(&s, names), "On break: Lunch break");
        s.pause_code = "XYZ".into();
        assert_eq!(
            state_words(&s, names),
            "On break: XYZ",
            "unknown codes by code"
        );
        s.pause_code.clear();
        s.status = Some(AgentStatus::Ready);
        assert_eq!(state_words(&s, names), "Ready");
        s.status = Some(AgentStatus::InCall);
        s.sub_status = SubStatus::Dial;
        assert_eq!(state_words(&s, names), "Dialling");
        s.sub_status = SubStatus::None;
        assert_eq!(state_words(&s, names), "In call");
        s.sub_status = SubStatus::Dead;
        assert_eq!(state_words(&s, names), "Customer hung up");
        s.status = Some(AgentStatus::Paused);
        s.sub_status = SubStatus::Dispo;
        assert_eq!(state_words(&s, names), "Wrap-up");
        s.sub_status = SubStatus::None;
        s.wrapup = Some(WrapupInfo {
            lead_id: 1,
            call_id: "M1".into(),
            ended_at: 0,
        });
        assert_eq!(Phase::of(&s), Phase::WrapUp);
        s.screen = ScreenLink::NotPolling { silent_secs: 12 };
        assert_eq!(state_words(&s, names), "Reconnecting VICIdial");
        s.screen = ScreenLink::NotLoggedIn;
        assert_eq!(Phase::of(&s), Phase::NoSession);
    }

    #[test]
    fn the_banner_counts_from_vicidials_answer() {
        let mut s = connected();
        assert_eq!(call_banner(&s, 1_000), None, "no call, no banner");
        s.status = Some(AgentStatus::InCall);
        s.sub_status = SubStatus::Dial;
        s.call = call(1_000, None);
        let b = call_banner(&s, 1_007).unwrap();
        assert_eq!(
            (b.title, b.number.as_str(), b.clock.as_deref()),
            ("Dialling", "+1 3125551001", Some("00:07"))
        );
        // The server's number for people wins over the digits.
        if let Some(c) = s.call.as_mut() {
            c.phone = "+1 312-555-1001".into();
        }
        assert_eq!(call_banner(&s, 1_007).unwrap().number, "+1 312-555-1001");
        s.sub_status = SubStatus::None;
        s.call = call(1_000, Some(1_010));
        let b = call_banner(&s, 1_010 + 133).unwrap();
        assert_eq!((b.title, b.clock.as_deref()), ("In call", Some("02:13")));
        // A browser clock behind the server's never shows a negative time.
        assert_eq!(
            call_banner(&s, 900).unwrap().clock.as_deref(),
            Some("00:00")
        );
        s.sub_status = SubStatus::Dead;
        assert_eq!(
            call_banner(&s, 1_200).unwrap().title,
            "Customer hung up — hang up to finish"
        );
    }

    #[test]
    fn clocks_use_integer_arithmetic() {
        assert_eq!(clock_text(0), "00:00");
        assert_eq!(clock_text(133), "02:13");
        assert_eq!(clock_text(3_600 + 62), "1:01:02");
        assert_eq!(clock_text(36_000 * 3 + 59), "30:00:59");
        assert_eq!(hhmm(9, 5), "09:05");
        assert_eq!(wait_text(0, 20), "20 s");
        assert_eq!(wait_text(0, 150), "3 min");
        assert_eq!(wait_text(0, 4 * 3600), "4 h");
        assert_eq!(wait_text(50, 20), "0 s");
    }

    #[test]
    fn sync_states_are_sentences_never_debug_text() {
        let t = |target: &str, state, next| TargetStatus {
            target: target.into(),
            state,
            attempts: 2,
            last_error: Some("HTTP 502 from GHL".into()),
            next_attempt_at: next,
        };
        assert_eq!(
            target_words(&t("vicidial", TargetState::Done, None), 0),
            "Saved in VICIdial"
        );
        assert_eq!(
            target_words(&t("ghl", TargetState::Pending, None), 0),
            "Saving to GHL…"
        );
        assert_eq!(
            target_words(&t("ghl", TargetState::Running, None), 0),
            "Saving to GHL…"
        );
        assert_eq!(
            target_words(&t("ghl", TargetState::Retrying, Some(120)), 100),
            "GHL: retrying in 20 s"
        );
        assert_eq!(
            target_words(&t("ghl", TargetState::Retrying, Some(90)), 100),
            "GHL: retrying now"
        );
        assert_eq!(
            target_words(&t("ghl", TargetState::Failed, None), 0),
            "GHL: failed, an admin will look at it"
        );
    }
}
