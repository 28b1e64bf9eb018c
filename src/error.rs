//! The error policy, in one place.
//!
//! Handlers return [`AppError`] (pages and API); the sign-in flow's own errors are
//! `SignInError`, which carry their status and message beside them. Each
//! kind maps to a status here. Browsers get a page in the site's layout with a short, human
//! message; `/api` gets JSON. Internals go to the log, never to the response, and input an
//! attacker controls never produces a 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use tera::Context;

use crate::accounts::AccountError;
use crate::auth::next::login_redirect;
use crate::db::DbError;
use crate::templates;

/// Every way a request can fail, mapped to its response in one place (`ResponseError`): an
/// error page in the site's layout, except `Unauthenticated`, which redirects pages and answers
/// `401` JSON under the JSON paths. What the guards return; a handler of your own may return
/// it too (wrap it in [`ApiError`] for a JSON answer).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// `404` page.
    #[error("page not found")]
    NotFound,
    /// Signed out: `303` to the sign-in page with `next`, or `401` JSON when `api`.
    #[error("sign-in required")]
    Unauthenticated {
        /// Where to come back to after signing in (already checked to be safe).
        next: String,
        /// Answer `401` JSON instead of a redirect.
        api: bool,
    },
    /// `405`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A cross-site form post (CSRF) was refused.
    #[error("cross-site request refused")]
    CrossSite,
    /// The request conflicts with the account's state; the message is for the person.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database failed or did not answer in time: `503`.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A signed-in session could not be started.
    #[error("cannot start the session")]
    Session(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The session store (Redis, the database) did not answer.
    #[error(transparent)]
    SessionStore(Box<dyn std::error::Error + Send + Sync>),
    /// A bug or an impossible state: `500`, with the message logged and not shown.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl From<crate::session::StoreError> for AppError {
    fn from(e: crate::session::StoreError) -> Self {
        AppError::SessionStore(Box::new(e))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated { api: true, .. } => StatusCode::UNAUTHORIZED,
            AppError::Unauthenticated { api: false, .. } => StatusCode::SEE_OTHER,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::CrossSite => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Db(_) | AppError::SessionStore(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Session(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::Unauthenticated { next, api: false } => {
                return HttpResponse::SeeOther().insert_header((header::LOCATION, login_redirect(next))).finish();
            }
            AppError::Unauthenticated { api: true, .. } => {
                return HttpResponse::Unauthorized()
                    .insert_header((header::WWW_AUTHENTICATE, "Cookie realm=\"gatehouse\""))
                    .json(serde_json::json!({"error": "unauthenticated", "message": "Sign in first."}));
            }
            AppError::Db(e) => log::error!("database error: {e}"),
            AppError::Session(e) => log::error!("cannot start the session: {e}"),
            AppError::SessionStore(e) => log::error!("{e}"),
            AppError::Internal(e) => log::error!("internal error: {e}"),
            AppError::NotFound | AppError::MethodNotAllowed | AppError::CrossSite | AppError::Conflict(_) => {}
        }
        let message = match self {
            AppError::NotFound => "There is nothing at this address.",
            AppError::MethodNotAllowed => "This address does not accept that kind of request.",
            AppError::CrossSite => "This request came from another site and was refused.",
            AppError::Conflict(message) => message,
            AppError::Db(_) | AppError::SessionStore(_) => {
                "The service is temporarily unavailable. Please try again shortly."
            }
            _ => "Something went wrong on our side. Please try again.",
        };
        error_page(status, message)
    }
}

impl From<AccountError> for AppError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::LastIdentity => {
                AppError::Conflict("This is your only way to sign in, so it cannot be unlinked.")
            }
            AccountError::NoSuchIdentity => AppError::NotFound,
            AccountError::Db(e) => AppError::Db(e),
            AccountError::EmailTaken { .. } | AccountError::LinkedElsewhere => {
                AppError::Conflict("This account is already in use.")
            }
            AccountError::NotAllowed(_) => AppError::Internal("the access rules are checked at sign-in only"),
        }
    }
}

/// An [`AppError`] answered as JSON (`{"error": "…"}`), for API handlers.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Unauthenticated { next, .. } = &self.0 {
            return AppError::Unauthenticated { next: next.clone(), api: true }.error_response();
        }
        let _ = self.0.error_response(); // logs internals
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({"error": self.status_code().canonical_reason().unwrap_or("error")}))
    }
}

/// Renders `error.html`; falls back to plain text if even that fails.
pub(crate) fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let mut ctx = Context::new();
    ctx.insert("status", &status.as_u16());
    ctx.insert("title", status.canonical_reason().unwrap_or("Error"));
    ctx.insert("message", message);
    match templates::render("error.html", &ctx) {
        Ok(body) => HttpResponse::build(status).content_type(ContentType::html()).body(body),
        Err(why) => {
            log::error!("cannot render error page: {why}");
            HttpResponse::build(status).content_type(ContentType::plaintext()).body(message.to_string())
        }
    }
}
