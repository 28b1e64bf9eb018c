use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{CurrentUser, require_same_origin};
use crate::config::Settings;
use crate::db::Db;
use crate::error::{ApiError, AppError};
use crate::providers::{HttpClient, Registry};
use crate::tokens::{self, TokenError, TokenVault};

/// `GET /api/token/{provider}`: a valid access token for the signed-in user's identity at
/// `provider` (`OAUTH_{NAME}_STORE_TOKENS=true`), refreshed first when it expires within 60 s:
/// `{"access_token", "token_type": "Bearer", "expires_at"}`. Signed in, same-origin, never
/// cached. `404` when nothing is kept; `409 {"error": "reauthorize", "authorize_url"}` when the
/// provider refused the refresh (send the person there); `503` when it cannot be asked now.
pub async fn token(
    req: HttpRequest,
    user: Result<CurrentUser, AppError>,
    ctx: (web::Data<Registry>, web::Data<HttpClient>, web::Data<Db>, web::Data<Settings>),
) -> Result<HttpResponse, ApiError> {
    let CurrentUser(account) = user?;
    let (registry, http, db, settings) = ctx;
    require_same_origin(&req, &settings.public_url)?;
    let name = req.match_info().get("provider").unwrap_or_default();
    let vault = req.app_data::<web::Data<TokenVault>>();
    let (Some(provider), Some(vault)) = (registry.get(name).filter(|p| p.settings().store_tokens), vault) else {
        return Ok(answer(StatusCode::NOT_FOUND, serde_json::json!({"error": "no_token"})));
    };
    // The most recently linked identity at this provider.
    let Some(identity) = account.identities.iter().filter(|i| i.provider == name).map(|i| i.id).max() else {
        return Ok(answer(StatusCode::NOT_FOUND, serde_json::json!({"error": "no_token"})));
    };
    match tokens::access_token(&db, vault, provider.as_ref(), &http, identity).await {
        Ok(token) => Ok(answer(StatusCode::OK, serde_json::json!(token))),
        Err(TokenError::NotKept) => Ok(answer(StatusCode::NOT_FOUND, serde_json::json!({"error": "no_token"}))),
        Err(TokenError::Reauthorize) => {
            let authorize_url = crate::site::path(&format!("/authorize/{name}"));
            Ok(answer(
                StatusCode::CONFLICT,
                serde_json::json!({"error": "reauthorize", "authorize_url": authorize_url}),
            ))
        }
        Err(TokenError::Db(e)) => Err(AppError::Db(e).into()),
        Err(TokenError::Provider(e)) => {
            log::warn!("token provider={name}: {e}");
            Ok(answer(StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"error": "temporarily_unavailable"})))
        }
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}
