use actix_identity::IdentityExt;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

use super::SignedIn;
use crate::db::models::UserId;

/// Reads the session's identity and puts [`SignedIn`] into the request's extensions. Never
/// rejects: guards decide. An identity that is not a user id (tampering, an old format) is
/// logged out.
pub async fn attach_identity(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if let Ok(identity) = req.get_identity() {
        match identity.id().ok().and_then(|id| id.parse::<i64>().ok()) {
            Some(id) => {
                req.extensions_mut().insert(SignedIn(UserId(id)));
            }
            None => {
                log::warn!("session carried an unusable identity; signing it out");
                identity.logout();
            }
        }
    }
    next.call(req).await
}
