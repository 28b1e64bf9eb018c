//! How long sessions last.
//!
//! A signed-in session lasts `SESSION_TTL_DAYS` from its sign-in and, with
//! `SESSION_IDLE_MINUTES`, that long since it was last seen ([`check_visit`], checked on
//! every request by [`crate::auth::middleware::attach_identity`]).
//!
//! An anonymous session lasts [`super::ANONYMOUS_TTL`]: the store keeps it no longer, and the
//! browser keeps its cookie no longer either (for the cookie store, the cookie *is* the store).
//! actix-session gives every cookie the configured lifetime, so the cookie is shortened on its
//! way out.

use actix_session::{Session, SessionExt};
use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, SET_COOKIE};
use actix_web::middleware::Next;

use super::ANONYMOUS_TTL;
use super::keys;

/// Notes on the response that the session ends the request without a signed-in user. Runs
/// inside the session middleware, where the session's final state is still readable.
pub async fn mark_anonymous(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if !res.request().get_session().contains_key(keys::USER) {
        res.response_mut().extensions_mut().insert(Anonymous);
    }
    Ok(res)
}

/// Gives the session cookie of an anonymous session at most [`ANONYMOUS_TTL`]. Runs outside
/// the session middleware, after it has written `Set-Cookie`.
pub async fn shorten_anonymous_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if res.response().extensions().get::<Anonymous>().is_none() {
        return Ok(res);
    }
    let headers = res.headers_mut();
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).cloned().collect();
    if !cookies.iter().any(is_session_cookie) {
        return Ok(res);
    }
    headers.remove(SET_COOKIE);
    for value in cookies {
        headers.append(SET_COOKIE, shortened(&value).unwrap_or(value));
    }
    Ok(res)
}

#[derive(Clone, Copy)]
struct Anonymous;

/// Why a signed-in session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// No sign-in time, or one in the future: not a session gatehouse signed in.
    NoSignInTime,
    /// `SESSION_TTL_DAYS` have passed since the sign-in.
    Lifetime,
    /// `SESSION_IDLE_MINUTES` have passed since the last visit (or the sign-in).
    Idle,
}

/// How far ahead of this instance's clock a sign-in time may be (another instance's clock).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Checks a visit at `now_ms` (Unix milliseconds) to a signed-in session against its limits
/// and, with an idle limit, notes the visit once the noted one is [`idle_refresh_secs`] old.
/// gatehouse checks the limits itself rather than through actix-identity's deadlines, so one
/// stamp ([`keys::ISSUED_MS`]) serves the lifetime and "sign out everywhere", and the last visit
/// is kept only when there is an idle limit.
pub(crate) fn check_visit(
    session: &Session,
    ttl_days: i64,
    idle_minutes: Option<u64>,
    now_ms: i64,
) -> Result<(), Ended> {
    let stamps = Stamps {
        issued_ms: session.get::<i64>(keys::ISSUED_MS).ok().flatten(),
        seen: session.get::<i64>(keys::LAST_SEEN).ok().flatten(),
    };
    if let Some(seen) = stamps.check(ttl_days, idle_minutes, now_ms)? {
        let _ = session.insert(keys::LAST_SEEN, seen);
    }
    Ok(())
}

/// A signed-in session's two time stamps, as its state holds them: when it was signed in
/// ([`keys::ISSUED_MS`]) and when a visit was last noted ([`keys::LAST_SEEN`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamps {
    pub(crate) issued_ms: Option<i64>,
    pub(crate) seen: Option<i64>,
}

impl Stamps {
    /// [`check_visit`] without the session: `Ok(Some(now))` when the visit is to be noted
    /// (written to the session), `Ok(None)` when the session is good as it is.
    pub(crate) fn check(self, ttl_days: i64, idle_minutes: Option<u64>, now_ms: i64) -> Result<Option<i64>, Ended> {
        let issued_ms = match self.issued_ms {
            Some(issued) if issued <= now_ms.saturating_add(CLOCK_SKEW_MS) => issued,
            _ => return Err(Ended::NoSignInTime),
        };
        if now_ms.saturating_sub(issued_ms) >= ttl_days.saturating_mul(86_400_000) {
            return Err(Ended::Lifetime);
        }
        let Some(idle_minutes) = idle_minutes else { return Ok(None) };
        let idle = i64::try_from(idle_minutes.saturating_mul(60)).unwrap_or(i64::MAX);
        let now = now_ms.div_euclid(1000);
        // Until a visit is noted, the sign-in is the last visit.
        let noted = self.seen.unwrap_or_else(|| issued_ms.div_euclid(1000));
        // A visit noted in the future (another instance's clock) counts as now: it cannot
        // postpone the idle limit.
        let seen = noted.min(now);
        if now.saturating_sub(seen) >= idle {
            return Err(Ended::Idle);
        }
        // Noted again once the stamp is an interval old, or an interval ahead: instances whose
        // clocks differ by less than that do not take turns rewriting each other's stamps.
        Ok((noted.abs_diff(now) >= idle_refresh_secs(idle)).then_some(now))
    }
}

/// How old the noted last visit may grow before a visit notes a new one: a minute, or a tenth of
/// a shorter idle limit. Noting every visit would make every signed-in request write its session
/// (a database or Redis write, or a fresh cookie), the gate's `/verify` included; the price is
/// that a session may end up to this much sooner than a full idle limit after its last visit,
/// never later (with the instances' clocks in step).
pub(crate) fn idle_refresh_secs(idle_secs: i64) -> u64 {
    (idle_secs / 10).clamp(1, 60).unsigned_abs()
}

fn is_session_cookie(value: &HeaderValue) -> bool {
    let raw = value.as_bytes();
    raw.starts_with(b"gatehouse=") || raw.starts_with(b"__Host-gatehouse=") || raw.starts_with(b"__Secure-gatehouse=")
}

/// The same cookie with a Max-Age of at most [`ANONYMOUS_TTL`]; `None` when it is not the
/// session cookie or is a removal (Max-Age 0), which stays as it is.
fn shortened(value: &HeaderValue) -> Option<HeaderValue> {
    if !is_session_cookie(value) {
        return None;
    }
    // Parsed and written back without decoding: the value goes out exactly as it came.
    let mut cookie = Cookie::parse(value.to_str().ok()?).ok()?;
    let max_age = cookie.max_age()?;
    if max_age.is_zero() || max_age <= ANONYMOUS_TTL {
        return None;
    }
    cookie.set_max_age(ANONYMOUS_TTL);
    cookie.set_expires(None);
    HeaderValue::from_str(&cookie.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn signed_in_at(issued_ms: i64) -> Session {
        let session = TestRequest::default().to_srv_request().get_session();
        let _ = session.insert(keys::ISSUED_MS, issued_ms);
        session
    }

    #[test]
    fn a_session_lasts_its_lifetime_from_sign_in_and_no_longer() {
        let t0 = 1_700_000_000_000;
        assert_eq!(check_visit(&signed_in_at(t0), 30, None, t0 + 30 * DAY_MS - 1), Ok(()));
        assert_eq!(check_visit(&signed_in_at(t0), 30, None, t0 + 30 * DAY_MS), Err(Ended::Lifetime));
        let unstamped = TestRequest::default().to_srv_request().get_session();
        assert_eq!(check_visit(&unstamped, 30, None, t0), Err(Ended::NoSignInTime));
    }

    #[test]
    fn a_sign_in_time_in_the_future_is_only_another_clock_within_five_minutes() {
        let t0 = 1_700_000_000_000;
        assert_eq!(check_visit(&signed_in_at(t0 + CLOCK_SKEW_MS), 30, None, t0), Ok(()));
        assert_eq!(check_visit(&signed_in_at(t0 + CLOCK_SKEW_MS + 1), 30, None, t0), Err(Ended::NoSignInTime));
        assert_eq!(check_visit(&signed_in_at(i64::MAX), 30, Some(5), t0), Err(Ended::NoSignInTime));
        // A last visit in the future counts as now: it cannot postpone the idle limit.
        let session = signed_in_at(t0);
        let _ = session.insert(keys::LAST_SEEN, t0 / 1000 + 86_400);
        assert_eq!(check_visit(&session, 30, Some(5), t0 + 1_000), Ok(()));
        assert_eq!(session.get::<i64>(keys::LAST_SEEN).unwrap(), Some(t0 / 1000 + 1));
    }

    #[test]
    fn an_idle_session_ends_counted_from_its_last_visit_or_its_sign_in() {
        let t0 = 1_700_000_000_000;
        // Five minutes idle: counted from the sign-in until a visit is noted.
        assert_eq!(check_visit(&signed_in_at(t0), 30, Some(5), t0 + 300_000), Err(Ended::Idle));
        let session = signed_in_at(t0);
        assert_eq!(check_visit(&session, 30, Some(5), t0 + 299_000), Ok(()));
        assert_eq!(session.get::<i64>(keys::LAST_SEEN).unwrap(), Some(t0 / 1000 + 299), "the visit is noted");
        assert_eq!(check_visit(&session, 30, Some(5), t0 + 598_000), Ok(()));
        assert_eq!(check_visit(&session, 30, Some(5), t0 + 898_000), Err(Ended::Idle));
        let without_limit = signed_in_at(t0);
        assert_eq!(check_visit(&without_limit, 30, None, t0 + 1_000), Ok(()));
        assert_eq!(without_limit.get::<i64>(keys::LAST_SEEN).unwrap(), None, "nothing noted without the limit");
    }

    #[test]
    fn a_visit_is_noted_once_the_noted_one_is_a_minute_old() {
        let t0 = 1_700_000_000_000;
        let seen = |session: &Session| session.get::<i64>(keys::LAST_SEEN).unwrap();
        // A 60-minute limit: nothing is written within a minute of the sign-in...
        let session = signed_in_at(t0);
        assert_eq!(check_visit(&session, 30, Some(60), t0 + 59_000), Ok(()));
        assert_eq!(seen(&session), None);
        // ...then once a minute at most.
        assert_eq!(check_visit(&session, 30, Some(60), t0 + 60_000), Ok(()));
        assert_eq!(seen(&session), Some(t0 / 1000 + 60));
        assert_eq!(check_visit(&session, 30, Some(60), t0 + 119_000), Ok(()));
        assert_eq!(seen(&session), Some(t0 / 1000 + 60), "59 s after the noted visit");
        // The visit at +119 s was not noted: the session ends 60 minutes after +60 s, 59 s
        // sooner than a full hour after its last visit, never later.
        assert_eq!(check_visit(&session, 30, Some(60), t0 + 3_659_000), Ok(()));
        let ended = signed_in_at(t0);
        let _ = ended.insert(keys::LAST_SEEN, t0 / 1000 + 60);
        assert_eq!(check_visit(&ended, 30, Some(60), t0 + 3_660_000), Err(Ended::Idle));
        // A shorter limit is noted at a tenth of it.
        assert_eq!([idle_refresh_secs(300), idle_refresh_secs(3600), idle_refresh_secs(60)], [30, 60, 6]);
        assert_eq!(idle_refresh_secs(5), 1, "not reachable (the limit is at least a minute), but never 0");
        // A stamp less than an interval ahead (another instance's clock) is left alone; one
        // further ahead is brought back to now.
        let ahead = signed_in_at(t0);
        let _ = ahead.insert(keys::LAST_SEEN, t0 / 1000 + 59);
        assert_eq!(check_visit(&ahead, 30, Some(60), t0), Ok(()));
        assert_eq!(seen(&ahead), Some(t0 / 1000 + 59));
        let _ = ahead.insert(keys::LAST_SEEN, t0 / 1000 + 60);
        assert_eq!(check_visit(&ahead, 30, Some(60), t0), Ok(()));
        assert_eq!(seen(&ahead), Some(t0 / 1000));
    }

    #[test]
    fn shortens_only_a_long_lived_session_cookie() {
        let long = HeaderValue::from_static("gatehouse=abc%2Bd; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000");
        let short = shortened(&long).expect("shortened").to_str().unwrap().to_string();
        assert!(short.contains("Max-Age=900"), "{short}");
        assert!(short.starts_with("gatehouse=abc%2Bd"), "the value is kept as encoded: {short}");
        assert!(short.contains("HttpOnly") && short.contains("SameSite=Lax"), "{short}");

        let removal = HeaderValue::from_static("gatehouse=; Path=/; Max-Age=0");
        assert!(shortened(&removal).is_none());
        let other = HeaderValue::from_static("theme=dark; Max-Age=2592000");
        assert!(shortened(&other).is_none());
    }
}
