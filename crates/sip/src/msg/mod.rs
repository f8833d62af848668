//! SIP messages (RFC 3261 §7): parsing, printing and the typed header values a user agent needs.
//!
//! [`Message::parse`] takes one whole message (a WebSocket text frame, RFC 7118 §5), checks the
//! framing (Content-Length, RFC 3261 §18.3) and the syntax of the headers the stack relies on
//! (Via, From, To, Call-ID, CSeq, Contact, Route, Record-Route, Max-Forwards, Expires), and keeps
//! every header raw in [`Headers`]. [`Message::to_bytes`] prints it back with CRLF line ends
//! and a Content-Length computed from the body. `parse(print(parse(x))) == parse(x)` for every
//! input that parses.

mod cseq;
mod error;
mod headers;
pub(crate) mod lex;
mod method;
mod name_addr;
mod parse;
mod print;
mod uri;
mod via;

pub use cseq::CSeq;
pub use error::{ParseError, ParseErrorKind};
pub use headers::{canonical_name, is_list_header, same_name, Headers};
pub use method::Method;
pub use name_addr::NameAddr;
pub use uri::Uri;
pub use via::Via;

use std::fmt;

/// A SIP message: a request or a response (RFC 3261 §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A request (RFC 3261 §7.1).
    Request(Request),
    /// A response (RFC 3261 §7.2).
    Response(Response),
}

/// A SIP request: Request-Line, headers and body (RFC 3261 §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The header fields (without Content-Length, which is written from `body`).
    pub headers: Headers,
    /// The body (SDP, DTMF info, ...), exactly Content-Length bytes.
    pub body: Vec<u8>,
}

/// A SIP response: Status-Line, headers and body (RFC 3261 §7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The Status-Code, 100 to 699 (RFC 3261 §21).
    pub status: u16,
    /// The Reason-Phrase, as received (may be empty, may be UTF-8).
    pub reason: String,
    /// The header fields (without Content-Length, which is written from `body`).
    pub headers: Headers,
    /// The body, exactly Content-Length bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with empty headers and body.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }
}

impl Response {
    /// A response with empty headers and body.
    pub fn new(status: u16, reason: impl Into<String>) -> Response {
        Response {
            status,
            reason: reason.into(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }
}

impl Message {
    /// Parses one whole message (a WebSocket text frame or a datagram).
    ///
    /// - Leading CRLFs are skipped (RFC 3261 §7.5); lines may end in CRLF or a bare LF.
    /// - Folded header lines are unfolded to one SP (RFC 3261 §7.3.1); values are trimmed.
    /// - With Content-Length, the body is exactly that many bytes: a shorter body is
    ///   [`ParseErrorKind::BodyTooShort`], extra bytes are discarded (RFC 3261 §18.3).
    ///   Without it (allowed on WebSocket, RFC 7118 §5), the body is the rest of the input.
    /// - Content-Length is not kept in [`Headers`]: the printer writes it from the body.
    pub fn parse(input: &[u8]) -> Result<Message, ParseError> {
        parse::parse_message(input)
    }

    /// The message as bytes on the wire: CRLF line ends, Content-Length set from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        print::to_bytes(self)
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The header fields, mutable.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Request(_) => None,
            Message::Response(r) => Some(r),
        }
    }

    /// The top Via (RFC 3261 §8.1.1.7), parsed, if present and valid.
    pub fn top_via(&self) -> Option<Via> {
        self.headers()
            .get_all("Via")
            .next()
            .and_then(|v| Via::parse(v).ok())
    }

    /// The CSeq (RFC 3261 §8.1.1.5), parsed, if present and valid.
    pub fn cseq(&self) -> Option<CSeq> {
        self.headers().get("CSeq").and_then(|v| CSeq::parse(v).ok())
    }

    /// The Call-ID (RFC 3261 §8.1.1.4), if present.
    pub fn call_id(&self) -> Option<&str> {
        self.headers().get("Call-ID")
    }

    /// The From header (RFC 3261 §8.1.1.3), parsed, if present and valid.
    pub fn from(&self) -> Option<NameAddr> {
        self.headers()
            .get("From")
            .and_then(|v| NameAddr::parse(v).ok())
    }

    /// The To header (RFC 3261 §8.1.1.2), parsed, if present and valid.
    pub fn to(&self) -> Option<NameAddr> {
        self.headers()
            .get("To")
            .and_then(|v| NameAddr::parse(v).ok())
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Message {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Message {
        Message::Response(r)
    }
}

impl fmt::Display for Message {
    /// The same text as [`Message::to_bytes`] (a non-UTF-8 body is shown lossily).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut head = String::new();
        print::write_head(self, &mut head);
        f.write_str(&head)?;
        f.write_str(&String::from_utf8_lossy(self.body()))
    }
}

/// The standard Reason-Phrase for a status code (RFC 3261 §21 and later RFCs), or `""` if the
/// code is not registered.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        417 => "Unknown Resource-Priority",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        428 => "Use Identity Header",
        429 => "Provide Referrer Identity",
        430 => "Flow Failed",
        433 => "Anonymity Disallowed",
        436 => "Bad Identity-Info",
        437 => "Unsupported Certificate",
        438 => "Invalid Identity Header",
        439 => "First Hop Lacks Outbound Support",
        440 => "Max-Breadth Exceeded",
        469 => "Bad Info Package",
        470 => "Consent Needed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        555 => "Push Notification Service Not Supported",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        608 => "Rejected",
        _ => "",
    }
}
