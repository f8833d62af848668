//! One limiter per GHL location: at most `max` requests in any `window` (GHL: 100 per 10 s),
//! learnt from the `X-RateLimit-*` response headers, with 429 back-off and a daily stop.
//!
//! A request holds a slot from the moment it is sent until its response arrives, and the slot
//! stays counted for a full window after that. GHL sees the request somewhere in between, so
//! two requests GHL sees are never closer than our own accounting: the limit holds at GHL
//! however many agents submit at once, without a safety margin. Callers beyond the limit queue
//! in [`RateLimiter::acquire`].

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use reqwest::header::HeaderMap;
use tokio::sync::Notify;

/// GHL's documented burst limit per location.
pub const DEFAULT_MAX: u32 = 100;
/// GHL's documented burst window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);
/// How long to stop after GHL reports the daily quota used up (it does not say when it resets).
pub const DAILY_PAUSE: Duration = Duration::from_secs(3600);

/// The per-location limiter. Shared behind an `Arc`.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug)]
struct State {
    max: u32,
    window: Duration,
    next_id: u64,
    /// Requests in flight (`done: None`) or finished within the last window.
    slots: Vec<Slot>,
    /// No request before this instant (after a 429, or with the daily quota used up).
    blocked_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: u64,
    done: Option<Instant>,
}

/// A sent (or about-to-be-sent) request's place in the window; dropping it marks the request
/// answered.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<RateLimiter>,
    id: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        {
            let mut s = self.limiter.lock();
            let now = Instant::now();
            if let Some(slot) = s.slots.iter_mut().find(|s| s.id == self.id) {
                slot.done = Some(now);
            }
        }
        self.limiter.notify.notify_waiters();
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(DEFAULT_MAX, DEFAULT_WINDOW)
    }
}

impl RateLimiter {
    /// A limiter allowing `max` requests per `window` until the headers say otherwise.
    pub fn new(max: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            state: Mutex::new(State {
                max: max.max(1),
                window,
                next_id: 0,
                slots: Vec::new(),
                blocked_until: None,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot. `Err(wait)` when the wait would exceed `max_wait` (the caller reports
    /// "rate limited, retry in `wait`" instead of holding the job).
    pub async fn acquire(self: &Arc<Self>, max_wait: Duration) -> Result<Permit, Duration> {
        let started = Instant::now();
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            let wait = {
                let mut s = self.lock();
                // Registered under the lock: a permit dropped after this point wakes us.
                notified.as_mut().enable();
                let now = Instant::now();
                let window = s.window;
                s.slots
                    .retain(|sl| sl.done.is_none_or(|d| now.duration_since(d) < window));
                match s.blocked_until {
                    Some(until) if until > now => Some(until - now),
                    _ => {
                        s.blocked_until = None;
                        if (s.slots.len() as u32) < s.max {
                            s.next_id += 1;
                            let id = s.next_id;
                            s.slots.push(Slot { id, done: None });
                            return Ok(Permit {
                                limiter: Arc::clone(self),
                                id,
                            });
                        }
                        // Full: the earliest finished slot leaves the window first; if all are
                        // in flight, a response (the notify) is what frees one.
                        s.slots
                            .iter()
                            .filter_map(|sl| sl.done)
                            .min()
                            .map(|d| (d + window).saturating_duration_since(now))
                    }
                }
            };
            let waited = started.elapsed();
            if let Some(w) = wait {
                if waited + w > max_wait {
                    return Err(waited + w);
                }
            }
            let sleep = wait.unwrap_or(max_wait.saturating_sub(waited));
            tokio::select! {
                _ = tokio::time::sleep(sleep.max(Duration::from_millis(1))) => {}
                _ = &mut notified => {}
            }
            if started.elapsed() > max_wait {
                return Err(started.elapsed());
            }
        }
    }

    /// Learns from a response's `X-RateLimit-*` headers: the limit and window, usage by others
    /// of the same app and location (their remaining count below ours), and the daily quota.
    pub fn observe(&self, headers: &HeaderMap) {
        let num = |name: &str| -> Option<u64> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        };
        let now = Instant::now();
        let mut s = self.lock();
        if let Some(max) = num("x-ratelimit-max").filter(|m| *m > 0) {
            s.max = max.min(u32::MAX as u64) as u32;
        }
        if let Some(ms) = num("x-ratelimit-interval-milliseconds").filter(|m| *m > 0) {
            s.window = Duration::from_millis(ms);
        }
        if let Some(remaining) = num("x-ratelimit-remaining") {
            let ours = (s.max as u64).saturating_sub(s.slots.len() as u64);
            // Someone else (another process with the same app) used part of the window: count
            // their requests as made just now.
            for _ in 0..ours.saturating_sub(remaining) {
                s.next_id += 1;
                let id = s.next_id;
                s.slots.push(Slot {
                    id,
                    done: Some(now),
                });
            }
        }
        if num("x-ratelimit-daily-remaining") == Some(0) {
            s.blocked_until = Some(now + DAILY_PAUSE);
        }
    }

    /// After a 429: nobody sends before `retry_after` has passed.
    pub fn back_off(&self, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        let mut s = self.lock();
        if s.blocked_until.is_none_or(|b| b < until) {
            s.blocked_until = Some(until);
        }
    }

    /// The current window (as learnt).
    pub fn window(&self) -> Duration {
        self.lock().window
    }

    /// The current limit per window (as learnt).
    pub fn max(&self) -> u32 {
        self.lock().max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[tokio::test]
    async fn never_more_than_max_in_a_window() {
        let lim = Arc::new(RateLimiter::new(5, Duration::from_millis(200)));
        let started = Instant::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for _ in 0..15 {
            let (lim, log) = (lim.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let p = lim.acquire(Duration::from_secs(5)).await.unwrap();
                log.lock().unwrap().push(Instant::now());
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(p);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut times = log.lock().unwrap().clone();
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_millis(200))
                .count();
            assert!(in_window <= 5, "{in_window} sends within one window");
        }
        // 15 requests at 5 per 200 ms need at least two full windows.
        assert!(started.elapsed() >= Duration::from_millis(400));
    }

    #[tokio::test]
    async fn headers_update_the_limit_and_count_foreign_use() {
        let lim = Arc::new(RateLimiter::default());
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-max", HeaderValue::from_static("3"));
        h.insert(
            "x-ratelimit-interval-milliseconds",
            HeaderValue::from_static("1000"),
        );
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("1"));
        lim.observe(&h);
        assert_eq!(lim.max(), 3);
        assert_eq!(lim.window(), Duration::from_millis(1000));
        let _one = lim.acquire(Duration::from_millis(10)).await.unwrap();
        // Two used elsewhere plus ours: full for a window.
        assert!(lim.acquire(Duration::from_millis(50)).await.is_err());
    }

    #[tokio::test]
    async fn an_exhausted_daily_quota_stops_sending() {
        let lim = Arc::new(RateLimiter::default());
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-daily-remaining", HeaderValue::from_static("0"));
        lim.observe(&h);
        let wait = lim.acquire(Duration::from_millis(20)).await.unwrap_err();
        assert!(wait > Duration::from_secs(3000), "{wait:?}");
    }

    #[tokio::test]
    async fn back_off_blocks_until_the_hint() {
        let lim = Arc::new(RateLimiter::default());
        lim.back_off(Duration::from_millis(80));
        let t = Instant::now();
        let _p = lim.acquire(Duration::from_secs(1)).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(75));
        lim.back_off(Duration::from_secs(60));
        assert!(lim.acquire(Duration::from_millis(100)).await.is_err());
    }
}
