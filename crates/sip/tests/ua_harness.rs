//! Two user agents and a scripted Asterisk (registrar + B2BUA) in virtual time: register
//! through 401, call through 401/407, talk for 30 minutes with session refreshes, hold with
//! a 491 glare, DTMF, hang up; transport drops in the middle of an INVITE and of a call.

mod harness;

use dialdeck_sip::call::{CallEvent, EndReason};
use dialdeck_sip::register::RegistrationState;
use dialdeck_sip::timer::{Duration, Instant};
use dialdeck_sip::ua::{Command, Event, Input, MediaAction, Output};
use harness::asterisk::Asterisk;
use harness::*;

/// The media layer of one phone, as the shell would run it: offers and answers at once.
#[derive(Default)]
struct Media {
    version: u32,
    applied: Vec<String>,
    rollbacks: u32,
    closed: u32,
    ice_restarts: u32,
}

struct Side {
    name: &'static str,
    phone: Phone,
    media: Media,
    /// Whether the network lets this phone's WebSocket connect.
    link_up: bool,
    connected: bool,
    events: Vec<Event>,
}

struct Net {
    now: Instant,
    sides: [Side; 2],
    ast: Asterisk,
}

const ALICE: usize = 0;
const BOB: usize = 1;

impl Net {
    fn new() -> Net {
        let side = |name: &'static str, seed| Side {
            name,
            phone: Phone::new(name, seed),
            media: Media::default(),
            link_up: true,
            connected: false,
            events: Vec::new(),
        };
        Net {
            now: Instant::from_millis(1_000),
            sides: [side("alice", 100), side("bob", 200)],
            ast: Asterisk::new(),
        }
    }

    /// Moves frames, media results and transport events until nothing changes.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for i in 0..2 {
                let side = &mut self.sides[i];
                side.phone.now = self.now;
                let outs: Vec<Output> = std::mem::take(&mut side.phone.out);
                for o in outs {
                    moved = true;
                    match o {
                        Output::Send(frame) => {
                            if side.connected {
                                self.ast.recv(self.now, side.name, &frame);
                            }
                        }
                        Output::Connect => {
                            if side.link_up {
                                side.connected = true;
                                side.phone.input(Input::TransportConnected);
                            } else {
                                side.phone.input(Input::TransportClosed);
                            }
                        }
                        Output::Disconnect => {
                            side.connected = false;
                            self.ast.connection_lost(side.name);
                        }
                        Output::Media(m) => match m {
                            MediaAction::CreateOffer { ice_restart, hold } => {
                                side.media.version += 1;
                                side.media.ice_restarts += u32::from(ice_restart);
                                let dir = if hold { "sendonly" } else { "sendrecv" };
                                side.phone
                                    .sdp_ready(&sdp(side.name, side.media.version, dir));
                            }
                            MediaAction::CreateAnswer { .. } => {
                                side.media.version += 1;
                                side.phone.sdp_ready(&sdp(
                                    side.name,
                                    side.media.version,
                                    "sendrecv",
                                ));
                            }
                            MediaAction::ApplyRemoteAnswer { sdp } => side.media.applied.push(sdp),
                            MediaAction::RollbackOffer => side.media.rollbacks += 1,
                            MediaAction::CloseMedia => side.media.closed += 1,
                        },
                        Output::Event(e) => side.events.push(e),
                        Output::Timeout(_) => {}
                    }
                }
            }
            for (user, frame) in std::mem::take(&mut self.ast.out) {
                moved = true;
                let side = self.sides.iter_mut().find(|s| s.name == user).unwrap();
                if side.connected {
                    side.phone.now = self.now;
                    side.phone.input(Input::Frame(frame));
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the network never settled");
    }

    /// Runs everyone's timers in order up to `now + d`.
    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            self.settle();
            let mut next = self.sides[0].phone.next.min(self.sides[1].phone.next);
            if let Some(t) = self.ast.next_timer() {
                next = next.min(t);
            }
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            for side in &mut self.sides {
                if side.phone.next <= self.now {
                    side.phone.now = self.now;
                    side.phone.input(Input::Timeout);
                }
            }
            self.ast.on_timer(self.now);
        }
        self.now = until;
        for side in &mut self.sides {
            side.phone.now = until;
        }
    }

    fn cmd(&mut self, who: usize, c: Command) {
        self.sides[who].phone.now = self.now;
        self.sides[who].phone.cmd(c);
        self.settle();
    }

    /// The network drops `who`'s WebSocket (and keeps it down while `link_up` is false).
    fn drop_link(&mut self, who: usize, stay_down: bool) {
        let side = &mut self.sides[who];
        side.connected = false;
        side.link_up = !stay_down;
        self.ast.connection_lost(side.name);
        side.phone.now = self.now;
        side.phone.input(Input::TransportClosed);
        self.settle();
    }

    fn call_events(&mut self, who: usize) -> Vec<CallEvent> {
        std::mem::take(&mut self.sides[who].events)
            .into_iter()
            .filter_map(|e| match e {
                Event::Call(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn registration(&self, who: usize) -> RegistrationState {
        self.sides[who].phone.ua.registration_state()
    }

    fn register_both(&mut self) {
        self.cmd(ALICE, Command::Register);
        self.cmd(BOB, Command::Register);
        for who in [ALICE, BOB] {
            assert_eq!(
                self.registration(who),
                RegistrationState::Registered { expires: 599 }
            );
        }
        assert!(self.ast.registered("alice") && self.ast.registered("bob"));
        self.ast.log.clear();
    }

    /// Alice calls bob (auto-answer, like VICIdial's agent phone); returns when both are up.
    fn call_bob(&mut self) {
        self.cmd(
            ALICE,
            Command::Call {
                target: "bob".into(),
            },
        );
        let a = self.call_events(ALICE);
        let b = self.call_events(BOB);
        assert_eq!(a.last(), Some(&CallEvent::Established), "alice: {a:?}");
        assert_eq!(b.last(), Some(&CallEvent::Established), "bob: {b:?}");
    }
}

#[test]
fn register_call_talk_30_minutes_hold_with_glare_and_hang_up() {
    let mut net = Net::new();
    net.cmd(BOB, Command::SetAutoAnswer(true));
    net.register_both();

    // INVITE challenged with 401 (Asterisk), answered with Authorization; far leg new Call-ID.
    net.call_bob();
    let log = net.ast.log.join(" | ");
    assert!(log.starts_with("alice: INVITE | alice: ACK | alice: INVITE | bob: 180 INVITE | bob: 200 INVITE | alice: ACK"), "{log}");
    net.ast.log.clear();

    // 30 minutes with Session-Expires 1800: alice refreshes with UPDATE every 900 s (she is
    // the refresher by Asterisk's 200), Asterisk re-INVITEs bob every 900 s; CRLF pings keep
    // both flows alive and REGISTER refreshes continue underneath.
    net.run_for(Duration::from_secs(30 * 60));
    let updates = net
        .ast
        .log
        .iter()
        .filter(|l| l.as_str() == "alice: UPDATE")
        .count();
    let bob_refreshes = net
        .ast
        .log
        .iter()
        .filter(|l| l.as_str() == "bob: 200 INVITE")
        .count();
    let registers = net
        .ast
        .log
        .iter()
        .filter(|l| l.ends_with(": REGISTER"))
        .count();
    assert_eq!(updates, 2, "{:?}", net.ast.log);
    assert_eq!(bob_refreshes, 2, "{:?}", net.ast.log);
    assert!(registers >= 8, "REGISTER refreshes went on: {registers}");
    assert!(net.call_events(ALICE).is_empty());
    assert!(net.call_events(BOB).is_empty());
    assert!(net.sides[ALICE].phone.ua.has_call() && net.sides[BOB].phone.ua.has_call());

    // DTMF by INFO.
    net.cmd(
        ALICE,
        Command::SendDtmf {
            digit: '5',
            duration_ms: 160,
        },
    );
    assert_eq!(
        net.call_events(ALICE),
        vec![CallEvent::DtmfSent { digit: '5' }]
    );

    // Hold: Asterisk's re-INVITE crosses ours; both get 491; we retry after 2.1-4 s.
    net.ast.glare_next_reinvite = true;
    net.cmd(ALICE, Command::Hold);
    assert!(net.call_events(ALICE).is_empty(), "not held on request");
    assert_eq!(net.sides[ALICE].media.rollbacks, 1);
    let log = net.ast.log.join(" | ");
    assert!(
        log.contains(
            "alice: INVITE | -> alice: crossing re-INVITE | alice: 491 INVITE | alice: ACK"
        ),
        "{log}"
    );
    net.run_for(Duration::from_millis(2_099));
    assert!(net.call_events(ALICE).is_empty());
    net.run_for(Duration::from_millis(1_901));
    assert_eq!(net.call_events(ALICE), vec![CallEvent::Held]);
    assert!(net.sides[ALICE]
        .media
        .applied
        .last()
        .unwrap()
        .contains("a=recvonly"));
    net.cmd(ALICE, Command::Unhold);
    assert_eq!(net.call_events(ALICE), vec![CallEvent::Resumed]);

    // Hang up: BYE to Asterisk, which BYEs bob on the far leg.
    net.cmd(ALICE, Command::Hangup);
    assert_eq!(
        net.call_events(ALICE),
        vec![CallEvent::Ended {
            reason: EndReason::LocalHangup
        }]
    );
    assert_eq!(
        net.call_events(BOB),
        vec![CallEvent::Ended {
            reason: EndReason::RemoteHangup
        }]
    );
    assert_eq!(net.sides[ALICE].media.closed, 1);
    assert_eq!(net.sides[BOB].media.closed, 1);
    assert!(!net.ast.in_call());
}

#[test]
fn kamailio_style_407_on_invite_works_too() {
    let mut net = Net::new();
    net.ast.invite_challenge = 407;
    net.cmd(BOB, Command::SetAutoAnswer(true));
    net.register_both();
    net.call_bob();
    net.cmd(BOB, Command::Hangup);
    assert_eq!(
        net.call_events(ALICE),
        vec![CallEvent::Ended {
            reason: EndReason::RemoteHangup
        }]
    );
    assert_eq!(
        net.call_events(BOB),
        vec![CallEvent::Ended {
            reason: EndReason::LocalHangup
        }]
    );
}

#[test]
fn transport_drops_in_the_middle_of_an_invite() {
    let mut net = Net::new();
    net.register_both();
    // Bob rings (no auto-answer); alice's socket dies before the answer.
    net.cmd(
        ALICE,
        Command::Call {
            target: "bob".into(),
        },
    );
    assert_eq!(net.call_events(ALICE).last(), Some(&CallEvent::Ringing));
    assert!(matches!(
        net.call_events(BOB)[..],
        [CallEvent::Incoming { .. }]
    ));
    net.drop_link(ALICE, true);
    assert_eq!(
        net.call_events(ALICE),
        vec![CallEvent::Ended {
            reason: EndReason::TransportLost
        }]
    );
    // Asterisk cancels the far leg.
    assert_eq!(
        net.call_events(BOB),
        vec![CallEvent::Ended {
            reason: EndReason::Cancelled
        }]
    );
    assert!(!net.ast.registered("alice"));

    // Reconnect attempts back off while the network is down, then succeed.
    net.run_for(Duration::from_secs(10));
    let RegistrationState::Reconnecting { attempt, .. } = net.registration(ALICE) else {
        panic!("{:?}", net.registration(ALICE));
    };
    assert!(attempt >= 1, "several attempts failed: {attempt}");
    net.sides[ALICE].link_up = true;
    net.run_for(Duration::from_secs(60));
    assert_eq!(
        net.registration(ALICE),
        RegistrationState::Registered { expires: 599 }
    );
    assert!(net.ast.registered("alice"));
}

#[test]
fn transport_drops_mid_call_and_ice_restart_recovers() {
    let mut net = Net::new();
    net.cmd(BOB, Command::SetAutoAnswer(true));
    net.register_both();
    net.call_bob();
    net.drop_link(ALICE, false);
    assert_eq!(net.call_events(ALICE), vec![CallEvent::Reconnecting]);
    // The reconnect back-off (1-2 s) runs, then REGISTER through 401 again.
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        net.registration(ALICE),
        RegistrationState::Registered { expires: 599 }
    );
    net.cmd(ALICE, Command::IceRestart);
    assert_eq!(net.sides[ALICE].media.ice_restarts, 1);
    assert_eq!(net.call_events(ALICE), vec![CallEvent::Recovered]);
    net.run_for(Duration::from_secs(120));
    assert!(net.sides[ALICE].phone.ua.has_call());
    assert!(net.call_events(BOB).is_empty());
}

#[test]
fn transport_drops_mid_call_without_recovery_ends_with_transport_lost() {
    let mut net = Net::new();
    net.cmd(BOB, Command::SetAutoAnswer(true));
    net.register_both();
    net.call_bob();
    net.drop_link(ALICE, true);
    net.run_for(Duration::from_secs(31));
    let events = net.call_events(ALICE);
    assert_eq!(
        events.last(),
        Some(&CallEvent::Ended {
            reason: EndReason::TransportLost
        }),
        "{events:?}"
    );
}
