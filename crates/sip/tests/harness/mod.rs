//! Test harness for the user agent: a [`Phone`] drives one `UserAgent` in virtual time and
//! sorts its outputs; [`asterisk`] is a scripted registrar + B2BUA modelled on the traces in
//! `shared/reference/sip-traces/05-*` and `06-*`.
#![allow(dead_code)]

pub mod asterisk;

use dialdeck_sip::msg::{Message, NameAddr, Request, Response};
use dialdeck_sip::random::SplitMix64;
use dialdeck_sip::timer::{Duration, Instant};
use dialdeck_sip::transaction::make_response;
use dialdeck_sip::ua::{Command, Config, Event, Input, MediaAction, MediaEvent, Output, UserAgent};

/// Config for `user`@siplab.test with password `<user>-secret`.
pub fn config(user: &str) -> Config {
    let mut c = Config::new(
        &format!("sip:{user}@siplab.test"),
        "sip:siplab.test",
        user,
        &format!("{user}-secret"),
    );
    c.user_agent = format!("dialdeck-test-{user}");
    c
}

/// One user agent in virtual time with its outputs collected in order.
pub struct Phone {
    /// The agent under test.
    pub ua: UserAgent,
    /// Virtual now.
    pub now: Instant,
    /// Outputs not yet looked at.
    pub out: Vec<Output>,
    /// The last `Output::Timeout`.
    pub next: Instant,
}

impl Phone {
    /// A phone for `user` with a fixed RNG seed.
    pub fn new(user: &str, seed: u64) -> Phone {
        Phone::with_config(config(user), seed)
    }

    /// A phone with a custom config.
    pub fn with_config(cfg: Config, seed: u64) -> Phone {
        let ua = UserAgent::new(cfg, SplitMix64::new(seed)).expect("config");
        Phone {
            ua,
            now: Instant::from_millis(1_000),
            out: Vec::new(),
            next: Instant::from_millis(u64::MAX),
        }
    }

    /// Feeds an input at the current time and drains outputs.
    pub fn input(&mut self, input: Input) {
        self.ua.handle_input(self.now, input);
        self.drain();
    }

    fn drain(&mut self) {
        loop {
            match self.ua.poll_output() {
                Output::Timeout(t) => {
                    self.next = t;
                    break;
                }
                o => self.out.push(o),
            }
        }
    }

    /// Runs timers up to `now + d`.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Runs timers up to `until` (each at its own instant).
    pub fn run_until(&mut self, until: Instant) {
        while self.next <= until {
            self.now = self.now.max(self.next);
            self.input(Input::Timeout);
        }
        self.now = self.now.max(until);
    }

    /// A user command.
    pub fn cmd(&mut self, c: Command) {
        self.input(Input::Command(c));
    }

    /// A message arriving on the WebSocket.
    pub fn recv(&mut self, m: impl Into<Message>) {
        let m: Message = m.into();
        self.input(Input::Frame(m.to_string()));
    }

    /// The media layer reports its SDP.
    pub fn sdp_ready(&mut self, sdp: &str) {
        self.input(Input::Media(MediaEvent::LocalSdpReady {
            sdp: sdp.to_string(),
        }));
    }

    /// Removes and returns SIP messages sent so far (keep-alive CRLFs are left in `out`).
    pub fn sent(&mut self) -> Vec<Message> {
        let mut msgs = Vec::new();
        self.out.retain(|o| match o {
            Output::Send(text) if !text.trim().is_empty() => {
                msgs.push(
                    Message::parse(text.as_bytes())
                        .unwrap_or_else(|e| panic!("we sent an unparseable message: {e}\n{text}")),
                );
                false
            }
            _ => true,
        });
        msgs
    }

    /// Removes and returns sent requests (panics on responses being mixed in unexpectedly? no: drops them).
    pub fn sent_requests(&mut self) -> Vec<Request> {
        self.sent()
            .into_iter()
            .filter_map(|m| match m {
                Message::Request(r) => Some(r),
                Message::Response(_) => None,
            })
            .collect()
    }

    /// The one request sent since last asked (panics if not exactly one message).
    pub fn one_request(&mut self) -> Request {
        let sent = self.sent();
        assert_eq!(sent.len(), 1, "expected one message, got {sent:#?}");
        match sent.into_iter().next() {
            Some(Message::Request(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// The one response sent since last asked.
    pub fn one_response(&mut self) -> Response {
        let sent = self.sent();
        assert_eq!(sent.len(), 1, "expected one message, got {sent:#?}");
        match sent.into_iter().next() {
            Some(Message::Response(r)) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// Removes and returns UI events.
    pub fn events(&mut self) -> Vec<Event> {
        let mut v = Vec::new();
        self.out.retain(|o| match o {
            Output::Event(e) => {
                v.push(e.clone());
                false
            }
            _ => true,
        });
        v
    }

    /// Removes and returns media actions.
    pub fn media(&mut self) -> Vec<MediaAction> {
        let mut v = Vec::new();
        self.out.retain(|o| match o {
            Output::Media(m) => {
                v.push(m.clone());
                false
            }
            _ => true,
        });
        v
    }

    /// Removes and returns transport actions and raw frames (Connect, Disconnect, CRLFs).
    pub fn transport(&mut self) -> Vec<Output> {
        let mut v = Vec::new();
        self.out.retain(|o| match o {
            Output::Connect | Output::Disconnect => {
                v.push(o.clone());
                false
            }
            Output::Send(t) if t.trim().is_empty() => {
                v.push(o.clone());
                false
            }
            _ => true,
        });
        v
    }

    /// Asks for registration and opens the transport.
    pub fn connect_and_register(&mut self) {
        self.cmd(Command::Register);
        assert!(self.transport().contains(&Output::Connect));
        self.input(Input::TransportConnected);
    }
}

/// A response to `req` with the usual copied headers.
pub fn reply(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    make_response(req, status, to_tag)
}

/// A response with a Contact (for 1xx/2xx to INVITE).
pub fn reply_with_contact(req: &Request, status: u16, to_tag: &str, contact: &str) -> Response {
    let mut r = make_response(req, status, Some(to_tag));
    r.headers.push("Contact", contact);
    r
}

/// A digest challenge response (401 with WWW-Authenticate, 407 with Proxy-Authenticate).
pub fn challenge(req: &Request, status: u16, nonce: &str, stale: bool) -> Response {
    let mut r = make_response(req, status, Some("chal"));
    let name = if status == 407 {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    let stale = if stale { ", stale=true" } else { "" };
    r.headers.push(name, format!("Digest realm=\"siplab.test\", nonce=\"{nonce}\", opaque=\"39d2a57c\", algorithm=MD5, qop=\"auth\"{stale}"));
    r
}

/// The tag of a header of a message.
pub fn tag_of(m: &Request, header: &str) -> Option<String> {
    NameAddr::parse(m.headers.get(header)?)
        .ok()?
        .tag()
        .map(str::to_string)
}

/// The CSeq number of a request.
pub fn cseq_num(m: &Request) -> u32 {
    m.headers
        .get("CSeq")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The top-Via branch of a request.
pub fn branch(m: &Request) -> String {
    dialdeck_sip::msg::Via::parse(m.headers.get("Via").unwrap())
        .unwrap()
        .branch()
        .unwrap()
        .to_string()
}

/// A minimal SDP a test media layer "creates".
pub fn sdp(who: &str, version: u32, dir: &str) -> String {
    format!("v=0\r\no=- 42 {version} IN IP4 127.0.0.1\r\ns={who}\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\nc=IN IP4 0.0.0.0\r\na={dir}\r\n")
}
