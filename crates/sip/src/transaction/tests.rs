//! Transaction-layer tests (RFC 3261 §17 over a reliable transport).

use super::*;
use crate::msg::{Message, Uri};
use crate::timer::{Duration, TIMER_B};

fn request(method: Method, branch: &str, seq: u32) -> Request {
    let mut r = Request::new(method.clone(), Uri::parse("sip:bob@siplab.test").unwrap());
    r.headers
        .push("Via", format!("SIP/2.0/WS a.invalid;branch={branch}"));
    r.headers.push("From", "<sip:alice@siplab.test>;tag=f1");
    r.headers.push("To", "<sip:bob@siplab.test>");
    r.headers.push("Call-ID", "cid");
    r.headers.push("CSeq", format!("{seq} {method}"));
    r
}

const T0: Instant = Instant::from_millis(0);

#[test]
fn client_invite_provisional_then_non2xx_acks_with_same_branch() {
    let mut t = Transactions::new();
    let inv = request(Method::Invite, "z9hG4bK1", 1);
    let key = t.start_client(T0, &inv);
    assert_eq!(t.poll_timeout(), Some(T0 + TIMER_B));
    let (m, ack) = t.on_response(T0, &make_response(&inv, 180, Some("b")));
    assert_eq!(m, ResponseMatch::Deliver(key.clone()));
    assert!(ack.is_none());
    assert_eq!(t.poll_timeout(), None, "Timer B stops in Proceeding");
    let (m, ack) = t.on_response(T0, &make_response(&inv, 486, Some("b")));
    assert_eq!(m, ResponseMatch::Deliver(key));
    let ack = ack.expect("ACK for a non-2xx");
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.headers.get("Via"), inv.headers.get("Via"));
    assert_eq!(ack.headers.get("CSeq"), Some("1 ACK"));
    assert!(ack.headers.get("To").unwrap().contains("tag=b"));
    // Timer D is zero over WS: gone, and a duplicate final is stray.
    assert_eq!(t.len(), (0, 0));
    let (m, _) = t.on_response(T0, &make_response(&inv, 486, Some("b")));
    assert_eq!(m, ResponseMatch::Stray);
}

#[test]
fn client_invite_2xx_is_accepted_and_retransmissions_pass_up_until_timer_m() {
    let mut t = Transactions::new();
    let inv = request(Method::Invite, "z9hG4bK2", 5);
    let key = t.start_client(T0, &inv);
    let ok = make_response(&inv, 200, Some("b"));
    assert_eq!(
        t.on_response(T0, &ok),
        (ResponseMatch::Deliver(key.clone()), None)
    );
    assert_eq!(
        t.on_response(T0, &ok),
        (ResponseMatch::Retransmitted2xx(key), None)
    );
    assert!(t.handle_timeout(T0 + Duration::from_secs(32)).is_empty());
    assert_eq!(t.on_response(T0, &ok).0, ResponseMatch::Stray);
}

#[test]
fn matching_uses_branch_and_method() {
    let mut t = Transactions::new();
    let inv = request(Method::Invite, "z9hG4bK3", 1);
    t.start_client(T0, &inv);
    let mut cancel = inv.clone();
    cancel.method = Method::Cancel;
    cancel.headers.set("CSeq", "1 CANCEL");
    let ckey = t.start_client(T0, &cancel);
    // The 200 to the CANCEL has the INVITE's branch but matches the CANCEL (§17.1.3).
    let (m, _) = t.on_response(T0, &make_response(&cancel, 200, Some("b")));
    assert_eq!(m, ResponseMatch::Deliver(ckey));
    assert_eq!(t.len().0, 1);
    let other = request(Method::Invite, "z9hG4bKother", 1);
    assert_eq!(
        t.on_response(T0, &make_response(&other, 200, None)).0,
        ResponseMatch::Stray
    );
}

#[test]
fn timer_b_and_f_time_out_and_transport_loss_fails_everything() {
    let mut t = Transactions::new();
    let k1 = t.start_client(T0, &request(Method::Invite, "z9hG4bKb", 1));
    let k2 = t.start_client(
        T0 + Duration::from_secs(1),
        &request(Method::Bye, "z9hG4bKf", 2),
    );
    assert!(t
        .handle_timeout(T0 + Duration::from_millis(31_999))
        .is_empty());
    let out = t.handle_timeout(T0 + Duration::from_secs(32));
    assert_eq!(
        out,
        vec![TimedOut {
            key: k1,
            transport_error: false
        }]
    );
    let k3 = t.start_client(T0, &request(Method::Register, "z9hG4bKr", 1));
    let out = t.transport_lost();
    assert_eq!(out.len(), 2);
    assert!(out.contains(&TimedOut {
        key: k2,
        transport_error: true
    }));
    assert!(out.contains(&TimedOut {
        key: k3,
        transport_error: true
    }));
    assert_eq!(t.len(), (0, 0));
}

#[test]
fn server_invite_retransmission_ack_and_timer_h() {
    let mut t = Transactions::new();
    let inv = request(Method::Invite, "z9hG4bKs", 1);
    let RequestMatch::New(key) = t.on_request(T0, &inv) else {
        panic!()
    };
    assert_eq!(t.on_request(T0, &inv), RequestMatch::Retransmission(None));
    let ringing = make_response(&inv, 180, Some("u"));
    assert!(t.respond(T0, &key, &ringing));
    assert_eq!(
        t.on_request(T0, &inv),
        RequestMatch::Retransmission(Some(ringing))
    );
    let busy = make_response(&inv, 486, Some("u"));
    assert!(t.respond(T0, &key, &busy));
    assert!(!t.respond(T0, &key, &busy), "one final response only");
    assert_eq!(t.poll_timeout(), Some(T0 + TIMER_H));
    // The ACK of the non-2xx has the INVITE's branch: absorbed (§17.2.3).
    let mut ack = inv.clone();
    ack.method = Method::Ack;
    ack.headers.set("CSeq", "1 ACK");
    assert_eq!(t.on_request(T0, &ack), RequestMatch::AckAbsorbed);
    assert_eq!(t.len(), (0, 0));

    // No ACK at all: Timer H ends the transaction.
    let inv2 = request(Method::Invite, "z9hG4bKs2", 2);
    let RequestMatch::New(key2) = t.on_request(T0, &inv2) else {
        panic!()
    };
    t.respond(T0, &key2, &make_response(&inv2, 500, Some("u")));
    t.handle_timeout(T0 + TIMER_H);
    assert_eq!(t.len(), (0, 0));
}

#[test]
fn server_2xx_goes_accepted_and_ack_for_2xx_goes_up() {
    let mut t = Transactions::new();
    let inv = request(Method::Invite, "z9hG4bKa", 1);
    let RequestMatch::New(key) = t.on_request(T0, &inv) else {
        panic!()
    };
    t.respond(T0, &key, &make_response(&inv, 200, Some("u")));
    // A retransmitted INVITE is absorbed with the 2xx re-sent.
    assert!(
        matches!(t.on_request(T0, &inv), RequestMatch::Retransmission(Some(r)) if r.status == 200)
    );
    let mut ack = request(Method::Ack, "z9hG4bKnewbranch", 1);
    ack.headers.set("CSeq", "1 ACK");
    assert_eq!(t.on_request(T0, &ack), RequestMatch::AckFor2xx);
    // The CANCEL matching finds only INVITEs still proceeding.
    let mut cancel = inv.clone();
    cancel.method = Method::Cancel;
    assert!(t.invite_for_cancel(&cancel).is_none());
    t.handle_timeout(T0 + TIMER_L);
    assert_eq!(t.len(), (0, 0));
}

#[test]
fn server_non_invite_terminates_on_final_and_response_copies_headers() {
    let mut t = Transactions::new();
    let bye = request(Method::Bye, "z9hG4bKbye", 3);
    let RequestMatch::New(key) = t.on_request(T0, &bye) else {
        panic!()
    };
    let ok = make_response(&bye, 200, Some("u"));
    assert_eq!(ok.headers.get("Call-ID"), Some("cid"));
    assert_eq!(ok.headers.get("CSeq"), Some("3 BYE"));
    assert!(ok.headers.get("To").unwrap().contains("tag=u"));
    assert!(t.respond(T0, &key, &ok));
    assert_eq!(t.len(), (0, 0));
    let trying = make_response(&bye, 100, Some("u"));
    assert!(
        !trying.headers.get("To").unwrap().contains("tag"),
        "no To tag on 100"
    );
    let _ = Message::Response(trying);
}
