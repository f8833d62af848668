//! Small lexical helpers shared by the value parsers (RFC 3261 §25.1 basic rules).

use super::error::{ParseError, ParseErrorKind};

/// A parameter list: `;name[=value]` pairs in order, values raw (quotes kept).
pub(crate) type Params = Vec<(String, Option<String>)>;

/// `token` characters (RFC 3261 §25.1): alphanum and `-.!%*_+`'~`.
#[inline]
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// True if `s` is a non-empty `token`.
#[inline]
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Linear white space inside an unfolded header value: SP or HTAB.
#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first non-whitespace byte at or after `i`.
#[inline]
pub(crate) fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_ws(s[i]) {
        i += 1;
    }
    i
}

/// Trims SP and HTAB (not other Unicode white space) from both ends.
#[inline]
pub(crate) fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Given `s[start] == b'"'`, the index just past the closing quote of a `quoted-string`
/// (RFC 3261 §25.1, with `quoted-pair` escapes).
pub(crate) fn quoted_end(s: &[u8], start: usize) -> Result<usize, ParseError> {
    debug_assert_eq!(s.get(start), Some(&b'"'));
    let mut i = start + 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Ok(i + 1),
            b'\\' => {
                // A quoted-pair may escape any byte but CR and LF.
                match s.get(i + 1) {
                    Some(b'\r') | Some(b'\n') | None => {
                        return Err(ParseError::new(ParseErrorKind::UnterminatedQuote, start))
                    }
                    Some(_) => i += 2,
                }
            }
            b'\r' | b'\n' | 0 => {
                return Err(ParseError::new(ParseErrorKind::UnterminatedQuote, start))
            }
            _ => i += 1,
        }
    }
    Err(ParseError::new(ParseErrorKind::UnterminatedQuote, start))
}

/// The content of a quoted string (without its quotes), with `quoted-pair` escapes removed.
pub(crate) fn unquote(inner: &str) -> String {
    if !inner.contains('\\') {
        return inner.to_owned();
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes `s` as a quoted string, escaping `"` and `\`.
pub(crate) fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Bytes allowed in a header parameter value that is not quoted: `token` or `host`
/// (which adds `[`, `]` and `:` for IPv6 references).
#[inline]
fn is_param_value_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b'[' | b']' | b':')
}

/// Parses header parameters `*( SEMI generic-param )` (RFC 3261 §25.1) from `s[i..]`, where
/// `SEMI = SWS ";" SWS` and `EQUAL = SWS "=" SWS`. Stops at the end of `s` only: anything else
/// that is not a parameter is an error. Values are kept raw (quoted strings with their quotes).
pub(crate) fn parse_header_params(s: &str, mut i: usize) -> Result<Params, ParseError> {
    let b = s.as_bytes();
    let mut params = Vec::new();
    loop {
        i = skip_ws(b, i);
        if i == b.len() {
            return Ok(params);
        }
        if b[i] != b';' {
            return Err(ParseError::new(ParseErrorKind::InvalidParam, i));
        }
        i = skip_ws(b, i + 1);
        let name_start = i;
        while i < b.len() && is_token_byte(b[i]) {
            i += 1;
        }
        if i == name_start {
            return Err(ParseError::new(ParseErrorKind::InvalidParam, name_start));
        }
        let name = &s[name_start..i];
        let j = skip_ws(b, i);
        if j < b.len() && b[j] == b'=' {
            let v_start = skip_ws(b, j + 1);
            let v_end = if b.get(v_start) == Some(&b'"') {
                quoted_end(b, v_start)?
            } else {
                let mut k = v_start;
                while k < b.len() && is_param_value_byte(b[k]) {
                    k += 1;
                }
                k
            };
            if v_end == v_start {
                return Err(ParseError::new(ParseErrorKind::InvalidParam, v_start));
            }
            params.push((name.to_owned(), Some(s[v_start..v_end].to_owned())));
            i = v_end;
        } else {
            params.push((name.to_owned(), None));
            i = j;
        }
    }
}

/// Finds a parameter by case-insensitive name (RFC 3261 §19.1.4, §7.3.1: parameter names
/// compare case-insensitively).
pub(crate) fn find_param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

/// Writes `;name[=value]` for each parameter.
pub(crate) fn write_params(out: &mut String, params: &Params) {
    for (n, v) in params {
        out.push(';');
        out.push_str(n);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
}

/// Parses a decimal `u32` made only of ASCII digits (no sign, no space).
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
