//! The GHL API v2 client: authentication (Private Integration token, or OAuth with refreshes
//! serialised per location and the rotated refresh token stored before use), the `Version`
//! header, pacing through the location's [`RateLimiter`], and typed errors.
//!
//! Tokens are [`SecretString`]s, sent in a header marked sensitive, and never formatted: the
//! client's `Debug` is written by hand and logs name the route, never the token or the query.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use crate::store::Store;
use chrono::{DateTime, Utc};
use reqwest::{
    header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER},
    Method, StatusCode,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{
    config::{GhlArgs, GhlAuth},
    ratelimit::RateLimiter,
};
use crate::disposition::ApplyError;

/// The API version every call sends (the only value the specs allow).
pub const API_VERSION: &str = "2021-07-28";

/// How many 429s one call absorbs (waiting as told) before reporting [`GhlError::RateLimited`].
const MAX_429_RETRIES: u32 = 3;

/// How long a call may queue for the rate limit before reporting [`GhlError::RateLimited`].
const MAX_QUEUE_WAIT: Duration = Duration::from_secs(120);

/// What went wrong talking to GHL, as the outbox needs to know it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GhlError {
    /// 429 (after waiting and retrying), the daily quota, or a queue too long to wait in.
    #[error("GHL rate limit: retry at {retry_at}")]
    RateLimited {
        /// When a retry may succeed.
        retry_at: DateTime<Utc>,
    },
    /// 401/403 or a refused OAuth refresh: an administrator must re-authorise dialdeck.
    #[error("GHL needs re-authorisation: {reason}")]
    NeedsReauth {
        /// GHL's message.
        reason: String,
    },
    /// 400/404/422: GHL refused the request; retrying the same request cannot help.
    #[error("GHL refused the request ({status}): {message}")]
    Invalid {
        /// HTTP status.
        status: u16,
        /// GHL's message(s), joined.
        message: String,
        /// The whole error body (e.g. `meta.contactId` of a duplicate).
        body: Value,
    },
    /// 5xx from GHL.
    #[error("GHL upstream failure ({status})")]
    Upstream {
        /// HTTP status.
        status: u16,
    },
    /// A read timed out.
    #[error("GHL did not answer in time")]
    Timeout,
    /// A write timed out or the connection broke after it was sent: it may have happened.
    #[error("GHL write outcome unknown: {reason}")]
    Ambiguous {
        /// What happened.
        reason: String,
    },
    /// GHL could not be reached (nothing was sent).
    #[error("GHL unreachable: {reason}")]
    Unreachable {
        /// What happened.
        reason: String,
    },
    /// GHL answered 2xx with a body we cannot use.
    #[error("unexpected GHL response: {reason}")]
    Unexpected {
        /// What was wrong.
        reason: String,
    },
}

impl GhlError {
    /// Whether a later retry may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            GhlError::NeedsReauth { .. } | GhlError::Invalid { .. } | GhlError::Unexpected { .. }
        )
    }
}

impl From<GhlError> for ApplyError {
    fn from(e: GhlError) -> ApplyError {
        let reason = e.to_string();
        match e {
            GhlError::RateLimited { retry_at } => ApplyError::Retryable {
                reason,
                retry_after: (retry_at - Utc::now()).to_std().ok(),
            },
            e if e.is_retryable() => ApplyError::Retryable {
                reason,
                retry_after: None,
            },
            _ => ApplyError::Permanent { reason },
        }
    }
}

/// State shared by every client of the same GHL location in this process: the rate limiter
/// and the OAuth access token (whose mutex serialises refreshes).
struct LocationShared {
    limiter: Arc<RateLimiter>,
    access: tokio::sync::Mutex<Option<AccessToken>>,
}

struct AccessToken {
    token: SecretString,
    expires_at: Option<Instant>,
}

/// Per-location state by (base URL, location id).
type Registry = Mutex<HashMap<(String, String), Arc<LocationShared>>>;

fn location_shared(base_url: &str, location_id: &str) -> Arc<LocationShared> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let mut map = REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry((base_url.to_string(), location_id.to_string()))
        .or_insert_with(|| {
            Arc::new(LocationShared {
                limiter: Arc::new(RateLimiter::default()),
                access: tokio::sync::Mutex::new(None),
            })
        })
        .clone()
}

/// A request to send: method, path (already encoded) and query, with an optional JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL, e.g. `/contacts/abc/tags`.
    pub path: String,
    /// Query pairs (encoded by the client).
    pub query: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Option<Value>,
}

impl Call {
    /// A call without query or body.
    pub fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    /// Adds a query pair.
    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Call {
        self.query.push((key, value.into()));
        self
    }

    /// Sets the JSON body.
    pub fn json(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }
}

/// Percent-encodes one path segment (ids come from GHL and configuration).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The client for one location. Cheap to clone.
#[derive(Clone)]
pub struct GhlClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    http: reqwest::Client,
    base_url: String,
    location_id: String,
    auth: GhlAuth,
    shared: Arc<LocationShared>,
    store: Store,
    requests: AtomicU64,
}

impl fmt::Debug for GhlClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match self.inner.auth {
            GhlAuth::PrivateToken(_) => "private-integration-token",
            GhlAuth::OAuth { .. } => "oauth",
        };
        f.debug_struct("GhlClient")
            .field("base_url", &self.inner.base_url)
            .field("location_id", &self.inner.location_id)
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

impl GhlClient {
    /// Builds the client from validated settings. `store` keeps the rotated OAuth refresh token.
    pub fn new(args: &GhlArgs, store: Store) -> anyhow::Result<GhlClient> {
        let location_id = args
            .location_id
            .clone()
            .ok_or_else(|| anyhow::anyhow!("DIALDECK_GHL_LOCATION_ID is not set"))?;
        let auth = args.auth()?;
        let base_url = args.base_url.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(args.timeout_ms))
            .connect_timeout(Duration::from_millis(args.timeout_ms.min(10_000)))
            .user_agent(concat!("dialdeck/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(GhlClient {
            inner: Arc::new(ClientInner {
                shared: location_shared(&base_url, &location_id),
                http,
                base_url,
                location_id,
                auth,
                store,
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The location (sub-account) id.
    pub fn location_id(&self) -> &str {
        &self.inner.location_id
    }

    /// Requests sent to the API so far by this client (OAuth refreshes excluded).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The location's rate limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.inner.shared.limiter
    }

    /// Sends `call`, pacing and retrying 429s and one expired OAuth token; JSON on 2xx
    /// (`Null` for an empty body).
    pub async fn send(&self, call: Call) -> Result<Value, GhlError> {
        let write = call.method != Method::GET;
        let url = format!("{}{}", self.inner.base_url, call.path);
        let mut rate_limited = 0;
        let mut refreshed = false;
        loop {
            let limiter = &self.inner.shared.limiter;
            let permit =
                limiter
                    .acquire(MAX_QUEUE_WAIT)
                    .await
                    .map_err(|wait| GhlError::RateLimited {
                        retry_at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                    })?;
            let token = self.bearer().await?;
            let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                .map_err(|_| GhlError::NeedsReauth {
                    reason: "the token contains characters not allowed in a header".into(),
                })?;
            auth.set_sensitive(true);
            let mut req = self
                .inner
                .http
                .request(call.method.clone(), &url)
                .header(AUTHORIZATION, auth)
                .header("Version", API_VERSION)
                .header(ACCEPT, "application/json");
            if !call.query.is_empty() {
                req = req.query(&call.query);
            }
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    drop(permit);
                    tracing::warn!(method = %call.method, path = %call.path, error = %without_url(&e), "GHL request failed");
                    return Err(transport_error(&e, write));
                }
            };
            let status = resp.status();
            limiter.observe(resp.headers());
            let retry_after = retry_after(resp.headers());
            let bytes = resp.bytes().await;
            drop(permit);
            tracing::debug!(method = %call.method, path = %call.path, status = status.as_u16(), "GHL request");
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => return Err(transport_error(&e, write)),
            };
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&bytes).chars().take(500).collect())
                })
            };
            if status.is_success() {
                return Ok(body);
            }
            match status {
                StatusCode::UNAUTHORIZED
                    if !refreshed && matches!(self.inner.auth, GhlAuth::OAuth { .. }) =>
                {
                    refreshed = true;
                    self.refresh_after_rejection(&token).await?;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(GhlError::NeedsReauth {
                        reason: format!("{} {}", status.as_u16(), message_of(&body)),
                    })
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after.unwrap_or_else(|| limiter.window());
                    limiter.back_off(wait);
                    rate_limited += 1;
                    tracing::warn!(path = %call.path, wait_ms = wait.as_millis() as u64, "GHL answered 429");
                    if rate_limited > MAX_429_RETRIES {
                        return Err(GhlError::RateLimited {
                            retry_at: Utc::now()
                                + chrono::Duration::from_std(wait).unwrap_or_default(),
                        });
                    }
                }
                s if s.is_server_error() => return Err(GhlError::Upstream { status: s.as_u16() }),
                s => {
                    return Err(GhlError::Invalid {
                        status: s.as_u16(),
                        message: message_of(&body),
                        body,
                    })
                }
            }
        }
    }

    /// The bearer token to send: the private token, or the OAuth access token (refreshed first
    /// when there is none or it has expired).
    async fn bearer(&self) -> Result<SecretString, GhlError> {
        match &self.inner.auth {
            GhlAuth::PrivateToken(t) => Ok(t.clone()),
            GhlAuth::OAuth { .. } => {
                let mut access = self.inner.shared.access.lock().await;
                if let Some(a) = access.as_ref() {
                    if a.expires_at.is_none_or(|e| Instant::now() < e) {
                        return Ok(a.token.clone());
                    }
                }
                let fresh = self.refresh().await?;
                let token = fresh.token.clone();
                *access = Some(fresh);
                Ok(token)
            }
        }
    }

    /// After a 401 with `rejected`: refresh once, unless another task already did.
    async fn refresh_after_rejection(&self, rejected: &SecretString) -> Result<(), GhlError> {
        let mut access = self.inner.shared.access.lock().await;
        if access
            .as_ref()
            .is_some_and(|a| a.token.expose_secret() != rejected.expose_secret())
        {
            return Ok(());
        }
        *access = Some(self.refresh().await?);
        Ok(())
    }

    /// One refresh-token grant. Called with the location's access mutex held, so refreshes
    /// never overlap within this instance (a refresh token is single-use); with a shared store
    /// a database lock (`GET_LOCK`) also keeps other instances' refreshes out until the rotated
    /// token is stored, and each reads the newest token after taking it.
    async fn refresh(&self) -> Result<AccessToken, GhlError> {
        let store_error = |e: sqlx::Error| GhlError::Unreachable {
            reason: format!("store: {e}"),
        };
        let mut conn = self.inner.store.acquire().await.map_err(store_error)?;
        let shared = crate::store::dialect(&self.inner.store) == crate::store::Dialect::MySql;
        let lock: String = format!("dialdeck-ghl-oauth-{}", self.inner.location_id)
            .chars()
            .take(64)
            .collect();
        if shared {
            let (got,): (i64,) =
                sqlx::query_as("SELECT CAST(COALESCE(GET_LOCK(?, 30), 0) AS SIGNED)")
                    .bind(&lock)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(store_error)?;
            if got != 1 {
                return Err(GhlError::Unreachable {
                    reason: "another instance has been refreshing the GHL token for 30 s".into(),
                });
            }
        }
        let result = self.refresh_on(&mut conn).await;
        if shared {
            let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(&lock)
                .execute(&mut *conn)
                .await;
        }
        result
    }

    /// The grant itself, on `conn`. The rotated refresh token is stored before the new access
    /// token is used; if the process dies between GHL's answer and that write, the refresh
    /// token is lost and an administrator must re-authorise.
    async fn refresh_on(&self, conn: &mut sqlx::AnyConnection) -> Result<AccessToken, GhlError> {
        let GhlAuth::OAuth {
            client_id,
            client_secret,
            initial_refresh_token,
        } = &self.inner.auth
        else {
            return Err(GhlError::NeedsReauth {
                reason: "not an OAuth client".into(),
            });
        };
        let stored: Option<(String,)> =
            sqlx::query_as("SELECT refresh_token FROM ghl_oauth WHERE location_id = ?")
                .bind(&self.inner.location_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| GhlError::Unreachable {
                    reason: format!("store: {e}"),
                })?;
        let refresh_token = match &stored {
            Some((t,)) => SecretString::from(t.as_str()),
            None => initial_refresh_token.clone(),
        };
        let form = [
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.expose_secret()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("user_type", "Location"),
        ];
        let resp = self
            .inner
            .http
            .post(format!("{}/oauth/token", self.inner.base_url))
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(&e, true))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_server_error() {
            return Err(GhlError::Upstream {
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            tracing::error!(
                status = status.as_u16(),
                "GHL refused the OAuth refresh; re-authorise dialdeck"
            );
            return Err(GhlError::NeedsReauth {
                reason: format!(
                    "OAuth refresh refused ({}): {}",
                    status.as_u16(),
                    body.get("error").and_then(Value::as_str).unwrap_or("")
                ),
            });
        }
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(access), Some(new_refresh)) = (field("access_token"), field("refresh_token"))
        else {
            return Err(GhlError::Unexpected {
                reason: "OAuth answer without access_token/refresh_token".into(),
            });
        };
        let sql = format!(
            "INSERT INTO ghl_oauth (location_id, refresh_token, updated_at) VALUES (?, ?, ?) {}",
            crate::store::dialect(&self.inner.store)
                .upsert("location_id", &["refresh_token", "updated_at"])
        );
        sqlx::query(&sql)
            .bind(&self.inner.location_id)
            .bind(&new_refresh)
            .bind(Utc::now().timestamp())
            .execute(&mut *conn)
            .await
            .map_err(|e| GhlError::Unreachable {
                reason: format!("cannot store the rotated refresh token: {e}"),
            })?;
        tracing::info!(location = %self.inner.location_id, "GHL OAuth token refreshed");
        let expires_at = body
            .get("expires_in")
            .and_then(Value::as_u64)
            // Refresh a minute early rather than send a token that expires in flight.
            .map(|s| Instant::now() + Duration::from_secs(s.saturating_sub(60)));
        Ok(AccessToken {
            token: SecretString::from(access),
            expires_at,
        })
    }
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    h.get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// A reqwest error without its URL (which carries phone numbers and emails in queries).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = src {
        if !s.is_empty() {
            s.push_str(": ");
        }
        let text = err.to_string();
        // reqwest prints "error sending request for url (...)"; keep the kind only.
        s.push_str(text.split(" for url").next().unwrap_or(&text));
        src = err.source();
    }
    s
}

fn transport_error(e: &reqwest::Error, write: bool) -> GhlError {
    let reason = without_url(e);
    if e.is_connect() {
        GhlError::Unreachable { reason }
    } else if write {
        GhlError::Ambiguous { reason }
    } else if e.is_timeout() {
        GhlError::Timeout
    } else {
        GhlError::Unreachable { reason }
    }
}

/// GHL's `message` (a string or an array of strings) or the whole body.
fn message_of(body: &Value) -> String {
    match body.get("message") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().map(str::to_string).unwrap_or(m.to_string()))
            .collect::<Vec<_>>()
            .join("; "),
        _ => body.to_string().chars().take(300).collect(),
    }
}
