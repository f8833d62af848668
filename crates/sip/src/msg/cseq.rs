//! The CSeq header (RFC 3261 §20.16, §8.1.1.5).

use std::fmt;

use super::error::{ParseError, ParseErrorKind};
use super::lex::{is_token_byte, is_ws, skip_ws};
use super::method::Method;

/// `CSeq: 1 INVITE`: a sequence number below 2**31 and the request's method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number (RFC 3261 §8.1.1.5: less than 2**31).
    pub seq: u32,
    /// The method of the request this CSeq belongs to.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method` (RFC 3261 §25.1 `CSeq`).
    pub fn parse(s: &str) -> Result<CSeq, ParseError> {
        let err = |o| ParseError::new(ParseErrorKind::InvalidCSeq, o);
        let b = s.as_bytes();
        let start = skip_ws(b, 0);
        let mut i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 10 {
            return Err(err(start));
        }
        let seq: u64 = s[start..i].parse().map_err(|_| err(start))?;
        if seq >= 1 << 31 {
            return Err(err(start));
        }
        if i == b.len() || !is_ws(b[i]) {
            return Err(err(i));
        }
        let m_start = skip_ws(b, i);
        let mut j = m_start;
        while j < b.len() && is_token_byte(b[j]) {
            j += 1;
        }
        if j == m_start || skip_ws(b, j) != b.len() {
            return Err(err(j));
        }
        let method = Method::from_token(&s[m_start..j]).ok_or(err(m_start))?;
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}
