//! Cross-site request refusal for state-changing form posts (sign-out, unlink).
//!
//! SameSite=Lax already keeps the session cookie off cross-site POSTs; this is the second
//! lock. Browsers send `Sec-Fetch-Site` and `Origin` on form posts; clients that send neither
//! (curl, tests) are not browsers and cannot be the victim of a forged form.

use actix_web::HttpRequest;
use url::Url;

use crate::error::AppError;

/// Refuses ([`AppError::CrossSite`], a 403 page) a state-changing request another site's page
/// made the browser send: use it in your own `POST` handlers, with
/// `gatehouse.settings().public_url()`. SameSite=Lax does not cover sibling subdomains.
pub fn require_same_origin(req: &HttpRequest, public_url: &Url) -> Result<(), AppError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let fetch_site = header("Sec-Fetch-Site");
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return Err(AppError::CrossSite);
    }
    match header("Origin") {
        None => Ok(()),
        // Chrome sends `Origin: null` on same-origin posts from pages with no-referrer.
        Some("null") if fetch_site == Some("same-origin") => Ok(()),
        Some(origin) if origin == public_url.origin().ascii_serialization() => Ok(()),
        Some(_) => Err(AppError::CrossSite),
    }
}
