//! The message parser (RFC 3261 §7, §18.3, §25).

use super::error::{ParseError, ParseErrorKind};
use super::headers::{canonical_name, Headers};
use super::lex::{is_token, is_token_byte, parse_u32, trim_ws};
use super::{CSeq, Message, Method, NameAddr, Request, Response, Uri, Via};

/// One line of the head: its bytes (without CR LF) and where the next line starts.
#[inline]
fn next_line(input: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rel = input[pos..].iter().position(|&b| b == b'\n')?;
    let end = pos + rel;
    let line_end = if end > pos && input[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    Some((&input[pos..line_end], end + 1))
}

/// A line as UTF-8 text without control characters other than HTAB.
#[inline]
fn text(line: &[u8], offset: usize) -> Result<&str, ParseError> {
    let is_ctl = |b: u8| (b < 0x20 && b != b'\t') || b == 0x7f;
    if line.iter().any(|&b| is_ctl(b)) {
        // A control character is allowed only as a `quoted-pair` (RFC 3261 §25.1: `"\"
        // (%x00-09 / %x0B-0C / %x0E-7F)`), as in RFC 4475 §3.1.1.2; CR and LF never.
        let mut escaped = false;
        for (i, &b) in line.iter().enumerate() {
            if is_ctl(b) && (!escaped || b == b'\r' || b == b'\n') {
                return Err(ParseError::new(
                    ParseErrorKind::InvalidHeaderValue,
                    offset + i,
                ));
            }
            escaped = !escaped && b == b'\\';
        }
    }
    std::str::from_utf8(line)
        .map_err(|e| ParseError::new(ParseErrorKind::InvalidUtf8, offset + e.valid_up_to()))
}

pub(crate) fn parse_message(input: &[u8]) -> Result<Message, ParseError> {
    let mut pos = 0;
    while pos < input.len() && (input[pos] == b'\r' || input[pos] == b'\n') {
        pos += 1;
    }
    if pos == input.len() {
        return Err(ParseError::new(ParseErrorKind::Empty, pos));
    }
    let start_off = pos;
    let (start_line, mut pos) = next_line(input, pos).ok_or(ParseError::new(
        ParseErrorKind::UnterminatedHeaders,
        input.len(),
    ))?;
    let start_line = text(start_line, start_off).map_err(|e| {
        if e.kind == ParseErrorKind::InvalidHeaderValue {
            ParseError::new(ParseErrorKind::InvalidStartLine, e.offset)
        } else {
            e
        }
    })?;
    let start = parse_start_line(start_line, start_off)?;

    let mut headers = Headers::with_capacity(16);
    let mut content_length: Option<usize> = None;
    // Offset of the line where the last (still open to continuation) header started.
    let mut open: Option<usize> = None;
    let body_start;
    loop {
        let line_off = pos;
        let (line, next) = next_line(input, pos).ok_or(ParseError::new(
            ParseErrorKind::UnterminatedHeaders,
            input.len(),
        ))?;
        pos = next;
        if line.is_empty() {
            if let Some(o) = open.take() {
                finish_header(&mut headers, &mut content_length, o)?;
            }
            body_start = pos;
            break;
        }
        let line = text(line, line_off)?;
        if line.starts_with([' ', '\t']) {
            if open.is_none() || !headers.continue_last(trim_ws(line)) {
                return Err(ParseError::new(
                    ParseErrorKind::UnexpectedContinuation,
                    line_off,
                ));
            }
            continue;
        }
        if let Some(o) = open.take() {
            finish_header(&mut headers, &mut content_length, o)?;
        }
        let colon = line
            .find(':')
            .ok_or(ParseError::new(ParseErrorKind::InvalidHeaderName, line_off))?;
        // HCOLON = *( SP / HTAB ) ":" SWS
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(ParseError::new(ParseErrorKind::InvalidHeaderName, line_off));
        }
        headers.push(name, trim_ws(&line[colon + 1..]));
        open = Some(line_off);
    }

    let rest = &input[body_start..];
    let body = match content_length {
        Some(n) if n > rest.len() => {
            return Err(ParseError::new(ParseErrorKind::BodyTooShort, input.len()))
        }
        Some(n) => rest[..n].to_vec(),
        None => rest.to_vec(),
    };
    Ok(match start {
        StartLine::Request(method, uri) => Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        StartLine::Response(status, reason) => Message::Response(Response {
            status,
            reason: reason.to_owned(),
            headers,
            body,
        }),
    })
}

enum StartLine<'a> {
    Request(Method, Uri),
    Response(u16, &'a str),
}

/// `Request-Line = Method SP Request-URI SP SIP-Version` or
/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 §7.1, §7.2): exactly one
/// SP between elements, none at the end of a Request-Line (RFC 4475 §3.1.2.9, §3.1.2.10).
fn parse_start_line(line: &str, off: usize) -> Result<StartLine<'_>, ParseError> {
    let err = |k, o: usize| Err(ParseError::new(k, off + o));
    let b = line.as_bytes();
    if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"SIP/") {
        let sp = match line.find(' ') {
            Some(sp) => sp,
            None => return err(ParseErrorKind::InvalidStartLine, line.len()),
        };
        if !line[..sp].eq_ignore_ascii_case("SIP/2.0") {
            return err(ParseErrorKind::UnsupportedVersion, 0);
        }
        let rest = &line[sp + 1..];
        let rb = rest.as_bytes();
        if rb.len() < 3 || !rb[..3].iter().all(u8::is_ascii_digit) || rb[0] == b'0' {
            return err(ParseErrorKind::InvalidStatusCode, sp + 1);
        }
        let status =
            (rb[0] - b'0') as u16 * 100 + (rb[1] - b'0') as u16 * 10 + (rb[2] - b'0') as u16;
        let reason = match rb.get(3) {
            None => "",
            Some(b' ') => &rest[4..],
            Some(_) => return err(ParseErrorKind::InvalidStatusCode, sp + 1),
        };
        if !(100..700).contains(&status) {
            return err(ParseErrorKind::InvalidStatusCode, sp + 1);
        }
        if reason.contains('\t') {
            return err(ParseErrorKind::InvalidReasonPhrase, sp + 5);
        }
        return Ok(StartLine::Response(status, reason));
    }

    let sp1 = match b.iter().position(|&c| c == b' ') {
        Some(p) => p,
        None => return err(ParseErrorKind::InvalidStartLine, 0),
    };
    let method_str = &line[..sp1];
    if method_str.is_empty() || !method_str.bytes().all(is_token_byte) {
        return err(ParseErrorKind::InvalidMethod, 0);
    }
    let sp2 = match b[sp1 + 1..].iter().position(|&c| c == b' ') {
        Some(p) => sp1 + 1 + p,
        None => return err(ParseErrorKind::InvalidStartLine, line.len()),
    };
    let version = &line[sp2 + 1..];
    if version.contains([' ', '\t']) || line[sp1 + 1..sp2].contains('\t') {
        return err(ParseErrorKind::InvalidStartLine, sp2 + 1);
    }
    if sp2 == sp1 + 1 {
        return err(ParseErrorKind::InvalidStartLine, sp1 + 1);
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return err(ParseErrorKind::UnsupportedVersion, sp2 + 1);
    }
    let uri = Uri::parse(&line[sp1 + 1..sp2])
        .map_err(|_| ParseError::new(ParseErrorKind::InvalidRequestUri, off + sp1 + 1))?;
    if !uri.headers.is_empty() {
        // RFC 4475 §3.1.2.11: escaped headers are not allowed in a Request-URI.
        return err(ParseErrorKind::InvalidRequestUri, sp1 + 1);
    }
    let method = Method::from_token(method_str)
        .ok_or(ParseError::new(ParseErrorKind::InvalidMethod, off))?;
    Ok(StartLine::Request(method, uri))
}

/// Checks the syntax of the last header once its value is complete (after any folded lines).
/// Content-Length is taken out of the list and remembered for framing.
fn finish_header(
    headers: &mut Headers,
    content_length: &mut Option<usize>,
    line_off: usize,
) -> Result<(), ParseError> {
    let Some((name, value)) = headers.last() else {
        return Ok(());
    };
    let at = |e: ParseError| ParseError::new(e.kind, line_off);
    let kind_at = |k| ParseError::new(k, line_off);
    let name = canonical_name(name);
    // Dispatch on the length first: most headers are none of these.
    match name.len() {
        2 if name.eq_ignore_ascii_case("To") => {
            NameAddr::parse(value).map_err(at)?;
        }
        3 if name.eq_ignore_ascii_case("Via") => {
            for v in split_elements(value) {
                Via::parse(v).map_err(at)?;
            }
            if split_elements(value).next().is_none() {
                return Err(kind_at(ParseErrorKind::InvalidVia));
            }
        }
        4 if name.eq_ignore_ascii_case("From") => {
            NameAddr::parse(value).map_err(at)?;
        }
        4 if name.eq_ignore_ascii_case("CSeq") => {
            CSeq::parse(value).map_err(at)?;
        }
        5 if name.eq_ignore_ascii_case("Route") => {
            for v in split_elements(value) {
                NameAddr::parse(v).map_err(at)?;
            }
        }
        7 if name.eq_ignore_ascii_case("Call-ID")
            && (value.is_empty() || value.contains([' ', '\t'])) =>
        {
            return Err(kind_at(ParseErrorKind::InvalidCallId));
        }
        // `Contact: *` (RFC 3261 §10.2.2) is the only non-name-addr form.
        7 if name.eq_ignore_ascii_case("Contact") && value != "*" => {
            for v in split_elements(value) {
                NameAddr::parse(v).map_err(at)?;
            }
        }
        7 if name.eq_ignore_ascii_case("Expires") => {
            parse_u32(value).ok_or(kind_at(ParseErrorKind::InvalidNumber))?;
        }
        11 if name.eq_ignore_ascii_case("Min-Expires") => {
            parse_u32(value).ok_or(kind_at(ParseErrorKind::InvalidNumber))?;
        }
        11 if name.eq_ignore_ascii_case("Retry-After") => {
            // delta-seconds [ comment ] *( SEMI retry-param )
            let end = value
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(value.len());
            parse_u32(&value[..end]).ok_or(kind_at(ParseErrorKind::InvalidNumber))?;
        }
        12 if name.eq_ignore_ascii_case("Max-Forwards") => match parse_u32(value) {
            Some(n) if n <= 255 => {}
            _ => return Err(kind_at(ParseErrorKind::InvalidMaxForwards)),
        },
        12 if name.eq_ignore_ascii_case("Record-Route") => {
            for v in split_elements(value) {
                NameAddr::parse(v).map_err(at)?;
            }
        }
        14 if name.eq_ignore_ascii_case("Content-Length") => {
            let n = parse_u32(value).ok_or(kind_at(ParseErrorKind::InvalidContentLength))? as usize;
            if content_length.is_some_and(|c| c != n) {
                return Err(kind_at(ParseErrorKind::InvalidContentLength));
            }
            *content_length = Some(n);
            headers.pop_value();
        }
        _ => {}
    }
    Ok(())
}

/// The elements of a comma-separated list value (same rules as [`Headers::get_all`]).
fn split_elements(value: &str) -> impl Iterator<Item = &str> {
    SplitElems { rest: value }
}

struct SplitElems<'a> {
    rest: &'a str,
}

impl<'a> Iterator for SplitElems<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        super::headers::split_next(&mut self.rest)
    }
}
