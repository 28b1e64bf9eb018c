use actix_identity::Identity;

use crate::session::end_session;
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};

use super::see_other;
use crate::auth::require_same_origin;
use crate::config::Settings;
use crate::error::AppError;
use crate::session::set_flash;

/// `POST /logout`: ends the session (identity and everything else in it) and goes home.
/// `GET /logout` is refused, so a prefetched link can never sign anyone out, and so is a post
/// from another site.
pub async fn logout(
    req: HttpRequest,
    identity: Option<Identity>,
    session: Session,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let was_signed_in = identity.is_some();
    end_session(&session);
    if was_signed_in {
        set_flash(&session, "You have been signed out.");
    }
    Ok(see_other(&crate::site::path("/")))
}
