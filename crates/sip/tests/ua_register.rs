//! Registration (RFC 3261 §10, RFC 5626, RFC 7118) and the flow: keep-alive, reconnect.

mod harness;

use dialdeck_sip::msg::{Message, Method, NameAddr, Request, Via};
use dialdeck_sip::register::{RegistrationFailure, RegistrationState};
use dialdeck_sip::timer::{Duration, Instant};
use dialdeck_sip::ua::{Command, Event, Input, Output};
use harness::*;

fn registering(p: &mut Phone) -> Request {
    p.connect_and_register();
    let r = p.one_request();
    assert_eq!(r.method, Method::Register);
    r
}

fn reg_events(p: &mut Phone) -> Vec<RegistrationState> {
    p.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Registration(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn ok_with_expires(req: &Request, expires: u32) -> dialdeck_sip::msg::Response {
    let mut ok = reply(req, 200, Some("regtag"));
    let contact = NameAddr::parse(req.headers.get("Contact").unwrap()).unwrap();
    ok.headers
        .push("Contact", format!("<{}>;expires={expires}", contact.uri));
    ok.headers.push("Expires", "600");
    ok
}

/// Register through a 401 to a 200 and return the phone, registered.
fn registered(seed: u64) -> Phone {
    let mut p = Phone::new("alice", seed);
    let r1 = registering(&mut p);
    p.recv(challenge(&r1, 401, "n1", false));
    let r2 = p.one_request();
    p.recv(ok_with_expires(&r2, 599));
    p.events();
    p
}

#[test]
fn register_has_outbound_and_ws_contact_and_via() {
    let mut p = Phone::new("alice", 1);
    let r = registering(&mut p);
    assert_eq!(r.uri.to_string(), "sip:siplab.test");
    let via = Via::parse(r.headers.get("Via").unwrap()).unwrap();
    assert_eq!(via.transport, "WS");
    assert!(via.host.ends_with(".invalid"));
    assert!(via.branch().unwrap().starts_with("z9hG4bK"));
    let contact = NameAddr::parse(r.headers.get("Contact").unwrap()).unwrap();
    assert!(contact.uri.host.ends_with(".invalid"));
    assert_eq!(contact.uri.param("transport"), Some(Some("ws")));
    assert_eq!(contact.param("reg-id"), Some(Some("1")));
    let inst = contact.param("+sip.instance").unwrap().unwrap();
    assert!(
        inst.starts_with("\"<urn:uuid:") && inst.ends_with(">\""),
        "{inst}"
    );
    assert!(inst.contains(p.ua.instance_id()));
    assert_eq!(r.headers.get("Expires"), Some("600"));
    assert_eq!(r.headers.get("CSeq"), Some("1 REGISTER"));
    assert_eq!(reg_events(&mut p), vec![RegistrationState::Registering]);
}

#[test]
fn register_through_401_then_refresh_at_jittered_fraction() {
    let mut cfg = config("alice");
    cfg.keepalive_interval = None;
    let mut p = Phone::with_config(cfg, 2);
    let r1 = registering(&mut p);
    p.events();
    p.recv(challenge(&r1, 401, "n1", false));
    let r2 = p.one_request();
    assert_eq!(r2.headers.get("CSeq"), Some("2 REGISTER"));
    assert_eq!(r2.headers.get("Call-ID"), r1.headers.get("Call-ID"));
    assert_eq!(tag_of(&r2, "From"), tag_of(&r1, "From"));
    assert_ne!(branch(&r2), branch(&r1), "a new request gets a new branch");
    let auth = r2.headers.get("Authorization").expect("Authorization");
    assert!(
        auth.contains("nonce=\"n1\"") && auth.contains("username=\"alice\""),
        "{auth}"
    );
    assert!(
        reg_events(&mut p).is_empty(),
        "not registered before the 200"
    );
    let t0 = p.now;
    // Asterisk's 200: Contact expires=599 wins over Expires: 600.
    p.recv(ok_with_expires(&r2, 599));
    assert_eq!(
        reg_events(&mut p),
        vec![RegistrationState::Registered { expires: 599 }]
    );
    // Nothing before 60 % of 599 s; exactly one refresh by 80 %.
    p.run_until(t0 + Duration::from_millis(599 * 600 - 1));
    assert!(p.sent().is_empty());
    let next = p.next;
    assert!(next <= t0 + Duration::from_millis(599 * 800));
    p.run_until(next);
    let r3 = p.one_request();
    assert_eq!(r3.headers.get("CSeq"), Some("3 REGISTER"));
    assert!(r3.headers.get("Authorization").is_none());
    // Still registered while the refresh is in flight (confirmed state only changes on answers).
    assert_eq!(
        p.ua.registration_state(),
        RegistrationState::Registered { expires: 599 }
    );
}

#[test]
fn second_401_with_same_nonce_fails_with_reason() {
    let mut p = Phone::new("alice", 3);
    let r1 = registering(&mut p);
    p.recv(challenge(&r1, 401, "same", false));
    let r2 = p.one_request();
    p.recv(challenge(&r2, 401, "same", false));
    assert!(p.sent().is_empty(), "no third REGISTER");
    assert_eq!(
        reg_events(&mut p).last(),
        Some(&RegistrationState::Failed {
            reason: RegistrationFailure::AuthenticationFailed
        })
    );
    p.advance(Duration::from_secs(3600));
    assert!(p.sent().is_empty(), "gave up for good");
}

#[test]
fn stale_nonce_is_answered_again() {
    let mut p = Phone::new("alice", 4);
    let r1 = registering(&mut p);
    p.recv(challenge(&r1, 401, "old", false));
    let r2 = p.one_request();
    p.recv(challenge(&r2, 401, "old", true));
    let r3 = p.one_request();
    assert!(r3
        .headers
        .get("Authorization")
        .unwrap()
        .contains("nc=00000002"));
    p.recv(challenge(&r3, 407, "fresh", true));
    let r4 = p.one_request();
    assert!(r4
        .headers
        .get("Proxy-Authorization")
        .unwrap()
        .contains("nonce=\"fresh\""));
    p.recv(ok_with_expires(&r4, 300));
    assert_eq!(
        p.ua.registration_state(),
        RegistrationState::Registered { expires: 300 }
    );
}

#[test]
fn interval_too_brief_retries_with_min_expires() {
    let mut p = Phone::new("alice", 5);
    let r1 = registering(&mut p);
    let mut resp = reply(&r1, 423, Some("x"));
    resp.headers.push("Min-Expires", "1200");
    p.recv(resp);
    let r2 = p.one_request();
    assert_eq!(r2.headers.get("Expires"), Some("1200"));
    assert!(r2.headers.get("Contact").unwrap().ends_with("expires=1200"));
    let mut ok = reply(&r2, 200, Some("x"));
    ok.headers.push("Expires", "1200");
    p.recv(ok);
    assert_eq!(
        p.ua.registration_state(),
        RegistrationState::Registered { expires: 1200 }
    );
}

#[test]
fn never_two_registers_in_flight_and_unregister_follows() {
    let mut p = Phone::new("alice", 6);
    let r1 = registering(&mut p);
    p.cmd(Command::Unregister);
    p.cmd(Command::Register);
    p.cmd(Command::Unregister);
    assert!(p.sent().is_empty(), "the first REGISTER is still in flight");
    p.recv(ok_with_expires(&r1, 600));
    let r2 = p.one_request();
    assert_eq!(r2.headers.get("Expires"), Some("0"));
    assert!(r2.headers.get("Contact").unwrap().ends_with("expires=0"));
    p.recv(ok_with_expires(&r2, 0));
    assert_eq!(p.ua.registration_state(), RegistrationState::Unregistered);
    p.advance(Duration::from_secs(3600));
    assert!(p.sent().is_empty());
}

#[test]
fn unregister_when_registered_sends_expires_zero() {
    let mut p = registered(7);
    p.cmd(Command::Unregister);
    let r = p.one_request();
    assert_eq!(r.headers.get("Expires"), Some("0"));
    p.recv(reply(&r, 200, Some("x")));
    assert_eq!(reg_events(&mut p), vec![RegistrationState::Unregistered]);
}

#[test]
fn timer_f_and_503_retry_later() {
    let mut p = Phone::new("alice", 8);
    let r1 = registering(&mut p);
    // No answer: Timer F (32 s), then a retry after back-off.
    p.advance(Duration::from_secs(31));
    assert!(p.sent().is_empty());
    p.advance(Duration::from_secs(1));
    p.advance(Duration::from_secs(2));
    let r2 = p.one_request();
    assert_ne!(branch(&r2), branch(&r1));
    let mut busy = reply(&r2, 503, Some("x"));
    busy.headers.push("Retry-After", "20");
    p.recv(busy);
    p.advance(Duration::from_millis(19_999));
    assert!(p.sent().is_empty());
    p.advance(Duration::from_millis(1));
    assert_eq!(p.one_request().method, Method::Register);
}

#[test]
fn transport_loss_reconnects_with_capped_jittered_backoff() {
    let mut p = registered(9);
    p.input(Input::TransportClosed);
    let mut expected_cap = 2_000u64;
    let mut last = p.now;
    for attempt in 0..8u32 {
        let events = reg_events(&mut p);
        let Some(RegistrationState::Reconnecting { attempt: a, at }) = events.last().cloned()
        else {
            panic!("no Reconnecting in {events:?}");
        };
        assert_eq!(a, attempt);
        let wait = at.as_millis() - last.as_millis();
        let cap = expected_cap.min(60_000);
        assert!(
            wait >= cap / 2 && wait <= cap,
            "attempt {attempt}: waited {wait} ms, cap {cap}"
        );
        p.run_until(at - Duration::from_millis(1));
        assert!(p.transport().is_empty());
        p.run_until(at);
        assert_eq!(p.transport(), vec![Output::Connect]);
        // The connection attempt fails.
        p.input(Input::TransportClosed);
        last = p.now;
        expected_cap *= 2;
    }
    // Finally it connects: REGISTER again, then registered.
    let at = match p.ua.registration_state() {
        RegistrationState::Reconnecting { at, .. } => at,
        s => panic!("{s:?}"),
    };
    p.run_until(at);
    assert_eq!(p.transport(), vec![Output::Connect]);
    p.input(Input::TransportConnected);
    let r = p.one_request();
    assert_eq!(r.method, Method::Register);
    p.recv(challenge(&r, 401, "again", false));
    let r = p.one_request();
    p.recv(ok_with_expires(&r, 600));
    assert_eq!(
        p.ua.registration_state(),
        RegistrationState::Registered { expires: 600 }
    );
}

#[test]
fn crlf_keepalive_pong_and_dead_flow() {
    let mut p = registered(10);
    let start = p.now;
    // A ping within 80-100 % of 120 s.
    p.run_until(start + Duration::from_secs(96) - Duration::from_millis(1));
    assert!(p.transport().is_empty());
    p.run_until(start + Duration::from_secs(120));
    assert_eq!(p.transport(), vec![Output::Send("\r\n\r\n".into())]);
    p.advance(Duration::from_secs(1));
    p.input(Input::Frame("\r\n".into()));
    p.advance(Duration::from_secs(60));
    assert!(p.transport().is_empty(), "pong arrived: the flow is fine");
    // Next ping 120 s after the first; no pong this time.
    let before = p.now;
    while p.transport().is_empty() {
        let next = p.next;
        p.run_until(next);
    }
    assert!(p.now - before <= Duration::from_secs(120));
    p.advance(Duration::from_millis(9_999));
    assert!(p.transport().is_empty());
    p.advance(Duration::from_millis(1));
    assert_eq!(p.transport(), vec![Output::Disconnect]);
    assert!(matches!(
        p.ua.registration_state(),
        RegistrationState::Reconnecting { attempt: 0, .. }
    ));
    // The shell's late TransportClosed for the socket we closed changes nothing.
    p.input(Input::TransportClosed);
    assert!(matches!(
        p.ua.registration_state(),
        RegistrationState::Reconnecting { attempt: 0, .. }
    ));
}

#[test]
fn server_ping_gets_pong_and_options_are_answered() {
    let mut p = registered(11);
    p.input(Input::Frame("\r\n\r\n".into()));
    assert_eq!(p.transport(), vec![Output::Send("\r\n".into())]);
    let text = "OPTIONS sip:alice@siplab.test SIP/2.0\r\nVia: SIP/2.0/WS 127.0.0.1:8088;branch=z9hG4bKopt1\r\nFrom: <sip:asterisk@siplab.test>;tag=a1\r\nTo: <sip:alice@siplab.test>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    p.input(Input::Frame(text.into()));
    let resp = p.one_response();
    assert_eq!(resp.status, 200);
    assert!(resp.headers.get("Allow").unwrap().contains("INVITE"));
    assert!(resp
        .headers
        .get("Accept")
        .unwrap()
        .contains("application/sdp"));
    assert!(resp.headers.get("Supported").is_some());
    let _ = Message::Response(resp);
    let _ = Instant::from_millis(0);
}

#[test]
fn a_server_that_never_pongs_does_not_get_the_flow_killed() {
    let mut p = registered(12);
    for _ in 0..3 {
        p.advance(Duration::from_secs(120));
        assert_eq!(p.transport(), vec![Output::Send("\r\n\r\n".into())]);
    }
    assert!(matches!(
        p.ua.registration_state(),
        RegistrationState::Registered { .. }
    ));
}

#[test]
fn bad_config_is_a_typed_error() {
    let cfg = dialdeck_sip::ua::Config::new("alice", "sip:siplab.test", "alice", "pw");
    let Err(err) = dialdeck_sip::ua::UserAgent::new(cfg, dialdeck_sip::random::SplitMix64::new(1))
    else {
        panic!("a bare user name is not a SIP URI");
    };
    assert!(matches!(err, dialdeck_sip::ua::ConfigError::InvalidAor(_)));
    assert!(err.to_string().contains("address of record"));
}
