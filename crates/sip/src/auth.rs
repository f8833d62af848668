//! Digest authentication for SIP (RFC 3261 §22.4, RFC 2617 §3, RFC 7616 SHA-256, RFC 8760).
//!
//! [`Challenge::parse`] reads a `WWW-Authenticate` (401) or `Proxy-Authenticate` (407) value;
//! [`authorization`] computes the matching `Authorization` / `Proxy-Authorization` value.
//! Hashes are MD5 and SHA-256 (and their `-sess` variants); `qop=auth` and `qop=auth-int` are
//! supported, as is the RFC 2069 form without qop. The output field order is JsSIP's, so the
//! values in our reference traces can be reproduced byte for byte.

use std::fmt;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::msg::lex::is_token_byte;
use crate::msg::Method;

/// The digest algorithm (RFC 7616 §3.3 `algorithm`, RFC 8760 for SIP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), the default when the challenge names none.
    #[default]
    Md5,
    /// `MD5-sess` (RFC 2617 §3.2.2.2).
    Md5Sess,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
    /// `SHA-256-sess` (RFC 7616 §3.4.2).
    Sha256Sess,
}

impl Algorithm {
    /// The name as written in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Parses an algorithm name, case-insensitively (RFC 7616 §3.3).
    pub fn parse(s: &str) -> Option<Algorithm> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Lower-case hex digest of the concatenation of `parts`.
    fn hash(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => {
                let mut h = Md5::new();
                for p in parts {
                    h.update(p);
                }
                hex(&h.finalize())
            }
            Algorithm::Sha256 | Algorithm::Sha256Sess => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                hex(&h.finalize())
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Why a challenge could not be read or answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The scheme is not `Digest` (RFC 3261 §22.4 allows only Digest).
    UnsupportedScheme(String),
    /// The `algorithm` is not one of MD5, MD5-sess, SHA-256, SHA-256-sess (e.g. `AKAv1-MD5`).
    UnsupportedAlgorithm(String),
    /// The challenge offers qop values, none of them `auth` or `auth-int`.
    UnsupportedQop(Vec<String>),
    /// The challenge is not a well-formed auth-param list, or lacks `realm` or `nonce`.
    Malformed(&'static str),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::UnsupportedScheme(s) => write!(f, "unsupported auth scheme {s:?}"),
            AuthError::UnsupportedAlgorithm(a) => write!(f, "unsupported digest algorithm {a:?}"),
            AuthError::UnsupportedQop(q) => write!(f, "unsupported qop {q:?}"),
            AuthError::Malformed(why) => write!(f, "malformed challenge: {why}"),
        }
    }
}

impl std::error::Error for AuthError {}

/// A Digest challenge from `WWW-Authenticate` (401) or `Proxy-Authenticate` (407)
/// (RFC 3261 §22.1, RFC 2617 §3.2.1, RFC 7616 §3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space (`realm`), unquoted.
    pub realm: String,
    /// The server nonce, unquoted.
    pub nonce: String,
    /// The `opaque` value to echo back, unquoted.
    pub opaque: Option<String>,
    /// The algorithm (MD5 if the challenge names none).
    pub algorithm: Algorithm,
    /// The offered `qop` values (`auth`, `auth-int`), in order; empty for an RFC 2069 challenge.
    pub qop: Vec<String>,
    /// `stale=true`: the nonce expired but the credentials were right; retry without asking the
    /// user (RFC 2617 §3.2.1).
    pub stale: bool,
}

/// Splits an auth-param list `name=value, name="quoted, value", ...` (RFC 2617 §1.2,
/// RFC 3261 §25.1 `digest-cln`) into (name, unquoted value) pairs.
fn auth_params(s: &str) -> Result<Vec<(&str, String)>, AuthError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\r' | b'\n') {
            *i += 1;
        }
    };
    loop {
        ws(&mut i);
        while i < b.len() && b[i] == b',' {
            i += 1;
            ws(&mut i);
        }
        if i == b.len() {
            return Ok(out);
        }
        let ns = i;
        while i < b.len() && is_token_byte(b[i]) {
            i += 1;
        }
        if i == ns {
            return Err(AuthError::Malformed("expected a parameter name"));
        }
        let name = &s[ns..i];
        ws(&mut i);
        if b.get(i) != Some(&b'=') {
            return Err(AuthError::Malformed("expected '=' after a parameter name"));
        }
        i += 1;
        ws(&mut i);
        let value = if b.get(i) == Some(&b'"') {
            let mut v = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(AuthError::Malformed("unterminated quoted string")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < b.len() => {
                        let c = s[i + 1..].chars().next().unwrap_or('\\');
                        v.push(c);
                        i += 1 + c.len_utf8();
                    }
                    Some(_) => {
                        let c = s[i..].chars().next().unwrap_or(' ');
                        v.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            v
        } else {
            let vs = i;
            while i < b.len() && !matches!(b[i], b',' | b' ' | b'\t') {
                i += 1;
            }
            s[vs..i].to_owned()
        };
        out.push((name, value));
        ws(&mut i);
        if i < b.len() && b[i] != b',' {
            return Err(AuthError::Malformed("expected ',' between parameters"));
        }
    }
}

impl Challenge {
    /// Parses a challenge header value: `Digest realm="..", nonce="..", qop="auth", ...`.
    /// Unknown parameters (`domain`, `charset`, `userhash`) are ignored.
    pub fn parse(header_value: &str) -> Result<Challenge, AuthError> {
        let v = header_value.trim_start();
        let scheme_end = v.find([' ', '\t']).unwrap_or(v.len());
        let scheme = &v[..scheme_end];
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::UnsupportedScheme(scheme.to_owned()));
        }
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = Algorithm::Md5;
        let mut qop = Vec::new();
        let mut stale = false;
        for (name, value) in auth_params(&v[scheme_end..])? {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "opaque" => opaque = Some(value),
                "algorithm" => {
                    algorithm =
                        Algorithm::parse(&value).ok_or(AuthError::UnsupportedAlgorithm(value))?
                }
                "qop" => {
                    qop = value
                        .split(',')
                        .map(str::trim)
                        .filter(|q| !q.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "stale" => stale = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(AuthError::Malformed("no realm"))?,
            nonce: nonce.ok_or(AuthError::Malformed("no nonce"))?,
            opaque,
            algorithm,
            qop,
            stale,
        })
    }
}

/// A user's SIP credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication user name (often the SIP user part).
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    // The password never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

fn push_quoted(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The `Authorization` / `Proxy-Authorization` header value answering `challenge`
/// (RFC 2617 §3.2.2, RFC 7616 §3.4, RFC 3261 §22.4).
///
/// `digest_uri` is the Request-URI as printed; `body` is hashed only for `qop=auth-int`;
/// `cnonce` is the client nonce (from the injected RNG) and `nc` the nonce count, starting at 1
/// for each new nonce. `qop=auth` is chosen when offered, else `auth-int`; a challenge without
/// qop gets the RFC 2069 response (no cnonce, no nc).
pub fn authorization(
    challenge: &Challenge,
    creds: &Credentials,
    method: &Method,
    digest_uri: &str,
    body: &[u8],
    cnonce: &str,
    nc: u32,
) -> Result<String, AuthError> {
    let qop = if challenge.qop.is_empty() {
        None
    } else if challenge.qop.iter().any(|q| q.eq_ignore_ascii_case("auth")) {
        Some("auth")
    } else if challenge
        .qop
        .iter()
        .any(|q| q.eq_ignore_ascii_case("auth-int"))
    {
        Some("auth-int")
    } else {
        return Err(AuthError::UnsupportedQop(challenge.qop.clone()));
    };
    let alg = challenge.algorithm;
    let nonce = challenge.nonce.as_str();
    let mut ha1 = alg.hash(&[
        creds.username.as_bytes(),
        b":",
        challenge.realm.as_bytes(),
        b":",
        creds.password.as_bytes(),
    ]);
    if alg.is_sess() {
        ha1 = alg.hash(&[
            ha1.as_bytes(),
            b":",
            nonce.as_bytes(),
            b":",
            cnonce.as_bytes(),
        ]);
    }
    let ha2 = if qop == Some("auth-int") {
        let hbody = alg.hash(&[body]);
        alg.hash(&[
            method.as_str().as_bytes(),
            b":",
            digest_uri.as_bytes(),
            b":",
            hbody.as_bytes(),
        ])
    } else {
        alg.hash(&[method.as_str().as_bytes(), b":", digest_uri.as_bytes()])
    };
    let nc_hex = format!("{nc:08x}");
    let response = match qop {
        Some(q) => alg.hash(&[
            ha1.as_bytes(),
            b":",
            nonce.as_bytes(),
            b":",
            nc_hex.as_bytes(),
            b":",
            cnonce.as_bytes(),
            b":",
            q.as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
        None => alg.hash(&[ha1.as_bytes(), b":", nonce.as_bytes(), b":", ha2.as_bytes()]),
    };

    let mut out = String::with_capacity(256);
    out.push_str("Digest algorithm=");
    out.push_str(alg.as_str());
    out.push_str(", ");
    push_quoted(&mut out, "username", &creds.username);
    out.push_str(", ");
    push_quoted(&mut out, "realm", &challenge.realm);
    out.push_str(", ");
    push_quoted(&mut out, "nonce", nonce);
    out.push_str(", ");
    push_quoted(&mut out, "uri", digest_uri);
    out.push_str(", ");
    push_quoted(&mut out, "response", &response);
    if let Some(o) = &challenge.opaque {
        out.push_str(", ");
        push_quoted(&mut out, "opaque", o);
    }
    if let Some(q) = qop {
        out.push_str(", qop=");
        out.push_str(q);
        out.push_str(", ");
        push_quoted(&mut out, "cnonce", cnonce);
        out.push_str(", nc=");
        out.push_str(&nc_hex);
    }
    Ok(out)
}
