//! A scripted Asterisk (res_pjsip, `webrtc=yes`) acting as registrar and B2BUA, modelled on
//! traces 05 and 06: 401 (with `opaque`) on REGISTER and INVITE, a new Call-ID and a From at
//! its own host on the far leg, the unreachable Contact `sip:asterisk@vm:5060;transport=ws`,
//! `Session-Expires: 1800` / `Min-SE: 90` and session refresh re-INVITEs towards the callee.
//! In-dialog requests reach a phone only over that phone's current WebSocket, whatever the
//! Contact says, exactly as with the real thing.

use dialdeck_sip::msg::{Message, Method, NameAddr, Request, Response, Uri};
use dialdeck_sip::timer::{Duration, Instant};
use dialdeck_sip::transaction::make_response;

use super::sdp;

const CONTACT: &str = "<sip:asterisk@vm:5060;transport=ws>";
const ALLOW: &str = "OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, MESSAGE, INFO, REFER";

/// One bridged call: leg A (the caller's dialog) and leg B (Asterisk's INVITE to the callee).
#[derive(Debug)]
struct Bridge {
    a_user: String,
    a_invite: Request,
    a_tag: String,
    a_answered: bool,
    a_seq: u32,
    b_user: String,
    b_invite: Request,
    b_tag: Option<String>,
    b_seq: u32,
    b_contact: Option<Uri>,
    next_refresh: Option<Instant>,
}

/// The scripted server. Feed it frames with [`Asterisk::recv`]; collect `out`.
#[derive(Debug, Default)]
pub struct Asterisk {
    /// 401 like Asterisk, or 407 like Kamailio, on INVITE.
    pub invite_challenge: u16,
    /// Answer the next re-INVITE from the caller with 491, sending a crossing re-INVITE.
    pub glare_next_reinvite: bool,
    /// Frames to deliver: (user, frame).
    pub out: Vec<(String, String)>,
    /// Human-readable log of what arrived ("alice: INVITE", "bob: 200 INVITE").
    pub log: Vec<String>,
    bindings: Vec<(String, Uri)>,
    nonce: u32,
    ids: u64,
    call: Option<Bridge>,
}

fn user_of(headers: &dialdeck_sip::msg::Headers, name: &str) -> String {
    NameAddr::parse(headers.get(name).unwrap())
        .unwrap()
        .uri
        .user
        .unwrap_or_default()
}

impl Asterisk {
    /// A fresh server challenging INVITEs with 401.
    pub fn new() -> Asterisk {
        Asterisk {
            invite_challenge: 401,
            ..Asterisk::default()
        }
    }

    /// Whether `user` has a binding.
    pub fn registered(&self, user: &str) -> bool {
        self.bindings.iter().any(|(u, _)| u == user)
    }

    /// Whether a call is bridged.
    pub fn in_call(&self) -> bool {
        self.call.is_some()
    }

    fn id(&mut self) -> u64 {
        self.ids += 1;
        self.ids
    }

    fn send(&mut self, user: &str, m: impl Into<Message>) {
        let m: Message = m.into();
        self.out.push((user.to_string(), m.to_string()));
    }

    fn via(&mut self) -> String {
        format!(
            "SIP/2.0/WS 127.0.0.1:8088;rport;branch=z9hG4bKPj{:08x};alias",
            self.id()
        )
    }

    fn challenge(&mut self, req: &Request, status: u16) -> Response {
        self.nonce += 1;
        let mut r = make_response(req, status, Some("z9hG4bKchal"));
        let name = if status == 407 {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        r.headers.push(
            name,
            format!(
                "Digest realm=\"siplab.test\",nonce=\"1795575616/{:08x}\",opaque=\"23d2158670f9e2e8\",algorithm=MD5,qop=\"auth\"",
                self.nonce
            ),
        );
        r
    }

    fn authorized(&self, req: &Request) -> bool {
        let nonce = format!("1795575616/{:08x}", self.nonce);
        ["Authorization", "Proxy-Authorization"]
            .iter()
            .filter_map(|h| req.headers.get(h))
            .any(|v| v.contains(&nonce) && v.contains("opaque=\"23d2158670f9e2e8\""))
    }

    /// Next instant Asterisk wants to act (session refresh towards the callee).
    pub fn next_timer(&self) -> Option<Instant> {
        self.call.as_ref().and_then(|c| c.next_refresh)
    }

    /// Fires the session refresh: a re-INVITE to the callee at half of 1800 s.
    pub fn on_timer(&mut self, now: Instant) {
        let due = self
            .call
            .as_ref()
            .and_then(|c| c.next_refresh)
            .is_some_and(|t| t <= now);
        if !due {
            return;
        }
        let via = self.via();
        let call = self.call.as_mut().unwrap();
        call.b_seq += 1;
        call.next_refresh = Some(now + Duration::from_secs(900));
        let mut re = self.b_request(Method::Invite, via);
        re.headers.push("Session-Expires", "1800;refresher=uac");
        re.headers.push("Min-SE", "90");
        re.headers.push("Content-Type", "application/sdp");
        re.body = sdp("asterisk-b", 2, "sendrecv").into_bytes();
        let b = self.call.as_ref().unwrap().b_user.clone();
        self.log.push(format!("-> {b}: refresh re-INVITE"));
        self.send(&b, re);
    }

    fn b_request(&self, method: Method, via: String) -> Request {
        let call = self.call.as_ref().unwrap();
        let target = call
            .b_contact
            .clone()
            .unwrap_or_else(|| call.b_invite.uri.clone());
        let mut r = Request::new(method.clone(), target);
        r.headers.push("Via", via);
        for h in ["From", "Call-ID"] {
            r.headers.push(h, call.b_invite.headers.get(h).unwrap());
        }
        let to = call.b_invite.headers.get("To").unwrap();
        r.headers.push(
            "To",
            format!("{to};tag={}", call.b_tag.clone().unwrap_or_default()),
        );
        r.headers.push("CSeq", format!("{} {method}", call.b_seq));
        r.headers.push("Contact", CONTACT);
        r.headers.push("Max-Forwards", "70");
        r
    }

    fn a_request(&mut self, method: Method) -> Request {
        let via = self.via();
        let call = self.call.as_mut().unwrap();
        call.a_seq += 1;
        let inv = &call.a_invite;
        let contact = NameAddr::parse(inv.headers.get("Contact").unwrap())
            .unwrap()
            .uri;
        let mut r = Request::new(method.clone(), contact);
        r.headers.push("Via", via);
        r.headers.push(
            "From",
            format!("{};tag={}", inv.headers.get("To").unwrap(), call.a_tag),
        );
        r.headers.push("To", inv.headers.get("From").unwrap());
        r.headers
            .push("Call-ID", inv.headers.get("Call-ID").unwrap());
        r.headers.push("CSeq", format!("{} {method}", call.a_seq));
        r.headers.push("Contact", CONTACT);
        r.headers.push("Max-Forwards", "70");
        r
    }

    /// The WebSocket of `user` closed: its binding goes (handle_lost_tcp); an unanswered
    /// call from it is cancelled towards the callee.
    pub fn connection_lost(&mut self, user: &str) {
        self.bindings.retain(|(u, _)| u != user);
        let cancel_b = self
            .call
            .as_ref()
            .is_some_and(|c| c.a_user == user && !c.a_answered);
        if cancel_b {
            let call = self.call.as_ref().unwrap();
            let mut cancel = Request::new(Method::Cancel, call.b_invite.uri.clone());
            for h in ["Via", "From", "To", "Call-ID"] {
                cancel
                    .headers
                    .push(h, call.b_invite.headers.get(h).unwrap());
            }
            cancel
                .headers
                .push("CSeq", format!("{} CANCEL", call.b_seq));
            cancel.headers.push("Max-Forwards", "70");
            let b = call.b_user.clone();
            self.log.push(format!("-> {b}: CANCEL"));
            self.send(&b, cancel);
        }
    }

    /// A frame from `user`'s WebSocket.
    pub fn recv(&mut self, now: Instant, user: &str, frame: &str) {
        if frame == "\r\n\r\n" {
            self.out.push((user.to_string(), "\r\n".to_string()));
            return;
        }
        match Message::parse(frame.as_bytes()).expect("phone sent garbage") {
            Message::Request(req) => {
                self.log.push(format!("{user}: {}", req.method));
                self.on_request(now, user, req);
            }
            Message::Response(resp) => {
                let cseq = resp.headers.get("CSeq").unwrap().to_string();
                self.log.push(format!(
                    "{user}: {} {}",
                    resp.status,
                    cseq.split_whitespace().nth(1).unwrap()
                ));
                self.on_response(now, user, resp);
            }
        }
    }

    fn on_request(&mut self, now: Instant, user: &str, req: Request) {
        let has_to_tag = NameAddr::parse(req.headers.get("To").unwrap())
            .unwrap()
            .tag()
            .is_some();
        match req.method {
            Method::Register => {
                if !self.authorized(&req) {
                    let c = self.challenge(&req, 401);
                    self.send(user, c);
                    return;
                }
                let contact = NameAddr::parse(req.headers.get("Contact").unwrap()).unwrap();
                let expires: u32 = req.headers.get("Expires").unwrap().parse().unwrap();
                self.bindings.retain(|(u, _)| u != user);
                let mut ok = make_response(&req, 200, Some("z9hG4bKreg"));
                if expires > 0 {
                    self.bindings.push((user.to_string(), contact.uri.clone()));
                    ok.headers.push(
                        "Contact",
                        format!("<{}>;expires={}", contact.uri, expires - 1),
                    );
                }
                ok.headers.push("Expires", expires.to_string());
                self.send(user, ok);
            }
            Method::Invite if !has_to_tag => {
                if !self.authorized(&req) {
                    let c = self.challenge(&req, self.invite_challenge);
                    self.send(user, c);
                    return;
                }
                self.send(user, make_response(&req, 100, None));
                let callee = req.uri.user.clone().unwrap_or_default();
                let Some((_, contact)) = self.bindings.iter().find(|(u, _)| *u == callee).cloned()
                else {
                    self.send(user, make_response(&req, 404, Some("nf")));
                    return;
                };
                // The far leg: new Call-ID, From at Asterisk's host, its own Contact.
                let via = self.via();
                let id = self.id();
                let mut b = Request::new(Method::Invite, contact.clone());
                b.headers.push("Via", via);
                b.headers
                    .push("From", format!("<sip:{user}@vm>;tag=234a64dd-{id}"));
                b.headers.push(
                    "To",
                    format!(
                        "<sip:{}@127.0.0.1>",
                        contact.user.clone().unwrap_or_default()
                    ),
                );
                b.headers.push("Contact", CONTACT);
                b.headers.push("Call-ID", format!("1f35ca64-{id}"));
                b.headers.push("CSeq", "23015 INVITE");
                b.headers.push("Allow", ALLOW);
                b.headers
                    .push("Supported", "100rel, timer, replaces, norefersub, histinfo");
                b.headers.push("Session-Expires", "1800");
                b.headers.push("Min-SE", "90");
                b.headers.push("Max-Forwards", "70");
                b.headers.push("Content-Type", "application/sdp");
                b.body = sdp("asterisk-b", 1, "sendrecv").into_bytes();
                self.call = Some(Bridge {
                    a_user: user.to_string(),
                    a_invite: req,
                    a_tag: format!("3d35c40e-{id}"),
                    a_answered: false,
                    a_seq: 100,
                    b_user: callee.clone(),
                    b_invite: b.clone(),
                    b_tag: None,
                    b_seq: 23015,
                    b_contact: None,
                    next_refresh: None,
                });
                self.send(&callee, b);
            }
            Method::Invite => {
                let glare = self.glare_next_reinvite
                    && self.call.as_ref().is_some_and(|c| c.a_user == user);
                if glare {
                    // Both sides re-INVITE at once: ours crosses theirs, both get 491.
                    self.glare_next_reinvite = false;
                    let mut ours = self.a_request(Method::Invite);
                    ours.headers.push("Content-Type", "application/sdp");
                    ours.body = sdp("asterisk-a", 3, "sendrecv").into_bytes();
                    self.log.push(format!("-> {user}: crossing re-INVITE"));
                    self.send(user, ours);
                    let tag = self.call.as_ref().unwrap().a_tag.clone();
                    self.send(user, make_response(&req, 491, Some(&tag)));
                    return;
                }
                let dir = if String::from_utf8_lossy(&req.body).contains("a=sendonly") {
                    "recvonly"
                } else {
                    "sendrecv"
                };
                let tag = self.tag_for(user);
                let mut ok = make_response(&req, 200, Some(&tag));
                ok.headers.push("Contact", CONTACT);
                ok.headers.push("Allow", ALLOW);
                if req.headers.get("Session-Expires").is_some() {
                    ok.headers.push("Session-Expires", "1800;refresher=uac");
                }
                ok.headers.push("Content-Type", "application/sdp");
                ok.body = sdp("asterisk", 9, dir).into_bytes();
                self.send(user, ok);
            }
            Method::Update => {
                let tag = self.tag_for(user);
                let mut ok = make_response(&req, 200, Some(&tag));
                ok.headers.push("Session-Expires", "1800;refresher=uac");
                ok.headers.push("Require", "timer");
                self.send(user, ok);
            }
            Method::Bye => {
                let tag = self.tag_for(user);
                self.send(user, make_response(&req, 200, Some(&tag)));
                if let Some(call) = self.call.as_ref() {
                    if call.a_user == user {
                        let via = self.via();
                        self.call.as_mut().unwrap().b_seq += 1;
                        let bye = self.b_request(Method::Bye, via);
                        let b = self.call.as_ref().unwrap().b_user.clone();
                        self.send(&b, bye);
                    } else {
                        let bye = self.a_request(Method::Bye);
                        let a = self.call.as_ref().unwrap().a_user.clone();
                        self.send(&a, bye);
                    }
                }
                self.call = None;
            }
            Method::Info | Method::Options => {
                let tag = self.tag_for(user);
                self.send(user, make_response(&req, 200, Some(&tag)));
            }
            Method::Ack | Method::Cancel => {}
            _ => self.send(user, make_response(&req, 501, Some("x"))),
        }
        let _ = now;
    }

    fn tag_for(&self, user: &str) -> String {
        match &self.call {
            Some(c) if c.a_user == user => c.a_tag.clone(),
            Some(c) => c
                .b_invite
                .headers
                .get("From")
                .and_then(|f| NameAddr::parse(f).ok()?.tag().map(str::to_string))
                .unwrap_or_default(),
            None => "gone".into(),
        }
    }

    fn on_response(&mut self, now: Instant, user: &str, resp: Response) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let cseq = resp.headers.get("CSeq").unwrap().to_string();
        let on_b = call.b_user == user
            && resp.headers.get("Call-ID") == call.b_invite.headers.get("Call-ID");
        if !cseq.ends_with("INVITE") || resp.status < 180 {
            return;
        }
        if !on_b {
            // Our crossing re-INVITE to the caller: ACK its 491 (same branch, §17.1.1.3).
            if resp.status >= 300 {
                let ack = dialdeck_sip::transaction::ack_for_non2xx(
                    &self.a_request_snapshot(&resp),
                    &resp,
                );
                self.send(user, ack);
            }
            return;
        }
        if cseq.starts_with("23015 ") {
            match resp.status {
                180 => {
                    let (a, inv, tag) = (
                        call.a_user.clone(),
                        call.a_invite.clone(),
                        call.a_tag.clone(),
                    );
                    let mut r = make_response(&inv, 180, Some(&tag));
                    r.headers.push("Contact", CONTACT);
                    self.send(&a, r);
                }
                200..=299 => {
                    call.b_tag = NameAddr::parse(resp.headers.get("To").unwrap())
                        .unwrap()
                        .tag()
                        .map(str::to_string);
                    call.b_contact = NameAddr::parse(resp.headers.get("Contact").unwrap())
                        .ok()
                        .map(|n| n.uri);
                    call.a_answered = true;
                    call.next_refresh = Some(now + Duration::from_secs(900));
                    let via = self.via();
                    let ack = self.b_request(Method::Ack, via);
                    let call = self.call.as_ref().unwrap();
                    let (a, inv, tag) = (
                        call.a_user.clone(),
                        call.a_invite.clone(),
                        call.a_tag.clone(),
                    );
                    self.send(user, ack);
                    let mut ok = make_response(&inv, 200, Some(&tag));
                    ok.headers.push("Contact", CONTACT);
                    ok.headers.push("Allow", ALLOW);
                    ok.headers
                        .push("Supported", "100rel, timer, replaces, norefersub");
                    ok.headers.push("Session-Expires", "1800;refresher=uac");
                    ok.headers.push("Require", "timer");
                    ok.headers.push("Content-Type", "application/sdp");
                    ok.body = sdp("asterisk", 1, "sendrecv").into_bytes();
                    self.send(&a, ok);
                }
                _ => {
                    let ack = dialdeck_sip::transaction::ack_for_non2xx(&call.b_invite, &resp);
                    let (a, inv, tag) = (
                        call.a_user.clone(),
                        call.a_invite.clone(),
                        call.a_tag.clone(),
                    );
                    self.send(user, ack);
                    self.send(&a, make_response(&inv, resp.status, Some(&tag)));
                    self.call = None;
                }
            }
        } else if (200..300).contains(&resp.status) {
            // 2xx to a refresh re-INVITE: ACK it.
            let via = self.via();
            let ack = self.b_request(Method::Ack, via);
            self.send(user, ack);
        }
    }

    /// The request our crossing re-INVITE was (enough of it to build the ACK of a non-2xx).
    fn a_request_snapshot(&self, resp: &Response) -> Request {
        let call = self.call.as_ref().unwrap();
        let contact = NameAddr::parse(call.a_invite.headers.get("Contact").unwrap())
            .unwrap()
            .uri;
        let mut r = Request::new(Method::Invite, contact);
        for h in ["Via", "From", "Call-ID", "CSeq"] {
            r.headers.push(h, resp.headers.get(h).unwrap());
        }
        r
    }
}
