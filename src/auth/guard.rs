use std::future::Future;
use std::pin::Pin;

use actix_identity::IdentityExt;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use crate::db::Db;
use crate::db::models::{User, UserId};
use crate::error::AppError;

/// Put into request extensions by [`super::attach_identity`] when the session names a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedIn(pub UserId);

/// The signed-in user, loaded from the database: the guard for a handler. Signed out, the
/// request ends as [`AppError::Unauthenticated`] (pages: redirect to `/login?next=…`;
/// `/api`: 401 JSON). A session whose user no longer exists is signed out.
pub struct CurrentUser(pub User);

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
            match db.run(move |c| User::find(c, id).map_err(crate::db::DbError::from)).await? {
                Some(user) => Ok(CurrentUser(user)),
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
