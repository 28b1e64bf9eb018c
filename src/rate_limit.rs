//! Per-client rate limiting of `/authorize` and `/callback`: each client and endpoint gets
//! `RATE_LIMIT_PER_MINUTE` requests (GCRA, through the governor crate), then 429 with
//! `Retry-After`.
//!
//! The client is the peer address, or behind a reverse proxy listed in `TRUSTED_PROXIES` the
//! address it forwarded ([`TrustedProxies::client`]); an IPv6 client is keyed by its /64.

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
use crate::net::{TrustedProxies, rate_key};

pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<(IpAddr, &'static str)>>,
    trusted_proxies: TrustedProxies,
    seen: AtomicU64,
}

impl RateLimits {
    pub fn new(per_minute: u32, trusted_proxies: TrustedProxies) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        RateLimits { limiter, trusted_proxies, seen: AtomicU64::new(0) }
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
    let callback = crate::site::local(req.path()).is_some_and(|p| p.starts_with("/callback/"));
    let endpoint = if callback { "callback" } else { "authorize" };
    let Some(client) = limits.trusted_proxies.client_of(req.request()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // Keep the table bounded: forget idle clients now and then.
    if limits.seen.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
        limiter.retain_recent();
    }
    match limiter.check_key(&(rate_key(client), endpoint)) {
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
