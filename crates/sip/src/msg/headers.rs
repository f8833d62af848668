//! The header section of a SIP message (RFC 3261 §7.3): an ordered list of raw fields.

use super::lex::trim_ws;

/// Compact forms (RFC 3261 §7.3.3 and the IANA SIP header registry) and their long names.
const COMPACT: &[(u8, &str)] = &[
    (b'a', "Accept-Contact"),
    (b'b', "Referred-By"),
    (b'c', "Content-Type"),
    (b'd', "Request-Disposition"),
    (b'e', "Content-Encoding"),
    (b'f', "From"),
    (b'i', "Call-ID"),
    (b'j', "Reject-Contact"),
    (b'k', "Supported"),
    (b'l', "Content-Length"),
    (b'm', "Contact"),
    (b'n', "Identity-Info"),
    (b'o', "Event"),
    (b'r', "Refer-To"),
    (b's', "Subject"),
    (b't', "To"),
    (b'u', "Allow-Events"),
    (b'v', "Via"),
    (b'x', "Session-Expires"),
    (b'y', "Identity"),
];

/// Headers whose values are comma-separated lists (RFC 3261 §7.3.1: `header = name: value *(COMMA
/// value)`), which [`Headers::get_all`] splits into elements. Authentication headers, Date and
/// unknown headers are never split: their commas do not separate values.
const LIST_HEADERS: &[&str] = &[
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Call-Info",
    "Contact",
    "Content-Encoding",
    "Content-Language",
    "Error-Info",
    "In-Reply-To",
    "P-Asserted-Identity",
    "P-Associated-URI",
    "Path",
    "Privacy",
    "Proxy-Require",
    "Reason",
    "Record-Route",
    "Reject-Contact",
    "Request-Disposition",
    "Require",
    "Route",
    "Security-Client",
    "Security-Server",
    "Security-Verify",
    "Service-Route",
    "Supported",
    "Unsupported",
    "Via",
    "Warning",
];

/// The long form of a header name: `v` becomes `Via`, anything else is returned as given.
pub fn canonical_name(name: &str) -> &str {
    if let [b] = name.as_bytes() {
        let b = b.to_ascii_lowercase();
        if let Some((_, long)) = COMPACT.iter().find(|(c, _)| *c == b) {
            return long;
        }
    }
    name
}

/// True if `a` and `b` name the same header: case-insensitive, compact forms equal to long ones.
pub fn same_name(a: &str, b: &str) -> bool {
    // Fast path: most lookups use the same spelling as the wire.
    a.eq_ignore_ascii_case(b) || canonical_name(a).eq_ignore_ascii_case(canonical_name(b))
}

/// True if the header named `name` is a comma-separated list.
pub fn is_list_header(name: &str) -> bool {
    let name = canonical_name(name);
    LIST_HEADERS.iter().any(|l| l.eq_ignore_ascii_case(name))
}

/// One header field as on the wire: its name as spelled there (compact forms kept) and its value
/// after unfolding (RFC 3261 §7.3.1), trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: String,
    value: String,
}

/// Header list, order preserved, raw values (as on the wire after unfolding, trimmed).
///
/// Name lookups are case-insensitive and compact forms are equivalent (RFC 3261 §7.3.3:
/// `v`=Via, `f`=From, `t`=To, `i`=Call-ID, `m`=Contact, `l`=Content-Length, `c`=Content-Type,
/// `k`=Supported, `e`=Content-Encoding, `s`=Subject, `o`=Event, `r`=Refer-To, `b`=Referred-By,
/// `x`=Session-Expires, `u`=Allow-Events).
///
/// Content-Length is framing, not content: [`Message::parse`](super::Message::parse) takes it
/// out of the list and the printer writes it from the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<Field>,
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Headers {
        Headers { fields: Vec::new() }
    }

    /// An empty header list with room for `n` fields.
    pub fn with_capacity(n: usize) -> Headers {
        Headers {
            fields: Vec::with_capacity(n),
        }
    }

    /// The value of the first field named `name` (whole value, not split at commas).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| same_name(&f.name, name))
            .map(|f| f.value.as_str())
    }

    /// Every value of every field named `name`, in order. Comma-separated list headers (Via,
    /// Route, Record-Route, Contact, Allow, Supported, ...) are split into their elements,
    /// respecting quoted strings and `<...>`; empty elements are skipped. Other headers give one
    /// item per field.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        let split = is_list_header(name);
        self.fields
            .iter()
            .filter(move |f| same_name(&f.name, name))
            .flat_map(move |f| ListSplit {
                rest: f.value.as_str(),
                split,
                whole: Some(f.value.as_str()),
            })
    }

    /// Appends a field.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
        });
    }

    /// Replaces every field named `name` with one field, at the place of the first (or at the
    /// end if there was none).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.fields.iter().position(|f| same_name(&f.name, &name)) {
            Some(first) => {
                let mut i = 0;
                self.fields.retain(|f| {
                    let keep = i <= first || !same_name(&f.name, &name);
                    i += 1;
                    keep
                });
                self.fields[first] = Field { name, value };
            }
            None => self.fields.push(Field { name, value }),
        }
    }

    /// Removes every field named `name`.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|f| !same_name(&f.name, name));
    }

    /// Every field as `(name, value)`, in order, names as spelled on the wire.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
    }

    /// True if a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|f| same_name(&f.name, name))
    }

    /// Continues the last field's value with a folded line (RFC 3261 §7.3.1: the fold becomes
    /// one SP). Returns false if there is no field yet.
    pub(crate) fn continue_last(&mut self, more: &str) -> bool {
        match self.fields.last_mut() {
            Some(f) => {
                if !more.is_empty() {
                    if !f.value.is_empty() {
                        f.value.push(' ');
                    }
                    f.value.push_str(more);
                }
                true
            }
            None => false,
        }
    }

    /// The last field as `(name, value)`.
    pub(crate) fn last(&self) -> Option<(&str, &str)> {
        self.fields
            .last()
            .map(|f| (f.name.as_str(), f.value.as_str()))
    }

    /// Removes and returns the last field's value.
    pub(crate) fn pop_value(&mut self) -> Option<String> {
        self.fields.pop().map(|f| f.value)
    }

    /// Number of fields (not list elements).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True if there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Splits a list header value at top-level commas (outside quotes and `<...>`).
struct ListSplit<'a> {
    rest: &'a str,
    split: bool,
    whole: Option<&'a str>,
}

impl<'a> Iterator for ListSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if !self.split {
            // One item per field, even an empty one.
            return self.whole.take();
        }
        split_next(&mut self.rest)
    }
}

/// The next non-empty element of a comma-separated list (top-level commas only, outside quoted
/// strings and `<...>`), trimmed; advances `rest` past it.
pub(crate) fn split_next<'a>(rest: &mut &'a str) -> Option<&'a str> {
    loop {
        if rest.is_empty() {
            return None;
        }
        let b = rest.as_bytes();
        let mut i = 0;
        let mut in_quote = false;
        let mut in_angle = false;
        while i < b.len() {
            match b[i] {
                b'\\' if in_quote => i += 1,
                b'"' => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                b',' if !in_quote && !in_angle => break,
                _ => {}
            }
            i += 1;
        }
        let i = i.min(b.len());
        let item = trim_ws(&rest[..i]);
        *rest = if i < b.len() { &rest[i + 1..] } else { "" };
        if !item.is_empty() {
            return Some(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive() {
        let mut h = Headers::new();
        h.push("v", "SIP/2.0/WS a;branch=z9hG4bK1, SIP/2.0/WS b");
        h.push("VIA", "SIP/2.0/WS c");
        h.push("f", "<sip:a@b>;tag=1");
        assert_eq!(h.get("from"), Some("<sip:a@b>;tag=1"));
        assert_eq!(h.get_all("Via").count(), 3);
        h.set("Via", "SIP/2.0/WS d");
        assert_eq!(h.get_all("v").collect::<Vec<_>>(), ["SIP/2.0/WS d"]);
        assert_eq!(h.iter().next(), Some(("Via", "SIP/2.0/WS d")));
        h.remove("F");
        assert!(h.get("From").is_none());
    }

    #[test]
    fn split_respects_quotes_and_angles() {
        let mut h = Headers::new();
        h.push(
            "Contact",
            "\"a, b\" <sip:x@y;p=\",\">, <sip:z@w?h=1,2>;q=0.5,,",
        );
        h.push("WWW-Authenticate", "Digest realm=\"a\", nonce=\"b\"");
        let v: Vec<_> = h.get_all("m").collect();
        assert_eq!(v, ["\"a, b\" <sip:x@y;p=\",\">", "<sip:z@w?h=1,2>;q=0.5"]);
        assert_eq!(h.get_all("www-authenticate").count(), 1);
    }
}
