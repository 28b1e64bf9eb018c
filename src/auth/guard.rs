use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_identity::IdentityExt;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use crate::accounts::{Account, AccountCache};
use crate::db::Db;
use crate::db::models::UserId;
use crate::error::AppError;

/// Put into request extensions by [`super::attach_identity`] when the session names a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedIn(pub UserId);

/// The signed-in user with their identities (from the [`AccountCache`], else the database):
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
    let target = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    };
    AppError::Unauthenticated { next: target, api: req.path().starts_with("/api/") }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(req.extensions().get::<SignedIn>().copied().ok_or_else(|| unauthenticated(req)))
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let SignedIn(id) = req.extensions().get::<SignedIn>().copied().ok_or_else(|| unauthenticated(&req))?;
            let db = req.app_data::<web::Data<Db>>().ok_or(AppError::Internal("no database in app data"))?;
            let cache = req.app_data::<web::Data<AccountCache>>().ok_or(AppError::Internal("no account cache"))?;
            match cache.account(db, id).await? {
                Some(account) => Ok(CurrentUser(account)),
                None => {
                    if let Ok(identity) = req.get_identity() {
                        identity.logout();
                    }
                    Err(unauthenticated(&req))
                }
            }
        })
    }
}
