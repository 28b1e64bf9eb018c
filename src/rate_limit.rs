//! Per-client rate limiting of `/authorize` and `/callback`: each client and endpoint gets
//! `RATE_LIMIT_PER_MINUTE` requests (GCRA, through the governor crate), then 429 with
//! `Retry-After`.
//!
//! The client is the peer address. Behind a reverse proxy listed in `TRUSTED_PROXIES`, it is
//! the right-most `X-Forwarded-For` entry that is not itself a trusted proxy; a header from an
//! untrusted peer is never believed.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::middleware::Next;
use actix_web::{Error, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::error_page;

/// An address or a CIDR block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(raw: &str) -> Option<IpNet> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = raw.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v4) => u32::from(v4) as u128,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
            _ => ip,
        };
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        let shift = width - self.prefix as u32;
        self.prefix == 0 || (bits(self.addr) >> shift) == (bits(ip) >> shift)
    }
}

pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<(IpAddr, &'static str)>>,
    trusted_proxies: Vec<IpNet>,
    seen: AtomicU64,
}

impl RateLimits {
    pub fn new(per_minute: u32, trusted_proxies: Vec<IpNet>) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        RateLimits { limiter, trusted_proxies, seen: AtomicU64::new(0) }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(ip))
    }

    /// The address the limit applies to.
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted(peer) {
            return Some(peer);
        }
        let hops: Vec<IpAddr> =
            forwarded_for.iter().flat_map(|h| h.split(',')).filter_map(|s| s.trim().parse().ok()).collect();
        Some(hops.into_iter().rev().find(|ip| !self.trusted(*ip)).unwrap_or(peer))
    }
}

/// Middleware for the sign-in endpoints.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(limits) = req.app_data::<web::Data<RateLimits>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let Some(limiter) = &limits.limiter else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let endpoint = if req.path().starts_with("/callback/") { "callback" } else { "authorize" };
    let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
    let Some(client) = limits.client(req.peer_addr().map(|a| a.ip()), &forwarded) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // Keep the table bounded: forget idle clients now and then.
    if limits.seen.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
        limiter.retain_recent();
    }
    match limiter.check_key(&(client, endpoint)) {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
            log::warn!("rate limit exceeded endpoint={endpoint} client={client}");
            let mut res = error_page(StatusCode::TOO_MANY_REQUESTS, "Too many sign-in attempts. Please wait a moment.");
            res.headers_mut().insert(RETRY_AFTER, wait.into());
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.1.2.3")) && !net.contains(ip("11.0.0.1")));
        assert!(IpNet::parse("::1").unwrap().contains(ip("::1")));
        assert!(IpNet::parse("127.0.0.1").unwrap().contains(ip("::ffff:127.0.0.1")));
        assert_eq!(IpNet::parse("10.0.0.0/33"), None);
        assert_eq!(IpNet::parse("nonsense"), None);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let limits = RateLimits::new(60, vec![IpNet::parse("10.0.0.0/8").unwrap()]);
        // An untrusted peer's header is ignored.
        assert_eq!(limits.client(Some(ip("203.0.113.9")), &["1.2.3.4"]), Some(ip("203.0.113.9")));
        // Through a trusted proxy: the right-most untrusted entry (left ones are spoofable).
        assert_eq!(limits.client(Some(ip("10.0.0.2")), &["6.6.6.6, 198.51.100.7, 10.0.0.5"]), Some(ip("198.51.100.7")));
        // Nothing usable: the proxy itself.
        assert_eq!(limits.client(Some(ip("10.0.0.2")), &["garbage"]), Some(ip("10.0.0.2")));
    }
}
