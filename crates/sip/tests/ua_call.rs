//! Calls: INVITE/ACK/BYE/CANCEL, digest on INVITE, incoming calls, session timers, hold with
//! glare, INFO DTMF, transport loss and ICE restart.

mod harness;

use dialdeck_sip::call::{CallEvent, EndReason};
use dialdeck_sip::msg::{Method, NameAddr, Request, Response};
use dialdeck_sip::timer::Duration;
use dialdeck_sip::ua::{Command, Event, Input, MediaAction, MediaEvent};
use harness::*;

const BOB_CONTACT: &str =
    "<sip:k0u3ie4j@sb20lr4i49mm.invalid;transport=ws;alias=127.0.0.1~56002~5>";
const RR: &str = "<sip:127.0.0.1:8080;transport=ws;lr;ftag=x>";
const ASTERISK_CONTACT: &str = "<sip:asterisk@vm:5060;transport=ws>";

fn phone(seed: u64) -> Phone {
    let mut cfg = config("alice");
    cfg.keepalive_interval = None;
    let mut p = Phone::with_config(cfg, seed);
    p.connect_and_register();
    let r = p.one_request();
    let mut ok = reply(&r, 200, Some("reg"));
    // A day: no REGISTER refresh interleaves with the calls under test.
    ok.headers.push("Expires", "86400");
    p.recv(ok);
    p.events();
    p
}

fn call_events(p: &mut Phone) -> Vec<CallEvent> {
    p.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Call(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Dial and hand over the offer; returns the INVITE.
fn dial(p: &mut Phone) -> Request {
    p.cmd(Command::Call {
        target: "bob".into(),
    });
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: false,
            hold: false
        }]
    );
    assert!(p.sent().is_empty(), "no INVITE before the offer");
    p.sdp_ready(&sdp("alice", 1, "sendrecv"));
    let inv = p.one_request();
    assert_eq!(inv.method, Method::Invite);
    inv
}

fn ok_to_invite(inv: &Request, tag: &str, extra: &[(&str, &str)]) -> Response {
    let mut ok = reply_with_contact(inv, 200, tag, BOB_CONTACT);
    ok.headers.push("Record-Route", RR);
    for (k, v) in extra {
        ok.headers.push(*k, *v);
    }
    ok.headers.push("Content-Type", "application/sdp");
    ok.body = sdp("bob", 1, "sendrecv").into_bytes();
    ok
}

/// An established outgoing call; returns the phone and the (authenticated) INVITE.
fn established(seed: u64, extra: &[(&str, &str)]) -> (Phone, Request) {
    let mut p = phone(seed);
    let inv = dial(&mut p);
    p.recv(ok_to_invite(&inv, "bobtag", extra));
    let ack = p.one_request();
    assert_eq!(ack.method, Method::Ack);
    p.media();
    assert_eq!(call_events(&mut p).last(), Some(&CallEvent::Established));
    (p, inv)
}

#[test]
fn outgoing_call_through_407_ringing_200_ack_bye() {
    let mut p = phone(20);
    let inv = dial(&mut p);
    assert_eq!(inv.uri.to_string(), "sip:bob@siplab.test");
    assert_eq!(inv.headers.get("Content-Type"), Some("application/sdp"));
    assert_eq!(inv.headers.get("Session-Expires"), Some("1800"));
    assert_eq!(inv.headers.get("Min-SE"), Some("90"));
    assert!(inv.headers.get("Contact").unwrap().contains(";ob"));
    assert_eq!(
        String::from_utf8_lossy(&inv.body),
        sdp("alice", 1, "sendrecv")
    );
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Dialing {
            target: "sip:bob@siplab.test".into()
        }]
    );

    // Kamailio: 407. The transaction ACKs it (same branch), the call retries with credentials.
    p.recv(challenge(&inv, 407, "kam1", false));
    let sent = p.sent_requests();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let (ack, inv2) = (&sent[0], &sent[1]);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(branch(ack), branch(&inv));
    assert_eq!(cseq_num(ack), cseq_num(&inv));
    assert_eq!(tag_of(ack, "To").as_deref(), Some("chal"));
    assert_eq!(inv2.method, Method::Invite);
    assert_eq!(cseq_num(inv2), cseq_num(&inv) + 1);
    assert_ne!(branch(inv2), branch(&inv));
    assert_eq!(inv2.headers.get("Call-ID"), inv.headers.get("Call-ID"));
    assert_eq!(tag_of(inv2, "From"), tag_of(&inv, "From"));
    assert!(tag_of(inv2, "To").is_none());
    assert!(inv2
        .headers
        .get("Proxy-Authorization")
        .unwrap()
        .contains("nonce=\"kam1\""));
    assert_eq!(inv2.body, inv.body);

    p.recv(reply(inv2, 100, None));
    assert!(p.out.is_empty());
    let mut ringing = reply_with_contact(inv2, 180, "bobtag", BOB_CONTACT);
    ringing.headers.push("Record-Route", RR);
    p.recv(ringing);
    assert_eq!(call_events(&mut p), vec![CallEvent::Ringing]);

    p.recv(ok_to_invite(inv2, "bobtag", &[]));
    let ack = p.one_request();
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.uri.to_string(),
        NameAddr::parse(BOB_CONTACT).unwrap().uri.to_string()
    );
    assert_eq!(ack.headers.get("Route"), Some(RR));
    assert_eq!(
        ack.headers.get("CSeq"),
        Some(format!("{} ACK", cseq_num(inv2)).as_str())
    );
    assert_ne!(
        branch(&ack),
        branch(inv2),
        "the ACK of a 2xx is a new transaction"
    );
    assert_eq!(
        p.media(),
        vec![MediaAction::ApplyRemoteAnswer {
            sdp: sdp("bob", 1, "sendrecv")
        }]
    );
    assert_eq!(call_events(&mut p), vec![CallEvent::Established]);

    // A retransmitted 200 gets the same ACK again (§13.2.2.4).
    p.recv(ok_to_invite(inv2, "bobtag", &[]));
    assert_eq!(p.one_request(), ack);

    p.cmd(Command::Hangup);
    let bye = p.one_request();
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.headers.get("Route"), Some(RR));
    assert_eq!(cseq_num(&bye), cseq_num(inv2) + 1);
    assert_eq!(p.media(), vec![MediaAction::CloseMedia]);
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Ended {
            reason: EndReason::LocalHangup
        }]
    );
    assert!(!p.ua.has_call());
    p.recv(reply(&bye, 200, None));
    assert!(p.out.is_empty());
}

#[test]
fn asterisk_401_on_invite_with_opaque_is_answered_with_authorization() {
    let mut p = phone(21);
    let inv = dial(&mut p);
    p.recv(challenge(&inv, 401, "1795575616/7f01", false));
    let sent = p.sent_requests();
    assert_eq!(sent[0].method, Method::Ack);
    let auth = sent[1]
        .headers
        .get("Authorization")
        .expect("Authorization for a 401");
    assert!(auth.contains("uri=\"sip:bob@siplab.test\""), "{auth}");
    // Same nonce again: wrong password.
    p.recv(challenge(&sent[1], 401, "1795575616/7f01", false));
    let sent = p.sent_requests();
    assert_eq!(sent.len(), 1, "only the ACK");
    assert_eq!(
        call_events(&mut p).last(),
        Some(&CallEvent::Ended {
            reason: EndReason::AuthenticationFailed
        })
    );
}

#[test]
fn early_media_applies_the_answer_once() {
    let mut p = phone(22);
    let inv = dial(&mut p);
    call_events(&mut p);
    let mut progress = reply_with_contact(&inv, 183, "bobtag", BOB_CONTACT);
    progress.headers.push("Content-Type", "application/sdp");
    progress.body = sdp("bob", 1, "sendrecv").into_bytes();
    p.recv(progress);
    assert_eq!(
        p.media(),
        vec![MediaAction::ApplyRemoteAnswer {
            sdp: sdp("bob", 1, "sendrecv")
        }]
    );
    assert_eq!(call_events(&mut p), vec![CallEvent::EarlyMedia]);
    p.recv(ok_to_invite(&inv, "bobtag", &[]));
    assert_eq!(p.one_request().method, Method::Ack);
    assert!(p.media().is_empty(), "the answer was already applied");
    assert_eq!(call_events(&mut p), vec![CallEvent::Established]);
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let mut p = phone(23);
    let inv = dial(&mut p);
    p.cmd(Command::Hangup);
    assert!(
        p.sent().is_empty(),
        "§9.1: no CANCEL before a provisional response"
    );
    p.recv(reply(&inv, 100, None));
    assert!(
        p.sent().is_empty(),
        "100 Trying is hop-by-hop... still no To tag; we wait for 1xx > 100"
    );
    p.recv(reply_with_contact(&inv, 180, "bobtag", BOB_CONTACT));
    let cancel = p.one_request();
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(branch(&cancel), branch(&inv));
    assert_eq!(
        cancel.headers.get("CSeq"),
        Some(format!("{} CANCEL", cseq_num(&inv)).as_str())
    );
    assert_eq!(cancel.uri, inv.uri);
    assert!(tag_of(&cancel, "To").is_none());
    p.recv(reply(&cancel, 200, Some("bobtag")));
    p.recv(reply(&inv, 487, Some("bobtag")));
    let ack = p.one_request();
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(branch(&ack), branch(&inv));
    let events = call_events(&mut p);
    assert_eq!(
        events.last(),
        Some(&CallEvent::Ended {
            reason: EndReason::Cancelled
        })
    );
    assert_eq!(p.media(), vec![MediaAction::CloseMedia]);
}

#[test]
fn cancel_crossing_200_is_acked_and_byed() {
    let mut p = phone(24);
    let inv = dial(&mut p);
    p.recv(reply_with_contact(&inv, 180, "bobtag", BOB_CONTACT));
    p.cmd(Command::Hangup);
    assert_eq!(p.one_request().method, Method::Cancel);
    p.recv(ok_to_invite(&inv, "bobtag", &[]));
    let sent = p.sent_requests();
    assert_eq!(
        sent.iter().map(|r| r.method.clone()).collect::<Vec<_>>(),
        vec![Method::Ack, Method::Bye]
    );
    assert_eq!(
        call_events(&mut p).last(),
        Some(&CallEvent::Ended {
            reason: EndReason::Cancelled
        })
    );
}

#[test]
fn failure_responses_surface_their_reason() {
    for (status, reason) in [
        (486, EndReason::Busy),
        (600, EndReason::Busy),
        (
            404,
            EndReason::Rejected {
                code: 404,
                reason: "Not Found".into(),
            },
        ),
        (
            603,
            EndReason::Rejected {
                code: 603,
                reason: "Decline".into(),
            },
        ),
        (
            480,
            EndReason::Rejected {
                code: 480,
                reason: "Temporarily Unavailable".into(),
            },
        ),
    ] {
        let mut p = phone(25);
        let inv = dial(&mut p);
        p.recv(reply(&inv, status, Some("t")));
        assert_eq!(p.one_request().method, Method::Ack);
        assert_eq!(
            call_events(&mut p).last(),
            Some(&CallEvent::Ended { reason })
        );
        assert!(!p.ua.has_call());
    }
}

#[test]
fn timer_b_ends_an_unanswered_invite() {
    let mut p = phone(26);
    dial(&mut p);
    call_events(&mut p);
    p.advance(Duration::from_millis(31_999));
    assert!(call_events(&mut p).is_empty());
    p.advance(Duration::from_millis(1));
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Ended {
            reason: EndReason::Timeout
        }]
    );
}

#[test]
fn no_ice_candidates_ends_the_call_without_an_invite() {
    let mut p = phone(27);
    p.cmd(Command::Call {
        target: "sip:bob@siplab.test".into(),
    });
    p.media();
    p.input(Input::Media(MediaEvent::NoCandidates));
    assert!(p.sent().is_empty());
    assert_eq!(
        call_events(&mut p).last(),
        Some(&CallEvent::Ended {
            reason: EndReason::NoIceCandidates
        })
    );
    assert_eq!(p.media(), vec![MediaAction::CloseMedia]);

    // The media layer never answers at all: our own guard fires.
    p.cmd(Command::Call {
        target: "bob".into(),
    });
    p.media();
    p.advance(Duration::from_secs(10));
    assert!(p.sent().is_empty());
    assert_eq!(
        call_events(&mut p).last(),
        Some(&CallEvent::Ended {
            reason: EndReason::NoIceCandidates
        })
    );

    p.cmd(Command::Call {
        target: "bob".into(),
    });
    p.input(Input::Media(MediaEvent::IceGatheringTimedOut));
    assert!(p.sent().is_empty());
    assert_eq!(
        call_events(&mut p).last(),
        Some(&CallEvent::Ended {
            reason: EndReason::NoIceCandidates
        })
    );
}

/// Asterisk calling the agent's phone (trace 05): Session-Expires 1800, Min-SE 90, its
/// unreachable Contact.
fn asterisk_invite(call_id: &str, se: &str) -> String {
    let body = sdp("asterisk", 1, "sendrecv");
    format!(
        "INVITE sip:jvtg8nmv@127.0.0.1:39758;transport=WS SIP/2.0\r\n\
Via: SIP/2.0/WS 127.0.0.1:8088;rport;branch=z9hG4bKPj{call_id};alias\r\n\
From: <sip:alice@vm>;tag=234a64dd\r\n\
To: <sip:jvtg8nmv@127.0.0.1>\r\n\
Contact: {ASTERISK_CONTACT}\r\n\
Call-ID: {call_id}\r\n\
CSeq: 23015 INVITE\r\n\
Allow: OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, MESSAGE, INFO, REFER\r\n\
Supported: 100rel, timer, replaces, norefersub, histinfo\r\n\
Session-Expires: {se}\r\n\
Min-SE: 90\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn in_dialog(
    method: &str,
    call_id: &str,
    our_tag: &str,
    cseq: u32,
    branch: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} sip:x@y.invalid;transport=ws SIP/2.0\r\n\
Via: SIP/2.0/WS 127.0.0.1:8088;rport;branch=z9hG4bKPj{branch};alias\r\n\
From: <sip:alice@vm>;tag=234a64dd\r\n\
To: <sip:jvtg8nmv@127.0.0.1>;tag={our_tag}\r\n\
Contact: {ASTERISK_CONTACT}\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
Max-Forwards: 70\r\n{extra}\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An auto-answered incoming call from Asterisk, up to the ACK; returns (phone, our To tag).
fn incoming_answered(seed: u64) -> (Phone, String) {
    let mut p = phone(seed);
    p.cmd(Command::SetAutoAnswer(true));
    p.input(Input::Frame(asterisk_invite("c1", "1800")));
    let ringing = p.one_response();
    assert_eq!(ringing.status, 180);
    let tag = NameAddr::parse(ringing.headers.get("To").unwrap())
        .unwrap()
        .tag()
        .unwrap()
        .to_string();
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Incoming {
            from: "<sip:alice@vm>;tag=234a64dd".into(),
            auto_answer: true
        }]
    );
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateAnswer {
            remote_sdp: sdp("asterisk", 1, "sendrecv")
        }]
    );
    p.sdp_ready(&sdp("alice", 1, "sendrecv"));
    let ok = p.one_response();
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers.get("Session-Expires"),
        Some("1800;refresher=uac")
    );
    assert_eq!(ok.headers.get("Require"), Some("timer"));
    assert_eq!(ok.body, sdp("alice", 1, "sendrecv").into_bytes());
    assert!(
        call_events(&mut p).is_empty(),
        "established only on the ACK"
    );
    p.input(Input::Frame(in_dialog(
        "ACK", "c1", &tag, 23015, "ack1", "", "",
    )));
    assert_eq!(call_events(&mut p), vec![CallEvent::Established]);
    (p, tag)
}

#[test]
fn incoming_auto_answer_then_remote_bye() {
    let (mut p, tag) = incoming_answered(30);
    // In-dialog requests from us go over the one WebSocket to Asterisk's unreachable Contact.
    p.cmd(Command::SendDtmf {
        digit: '5',
        duration_ms: 160,
    });
    let info = p.one_request();
    assert_eq!(info.uri.to_string(), "sip:asterisk@vm:5060;transport=ws");
    assert_eq!(
        info.headers.get("Content-Type"),
        Some("application/dtmf-relay")
    );
    assert_eq!(info.body, b"Signal=5\r\nDuration=160\r\n".to_vec());
    p.input(Input::Frame(in_dialog(
        "BYE",
        "c1",
        &tag,
        23016,
        "bye1",
        "Reason: Q.850;cause=16\r\n",
        "",
    )));
    let ok = p.one_response();
    assert_eq!(ok.status, 200);
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Ended {
            reason: EndReason::RemoteHangup
        }]
    );
    assert_eq!(p.media(), vec![MediaAction::CloseMedia]);
}

#[test]
fn second_incoming_call_gets_486_and_manual_answer_works() {
    let mut p = phone(31);
    p.input(Input::Frame(asterisk_invite("c1", "1800")));
    assert_eq!(p.one_response().status, 180);
    assert!(p.media().is_empty(), "not auto-answered");
    p.input(Input::Frame(asterisk_invite("c2", "1800")));
    assert_eq!(p.one_response().status, 486);
    p.cmd(Command::Answer);
    assert!(matches!(p.media()[..], [MediaAction::CreateAnswer { .. }]));
    p.sdp_ready("v=0\r\n");
    assert_eq!(p.one_response().status, 200);
}

#[test]
fn incoming_cancel_gets_200_and_487() {
    let mut p = phone(32);
    p.input(Input::Frame(asterisk_invite("c1", "1800")));
    let ringing = p.one_response();
    let tag = NameAddr::parse(ringing.headers.get("To").unwrap())
        .unwrap()
        .tag()
        .unwrap()
        .to_string();
    let cancel = asterisk_invite("c1", "1800")
        .replace("INVITE sip", "CANCEL sip")
        .replace("23015 INVITE", "23015 CANCEL");
    p.input(Input::Frame(cancel));
    let sent = p.sent();
    let statuses: Vec<u16> = sent
        .iter()
        .map(|m| m.as_response().unwrap().status)
        .collect();
    assert_eq!(statuses, vec![200, 487]);
    assert_eq!(
        call_events(&mut p).last(),
        Some(&CallEvent::Ended {
            reason: EndReason::Cancelled
        })
    );
    // The ACK for the 487 is absorbed by the transaction.
    p.input(Input::Frame(in_dialog(
        "ACK", "c1", &tag, 23015, "c1", "", "",
    )));
    assert!(p.out.is_empty());
    // Declining a call sends 603.
    p.input(Input::Frame(asterisk_invite("c3", "1800")));
    p.sent();
    p.cmd(Command::Hangup);
    assert_eq!(p.one_response().status, 603);
}

#[test]
fn too_small_session_expires_gets_422_with_min_se() {
    let mut p = phone(33);
    p.input(Input::Frame(asterisk_invite("c1", "60")));
    let r = p.one_response();
    assert_eq!(r.status, 422);
    assert_eq!(r.headers.get("Min-SE"), Some("90"));
    assert!(!p.ua.has_call());
}

#[test]
fn remote_refresher_keeps_session_alive_and_expiry_sends_bye() {
    let (mut p, tag) = incoming_answered(34);
    // Asterisk refreshes at half the interval with a re-INVITE carrying SDP.
    p.advance(Duration::from_secs(900));
    let body = sdp("asterisk", 2, "sendrecv");
    p.input(Input::Frame(in_dialog(
        "INVITE",
        "c1",
        &tag,
        23016,
        "re1",
        "Session-Expires: 1800;refresher=uac\r\nContent-Type: application/sdp\r\n",
        &body,
    )));
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateAnswer { remote_sdp: body }]
    );
    p.sdp_ready(&sdp("alice", 2, "sendrecv"));
    let ok = p.one_response();
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers.get("Session-Expires"),
        Some("1800;refresher=uac")
    );
    p.input(Input::Frame(in_dialog(
        "ACK", "c1", &tag, 23016, "ack2", "", "",
    )));
    // An UPDATE without SDP refreshes too.
    p.advance(Duration::from_secs(900));
    p.input(Input::Frame(in_dialog(
        "UPDATE",
        "c1",
        &tag,
        23017,
        "up1",
        "Session-Expires: 1800;refresher=uac\r\n",
        "",
    )));
    let ok = p.one_response();
    assert_eq!(ok.status, 200);
    assert!(ok.body.is_empty());
    // Then silence: BYE at 1800 - min(32, 600) = 1768 s after the last refresh.
    p.advance(Duration::from_secs(1767));
    assert!(p.sent().is_empty());
    p.advance(Duration::from_secs(1));
    assert_eq!(p.one_request().method, Method::Bye);
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Ended {
            reason: EndReason::SessionExpired
        }]
    );
}

#[test]
fn out_of_order_cseq_gets_500() {
    let (mut p, tag) = incoming_answered(35);
    p.input(Input::Frame(in_dialog(
        "INFO", "c1", &tag, 23010, "old", "", "",
    )));
    assert_eq!(p.one_response().status, 500);
}

#[test]
fn we_refresh_with_update_for_thirty_minutes() {
    let (mut p, inv) = established(
        40,
        &[
            ("Session-Expires", "1800;refresher=uac"),
            ("Allow", "INVITE, ACK, BYE, CANCEL, UPDATE"),
        ],
    );
    let first = cseq_num(&inv);
    for i in 1..=4 {
        p.advance(Duration::from_millis(899_999));
        assert!(p.sent().is_empty());
        p.advance(Duration::from_millis(1));
        let up = p.one_request();
        assert_eq!(up.method, Method::Update);
        assert_eq!(
            up.headers.get("Session-Expires"),
            Some("1800;refresher=uac")
        );
        assert!(up.body.is_empty());
        assert_eq!(cseq_num(&up), first + i);
        let mut ok = reply(&up, 200, None);
        ok.headers.push("Session-Expires", "1800;refresher=uac");
        p.recv(ok);
    }
    assert!(
        call_events(&mut p).is_empty(),
        "an hour later the call is still up"
    );
}

#[test]
fn we_refresh_with_reinvite_when_update_is_not_allowed() {
    let (mut p, _) = established(
        41,
        &[
            ("Session-Expires", "1800;refresher=uac"),
            ("Allow", "INVITE, ACK, BYE, CANCEL"),
        ],
    );
    p.advance(Duration::from_secs(900));
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: false,
            hold: false
        }]
    );
    p.sdp_ready(&sdp("alice", 2, "sendrecv"));
    let re = p.one_request();
    assert_eq!(re.method, Method::Invite);
    assert_eq!(
        re.headers.get("Session-Expires"),
        Some("1800;refresher=uac")
    );
    let mut ok = ok_to_invite(&re, "bobtag", &[]);
    ok.headers.push("Session-Expires", "1800;refresher=uac");
    p.recv(ok);
    assert_eq!(p.one_request().method, Method::Ack);
    assert!(matches!(
        p.media()[..],
        [MediaAction::ApplyRemoteAnswer { .. }]
    ));
}

#[test]
fn hold_with_491_glare_backoff_then_held_only_after_200() {
    let (mut p, _) = established(42, &[]);
    p.cmd(Command::Hold);
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: false,
            hold: true
        }]
    );
    p.sdp_ready(&sdp("alice", 2, "sendonly"));
    let re = p.one_request();
    assert_eq!(re.method, Method::Invite);
    assert!(tag_of(&re, "To").is_some());
    assert!(
        !p.ua.has_call() || call_events(&mut p).is_empty(),
        "not held yet"
    );
    p.recv(reply(&re, 491, None));
    assert_eq!(p.one_request().method, Method::Ack);
    assert_eq!(p.media(), vec![MediaAction::RollbackOffer]);
    assert!(call_events(&mut p).is_empty());
    // We own the Call-ID (we called): 2.1-4 s.
    p.advance(Duration::from_millis(2_099));
    assert!(p.media().is_empty());
    p.advance(Duration::from_millis(1_901));
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: false,
            hold: true
        }]
    );
    p.sdp_ready(&sdp("alice", 3, "sendonly"));
    let re2 = p.one_request();
    assert_eq!(cseq_num(&re2), cseq_num(&re) + 1);
    let mut ok = reply_with_contact(&re2, 200, "bobtag", BOB_CONTACT);
    ok.headers.push("Content-Type", "application/sdp");
    ok.body = sdp("bob", 2, "recvonly").into_bytes();
    p.recv(ok);
    assert_eq!(p.one_request().method, Method::Ack);
    assert_eq!(
        p.media(),
        vec![MediaAction::ApplyRemoteAnswer {
            sdp: sdp("bob", 2, "recvonly")
        }]
    );
    assert_eq!(call_events(&mut p), vec![CallEvent::Held]);

    // Unhold fails with 488: rolled back, still held.
    p.cmd(Command::Unhold);
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: false,
            hold: false
        }]
    );
    p.sdp_ready(&sdp("alice", 4, "sendrecv"));
    let re3 = p.one_request();
    p.recv(reply(&re3, 488, None));
    p.sent();
    assert_eq!(p.media(), vec![MediaAction::RollbackOffer]);
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::HoldFailed {
            code: 488,
            reason: "Not Acceptable Here".into()
        }]
    );
}

#[test]
fn incoming_reinvite_during_our_reinvite_gets_491() {
    let (mut p, tag) = incoming_answered(43);
    p.cmd(Command::Hold);
    p.media();
    p.sdp_ready(&sdp("alice", 2, "sendonly"));
    let re = p.one_request();
    let body = sdp("asterisk", 2, "sendrecv");
    p.input(Input::Frame(in_dialog(
        "INVITE",
        "c1",
        &tag,
        23016,
        "glare",
        "Content-Type: application/sdp\r\n",
        &body,
    )));
    assert_eq!(p.one_response().status, 491);
    // Our 491 comes back too; we do not own the Call-ID: 0-2 s.
    p.recv(reply(&re, 491, None));
    p.sent();
    p.media();
    p.advance(Duration::from_secs(2));
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: false,
            hold: true
        }]
    );
}

#[test]
fn dtmf_info_one_at_a_time() {
    let (mut p, _) = established(44, &[]);
    p.cmd(Command::SendDtmf {
        digit: '5',
        duration_ms: 160,
    });
    p.cmd(Command::SendDtmf {
        digit: '#',
        duration_ms: 100,
    });
    p.cmd(Command::SendDtmf {
        digit: 'x',
        duration_ms: 100,
    });
    let info = p.one_request();
    assert_eq!(info.method, Method::Info);
    assert_eq!(info.body, b"Signal=5\r\nDuration=160\r\n".to_vec());
    p.recv(reply(&info, 200, None));
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::DtmfSent { digit: '5' }]
    );
    let info2 = p.one_request();
    assert_eq!(info2.body, b"Signal=#\r\nDuration=100\r\n".to_vec());
    p.recv(reply(&info2, 200, None));
    assert!(p.sent().is_empty(), "the invalid digit was ignored");
}

#[test]
fn transport_lost_during_invite_ends_the_call() {
    let mut p = phone(45);
    dial(&mut p);
    call_events(&mut p);
    p.input(Input::TransportClosed);
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Ended {
            reason: EndReason::TransportLost
        }]
    );
    assert_eq!(p.media(), vec![MediaAction::CloseMedia]);
}

#[test]
fn transport_lost_mid_call_recovers_with_ice_restart() {
    let (mut p, _) = established(46, &[]);
    p.input(Input::TransportClosed);
    assert_eq!(call_events(&mut p), vec![CallEvent::Reconnecting]);
    p.run_until(p.next);
    p.transport();
    p.input(Input::TransportConnected);
    let reg = p.one_request();
    assert_eq!(reg.method, Method::Register);
    p.recv(reply(&reg, 200, Some("r")));
    p.cmd(Command::IceRestart);
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: true,
            hold: false
        }]
    );
    p.sdp_ready(&sdp("alice", 2, "sendrecv"));
    let re = p.one_request();
    assert_eq!(re.method, Method::Invite);
    p.recv(ok_to_invite(&re, "bobtag", &[]));
    assert_eq!(p.one_request().method, Method::Ack);
    let events = call_events(&mut p);
    assert!(events.contains(&CallEvent::Recovered), "{events:?}");
    p.advance(Duration::from_secs(60));
    assert!(p.ua.has_call());
}

#[test]
fn transport_lost_mid_call_without_recovery_ends_with_transport_lost() {
    let (mut p, _) = established(47, &[]);
    p.input(Input::TransportClosed);
    p.advance(Duration::from_secs(29));
    assert!(p.ua.has_call());
    p.advance(Duration::from_secs(1));
    assert!(call_events(&mut p).contains(&CallEvent::Ended {
        reason: EndReason::TransportLost
    }));
    assert!(!p.ua.has_call());
}

#[test]
fn missing_ack_ends_the_call_after_64_t1() {
    let mut p = phone(48);
    p.cmd(Command::SetAutoAnswer(true));
    p.input(Input::Frame(asterisk_invite("c1", "1800")));
    p.sdp_ready("v=0\r\n");
    p.sent();
    p.advance(Duration::from_secs(32));
    assert_eq!(p.one_request().method, Method::Bye);
    assert!(call_events(&mut p).contains(&CallEvent::Ended {
        reason: EndReason::Timeout
    }));
}

#[test]
fn session_interval_too_small_422_is_retried_with_min_se() {
    let mut p = phone(50);
    let inv = dial(&mut p);
    let mut r = reply(&inv, 422, Some("t"));
    r.headers.push("Min-SE", "3600");
    p.recv(r);
    let sent = p.sent_requests();
    assert_eq!(sent[0].method, Method::Ack);
    let retry = &sent[1];
    assert_eq!(retry.headers.get("Session-Expires"), Some("3600"));
    assert_eq!(retry.headers.get("Min-SE"), Some("3600"));
    assert_eq!(cseq_num(retry), cseq_num(&inv) + 1);
}

#[test]
fn challenged_reinvite_is_retried_with_credentials_and_a_fresh_offer() {
    let (mut p, inv) = established(51, &[]);
    p.cmd(Command::Hold);
    p.media();
    p.sdp_ready(&sdp("alice", 2, "sendonly"));
    let re = p.one_request();
    assert_eq!(cseq_num(&re), cseq_num(&inv) + 1);
    p.recv(challenge(&re, 407, "rn1", false));
    assert_eq!(p.one_request().method, Method::Ack);
    assert_eq!(
        p.media(),
        vec![
            MediaAction::RollbackOffer,
            MediaAction::CreateOffer {
                ice_restart: false,
                hold: true
            }
        ]
    );
    p.sdp_ready(&sdp("alice", 3, "sendonly"));
    let re2 = p.one_request();
    assert_eq!(cseq_num(&re2), cseq_num(&re) + 1);
    assert!(re2
        .headers
        .get("Proxy-Authorization")
        .unwrap()
        .contains("nonce=\"rn1\""));
    p.recv(ok_to_invite(&re2, "bobtag", &[]));
    p.sent();
    assert_eq!(call_events(&mut p), vec![CallEvent::Held]);
}

#[test]
fn incoming_invite_without_sdp_is_answered_with_an_offer() {
    let mut p = phone(52);
    let text = asterisk_invite("c9", "1800");
    let head = text.split("Content-Type").next().unwrap().to_string();
    p.input(Input::Frame(format!("{head}Content-Length: 0\r\n\r\n")));
    let ringing = p.one_response();
    let tag = NameAddr::parse(ringing.headers.get("To").unwrap())
        .unwrap()
        .tag()
        .unwrap()
        .to_string();
    p.cmd(Command::Answer);
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateOffer {
            ice_restart: false,
            hold: false
        }]
    );
    p.sdp_ready(&sdp("alice", 1, "sendrecv"));
    let ok = p.one_response();
    assert_eq!(ok.body, sdp("alice", 1, "sendrecv").into_bytes());
    let answer = sdp("asterisk", 1, "sendrecv");
    p.input(Input::Frame(in_dialog(
        "ACK",
        "c9",
        &tag,
        23015,
        "ack9",
        "Content-Type: application/sdp\r\n",
        &answer,
    )));
    assert_eq!(
        p.media(),
        vec![MediaAction::ApplyRemoteAnswer { sdp: answer }]
    );
    call_events(&mut p);
}

#[test]
fn incoming_update_with_sdp_is_answered_without_waiting_for_ack() {
    let (mut p, tag) = incoming_answered(53);
    let body = sdp("asterisk", 5, "sendrecv");
    p.input(Input::Frame(in_dialog(
        "UPDATE",
        "c1",
        &tag,
        23016,
        "u5",
        "Content-Type: application/sdp\r\n",
        &body,
    )));
    assert_eq!(
        p.media(),
        vec![MediaAction::CreateAnswer { remote_sdp: body }]
    );
    p.sdp_ready(&sdp("alice", 5, "sendrecv"));
    let ok = p.one_response();
    assert_eq!(ok.status, 200);
    // No ACK for UPDATE: nothing times out 32 s later.
    p.advance(Duration::from_secs(40));
    assert!(p.sent().is_empty());
    assert!(p.ua.has_call());
}

#[test]
fn requests_outside_any_call_get_481_or_405() {
    let mut p = phone(54);
    p.input(Input::Frame(in_dialog(
        "BYE", "nope", "ghost", 5, "g1", "", "",
    )));
    assert_eq!(p.one_response().status, 481);
    let msg = asterisk_invite("m1", "1800")
        .replace("INVITE sip", "MESSAGE sip")
        .replace("23015 INVITE", "1 MESSAGE");
    p.input(Input::Frame(msg));
    let r = p.one_response();
    assert_eq!(r.status, 405);
    assert!(r.headers.get("Allow").is_some());
}

#[test]
fn challenged_bye_is_answered_after_the_call_is_gone() {
    let (mut p, _) = established(55, &[]);
    p.cmd(Command::Hangup);
    let bye = p.one_request();
    assert!(!p.ua.has_call(), "the call is over for the UI at once");
    p.media();
    call_events(&mut p);
    p.recv(challenge(&bye, 407, "bye1", false));
    let bye2 = p.one_request();
    assert_eq!(bye2.method, Method::Bye);
    assert_eq!(cseq_num(&bye2), cseq_num(&bye) + 1);
    assert!(bye2
        .headers
        .get("Proxy-Authorization")
        .unwrap()
        .contains("nonce=\"bye1\""));
    p.recv(reply(&bye2, 200, None));
    assert!(p.out.is_empty());
    // A new call can start meanwhile: the lingering BYE does not block it.
    p.cmd(Command::Call {
        target: "bob".into(),
    });
    assert!(p.ua.has_call());
}

#[test]
fn a_second_forked_2xx_is_acked_and_byed() {
    let (mut p, inv) = established(56, &[]);
    // established() used the first INVITE without auth; a fork answers it too.
    let mut fork = reply_with_contact(&inv, 200, "forktag", "<sip:fork@f.invalid;transport=ws>");
    fork.headers.push("Content-Type", "application/sdp");
    fork.body = sdp("fork", 1, "sendrecv").into_bytes();
    p.recv(fork);
    let sent = p.sent_requests();
    assert_eq!(
        sent.iter().map(|r| r.method.clone()).collect::<Vec<_>>(),
        vec![Method::Ack, Method::Bye]
    );
    assert!(sent
        .iter()
        .all(|r| tag_of(r, "To").as_deref() == Some("forktag")));
    assert_eq!(sent[1].uri.host, "f.invalid");
    assert!(p.media().is_empty());
    assert!(call_events(&mut p).is_empty(), "the first dialog stays up");
}

#[test]
fn required_extension_we_lack_gets_420() {
    let mut p = phone(57);
    let text = asterisk_invite("r1", "1800")
        .replace("Min-SE: 90\r\n", "Min-SE: 90\r\nRequire: 100rel\r\n");
    p.input(Input::Frame(text));
    let r = p.one_response();
    assert_eq!(r.status, 420);
    assert_eq!(r.headers.get("Unsupported"), Some("100rel"));
    assert!(!p.ua.has_call());
}

#[test]
fn hangup_before_any_response_then_challenge_ends_as_cancelled() {
    let mut p = phone(58);
    let inv = dial(&mut p);
    call_events(&mut p);
    p.cmd(Command::Hangup);
    p.recv(challenge(&inv, 401, "x", false));
    let sent = p.sent_requests();
    assert_eq!(
        sent.len(),
        1,
        "only the ACK, no authenticated retry: {sent:?}"
    );
    assert_eq!(
        call_events(&mut p),
        vec![CallEvent::Ended {
            reason: EndReason::Cancelled
        }]
    );
}
