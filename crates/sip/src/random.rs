//! Injected randomness: tags, branches, Call-IDs, cnonces, instance ids and jitter.
//!
//! The core has no entropy source of its own (no `getrandom` on `wasm32-unknown-unknown`).
//! The caller passes any [`Rng`]: in the browser one seeded from `crypto.getRandomValues`,
//! in tests a fixed-seed [`SplitMix64`] so every run is identical.

use crate::timer::Duration;

/// A source of random 64-bit words. Any `FnMut() -> u64` closure is one.
pub trait Rng {
    /// The next random word.
    fn next_u64(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Rng for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}

/// SplitMix64, a small, fast, seedable generator (Steele, Lea, Flood 2014). Good enough
/// for protocol identifiers when seeded from a real entropy source; deterministic in tests.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The "magic cookie" every RFC 3261 branch starts with (§8.1.1.7).
pub const BRANCH_MAGIC_COOKIE: &str = "z9hG4bK";

const TOKEN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Helpers on top of an injected [`Rng`].
pub struct Random {
    rng: Box<dyn Rng>,
}

impl std::fmt::Debug for Random {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Random")
    }
}

impl Random {
    /// Wraps `rng`.
    pub fn new(rng: impl Rng + 'static) -> Random {
        Random { rng: Box::new(rng) }
    }

    /// A random word.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A uniformly random number in `0..n` (`n` > 0), by rejection sampling.
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.rng.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// `len` random characters from `[a-z0-9]` (valid in tags, Call-IDs, host labels).
    pub fn token(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| TOKEN_ALPHABET[self.below(TOKEN_ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    /// A new Via branch: the RFC 3261 magic cookie plus randomness (§8.1.1.7).
    pub fn branch(&mut self) -> String {
        format!("{BRANCH_MAGIC_COOKIE}{}", self.token(12))
    }

    /// A From/To tag (RFC 3261 §19.3): at least 32 bits of randomness.
    pub fn tag(&mut self) -> String {
        self.token(10)
    }

    /// A Call-ID (RFC 3261 §8.1.1.4).
    pub fn call_id(&mut self) -> String {
        self.token(22)
    }

    /// A version-4 UUID in its text form, for `+sip.instance` (RFC 5626 §4.1, RFC 4122).
    pub fn uuid_v4(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }

    /// A duration uniformly chosen in `[lo, hi]` at millisecond resolution.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let lo_ms = lo.as_millis() as u64;
        let hi_ms = (hi.as_millis() as u64).max(lo_ms);
        Duration::from_millis(lo_ms + self.below(hi_ms - lo_ms + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_well_formed() {
        let mut a = Random::new(SplitMix64::new(7));
        let mut b = Random::new(SplitMix64::new(7));
        assert_eq!(a.branch(), b.branch());
        let br = a.branch();
        assert!(br.starts_with("z9hG4bK") && br.len() == 19);
        let uuid = a.uuid_v4();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        for _ in 0..100 {
            let d = a.between(Duration::from_millis(2100), Duration::from_millis(4000));
            assert!(d >= Duration::from_millis(2100) && d <= Duration::from_millis(4000));
        }
        let mut counter = 0u64;
        let mut c = Random::new(move || {
            counter += 1;
            counter
        });
        assert_eq!(c.below(10), 1);
    }
}
