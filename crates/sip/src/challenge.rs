//! Answering digest challenges (RFC 3261 §22.2, §22.3) on behalf of REGISTER, INVITE and
//! in-dialog requests, with the give-up rules a softphone needs: a second challenge for the
//! same nonce means the password is wrong, unless the server says `stale=true` (RFC 2617
//! §3.2.1), and a run of challenges without success is cut off.

use crate::auth::{authorization, Challenge, Credentials};
use crate::msg::{Request, Response};

/// At most this many challenges are answered in a row for one request chain.
const MAX_CONSECUTIVE_CHALLENGES: u32 = 3;

/// Why a challenge was not answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// The server rejected our credentials for this nonce (wrong user name or password).
    Rejected,
    /// The challenge could not be read or uses something we do not support.
    Unsupported(String),
    /// The response had no WWW-Authenticate / Proxy-Authenticate header.
    Missing,
}

impl std::fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChallengeError::Rejected => f.write_str("credentials rejected"),
            ChallengeError::Unsupported(e) => write!(f, "unsupported challenge: {e}"),
            ChallengeError::Missing => f.write_str("challenge without authenticate header"),
        }
    }
}

/// Answers 401/407 challenges for one request chain (a registration, a call).
#[derive(Clone, Debug)]
pub struct Authenticator {
    username: String,
    password: String,
    consecutive: u32,
    /// Nonces already answered in this chain, with the nonce-count used (RFC 2617 `nc`).
    answered: Vec<(String, u32)>,
}

impl Authenticator {
    /// An authenticator for these credentials.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Authenticator {
        Authenticator {
            username: username.into(),
            password: password.into(),
            consecutive: 0,
            answered: Vec::new(),
        }
    }

    /// The request chain succeeded (a non-401/407 final response): allow challenges again.
    pub fn succeeded(&mut self) {
        self.consecutive = 0;
    }

    /// The header (name, value) that answers the challenge in `resp` for `req`, the request
    /// about to be re-sent: `Authorization` for a 401 (WWW-Authenticate), `Proxy-Authorization`
    /// for a 407 (Proxy-Authenticate). The digest URI is the Request-URI (§22.4).
    pub fn answer(
        &mut self,
        req: &Request,
        resp: &Response,
        cnonce: &str,
    ) -> Result<(&'static str, String), ChallengeError> {
        let (challenge_header, answer_header) = if resp.status == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        // Several challenges may be offered (RFC 7616 §3.7, SHA-256 first); take the first we
        // can parse and answer.
        let mut last_err = ChallengeError::Missing;
        let values: Vec<&str> = resp
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(challenge_header))
            .map(|(_, v)| v)
            .collect();
        for value in values {
            let challenge = match Challenge::parse(value) {
                Ok(c) => c,
                Err(e) => {
                    last_err = ChallengeError::Unsupported(format!("{e:?}"));
                    continue;
                }
            };
            let seen = self
                .answered
                .iter()
                .position(|(n, _)| *n == challenge.nonce);
            if seen.is_some() && !challenge.stale {
                return Err(ChallengeError::Rejected);
            }
            self.consecutive += 1;
            if self.consecutive > MAX_CONSECUTIVE_CHALLENGES {
                return Err(ChallengeError::Rejected);
            }
            let nc = match seen {
                Some(i) => {
                    self.answered[i].1 += 1;
                    self.answered[i].1
                }
                None => {
                    self.answered.push((challenge.nonce.clone(), 1));
                    1
                }
            };
            let creds = Credentials {
                username: self.username.clone(),
                password: self.password.clone(),
            };
            match authorization(
                &challenge,
                &creds,
                &req.method,
                &req.uri.to_string(),
                &req.body,
                cnonce,
                nc,
            ) {
                Ok(v) => return Ok((answer_header, v)),
                Err(e) => last_err = ChallengeError::Unsupported(format!("{e:?}")),
            }
        }
        Err(last_err)
    }
}
