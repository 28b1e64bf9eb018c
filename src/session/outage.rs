//! Staying up when the session store goes away. actix-session answers a store that fails with
//! an opaque 500; here that becomes a 503 page (JSON under `/api/`) with `Retry-After`, within
//! [`super::STORE_TIMEOUT`]. Nobody is signed out by an outage: a failed request writes no cookie.
//!
//! Routes that need no session (assets, health, metrics) never touch the store: their session
//! cookie is set aside before the session middleware sees it, so they keep working in an
//! outage and cost no store round trip otherwise.

use actix_session::storage::{LoadError, SaveError, UpdateError};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::http::header::{COOKIE, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::error::{ApiError, AppError};

/// Paths served without a session.
const SESSIONLESS: [&str; 5] = ["/static/", "/healthz", "/readyz", "/metrics", "/favicon.ico"];

fn needs_no_session(path: &str) -> bool {
    SESSIONLESS.iter().any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
}

/// Wraps the session middleware (see the module docs).
pub async fn answer_store_outage(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if crate::site::local(req.path()).is_some_and(needs_no_session) {
        req.headers_mut().remove(COOKIE);
    }
    let api = crate::auth::wants_json(req.request());
    next.call(req).await.map_err(|e| {
        if is_store_failure(&e) {
            log::error!("session store unavailable: {e}");
            actix_web::Error::from(StoreOutage { api })
        } else {
            e
        }
    })
}

/// The answer while the store is away. An error rather than a response (the request is gone
/// by now, and outer layers do not add headers to errors), so it carries the security headers
/// itself.
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable")]
struct StoreOutage {
    api: bool,
}

impl ResponseError for StoreOutage {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        let outage = AppError::from(crate::session::StoreError::unavailable());
        let mut res = if self.api { ApiError(outage).error_response() } else { outage.error_response() };
        let headers = res.headers_mut();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        for (name, value) in &crate::security_headers::PAGE_HEADERS {
            headers.insert(name.clone(), value.clone());
        }
        res
    }
}

/// Errors actix-session raises for a failed store call (each wrapped by it in an opaque 500).
fn is_store_failure(e: &actix_web::Error) -> bool {
    e.as_error::<InternalError<LoadError>>().is_some()
        || e.as_error::<InternalError<SaveError>>().is_some()
        || e.as_error::<InternalError<UpdateError>>().is_some()
        || e.as_error::<InternalError<anyhow::Error>>().is_some()
}
