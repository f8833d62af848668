//! Agent sessions: an opaque random token in an HttpOnly, Secure, SameSite=Strict cookie; the
//! store keeps only its SHA-256. The [`CurrentAgent`] extractor authenticates a request and,
//! for state-changing methods, refuses cross-site requests (CSRF) by checking `Origin` /
//! `Sec-Fetch-Site` against `Host`.
//!
//! An agent's session also keeps the agent's VICIdial password, so that a reload can log
//! VICIdial's own screen in again without asking for it ([`create_agent`],
//! [`screen_password`]). It is sealed with ChaCha20-Poly1305 under a key derived (HKDF-SHA256)
//! from the cookie's token, which only the agent's browser holds: the store has the token's
//! SHA-256, from which the key cannot be derived, so neither a copy of the store nor another
//! session's cookie opens it; and any instance sharing the store opens it with the cookie.

use std::time::Duration;

use crate::store::Store;
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap, HeaderValue, Method},
};
use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Key, Nonce,
};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::{http::ApiError, AppState};

/// Name of the session cookie.
pub const COOKIE: &str = "dialdeck_session";

/// VICIdial `user_level` from which an agent may use the admin endpoints.
pub const ADMIN_USER_LEVEL: i64 = 8;

/// A logged-in agent, as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentSession {
    /// VICIdial `vicidial_users.user`.
    pub user: String,
    /// VICIdial `vicidial_users.user_level` (1–9).
    pub user_level: i64,
    /// The campaign the agent logged into, when known.
    pub campaign_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A new random session token (256 bits, hex). Only ever sent in the cookie.
fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex(&bytes))
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Creates a session and returns the token to put in the cookie.
pub async fn create(
    store: &Store,
    user: &str,
    user_level: i64,
    campaign_id: Option<&str>,
    ttl: Duration,
) -> anyhow::Result<String> {
    insert(store, user, user_level, campaign_id, None, ttl).await
}

/// Creates an agent's session in `campaign_id` that keeps `vicidial_password` sealed (see the
/// module documentation) and returns the token to put in the cookie.
pub async fn create_agent(
    store: &Store,
    user: &str,
    user_level: i64,
    campaign_id: &str,
    vicidial_password: &SecretString,
    ttl: Duration,
) -> anyhow::Result<String> {
    insert(
        store,
        user,
        user_level,
        Some(campaign_id),
        Some(vicidial_password),
        ttl,
    )
    .await
}

async fn insert(
    store: &Store,
    user: &str,
    user_level: i64,
    campaign_id: Option<&str>,
    vicidial_password: Option<&SecretString>,
    ttl: Duration,
) -> anyhow::Result<String> {
    let token = new_token()?;
    let sealed = vicidial_password
        .map(|p| seal(&token, p.expose_secret()))
        .transpose()?;
    let now = now();
    sqlx::query(
        "INSERT INTO agent_sessions (token_hash, user, user_level, campaign_id, created_at, expires_at, screen_secret) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token_hash(&token))
    .bind(user)
    .bind(user_level)
    .bind(campaign_id)
    .bind(now)
    .bind(now + ttl.as_secs() as i64)
    .bind(sealed)
    .execute(store)
    .await?;
    Ok(token)
}

/// The VICIdial password kept by the live session of `token`: `None` when the session is
/// gone or expired, keeps none (an admin session), or the sealed value does not open with
/// this token.
pub async fn screen_password(store: &Store, token: &str) -> anyhow::Result<Option<SecretString>> {
    let sealed: Option<Option<String>> = sqlx::query_scalar(
        "SELECT screen_secret FROM agent_sessions WHERE token_hash = ? AND expires_at > ?",
    )
    .bind(token_hash(token))
    .bind(now())
    .fetch_optional(store)
    .await?;
    let Some(sealed) = sealed.flatten() else {
        return Ok(None);
    };
    let opened = unseal(token, &sealed);
    if opened.is_none() {
        tracing::warn!("a session's sealed VICIdial password does not open with its cookie");
    }
    Ok(opened)
}

/// HKDF-SHA256 salt and info: a key for this one purpose, from the token's 256 random bits.
const SEAL_SALT: &[u8] = b"dialdeck session seal v1";
const SEAL_INFO: &[u8] = b"VICIdial screen password";
const NONCE_LEN: usize = 12;

fn seal_cipher(token: &str) -> ChaCha20Poly1305 {
    let mut key = Key::default();
    Hkdf::<Sha256>::new(Some(SEAL_SALT), token.as_bytes())
        .expand(SEAL_INFO, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    ChaCha20Poly1305::new(&key)
}

/// `base64(nonce || ciphertext+tag)`, bound to the session's row by its token hash as
/// associated data.
fn seal(token: &str, password: &str) -> anyhow::Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let aad = token_hash(token);
    let sealed = seal_cipher(token)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: password.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("cannot seal the session's password"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

fn unseal(token: &str, sealed: &str) -> Option<SecretString> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let aad = token_hash(token);
    let plain = seal_cipher(token)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok().map(SecretString::from)
}

/// Recently read sessions by token hash, so the hot path (every API request) does not read the
/// store each time. Entries live [`CACHE_TTL`]; logout and campaign changes drop them at once.
static CACHE: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<String, (AgentSession, std::time::Instant)>>,
> = std::sync::OnceLock::new();
const CACHE_TTL: Duration = Duration::from_secs(10);

fn cache() -> std::sync::MutexGuard<
    'static,
    std::collections::HashMap<String, (AgentSession, std::time::Instant)>,
> {
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The live session for `token`, if any (expired ones are not returned).
pub async fn lookup(store: &Store, token: &str) -> anyhow::Result<Option<AgentSession>> {
    let hash = token_hash(token);
    if let Some((session, at)) = cache().get(&hash) {
        if at.elapsed() < CACHE_TTL && session.expires_at > now() {
            return Ok(Some(session.clone()));
        }
    }
    let session = sqlx::query_as::<_, AgentSession>(
        "SELECT user, user_level, campaign_id, created_at, expires_at FROM agent_sessions \
         WHERE token_hash = ? AND expires_at > ?",
    )
    .bind(&hash)
    .bind(now())
    .fetch_optional(store)
    .await?;
    let mut c = cache();
    if c.len() > 100_000 {
        c.clear();
    }
    match &session {
        Some(s) => {
            c.insert(hash, (s.clone(), std::time::Instant::now()));
        }
        None => {
            c.remove(&hash);
        }
    }
    Ok(session)
}

/// Ends the session for `token` (logout). Ending an unknown session is not an error.
pub async fn delete(store: &Store, token: &str) -> anyhow::Result<()> {
    let hash = token_hash(token);
    cache().remove(&hash);
    sqlx::query("DELETE FROM agent_sessions WHERE token_hash = ?")
        .bind(hash)
        .execute(store)
        .await?;
    Ok(())
}

/// Updates the campaign of every session of `user` (after the VICIdial session is joined).
pub async fn set_campaign(store: &Store, user: &str, campaign_id: &str) -> anyhow::Result<()> {
    cache().retain(|_, (s, _)| s.user != user);
    sqlx::query("UPDATE agent_sessions SET campaign_id = ? WHERE user = ?")
        .bind(campaign_id)
        .bind(user)
        .execute(store)
        .await?;
    Ok(())
}

/// `Set-Cookie` value carrying `token`.
pub fn cookie(token: &str, ttl: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        ttl.as_secs()
    ))
    .expect("token is hex")
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "dialdeck_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
    )
}

/// The session token from the request's cookies.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Refuses a state-changing request that a browser marks as cross-site.
///
/// Browsers send `Origin` on every cross-origin request and on same-origin POSTs, and
/// `Sec-Fetch-Site` on everything; a request must look same-origin by one of them.
pub fn check_same_origin(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let forbidden = || ApiError::Forbidden {
        code: "cross_site_request",
        message: "This request did not come from the dialdeck page.".into(),
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| forbidden())?;
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        return if origin_host.is_some() && origin_host == host {
            Ok(())
        } else {
            Err(forbidden())
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") => Ok(()),
        _ => Err(forbidden()),
    }
}

/// Extractor: the logged-in agent making this request (401 otherwise), CSRF-checked.
#[derive(Clone, Debug)]
pub struct CurrentAgent(pub AgentSession);

impl FromRequestParts<AppState> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        check_same_origin(&parts.method, &parts.headers)?;
        let unauthorized = || ApiError::Unauthorized {
            code: "not_logged_in",
            message: "Your session has ended; please log in again.".into(),
        };
        let token = token_from(&parts.headers).ok_or_else(unauthorized)?;
        let session = lookup(state.store(), &token)
            .await?
            .ok_or_else(unauthorized)?;
        Ok(CurrentAgent(session))
    }
}

/// Extractor: a logged-in agent with an admin VICIdial user level ([`ADMIN_USER_LEVEL`]+).
#[derive(Clone, Debug)]
pub struct AdminAgent(pub AgentSession);

impl FromRequestParts<AppState> for AdminAgent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let CurrentAgent(session) = CurrentAgent::from_request_parts(parts, state).await?;
        if session.user_level < ADMIN_USER_LEVEL {
            return Err(ApiError::Forbidden {
                code: "admin_only",
                message: "This needs a VICIdial admin user level.".into(),
            });
        }
        Ok(AdminAgent(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut req = axum::http::Request::builder().method(method).uri("/api/x");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[tokio::test]
    async fn sessions_round_trip_and_store_only_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(dir.path()).await.unwrap();
        let token = create(&store, "1001", 1, Some("TESTCAMP"), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(token.len(), 64);
        let s = lookup(&store, &token).await.unwrap().unwrap();
        assert_eq!(
            (s.user.as_str(), s.campaign_id.as_deref()),
            ("1001", Some("TESTCAMP"))
        );
        let stored: (String,) = sqlx::query_as("SELECT token_hash FROM agent_sessions")
            .fetch_one(&store)
            .await
            .unwrap();
        assert_ne!(stored.0, token);
        assert!(lookup(&store, &"0".repeat(64)).await.unwrap().is_none());
        delete(&store, &token).await.unwrap();
        assert!(lookup(&store, &token).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_screen_password_opens_only_with_its_own_cookie() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(dir.path()).await.unwrap();
        sealed_password_round_trip(&store).await;
    }

    #[tokio::test]
    async fn the_screen_password_is_sealed_in_a_shared_mariadb_store_too() {
        let url = crate::test_support::empty_mariadb().await;
        let store = crate::store::connect(&SecretString::from(url))
            .await
            .unwrap();
        sealed_password_round_trip(&store).await;
    }

    async fn sealed_password_round_trip(store: &Store) {
        let secret = SecretString::from("hunter2-Secret");
        let a = create_agent(
            store,
            "1001",
            1,
            "TESTCAMP",
            &secret,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        let b = create_agent(
            store,
            "1001",
            1,
            "TESTCAMP",
            &secret,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        let opened = screen_password(store, &a).await.unwrap().unwrap();
        assert_eq!(opened.expose_secret(), "hunter2-Secret");
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT token_hash, screen_secret FROM agent_sessions")
                .fetch_all(store)
                .await
                .unwrap();
        for (_, sealed) in &rows {
            let sealed = sealed.as_deref().unwrap();
            assert!(!sealed.contains("hunter2"));
            assert!(!String::from_utf8_lossy(&STANDARD.decode(sealed).unwrap()).contains("hunter2"));
        }
        assert_ne!(rows[0].1, rows[1].1, "a fresh nonce and key per session");
        // Session B's sealed value moved into A's row does not open with A's cookie, nor A's
        // with B's token.
        let b_sealed = rows
            .iter()
            .find(|(h, _)| *h == token_hash(&b))
            .and_then(|(_, s)| s.clone())
            .unwrap();
        assert!(unseal(&a, &b_sealed).is_none());
        sqlx::query("UPDATE agent_sessions SET screen_secret = ? WHERE token_hash = ?")
            .bind(&b_sealed)
            .bind(token_hash(&a))
            .execute(store)
            .await
            .unwrap();
        assert!(screen_password(store, &a).await.unwrap().is_none());
        assert!(screen_password(store, &"0".repeat(64))
            .await
            .unwrap()
            .is_none());
        // Admin sessions keep none; logout destroys it.
        let admin = create(store, "admin", 9, None, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(screen_password(store, &admin).await.unwrap().is_none());
        delete(store, &b).await.unwrap();
        assert!(screen_password(store, &b).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn expired_sessions_are_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(dir.path()).await.unwrap();
        let token = create(&store, "1001", 1, None, Duration::from_secs(0))
            .await
            .unwrap();
        assert!(lookup(&store, &token).await.unwrap().is_none());
    }

    #[test]
    fn cookie_is_httponly_secure_strict() {
        let c = cookie("ab12", Duration::from_secs(3600));
        let c = c.to_str().unwrap();
        for flag in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Max-Age=3600",
            "Path=/",
        ] {
            assert!(c.contains(flag), "{c}");
        }
    }

    #[test]
    fn reads_the_token_among_other_cookies_and_rejects_junk() {
        let p = parts(
            Method::GET,
            &[("cookie", "a=1; dialdeck_session=ab12cd; b=2")],
        );
        assert_eq!(token_from(&p.headers).as_deref(), Some("ab12cd"));
        let p = parts(Method::GET, &[("cookie", "dialdeck_session=<script>")]);
        assert_eq!(token_from(&p.headers), None);
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let same = parts(
            Method::POST,
            &[("host", "dd.example"), ("origin", "https://dd.example")],
        );
        assert!(check_same_origin(&same.method, &same.headers).is_ok());
        let cross = parts(
            Method::POST,
            &[("host", "dd.example"), ("origin", "https://evil.example")],
        );
        assert!(check_same_origin(&cross.method, &cross.headers).is_err());
        let bare = parts(Method::POST, &[("host", "dd.example")]);
        assert!(check_same_origin(&bare.method, &bare.headers).is_err());
        let fetch = parts(
            Method::POST,
            &[("host", "dd.example"), ("sec-fetch-site", "same-origin")],
        );
        assert!(check_same_origin(&fetch.method, &fetch.headers).is_ok());
        assert!(check_same_origin(&Method::GET, &HeaderMap::new()).is_ok());
    }
}
