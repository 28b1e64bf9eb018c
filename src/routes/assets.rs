//! `static/`, compiled into the binary (like the templates) so the service runs from any
//! working directory. Add a file here when adding one to `static/`.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse};

use crate::error::AppError;

const ASSETS: &[(&str, &str, &[u8])] =
    &[("style.css", "text/css; charset=utf-8", include_bytes!("../../static/style.css"))];

/// `GET /static/{file}`: cacheable for an hour.
pub async fn asset(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let name = req.match_info().get("file").unwrap_or_default();
    let (_, content_type, body) = ASSETS.iter().find(|(n, _, _)| *n == name).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, *content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(*body))
}
