//! The Via header (RFC 3261 §20.42, §18.2.1).

use std::fmt;

use super::error::{ParseError, ParseErrorKind};
use super::lex::{find_param, is_token_byte, parse_header_params, skip_ws, write_params};

/// One Via element: `SIP/2.0/WS host:port;branch=z9hG4bK...;received=...;rport`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Via {
    /// The transport, upper case: `WS`, `WSS`, `UDP`, `TCP`, `TLS`, ...
    pub transport: String,
    /// The sent-by host (IPv6 references keep their brackets).
    pub host: String,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// `via-params`: branch, received, rport, maddr, ttl and extensions, values raw.
    pub params: Vec<(String, Option<String>)>,
}

impl Via {
    /// Parses one `via-parm` (RFC 3261 §25.1): `sent-protocol LWS sent-by *(SEMI via-params)`,
    /// where `sent-protocol` is `SIP / 2.0 / transport` with optional white space around the
    /// slashes (RFC 4475 §3.1.1.1).
    pub fn parse(s: &str) -> Result<Via, ParseError> {
        let b = s.as_bytes();
        let err = |o| ParseError::new(ParseErrorKind::InvalidVia, o);
        let token = |i: usize| -> Result<(usize, usize), ParseError> {
            let start = skip_ws(b, i);
            let mut j = start;
            while j < b.len() && is_token_byte(b[j]) {
                j += 1;
            }
            if j == start {
                Err(err(start))
            } else {
                Ok((start, j))
            }
        };
        let slash = |i: usize| -> Result<usize, ParseError> {
            let i = skip_ws(b, i);
            if b.get(i) == Some(&b'/') {
                Ok(i + 1)
            } else {
                Err(err(i))
            }
        };
        let (ps, pe) = token(0)?;
        if !s[ps..pe].eq_ignore_ascii_case("SIP") {
            return Err(err(ps));
        }
        let (vs, ve) = token(slash(pe)?)?;
        if &s[vs..ve] != "2.0" {
            return Err(err(vs));
        }
        let (ts, te) = token(slash(ve)?)?;
        let transport = s[ts..te].to_ascii_uppercase();

        // sent-by = host [ COLON port ], after at least one LWS.
        let hs = skip_ws(b, te);
        if hs == te {
            return Err(err(te));
        }
        let mut i = hs;
        if b.get(i) == Some(&b'[') {
            let close = b[i..]
                .iter()
                .position(|&c| c == b']')
                .ok_or(ParseError::new(ParseErrorKind::InvalidHost, i))?;
            let inner = &b[i + 1..i + close];
            if inner.is_empty()
                || !inner
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            {
                return Err(ParseError::new(ParseErrorKind::InvalidHost, i));
            }
            i += close + 1;
        } else {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'-' | b'.' | b'_'))
            {
                i += 1;
            }
            if i == hs {
                return Err(ParseError::new(ParseErrorKind::InvalidHost, hs));
            }
        }
        let host = s[hs..i].to_owned();
        let mut port = None;
        let c = skip_ws(b, i);
        if b.get(c) == Some(&b':') {
            let p_start = skip_ws(b, c + 1);
            let mut j = p_start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            match s[p_start..j].parse::<u16>() {
                Ok(p) if j - p_start <= 5 => port = Some(p),
                _ => return Err(ParseError::new(ParseErrorKind::InvalidPort, p_start)),
            }
            i = j;
        }
        let params = parse_header_params(s, i)?;
        Ok(Via {
            transport,
            host,
            port,
            params,
        })
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7), if any.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// The `received` parameter (RFC 3261 §18.2.1), if any.
    pub fn received(&self) -> Option<&str> {
        self.param("received").flatten()
    }

    /// The via parameter `name` (case-insensitive): `Some(Some(v))` for `;name=v`,
    /// `Some(None)` for a bare `;name` (such as `rport` in a request), `None` if absent.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// Appends the text to `out`.
    pub fn write_to(&self, out: &mut String) {
        out.push_str("SIP/2.0/");
        out.push_str(&self.transport);
        out.push(' ');
        out.push_str(&self.host);
        if let Some(p) = self.port {
            out.push(':');
            out.push_str(&p.to_string());
        }
        write_params(out, &self.params);
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(64);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let v = Via::parse(
            "SIP  /   2.0\t /udp 192.0.2.2 : 5060 ;branch=z9hG4bK1 ;rport;received=[::1]",
        )
        .unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(v.param("rport"), Some(None));
        assert_eq!(v.received(), Some("[::1]"));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK1;rport;received=[::1]"
        );
        let v = Via::parse("SIP/2.0/WSS [2001:db8::9:1];branch=z9hG4bKas3-111").unwrap();
        assert_eq!(v.host, "[2001:db8::9:1]");
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/3.0/UDP h",
            "SIP/2.0/UDP",
            "SIP/2.0/UDPh",
            "SIP/2.0/UDP h:x",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
    }
}
