//! The login throttle's per-IP half: `POST /api/login`, `/api/login/campaigns` and
//! `/api/admin/login` from one client address are limited by a GCRA rate limiter
//! (`governor`), before any password is looked at. The per-user half, which also keeps
//! dialdeck's failures below VICIdial's own lockout, is in [`crate::vicidial::auth`].
//!
//! The client address is the TCP peer; behind a reverse proxy listed in
//! `DIALDECK_TRUSTED_PROXIES` it is the right-most `X-Forwarded-For` address that is not one
//! of those proxies (a client can prepend anything, but not append after the proxy).

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    str::FromStr,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use clap::Args;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::serve::PeerAddr;
use crate::{config::ConfigError, http::ApiError};

/// The routes that check a password.
pub const LOGIN_PATHS: [&str; 3] = ["/api/login", "/api/login/campaigns", "/api/admin/login"];

/// Login throttle settings.
#[derive(Clone, Debug, Args)]
pub struct ThrottleArgs {
    /// Login attempts (all three login routes together) one client address may make per
    /// minute, on average; past it `429` (`too_many_attempts`) with `Retry-After`.
    #[arg(
        long = "login-per-ip-per-minute",
        env = "DIALDECK_LOGIN_PER_IP_PER_MINUTE",
        default_value_t = 60
    )]
    pub per_ip_per_minute: u32,
    /// Login attempts one client address may make in a burst (a call centre behind one NAT
    /// logging in at the start of a shift).
    #[arg(
        long = "login-per-ip-burst",
        env = "DIALDECK_LOGIN_PER_IP_BURST",
        default_value_t = 120
    )]
    pub per_ip_burst: u32,
    /// Failed logins of one VICIdial user within VICIdial's 15-minute lockout window after
    /// which dialdeck stops checking that user's password (`429`) until the window passes.
    /// 1 to 9: below VICIdial's 10, so failures made through dialdeck never lock an agent
    /// out of VICIdial.
    #[arg(
        long = "login-user-failures",
        env = "DIALDECK_LOGIN_USER_FAILURES",
        default_value_t = 5
    )]
    pub user_failures: u32,
    /// Reverse proxies (IP addresses or CIDR ranges, comma-separated) whose
    /// `X-Forwarded-For` names the client. Unset: the TCP peer is the client (and behind a
    /// proxy every agent would share the proxy's per-IP budget).
    #[arg(
        long = "trusted-proxies",
        env = "DIALDECK_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpRange>,
}

impl ThrottleArgs {
    /// Checks the values clap cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.per_ip_per_minute == 0 || self.per_ip_burst == 0 {
            return Err(ConfigError {
                variable: "DIALDECK_LOGIN_PER_IP_PER_MINUTE",
                problem: "and DIALDECK_LOGIN_PER_IP_BURST must be at least 1".into(),
            });
        }
        if !(1..=9).contains(&self.user_failures) {
            return Err(ConfigError {
                variable: "DIALDECK_LOGIN_USER_FAILURES",
                problem: "must be 1 to 9 (below VICIdial's lockout after 10 failures)".into(),
            });
        }
        Ok(())
    }
}

/// An IP address or a CIDR range (`10.0.0.0/8`, `::1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<IpRange, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
            None => max,
        };
        Ok(IpRange { net, prefix })
    }
}

impl IpRange {
    /// Whether `ip` is inside the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client's address: the peer, or behind trusted proxies the right-most untrusted
/// `X-Forwarded-For` entry. A malformed entry stops the walk at the proxy before it.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The per-IP limiter and who may tell us the client's address.
pub struct LoginThrottle {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted: Vec<IpRange>,
}

impl LoginThrottle {
    /// From validated settings.
    pub fn new(args: &ThrottleArgs) -> Arc<LoginThrottle> {
        let per_minute = NonZeroU32::new(args.per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(args.per_ip_burst).unwrap_or(NonZeroU32::MIN);
        Arc::new(LoginThrottle {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            trusted: args.trusted_proxies.clone(),
        })
    }

    /// Counts one attempt from `ip`; `Err` says how long it must wait.
    fn check(&self, ip: IpAddr) -> Result<(), std::time::Duration> {
        // Forget addresses whose budget is full again, so the map does not grow forever.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// Middleware: a login attempt over its client address's budget is refused before it reaches
/// the handler.
pub async fn per_ip(
    State(throttle): State<Arc<LoginThrottle>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST || !LOGIN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    // Without connect info (a router served by hand) every request shares one budget.
    let peer = req
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|c| c.0 .0)
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    let ip = client_ip(peer.ip(), req.headers(), &throttle.trusted);
    if let Err(wait) = throttle.check(ip) {
        tracing::warn!(%ip, path = %req.uri().path(), "login attempts from this address throttled");
        return ApiError::TooManyRequests {
            code: "too_many_attempts",
            message: "Too many login attempts from your network; wait a moment and try again."
                .into(),
            retry_after: wait,
        }
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: IpRange = "10.1.0.0/16".parse().unwrap();
        assert!(r.contains("10.1.200.3".parse().unwrap()));
        assert!(!r.contains("10.2.0.1".parse().unwrap()));
        assert!(r.contains("::ffff:10.1.0.9".parse().unwrap()), "v4-mapped");
        let one: IpRange = "2001:db8::1".parse().unwrap();
        assert!(one.contains("2001:db8::1".parse().unwrap()));
        assert!(!one.contains("2001:db8::2".parse().unwrap()));
        assert!("0.0.0.0/0"
            .parse::<IpRange>()
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("proxy.example".parse::<IpRange>().is_err());
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = ranges(&["10.0.0.0/24"]);
        // Not configured, or not from the proxy: the header is ignored.
        assert_eq!(client_ip(proxy, &xff("198.51.100.7"), &[]), proxy);
        assert_eq!(
            client_ip(stranger, &xff("198.51.100.7"), &trusted),
            stranger
        );
        // From the proxy: the right-most address the proxy did not add itself.
        assert_eq!(
            client_ip(proxy, &xff("1.2.3.4, 198.51.100.7"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "a forged left-most entry is not believed"
        );
        assert_eq!(
            client_ip(proxy, &xff("198.51.100.7, 10.0.0.3"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "chained trusted proxies are skipped"
        );
        assert_eq!(client_ip(proxy, &xff("garbage"), &trusted), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn the_per_ip_budget_runs_out_and_says_when_it_refills() {
        let args = ThrottleArgs {
            per_ip_per_minute: 6,
            per_ip_burst: 2,
            user_failures: 5,
            trusted_proxies: vec![],
        };
        let t = LoginThrottle::new(&args);
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(t.check(a).is_ok());
        assert!(t.check(a).is_ok());
        let wait = t.check(a).unwrap_err();
        assert!(
            wait > std::time::Duration::from_secs(5) && wait <= std::time::Duration::from_secs(10),
            "{wait:?}: one attempt every 10 s"
        );
        assert!(
            t.check("198.51.100.8".parse().unwrap()).is_ok(),
            "per address"
        );
    }
}
