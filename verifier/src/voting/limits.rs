//! Rate limits on the voter API (issue 19): login challenges, logins (and session extensions) and casts, each
//! counted per source network (a /24 for IPv4, a /48 for IPv6) and per source address, so that one laptop, or one
//! subnet of a botnet, cannot take the login or cast path from everyone else, and one host cannot take its
//! network's allowance from its neighbours. Over either rate a request gets 429 `RATE_LIMITED` with `Retry-After`,
//! and nothing else happens: no database write, no signature check.
//!
//! - The rates come from `verifier serve` flags ([`RateConfig`], defaults per minute and network: 600 challenges,
//!   300 logins, 600 casts, each with a burst of a tenth). One address may use a share of its network's rate
//!   (`--rate-address-share`, default 4: a quarter). Voters behind one NAT (an embassy, a university) share one
//!   address's allowance: at the defaults still 150 logins a minute from one address.
//! - Exempt addresses (`--rate-limit-exempt`, default 127.0.0.1 and ::1: the operator's own machine, which runs
//!   demos, tests and the benchmark's voters) are never counted; the benchmark's attack mix comes from other
//!   loopback addresses.
//! - State: one entry per network heard from within about a minute; [`RateLimits::prune`] drops the rest every
//!   minute.
//! - The source address comes from the listener ([`crate::voting::listener::Peer`]); a request without one (in-process
//!   tests) is not counted.
//!
//! What it must never do: touch the ballot box or the voter store, or keep an address longer than its window.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// What is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// `POST /api/v1/session/challenge`.
    Challenge,
    /// `POST /api/v1/session` and `/session/extend`.
    Login,
    /// `POST /api/v1/ballots`.
    Cast,
}

/// Rates per source network, per minute.
#[derive(Clone, Debug)]
pub struct RateConfig {
    /// Challenges per minute.
    pub challenges_per_minute: u32,
    /// Logins per minute.
    pub logins_per_minute: u32,
    /// Casts per minute.
    pub casts_per_minute: u32,
    /// One address may use its network's rates divided by this (1: an address may use all of them).
    pub address_share: u32,
    /// Addresses never counted.
    pub exempt: Vec<IpAddr>,
}

impl Default for RateConfig {
    fn default() -> RateConfig {
        RateConfig {
            challenges_per_minute: 600,
            logins_per_minute: 300,
            casts_per_minute: 600,
            address_share: 4,
            exempt: vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)],
        }
    }
}

/// One path's two limiters: per network and per address.
struct PathLimits {
    network: DefaultKeyedRateLimiter<IpAddr>,
    address: DefaultKeyedRateLimiter<IpAddr>,
}

impl PathLimits {
    fn new(per_minute: u32, address_share: u32) -> PathLimits {
        PathLimits {
            network: RateLimiter::keyed(quota(per_minute)),
            address: RateLimiter::keyed(quota(per_minute / address_share.max(1))),
        }
    }

    fn limiters(&self) -> [&DefaultKeyedRateLimiter<IpAddr>; 2] {
        [&self.network, &self.address]
    }
}

/// The limiters.
pub struct RateLimits {
    challenge: PathLimits,
    login: PathLimits,
    cast: PathLimits,
    exempt: Vec<IpAddr>,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits::new(&RateConfig::default())
    }
}

fn quota(per_minute: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((per_minute / 10).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

/// The network an address is counted in: its /24 (IPv4) or /48 (IPv6).
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
        }
    }
}

impl RateLimits {
    /// Limiters at these rates.
    pub fn new(config: &RateConfig) -> RateLimits {
        RateLimits {
            challenge: PathLimits::new(config.challenges_per_minute, config.address_share),
            login: PathLimits::new(config.logins_per_minute, config.address_share),
            cast: PathLimits::new(config.casts_per_minute, config.address_share),
            exempt: config.exempt.clone(),
        }
    }

    /// Counts one request of a source, against its address and then its network (a request its address may not
    /// make does not use its network's allowance); `Err(seconds)` says how long it must wait.
    pub fn check(&self, what: Limited, source: Option<IpAddr>) -> Result<(), u64> {
        let Some(ip) = source.filter(|ip| !self.exempt.contains(ip)) else { return Ok(()) };
        let path = match what {
            Limited::Challenge => &self.challenge,
            Limited::Login => &self.login,
            Limited::Cast => &self.cast,
        };
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
        path.address.check_key(&ip).map_err(wait)?;
        path.network.check_key(&network(ip)).map_err(wait)
    }

    fn all(&self) -> impl Iterator<Item = &DefaultKeyedRateLimiter<IpAddr>> {
        [&self.challenge, &self.login, &self.cast].into_iter().flat_map(PathLimits::limiters)
    }

    /// Forgets addresses and networks whose allowance is full again (every minute).
    pub fn prune(&self) {
        for l in self.all() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// How many addresses and networks are held, over the six limiters.
    pub fn len(&self) -> usize {
        self.all().map(|l| l.len()).sum()
    }

    /// Whether no network is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_over_its_rate_waits_and_others_and_exempt_addresses_do_not() {
        let limits = RateLimits::new(&RateConfig { logins_per_minute: 60, address_share: 1, ..RateConfig::default() });
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let same_24: IpAddr = "203.0.113.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..6 {
            assert_eq!(limits.check(Limited::Login, Some(a)), Ok(()), "the burst");
        }
        let wait = limits.check(Limited::Login, Some(same_24)).unwrap_err();
        assert!((1..=2).contains(&wait), "one login a second: wait {wait} s");
        assert_eq!(limits.check(Limited::Login, Some(other)), Ok(()));
        assert_eq!(limits.check(Limited::Challenge, Some(a)), Ok(()), "each path has its own limit");
        for _ in 0..1000 {
            assert_eq!(limits.check(Limited::Login, Some(IpAddr::V4(Ipv4Addr::LOCALHOST))), Ok(()));
            assert_eq!(limits.check(Limited::Login, None), Ok(()));
        }
        assert_eq!(network("2001:db8:1:2:3::9".parse().unwrap()), "2001:db8:1::".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn one_address_cannot_take_its_networks_allowance_from_its_neighbours() {
        // 120 a minute per network, a quarter (30, burst 3) per address.
        let limits = RateLimits::new(&RateConfig { challenges_per_minute: 120, ..RateConfig::default() });
        let greedy: IpAddr = "203.0.113.7".parse().unwrap();
        let allowed = (0..100).take_while(|_| limits.check(Limited::Challenge, Some(greedy)).is_ok()).count();
        assert_eq!(allowed, 3, "one address gets its own burst only");
        for host in 1..=3u8 {
            let neighbour = IpAddr::V4(Ipv4Addr::new(203, 0, 113, host));
            assert_eq!(limits.check(Limited::Challenge, Some(neighbour)), Ok(()), "neighbour {host}");
        }
        // The network's own burst (12) is the cap over all its addresses.
        let network_allowed = (10..40u8)
            .filter(|h| limits.check(Limited::Challenge, Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, *h)))).is_ok())
            .count();
        assert_eq!(network_allowed, 12 - 3 - 3, "the network's burst, less what its addresses used");
    }
}
