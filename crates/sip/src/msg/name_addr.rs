//! name-addr / addr-spec values: From, To, Contact, Route, Record-Route, Refer-To
//! (RFC 3261 §20.10, §25.1 `name-addr`).

use std::fmt;

use super::error::{ParseError, ParseErrorKind};
use super::lex::{
    find_param, is_token_byte, is_ws, parse_header_params, quoted_end, skip_ws, unquote,
    write_params, write_quoted,
};
use super::uri::Uri;

/// `"Name" <uri>;params` or a bare `uri;params` (RFC 3261 §20.10).
///
/// For the bare form, every `;param` after the URI is a header parameter (RFC 3261 §20.10), so
/// `sip:a@b;tag=1` has `tag` in `params`, not in the URI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped; `None` if absent.
    pub display_name: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, `+sip.instance`, ...), values raw (quotes kept).
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    /// A name-addr for `uri` with no display name and no parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display_name: None,
            uri,
            params: Vec::new(),
        }
    }

    /// Parses `[display-name] "<" addr-spec ">" *(SEMI param)` or `addr-spec *(SEMI param)`
    /// (RFC 3261 §25.1 `from-spec`, `contact-param`, `rec-route`).
    pub fn parse(s: &str) -> Result<NameAddr, ParseError> {
        let b = s.as_bytes();
        let start = skip_ws(b, 0);
        let err = |k, o| Err(ParseError::new(k, o));
        if start == b.len() {
            return err(ParseErrorKind::InvalidNameAddr, start);
        }
        let (display_name, lt) = if b[start] == b'"' {
            let end = quoted_end(b, start)?;
            let lt = skip_ws(b, end);
            if b.get(lt) != Some(&b'<') {
                return err(ParseErrorKind::InvalidNameAddr, lt);
            }
            (Some(unquote(&s[start + 1..end - 1])), Some(lt))
        } else {
            match b[start..].iter().position(|&c| c == b'<') {
                Some(p) => {
                    let lt = start + p;
                    let dn = &b[start..lt];
                    // display-name = *(token LWS): tokens and white space only.
                    if let Some(bad) = dn.iter().position(|&c| !(is_token_byte(c) || is_ws(c))) {
                        return err(ParseErrorKind::InvalidDisplayName, start + bad);
                    }
                    let name = s[start..lt].trim_end_matches([' ', '\t']);
                    ((!name.is_empty()).then(|| name.to_owned()), Some(lt))
                }
                None => (None, None),
            }
        };
        match lt {
            Some(lt) => {
                let gt = match b[lt..].iter().position(|&c| c == b'>') {
                    Some(p) => lt + p,
                    None => return err(ParseErrorKind::InvalidNameAddr, lt),
                };
                let uri = Uri::parse(&s[lt + 1..gt]).map_err(|e| e.shifted(lt + 1))?;
                let params = parse_header_params(s, gt + 1)?;
                Ok(NameAddr {
                    display_name,
                    uri,
                    params,
                })
            }
            None => {
                // addr-spec without brackets: it may not hold ',', ';' or '?' (RFC 3261 §20.10),
                // so the URI ends at the first ';' and the rest are header parameters.
                let mut end = start;
                while end < b.len() && b[end] != b';' && !is_ws(b[end]) {
                    end += 1;
                }
                let spec = &s[start..end];
                if let Some(p) = spec.find([',', '?']) {
                    return err(ParseErrorKind::InvalidNameAddr, start + p);
                }
                let uri = Uri::parse(spec).map_err(|e| e.shifted(start))?;
                let params = parse_header_params(s, end)?;
                Ok(NameAddr {
                    display_name: None,
                    uri,
                    params,
                })
            }
        }
    }

    /// The `tag` parameter (RFC 3261 §19.3), if any.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    /// The header parameter `name` (case-insensitive): `Some(Some(v))` for `;name=v`,
    /// `Some(None)` for a bare `;name`, `None` if absent.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// Sets (or adds) the header parameter `name`; `None` gives a bare `;name`.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .params
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(p) => p.1 = value,
            None => self.params.push((name.to_owned(), value)),
        }
    }

    /// Appends the text (always the `<uri>` form) to `out`.
    pub fn write_to(&self, out: &mut String) {
        if let Some(d) = &self.display_name {
            write_quoted(out, d);
            out.push(' ');
        }
        out.push('<');
        self.uri.write_to(out);
        out.push('>');
        write_params(out, &self.params);
    }
}

impl fmt::Display for NameAddr {
    /// Always prints the `<uri>` form, with a quoted display name if there is one.
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
    fn forms() {
        let n = NameAddr::parse("\"A \\\"B\\\"\" <sip:a@b;transport=ws>;tag=xyz;lr").unwrap();
        assert_eq!(n.display_name.as_deref(), Some("A \"B\""));
        assert_eq!(n.tag(), Some("xyz"));
        assert_eq!(n.param("LR"), Some(None));
        assert_eq!(n.uri.param("transport"), Some(Some("ws")));
        assert_eq!(NameAddr::parse(&n.to_string()).unwrap(), n);

        let n = NameAddr::parse("sip:a@b;tag=1").unwrap();
        assert_eq!(n.tag(), Some("1"));
        assert!(n.uri.params.is_empty());
        assert_eq!(n.to_string(), "<sip:a@b>;tag=1");

        let n = NameAddr::parse("Bob  Smith <sip:b@c>").unwrap();
        assert_eq!(n.display_name.as_deref(), Some("Bob  Smith"));

        let mut n = NameAddr::parse("<sip:x@y>").unwrap();
        n.set_param("tag", Some("t1"));
        n.set_param("Tag", Some("t2"));
        assert_eq!(n.to_string(), "<sip:x@y>;tag=t2");
    }

    #[test]
    fn rejects() {
        for s in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "\"W\" < sip:t.watson@example.org >",
            "<sip:a@b>;;",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "",
            "<sip:a@b",
        ] {
            assert!(NameAddr::parse(s).is_err(), "{s:?}");
        }
    }
}
