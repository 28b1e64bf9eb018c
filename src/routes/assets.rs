//! `static/`, compiled into the binary (like the templates) so the service runs from any
//! working directory. Add a file here when adding one to `static/`.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse};

use crate::error::AppError;

const SVG: &str = "image/svg+xml";

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../static/style.css")),
    ("favicon.svg", SVG, include_bytes!("../../static/favicon.svg")),
    ("providers/google.svg", SVG, include_bytes!("../../static/providers/google.svg")),
    ("providers/github.svg", SVG, include_bytes!("../../static/providers/github.svg")),
    ("providers/gitlab.svg", SVG, include_bytes!("../../static/providers/gitlab.svg")),
    ("providers/microsoft.svg", SVG, include_bytes!("../../static/providers/microsoft.svg")),
    ("providers/apple.svg", SVG, include_bytes!("../../static/providers/apple.svg")),
    ("providers/facebook.svg", SVG, include_bytes!("../../static/providers/facebook.svg")),
    ("providers/discord.svg", SVG, include_bytes!("../../static/providers/discord.svg")),
    ("providers/generic.svg", SVG, include_bytes!("../../static/providers/generic.svg")),
];

/// `GET /favicon.ico`: browsers and other clients ask for it without reading the page's
/// `<link rel="icon">`; they get the SVG icon rather than a logged 404.
pub async fn favicon() -> Result<HttpResponse, AppError> {
    serve("favicon.svg")
}

/// `GET /static/{file}`: cacheable for an hour; only the files listed above exist.
pub async fn asset(req: HttpRequest) -> Result<HttpResponse, AppError> {
    serve(req.match_info().get("file").unwrap_or_default())
}

fn serve(name: &str) -> Result<HttpResponse, AppError> {
    // The whole remaining path: `providers/google.svg`.
    let (_, content_type, body) = ASSETS.iter().find(|(n, _, _)| *n == name).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, *content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(*body))
}
