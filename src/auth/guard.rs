use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use super::middleware::{CheckedAccount, Unchecked};
use crate::accounts::Account;
use crate::config::Settings;
use crate::db::models::UserId;
use crate::error::AppError;

/// The signed-in user's id, as the session names it, once gatehouse's middleware has checked
/// the session against the account (it exists; the session was not ended by "sign out
/// everywhere"). Signed out: [`AppError::Unauthenticated`], like [`CurrentUser`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedIn(pub UserId);

/// The signed-in user with their identities (from the account cache, else the database):
/// the guard for a handler. Signed out, the request ends as [`AppError::Unauthenticated`]
/// (pages: redirect to `/login?next=…`; `/api`: 401 JSON). A session whose user no longer
/// exists is signed out.
pub struct CurrentUser(pub Arc<Account>);

/// Middleware form of the guard, for whole scopes.
pub async fn require_login(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.extensions().get::<SignedIn>().is_none() {
        // A response, not an `Err`: outer middleware (security headers) only sees responses.
        let refusal = unauthenticated(req.request()).error_response();
        return Ok(req.into_response(refusal).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

pub(crate) fn unauthenticated(req: &HttpRequest) -> AppError {
    if req.extensions().get::<Unchecked>().is_some() {
        return AppError::SessionStore("the session's account could not be read".into());
    }
    let target = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    };
    AppError::Unauthenticated { next: target, api: wants_json(req) }
}

/// Does this request get JSON (a `401` with a JSON body) rather than a page (a `303` to the
/// sign-in page) when it is refused? Decided by route, never by `Accept`: yes exactly when its
/// path starts with one of `JSON_PATHS` (default `/api/`). A page redirects even when asked for
/// JSON, and an API answers 401 even when asked for HTML, so neither can be talked into the
/// other's behaviour.
pub fn wants_json(req: &HttpRequest) -> bool {
    let path = req.path();
    match req.app_data::<web::Data<Settings>>() {
        Some(s) => s.json_paths.iter().any(|p| path.starts_with(p.as_str())),
        None => path.starts_with("/api/"),
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(req.extensions().get::<SignedIn>().copied().ok_or_else(|| unauthenticated(req)))
    }
}

/// The signed-in user when there is one: for pages that show more to a signed-in visitor.
/// Unlike `Option<CurrentUser>`, a database outage is an error (503), not "signed out".
pub struct OptionalUser(pub Option<Arc<Account>>);

impl FromRequest for OptionalUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.extensions().get::<CheckedAccount>() {
            Some(CheckedAccount(account)) => Ok(OptionalUser(Some(account.clone()))),
            // Not checkable now: an error (503), not "signed out".
            None if req.extensions().get::<Unchecked>().is_some() => Err(unauthenticated(req)),
            None => Ok(OptionalUser(None)),
        };
        Box::pin(std::future::ready(result))
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    /// The account gatehouse's middleware checked the session against.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked =
            req.extensions().get::<CheckedAccount>().map(|CheckedAccount(account)| CurrentUser(account.clone()));
        Box::pin(std::future::ready(checked.ok_or_else(|| unauthenticated(req))))
    }
}
