use actix_identity::Identity;
use actix_session::Session;
use actix_web::HttpResponse;

use super::see_other;

/// `POST /logout`: ends the session (identity and everything else in it) and goes home.
/// `GET /logout` is refused, so a prefetched link can never sign anyone out.
pub async fn logout(identity: Option<Identity>, session: Session) -> HttpResponse {
    match identity {
        Some(identity) => identity.logout(),
        None => session.purge(),
    }
    see_other("/")
}
