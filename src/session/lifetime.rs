//! The cookie's side of [`super::ANONYMOUS_TTL`]: the store keeps a session nobody is signed in
//! to for at most 15 minutes, and the browser keeps its cookie no longer either (for the cookie
//! store, the cookie *is* the store). actix-session gives every cookie the configured lifetime,
//! so the cookie is shortened on its way out.

use actix_session::SessionExt;
use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, SET_COOKIE};
use actix_web::middleware::Next;

use super::ANONYMOUS_TTL;
use super::store::IDENTITY_KEY;

/// Notes on the response that the session ends the request without a signed-in user. Runs
/// inside the session middleware, where the session's final state is still readable.
pub async fn mark_anonymous(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if !res.request().get_session().contains_key(IDENTITY_KEY) {
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
    use super::*;

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
