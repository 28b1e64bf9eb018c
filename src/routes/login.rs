use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{html, page_context, page_response, query, render_body, see_other};
use crate::auth::SignedIn;
use crate::auth::next::safe_next;
use crate::config::Settings;
use crate::providers::{Availability, Registry};

/// Rendered sign-in pages by (`next`, which providers are up). The page is the same for every
/// signed-out visitor, and signed-out traffic is the heaviest a sign-in service gets.
/// Bounded, so odd `next` values cannot grow it.
pub struct LoginPages(quick_cache::sync::Cache<(String, u64), Bytes>);

/// Pages kept; `next` values longer than this many bytes are rendered every time.
const LOGIN_PAGES: usize = 256;
const MAX_CACHED_NEXT: usize = 256;

impl Default for LoginPages {
    fn default() -> Self {
        LoginPages(quick_cache::sync::Cache::new(LOGIN_PAGES))
    }
}

/// `GET /login[?next=PATH|URL]`: a button per provider; a signed-in visitor goes on to `next`.
pub async fn login(
    req: HttpRequest,
    signed_in: Option<SignedIn>,
    registry: web::Data<Registry>,
    pages: web::Data<LoginPages>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    let next = safe_next(query::single(req.query_string(), "next").as_deref(), &settings.return_hosts);
    if signed_in.is_some() {
        return see_other(&next);
    }
    let body = match registry.ready_mask() {
        Some(mask) if next.len() <= MAX_CACHED_NEXT => {
            let key = (next, mask);
            match pages.0.get(&key) {
                Some(body) => Some(body),
                None => login_body(&registry, &key.0, None).inspect(|body| pages.0.insert(key.clone(), body.clone())),
            }
        }
        _ => login_body(&registry, &next, None),
    };
    page_response(body)
}

/// The sign-in page, optionally with a message (a failed sign-in shows it again).
pub(crate) fn render_login(registry: &Registry, next: &str, message: Option<&str>, status: StatusCode) -> HttpResponse {
    match login_body(registry, next, message) {
        Some(body) => html(status, body),
        None => page_response(None),
    }
}

fn login_body(registry: &Registry, next: &str, message: Option<&str>) -> Option<Bytes> {
    let encoded_next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let buttons: Vec<_> = registry
        .iter()
        .map(|p| {
            let s = p.settings();
            let href = if next == "/" {
                crate::site::path(&format!("/authorize/{}", s.name))
            } else {
                crate::site::path(&format!("/authorize/{}?next={encoded_next}", s.name))
            };
            let available = p.availability() == Availability::Ready;
            serde_json::json!({"name": s.name, "label": s.label, "kind": s.preset.kind, "logo": logo(s.preset.kind), "href": href, "available": available})
        })
        .collect();
    let mut ctx = page_context(None);
    ctx.insert("providers", &buttons);
    ctx.insert("message", &message);
    render_body("login.html", &ctx)
}

/// The provider's mark in `static/providers/`; generic kinds share a key icon.
pub(crate) fn logo(kind: &str) -> &'static str {
    match kind {
        "google" => "google",
        "github" => "github",
        "gitlab" => "gitlab",
        "microsoft" => "microsoft",
        "apple" => "apple",
        "facebook" => "facebook",
        "discord" => "discord",
        _ => "generic",
    }
}
