//! Who is asking: network blocks, the client address behind trusted reverse proxies, and the
//! key a client is rate-limited by. A leaf module: configuration and middleware both use it.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

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

/// Reverse proxies whose forwarding headers are believed (`TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

/// Headers a reverse proxy uses to say who its client was.
pub const FORWARDING_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client's address: the peer, or behind trusted proxies the right-most
    /// `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left are
    /// whatever the client chose to send). A header from an untrusted peer is never believed.
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<IpAddr> =
            forwarded_for.iter().flat_map(|h| h.split(',')).filter_map(|s| s.trim().parse().ok()).collect();
        Some(hops.into_iter().rev().find(|ip| !self.trusts(*ip)).unwrap_or(peer))
    }

    /// The client address of a request (see [`TrustedProxies::client`]).
    pub fn client_of(&self, req: &actix_web::HttpRequest) -> Option<IpAddr> {
        let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
        self.client(req.peer_addr().map(|a| a.ip()), &forwarded)
    }
}

/// The key a client is rate-limited by: its IPv4 address, or its IPv6 /64 — one subscriber
/// gets a whole /64 and could otherwise take a fresh address for every request.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

static PROXY_WARNED: AtomicBool = AtomicBool::new(false);

/// Wrapped only when `TRUSTED_PROXIES` is empty: the first request that comes from loopback
/// with forwarding headers — a reverse proxy on this host nobody told gatehouse about — logs
/// one warning saying what that costs.
///
/// With the cookie store, the gate's quick yes is answered before this layer: the notice comes
/// with the first request that is not one (any page or sign-in through the proxy).
pub async fn notice_untrusted_proxy(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !PROXY_WARNED.load(Ordering::Relaxed)
        && req.peer_addr().is_some_and(|a| a.ip().is_loopback())
        && req.headers().contains_key("x-forwarded-for")
        && !PROXY_WARNED.swap(true, Ordering::Relaxed)
    {
        log::warn!(
            "a request from {} carries X-Forwarded-For, but TRUSTED_PROXIES is empty: every visitor \
             behind this proxy shares one rate-limit bucket, and addresses in logs are the proxy's. \
             Set TRUSTED_PROXIES to the proxy's address (e.g. TRUSTED_PROXIES=127.0.0.1)",
            req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
        );
    }
    next.call(req).await
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
        let proxies = TrustedProxies(vec![IpNet::parse("10.0.0.0/8").unwrap()]);
        // An untrusted peer's header is ignored.
        assert_eq!(proxies.client(Some(ip("203.0.113.9")), &["1.2.3.4"]), Some(ip("203.0.113.9")));
        // Through a trusted proxy: the right-most untrusted entry (left ones are spoofable).
        assert_eq!(
            proxies.client(Some(ip("10.0.0.2")), &["6.6.6.6, 198.51.100.7, 10.0.0.5"]),
            Some(ip("198.51.100.7"))
        );
        // Nothing usable: the proxy itself.
        assert_eq!(proxies.client(Some(ip("10.0.0.2")), &["garbage"]), Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:2::"));
        assert_eq!(rate_key(ip("2001:db8:1:2::1")), rate_key(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(rate_key(ip("2001:db8:1:2::1")), rate_key(ip("2001:db8:1:3::1")));
        assert_eq!(rate_key(ip("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(rate_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
    }
}
