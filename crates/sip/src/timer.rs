//! Virtual time for the sans-IO core, and the RFC 3261 timer values.
//!
//! The core never reads a clock: every input carries `now`, and the core answers with the
//! next instant it wants to be woken at ([`crate::ua::Output::Timeout`]). [`Instant`] is a
//! plain millisecond count since an arbitrary epoch chosen by the caller, so it works on
//! `wasm32-unknown-unknown` (where `std::time::Instant::now` panics) and in tests, where a
//! 30-minute call runs in a millisecond.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// A point in time: milliseconds since an arbitrary epoch chosen by the caller
/// (for example `performance.now()` in the browser, or 0 at the start of a test).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(ms))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_sub(ms))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// T1, the round-trip time estimate (RFC 3261 §17.1.1.1, table 4): 500 ms.
pub const T1: Duration = Duration::from_millis(500);
/// T2, the maximum retransmit interval for non-INVITE requests and INVITE responses
/// (RFC 3261 table 4): 4 s.
pub const T2: Duration = Duration::from_secs(4);
/// Timer B, INVITE transaction timeout (RFC 3261 §17.1.1.2): 64*T1 = 32 s.
pub const TIMER_B: Duration = Duration::from_millis(64 * 500);
/// Timer F, non-INVITE transaction timeout (RFC 3261 §17.1.2.2): 64*T1 = 32 s.
pub const TIMER_F: Duration = Duration::from_millis(64 * 500);
/// Timer H, wait time for ACK receipt after a non-2xx final response
/// (RFC 3261 §17.2.1): 64*T1 = 32 s.
pub const TIMER_H: Duration = Duration::from_millis(64 * 500);
/// Timer L, how long a server INVITE transaction stays in "Accepted" after a 2xx to absorb
/// retransmitted INVITEs (RFC 6026 §8.7): 64*T1.
pub const TIMER_L: Duration = Duration::from_millis(64 * 500);
/// Timer M, how long a client INVITE transaction stays in "Accepted" after a 2xx to catch
/// 2xx retransmissions (RFC 6026 §8.4): 64*T1.
pub const TIMER_M: Duration = Duration::from_millis(64 * 500);
/// How long a UAS waits for the ACK of its 2xx before it gives up on the session and sends
/// BYE (RFC 3261 §13.3.1.4): 64*T1.
pub const ACK_WAIT: Duration = Duration::from_millis(64 * 500);

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(1_000);
        assert_eq!((t + Duration::from_millis(500)).as_millis(), 1_500);
        assert_eq!(t - Instant::from_millis(2_000), Duration::ZERO);
        assert_eq!(Instant::from_millis(3_000) - t, Duration::from_secs(2));
        assert_eq!(TIMER_B, Duration::from_secs(32));
        assert_eq!(earliest(Some(t), None), Some(t));
        assert_eq!(
            earliest(Some(t), Some(Instant::from_millis(5))),
            Some(Instant::from_millis(5))
        );
        assert_eq!(t.to_string(), "1.000s");
    }
}
