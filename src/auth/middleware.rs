use std::sync::Arc;

use actix_identity::IdentityExt;
use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use super::SignedIn;
use crate::accounts::{Account, AccountCache};
use crate::config::Settings;
use crate::db::Db;
use crate::db::models::UserId;
use crate::error::AppError;

/// The account a session was checked against in [`attach_identity`], so the extractors that
/// need it ([`super::CurrentUser`], the gate) do not look it up again.
#[derive(Clone)]
pub(crate) struct CheckedAccount(pub(crate) Arc<Account>);

/// The session's account could not be read (the database is down and the account cache does
/// not hold it): the request is neither signed in nor signed out. Guards and the gate answer
/// 503; routes that need no user (sign-out) go on.
#[derive(Clone, Copy)]
pub(crate) struct Unchecked;

/// Reads the session's identity and, when it is still good, puts [`SignedIn`] into the
/// request's extensions. Never rejects a visitor for being signed out: guards decide.
///
/// Still good means: the identity is a user id, the session is within its lifetime
/// (`SESSION_TTL_DAYS`, `SESSION_IDLE_MINUTES`), that user exists, and the session was signed
/// in after the user's `sessions_valid_after` ("sign out everywhere", back-channel logout).
/// Anything else signs the session out here, before any handler or guard sees it, so no store
/// (the encrypted cookie included) keeps a revoked session alive. The account comes from the
/// account cache; a database outage on a cache miss marks the request [`Unchecked`].
pub async fn attach_identity(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    crate::session::keys::upgrade(&req.get_session());
    if let Ok(identity) = req.get_identity() {
        match identity.id().ok().and_then(|id| id.parse::<i64>().ok()) {
            Some(id) => match still_signed_in(&req, UserId(id)).await {
                Ok(Some(account)) => {
                    req.extensions_mut().insert(SignedIn(UserId(id)));
                    req.extensions_mut().insert(CheckedAccount(account));
                }
                Ok(None) => identity.logout(),
                Err(AppError::Internal(why)) => {
                    // A response, not an `Err`: outer middleware (security headers) only sees responses.
                    let response = AppError::Internal(why).error_response();
                    return Ok(req.into_response(response).map_into_right_body());
                }
                Err(e) => {
                    log::warn!("cannot check the session against its account: {e}");
                    req.extensions_mut().insert(Unchecked);
                }
            },
            None => {
                log::warn!("session carried an unusable identity; signing it out");
                identity.logout();
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// `Some(account)` while the session is within its lifetime, its user exists and it was signed
/// in after their `sessions_valid_after`; `None` when it must be signed out.
async fn still_signed_in(req: &ServiceRequest, id: UserId) -> Result<Option<Arc<Account>>, AppError> {
    let (Some(db), Some(cache), Some(settings)) = (
        req.app_data::<web::Data<Db>>(),
        req.app_data::<web::Data<AccountCache>>(),
        req.app_data::<web::Data<Settings>>(),
    ) else {
        return Err(AppError::Internal("gatehouse's app data is missing: call Gatehouse::configure on the app"));
    };
    // Before the account: an ended session is signed out even while the database is down.
    let now_ms = crate::db::models::now().and_utc().timestamp_millis();
    let (ttl, idle) = (settings.session_ttl_days, settings.session_idle_minutes);
    if let Err(ended) = crate::session::check_visit(&req.get_session(), ttl, idle, now_ms) {
        log::info!("session ended ({ended:?}) signed out user_id={id}");
        return Ok(None);
    }
    let Some(account) = cache.account(db, id).await? else {
        log::info!("session of a deleted user signed out user_id={id}");
        return Ok(None);
    };
    if let Some(valid_after) = account.user.sessions_valid_after
        && crate::session::signed_in_before(&req.get_session(), valid_after)
    {
        log::info!("session ended earlier signed out user_id={id}");
        return Ok(None);
    }
    Ok(Some(account))
}
