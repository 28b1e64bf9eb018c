use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::auth::require_same_origin;
use crate::config::Settings;
use crate::error::ApiError;
use crate::tokens::provider_token;

/// `GET /api/token/{provider}`: [`provider_token`] as JSON, same-origin only, never cached:
/// `{"access_token", "token_type": "Bearer", "expires_at"}`; `401`, `404 no_token`,
/// `409 {"error": "reauthorize", "authorize_url"}` or `503`, as
/// [`crate::tokens::ProviderTokenError`] answers.
pub async fn token(req: HttpRequest, settings: web::Data<Settings>) -> HttpResponse {
    if let Err(e) = require_same_origin(&req, &settings.public_url) {
        return ApiError::from(e).error_response();
    }
    let name = req.match_info().get("provider").unwrap_or_default().to_string();
    match provider_token(&req, &name).await {
        Ok(token) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(token),
        Err(e) => e.error_response(),
    }
}
