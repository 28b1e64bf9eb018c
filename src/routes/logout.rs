use actix_identity::Identity;
use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use url::Url;

use super::see_other;
use crate::auth::require_same_origin;
use crate::config::{LogoutMode, Settings};
use crate::db::models::UserId;
use crate::error::AppError;
use crate::providers::Registry;
use crate::session::at_provider::{IdTokenSeal, signed_in_with};
use crate::session::{end_session, set_flash};

/// `POST /logout`: ends the session (identity and everything else in it) and goes home, or,
/// when the session was signed in through a provider with `LOGOUT=provider`, on to that
/// provider's `end_session_endpoint` so it ends its session too (RP-Initiated Logout), which
/// then sends the browser back to `{PUBLIC_URL}/`. `GET /logout` is refused, so a prefetched
/// link can never sign anyone out, and so is a post from another site.
pub async fn logout(
    req: HttpRequest,
    identity: Option<Identity>,
    session: Session,
    settings: web::Data<Settings>,
    registry: web::Data<Registry>,
    seal: web::Data<IdTokenSeal>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let user = identity.as_ref().and_then(|i| i.id().ok()).and_then(|id| id.parse::<i64>().ok()).map(UserId);
    let with = user.and_then(|user| Some((user, signed_in_with(&session, &seal, user)?)));
    end_session(&session);
    if user.is_some() {
        set_flash(&session, "You have been signed out.");
    }
    if let Some((user, with)) = with
        && let Some(provider) = registry.get(&with.provider)
        && provider.settings().logout == LogoutMode::Provider
    {
        let back_to = Url::parse(&format!("{}/", settings.public_url.as_str().trim_end_matches('/')))
            .map_err(|_| AppError::Internal("PUBLIC_URL is validated at start"))?;
        if let Some(url) = provider.end_session_url(with.id_token.as_deref(), &back_to) {
            log::info!("sign-out provider={} user_id={user}: on to the provider", with.provider);
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish());
        }
    }
    Ok(see_other(&crate::site::path("/")))
}
