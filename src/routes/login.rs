use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{html, page_context, query, see_other};
use crate::auth::SignedIn;
use crate::auth::next::safe_next;
use crate::error::AppError;
use crate::providers::{Availability, Registry};
use crate::templates;

/// `GET /login[?next=PATH]`: a button per provider; a signed-in visitor goes on to `next`.
pub async fn login(req: HttpRequest, signed_in: Option<SignedIn>, registry: web::Data<Registry>) -> HttpResponse {
    let next = safe_next(query::single(req.query_string(), "next").as_deref());
    if signed_in.is_some() {
        return see_other(&next);
    }
    render_login(&registry, &next, None, StatusCode::OK)
}

/// The sign-in page, optionally with a message (a failed sign-in shows it again).
pub(crate) fn render_login(registry: &Registry, next: &str, message: Option<&str>, status: StatusCode) -> HttpResponse {
    let encoded_next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let buttons: Vec<_> = registry
        .iter()
        .map(|p| {
            let s = p.settings();
            let href = if next == "/" {
                format!("/authorize/{}", s.name)
            } else {
                format!("/authorize/{}?next={encoded_next}", s.name)
            };
            let available = p.availability() == Availability::Ready;
            serde_json::json!({"name": s.name, "label": s.label, "kind": s.preset.kind, "logo": logo(s.preset.kind), "href": href, "available": available})
        })
        .collect();
    let mut ctx = page_context(None);
    ctx.insert("providers", &buttons);
    ctx.insert("message", &message);
    match templates::render("login.html", &ctx) {
        Ok(body) => html(status, body),
        Err(why) => {
            log::error!("cannot render login.html: {why}");
            actix_web::ResponseError::error_response(&AppError::Internal("template failed"))
        }
    }
}

/// The provider's mark in `static/providers/`; generic kinds share a key icon.
pub(crate) fn logo(kind: &str) -> &'static str {
    match kind {
        "google" => "google",
        "github" => "github",
        "gitlab" => "gitlab",
        "microsoft" => "microsoft",
        "facebook" => "facebook",
        "discord" => "discord",
        _ => "generic",
    }
}
