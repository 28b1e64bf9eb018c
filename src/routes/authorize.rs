use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::login::render_login;
use super::{query, see_other};
use crate::auth::next::safe_next;
use crate::auth::{SignedIn, require_same_origin};
use crate::config::Settings;
use crate::error::AppError;
use crate::providers::{HttpClient, Registry};
use crate::signin;

/// `GET /authorize/{provider}[?next=PATH|URL]`: starts a sign-in (state, PKCE S256, nonce) bound to
/// this browser's session and sends the browser to the provider. Always a sign-in, even for a
/// signed-in visitor: a link or image on another site must not be able to link an account.
pub async fn authorize(
    req: HttpRequest,
    session: Session,
    registry: web::Data<Registry>,
    http: web::Data<HttpClient>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    start(&req, &session, None, &registry, &http, &settings).await
}

/// `POST /authorize/{provider}[?next=PATH]`: the "Link" buttons on /profile. Links the
/// provider account that comes back to the signed-in user; needs a signed-in user and a
/// same-origin form post.
pub async fn link(
    req: HttpRequest,
    session: Session,
    SignedIn(user): SignedIn,
    registry: web::Data<Registry>,
    http: web::Data<HttpClient>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    Ok(start(&req, &session, Some(user.0), &registry, &http, &settings).await)
}

async fn start(
    req: &HttpRequest,
    session: &Session,
    link_to: Option<i64>,
    registry: &Registry,
    http: &HttpClient,
    settings: &Settings,
) -> HttpResponse {
    let name = req.match_info().get("provider").unwrap_or_default();
    let Some(provider) = registry.get(name) else {
        return AppError::NotFound.error_response();
    };
    let next = safe_next(query::single(req.query_string(), "next").as_deref(), &settings.return_hosts);
    match signin::start(provider.as_ref(), http, session, next.clone(), link_to).await {
        Ok(url) => {
            log::info!("sign-in started provider={name}");
            see_other(url.as_str())
        }
        Err(e) => {
            log::warn!("sign-in could not start provider={name}: {e}");
            render_login(registry, &next, Some(&e.message(&provider.settings().label)), e.status())
        }
    }
}
