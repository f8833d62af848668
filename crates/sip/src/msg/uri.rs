//! SIP and SIPS URIs (RFC 3261 §19.1), other schemes kept opaque.

use std::fmt;

use super::error::{ParseError, ParseErrorKind};
use super::lex::{find_param, write_params, Params};

/// A `sip:` / `sips:` URI (RFC 3261 §19.1): `sip:user:password@host:port;params?headers`.
///
/// Parts are kept as written (escapes not decoded, host case kept) so that printing gives the
/// same text back; the scheme is lower-cased. Other schemes (`tel:`, `urn:`, ...) are kept as
/// `Uri { scheme, opaque: Some(rest), .. }` with every other field empty.
/// `PartialEq` is structural, not the URI comparison rules of RFC 3261 §19.1.4.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Uri {
    /// The scheme, lower case: `sip`, `sips`, `tel`, ...
    pub scheme: String,
    /// The user part, escapes kept (`alice`, `+15551234567`, `user;par=u%40example.net`).
    pub user: Option<String>,
    /// The password part (deprecated by RFC 3261 §19.1.1 but parsed).
    pub password: Option<String>,
    /// The host: a domain name, IPv4 address, or IPv6 reference with its brackets (`[::1]`).
    pub host: String,
    /// The port, if written.
    pub port: Option<u16>,
    /// URI parameters (RFC 3261 §19.1.1 `uri-parameters`), values raw.
    pub params: Vec<(String, Option<String>)>,
    /// URI headers after `?` (RFC 3261 §19.1.1 `headers`), values raw (escaped).
    pub headers: Vec<(String, String)>,
    /// For schemes other than sip/sips, everything after `scheme:`.
    pub opaque: Option<String>,
}

/// Bytes never allowed anywhere in a URI as we accept it: controls, space, non-ASCII and the
/// delimiters that end a URI in a header (`<`, `>`, `"`).
#[inline]
fn is_uri_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b'{' | b'}' | b'|' | b'^')
}

#[inline]
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

/// Checks `%HH` escapes in `s` (RFC 3261 §25.1 `escaped`).
fn check_escapes(s: &str, base: usize) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok =
                b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err(ParseError::new(ParseErrorKind::InvalidUri, base + i));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

impl Uri {
    /// Parses a URI (RFC 3261 §19.1.1 for sip/sips, RFC 3986 `scheme ":" rest` otherwise).
    /// No surrounding whitespace or `<>` is allowed.
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        let b = s.as_bytes();
        let err = |k, o| Err(ParseError::new(k, o));
        let colon = match b.iter().position(|&c| c == b':') {
            Some(c) => c,
            None => return err(ParseErrorKind::InvalidUri, 0),
        };
        let scheme = &s[..colon];
        let scheme_ok = !scheme.is_empty()
            && b[0].is_ascii_alphabetic()
            && scheme
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return err(ParseErrorKind::InvalidUri, 0);
        }
        if let Some(bad) = b.iter().position(|&c| !is_uri_byte(c)) {
            return err(ParseErrorKind::InvalidUri, bad);
        }
        let rest = &s[colon + 1..];
        if rest.is_empty() {
            return err(ParseErrorKind::InvalidUri, colon + 1);
        }
        let scheme_lc = if scheme.bytes().any(|c| c.is_ascii_uppercase()) {
            scheme.to_ascii_lowercase()
        } else {
            scheme.to_owned()
        };
        if scheme_lc != "sip" && scheme_lc != "sips" {
            return Ok(Uri {
                scheme: scheme_lc,
                opaque: Some(rest.to_owned()),
                ..Uri::default()
            });
        }
        let base = colon + 1;
        check_escapes(rest, base)?;
        let rb = rest.as_bytes();

        // userinfo: the first '@' ends it (user, password, params and headers have no raw '@').
        let (user, password, mut i) = match rb.iter().position(|&c| c == b'@') {
            Some(at) => {
                let info = &rest[..at];
                let (u, p) = match info.find(':') {
                    Some(c) => (&info[..c], Some(info[c + 1..].to_owned())),
                    None => (info, None),
                };
                if u.is_empty() {
                    return err(ParseErrorKind::InvalidUri, base);
                }
                (Some(u.to_owned()), p, at + 1)
            }
            None => (None, None, 0),
        };

        // host
        let host_start = i;
        if rb.get(i) == Some(&b'[') {
            let close = match rb[i..].iter().position(|&c| c == b']') {
                Some(c) => i + c,
                None => return err(ParseErrorKind::InvalidHost, base + i),
            };
            let inner = &rb[i + 1..close];
            if inner.is_empty()
                || !inner
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
                || !inner.contains(&b':')
            {
                return err(ParseErrorKind::InvalidHost, base + i);
            }
            i = close + 1;
        } else {
            while i < rb.len() && is_host_byte(rb[i]) {
                i += 1;
            }
            if i == host_start {
                return err(ParseErrorKind::InvalidHost, base + i);
            }
        }
        let host = rest[host_start..i].to_owned();

        // port
        let mut port = None;
        if rb.get(i) == Some(&b':') {
            let p_start = i + 1;
            i = p_start;
            while i < rb.len() && rb[i].is_ascii_digit() {
                i += 1;
            }
            if i == p_start || i - p_start > 5 {
                return err(ParseErrorKind::InvalidPort, base + p_start);
            }
            match rest[p_start..i].parse::<u32>() {
                Ok(p) if p <= u16::MAX as u32 => port = Some(p as u16),
                _ => return err(ParseErrorKind::InvalidPort, base + p_start),
            }
        }

        // params
        let mut params: Params = Vec::new();
        while rb.get(i) == Some(&b';') {
            let p_start = i + 1;
            let mut j = p_start;
            while j < rb.len() && rb[j] != b';' && rb[j] != b'?' {
                j += 1;
            }
            let p = &rest[p_start..j];
            let (n, v) = match p.find('=') {
                Some(e) => (&p[..e], Some(p[e + 1..].to_owned())),
                None => (p, None),
            };
            if n.is_empty() || n.contains('=') || v.as_deref() == Some("") {
                return err(ParseErrorKind::InvalidParam, base + p_start);
            }
            params.push((n.to_owned(), v));
            i = j;
        }

        // headers
        let mut headers = Vec::new();
        if rb.get(i) == Some(&b'?') {
            for h in rest[i + 1..].split('&') {
                let (n, v) = match h.find('=') {
                    Some(e) => (&h[..e], &h[e + 1..]),
                    None => (h, ""),
                };
                if n.is_empty() {
                    return err(ParseErrorKind::InvalidUri, base + i);
                }
                headers.push((n.to_owned(), v.to_owned()));
            }
            i = rb.len();
        }
        if i != rb.len() {
            return err(ParseErrorKind::InvalidUri, base + i);
        }
        Ok(Uri {
            scheme: scheme_lc,
            user,
            password,
            host,
            port,
            params,
            headers,
            opaque: None,
        })
    }

    /// A `sip:` URI with the given user and host and nothing else.
    pub fn sip(user: Option<&str>, host: &str) -> Uri {
        Uri {
            scheme: "sip".to_owned(),
            user: user.map(str::to_owned),
            host: host.to_owned(),
            ..Uri::default()
        }
    }

    /// The URI parameter `name` (case-insensitive): `Some(Some(v))` for `;name=v`,
    /// `Some(None)` for a bare `;name`, `None` if absent.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// Appends the URI's text to `out`.
    pub fn write_to(&self, out: &mut String) {
        out.push_str(&self.scheme);
        out.push(':');
        if let Some(o) = &self.opaque {
            out.push_str(o);
            return;
        }
        if let Some(u) = &self.user {
            out.push_str(u);
            if let Some(p) = &self.password {
                out.push(':');
                out.push_str(p);
            }
            out.push('@');
        }
        out.push_str(&self.host);
        if let Some(p) = self.port {
            out.push(':');
            // Avoids the formatting machinery on the hot print path.
            let mut buf = [0u8; 5];
            let mut n = p;
            let mut k = buf.len();
            loop {
                k -= 1;
                buf[k] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            out.push_str(std::str::from_utf8(&buf[k..]).unwrap_or("0"));
        }
        write_params(out, &self.params);
        for (k, (n, v)) in self.headers.iter().enumerate() {
            out.push(if k == 0 { '?' } else { '&' });
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = ParseError;

    /// Same as [`Uri::parse`].
    fn from_str(s: &str) -> Result<Uri, ParseError> {
        Uri::parse(s)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(48);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(s: &str) -> Uri {
        let u = Uri::parse(s).unwrap();
        assert_eq!(u.to_string(), s);
        u
    }

    #[test]
    fn sip_uris() {
        let u = rt("sip:alice:pw@example.com:5061;transport=ws;lr?Subject=hi&X=%20");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.param("TRANSPORT"), Some(Some("ws")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers.len(), 2);
        let u = rt("sips:[2001:db8::10]:5070");
        assert_eq!(u.host, "[2001:db8::10]");
        let u = rt("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        let u = rt("tel:+1-201-555-0123");
        assert_eq!(u.opaque.as_deref(), Some("+1-201-555-0123"));
        assert_eq!(Uri::parse("SIP:a@B").unwrap().to_string(), "sip:a@B");
    }

    #[test]
    fn bad_uris() {
        for s in [
            "",
            "sip:",
            "sip:@h",
            "sip:a@",
            "sip:h:99999",
            "sip:h:",
            "sip:[::1",
            " sip:a@b",
            "sip:a b",
            "sip:h;=x",
            "sip:h;a=",
            "<sip:a@b>",
            "sip:%4",
            "1x:y",
        ] {
            assert!(Uri::parse(s).is_err(), "{s:?}");
        }
    }
}
