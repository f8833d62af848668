//! Typed parse errors for SIP messages and their parts (RFC 3261 §25 grammar).

use std::fmt;

/// Why a message, URI or header value failed to parse, and where.
///
/// `offset` is a byte offset into the input given to the parser that failed: the whole message
/// for [`Message::parse`](super::Message::parse) (for a header value, the start of that header's
/// line), or the string given to [`Uri::parse`](super::Uri::parse), [`Via::parse`](super::Via::parse)
/// and the other value parsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// Byte offset of the problem in the parser's input.
    pub offset: usize,
}

impl ParseError {
    /// An error of `kind` at byte `offset`.
    pub fn new(kind: ParseErrorKind, offset: usize) -> ParseError {
        ParseError { kind, offset }
    }

    /// The same error with its offset moved by `by` bytes (a sub-parser's error placed in the
    /// larger input it was cut from).
    pub(crate) fn shifted(mut self, by: usize) -> ParseError {
        self.offset += by;
        self
    }
}

/// The kind of a [`ParseError`]; each names the RFC 3261 §25 rule that was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The input was empty (or only blank lines).
    Empty,
    /// The start line or a header field is not UTF-8.
    InvalidUtf8,
    /// No empty line ends the header section (RFC 3261 §7).
    UnterminatedHeaders,
    /// The Request-Line or Status-Line is malformed (§7.1, §7.2): wrong number of
    /// single-SP-separated elements, stray whitespace.
    InvalidStartLine,
    /// The method is not a `token` (§25.1 `Method`).
    InvalidMethod,
    /// The SIP-Version is not `SIP/2.0` (§7.1).
    UnsupportedVersion,
    /// The Status-Code is not three digits (§7.2, §21).
    InvalidStatusCode,
    /// The Reason-Phrase has a control character (§25.1 `Reason-Phrase`).
    InvalidReasonPhrase,
    /// A Request-URI with `<...>`, whitespace or escaped headers (§19.1.5, RFC 4475 §3.1.2.11).
    InvalidRequestUri,
    /// A header line has no colon, or its name is not a `token` (§7.3.1).
    InvalidHeaderName,
    /// A header value has a control character (NUL, bare CR, ...).
    InvalidHeaderValue,
    /// A line that starts with whitespace but has no header before it to continue.
    UnexpectedContinuation,
    /// Content-Length is not a decimal number, or two Content-Length values disagree (§20.14).
    InvalidContentLength,
    /// The body is shorter than Content-Length says (§18.3, RFC 4475 §3.1.2.2).
    BodyTooShort,
    /// A URI is malformed (§19.1.1): missing scheme, bad character, ...
    InvalidUri,
    /// A host is empty or malformed (§25.1 `host`, IPv6 reference).
    InvalidHost,
    /// A port is not a number in 0..=65535 (§25.1 `port`).
    InvalidPort,
    /// A `;name=value` parameter is empty or malformed (§25.1 `generic-param`).
    InvalidParam,
    /// A quoted string is not closed (§25.1 `quoted-string`).
    UnterminatedQuote,
    /// A display name is neither `*(token LWS)` nor a quoted string (§25.1 `display-name`).
    InvalidDisplayName,
    /// A name-addr / addr-spec is malformed (§20.10, §25.1 `name-addr`).
    InvalidNameAddr,
    /// A Via value is malformed (§20.42).
    InvalidVia,
    /// A CSeq value is malformed or its number is not below 2**31 (§8.1.1.5, §20.16).
    InvalidCSeq,
    /// Max-Forwards is not a number in 0..=255 (§20.22).
    InvalidMaxForwards,
    /// A numeric header (Expires, Retry-After, Min-Expires, ...) is not a 32-bit number (§25.1
    /// `delta-seconds`).
    InvalidNumber,
    /// A Call-ID is empty or has whitespace (§20.8).
    InvalidCallId,
}

impl ParseErrorKind {
    /// A short English description.
    pub fn as_str(self) -> &'static str {
        use ParseErrorKind::*;
        match self {
            Empty => "empty message",
            InvalidUtf8 => "header section is not UTF-8",
            UnterminatedHeaders => "no empty line ends the headers",
            InvalidStartLine => "malformed start line",
            InvalidMethod => "invalid method",
            UnsupportedVersion => "unsupported SIP version",
            InvalidStatusCode => "invalid status code",
            InvalidReasonPhrase => "invalid reason phrase",
            InvalidRequestUri => "invalid Request-URI",
            InvalidHeaderName => "invalid header name",
            InvalidHeaderValue => "invalid header value",
            UnexpectedContinuation => "continuation line without a header",
            InvalidContentLength => "invalid Content-Length",
            BodyTooShort => "body shorter than Content-Length",
            InvalidUri => "invalid URI",
            InvalidHost => "invalid host",
            InvalidPort => "invalid port",
            InvalidParam => "invalid parameter",
            UnterminatedQuote => "unterminated quoted string",
            InvalidDisplayName => "invalid display name",
            InvalidNameAddr => "invalid name-addr",
            InvalidVia => "invalid Via",
            InvalidCSeq => "invalid CSeq",
            InvalidMaxForwards => "invalid Max-Forwards",
            InvalidNumber => "invalid number",
            InvalidCallId => "invalid Call-ID",
        }
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for ParseError {}
