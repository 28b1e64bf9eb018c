//! HTTP endpoints, one file each. [`configure`] is the route table.

mod api;
mod assets;
mod authorize;
mod backchannel;
mod callback;
pub(crate) mod health;
mod home;
pub(crate) mod login;
pub use login::LoginPages;
mod logout;
mod profile;
pub(crate) mod query;
mod token;

use actix_web::middleware::from_fn;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, guard, web};
use tera::Context;

use crate::auth::require_login;
use crate::db::models::User;
use crate::error::AppError;
use crate::rate_limit::rate_limit;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The gate's routes first among gatehouse's own: a proxy asks on every request to the app
    // it guards, and actix-web tries the routes in order.
    // Named, for `gate::fast_yes`; the guard on the resource, as `cfg.route` puts it: another
    // method is the app's to route (404 by default), not a 405 here.
    cfg.service(web::resource("/verify").name(crate::gate::VERIFY_ROUTE).guard(guard::Get()).to(crate::gate::verify))
        .service(
            web::resource("/forward-auth")
                .name(crate::gate::FORWARD_AUTH_ROUTE)
                .guard(guard::Get())
                .to(crate::gate::forward_auth),
        )
        .route("/", web::get().to(home::home))
        .route("/login", web::get().to(login::login))
        .service(
            web::resource("/authorize/{provider}")
                .wrap(from_fn(rate_limit))
                .get(authorize::authorize)
                .post(authorize::link),
        )
        .service(
            web::resource("/callback/{provider}")
                .wrap(from_fn(rate_limit))
                // A form-posted callback is a few hundred bytes.
                .app_data(web::PayloadConfig::new(16 * 1024))
                .get(callback::callback)
                .post(callback::callback_post),
        )
        .service(
            // Not rate-limited: a provider ending many sessions at once must not be turned away;
            // a bad token costs a parse (and at most one rate-limited JWKS refetch).
            web::resource("/backchannel-logout/{provider}").post(backchannel::backchannel_logout),
        )
        .service(
            web::resource("/logout")
                .route(web::post().to(logout::logout))
                .default_service(web::to(|| async { Err::<HttpResponse, _>(AppError::MethodNotAllowed) })),
        )
        .route("/.well-known/jwks.json", web::get().to(crate::gate::jwks))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .service(
            web::scope("/profile")
                .wrap(from_fn(require_login))
                .route("", web::get().to(profile::profile))
                .route("/identities/{id}/unlink", web::post().to(profile::unlink))
                .route("/sessions/end-all", web::post().to(profile::end_all_sessions))
                .route("/sessions/{id}/end", web::post().to(profile::end_session_by_id))
                .route("/delete", web::get().to(profile::confirm_delete))
                .route("/delete", web::post().to(profile::delete)),
        )
        .service(
            web::scope("/api")
                .wrap(from_fn(require_login))
                .route("/me", web::get().to(api::me))
                .route("/token/{provider}", web::get().to(token::token)),
        )
        .route("/static/{file:.+}", web::get().to(assets::asset))
        .route("/favicon.ico", web::get().to(assets::favicon));
}

/// The 404 page for every address not in the table.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// What every page's layout needs.
pub(crate) fn page_context(user: Option<&User>) -> Context {
    let mut ctx = Context::new();
    if let Some(user) = user {
        ctx.insert(
            "user",
            &serde_json::json!({"id": user.id, "name": user.name, "email": user.email, "email_verified": user.email_verified, "avatar_url": user.avatar_url}),
        );
    }
    ctx
}

pub(crate) fn html(
    status: actix_web::http::StatusCode,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::build(status).content_type(actix_web::http::header::ContentType::html()).body(body)
}

/// Renders a page or answers with the error page (a template bug must not leak details).
pub(crate) fn render_page(name: &str, ctx: &Context) -> HttpResponse {
    page_response(render_body(name, ctx))
}

/// A page's HTML, or `None` after logging why it failed.
pub(crate) fn render_body(name: &str, ctx: &Context) -> Option<Bytes> {
    crate::templates::render(name, ctx).map(Bytes::from).map_err(|why| log::error!("cannot render {name}: {why}")).ok()
}

/// 200 with the page, or the error page when rendering failed.
pub(crate) fn page_response(body: Option<Bytes>) -> HttpResponse {
    match body {
        Some(body) => html(actix_web::http::StatusCode::OK, body),
        None => actix_web::ResponseError::error_response(&AppError::Internal("template failed")),
    }
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, location)).finish()
}
