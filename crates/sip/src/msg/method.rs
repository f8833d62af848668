//! SIP request methods (RFC 3261 §7.1 and the extensions a softphone meets).

use std::fmt;
use std::str::FromStr;

use super::error::{ParseError, ParseErrorKind};
use super::lex::is_token;

/// A request method. Methods are case-sensitive (RFC 3261 §7.1): `invite` is `Other("invite")`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (RFC 3261 §13).
    Invite,
    /// ACK (RFC 3261 §17.1.1.3).
    Ack,
    /// BYE (RFC 3261 §15).
    Bye,
    /// CANCEL (RFC 3261 §9).
    Cancel,
    /// REGISTER (RFC 3261 §10).
    Register,
    /// OPTIONS (RFC 3261 §11).
    Options,
    /// INFO (RFC 6086).
    Info,
    /// UPDATE (RFC 3311).
    Update,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other `token` (RFC 3261 §25.1 `extension-method`).
    Other(String),
}

impl Method {
    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }

    /// The method named by `s` if `s` is a `token`. Known names map to their variants.
    pub(crate) fn from_token(s: &str) -> Option<Method> {
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            _ if is_token(s) => Method::Other(s.to_owned()),
            _ => return None,
        })
    }
}

impl FromStr for Method {
    type Err = ParseError;

    /// Parses a method `token`; known names give their variant, others `Other`.
    fn from_str(s: &str) -> Result<Method, ParseError> {
        Method::from_token(s).ok_or(ParseError::new(ParseErrorKind::InvalidMethod, 0))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
