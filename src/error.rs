//! The error policy, in one place.
//!
//! Handlers return [`AppError`] (pages and API) or [`SignInError`] (the sign-in flow). Each
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
use crate::providers::ProviderError;
use crate::templates;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("page not found")]
    NotFound,
    #[error("sign-in required")]
    Unauthenticated { next: String, api: bool },
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A cross-site form post (CSRF) was refused.
    #[error("cross-site request refused")]
    CrossSite,
    /// The request conflicts with the account's state; the message is for the person.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("session error: {0}")]
    Session(String),
    /// The session store (Redis, the database) did not answer.
    #[error(transparent)]
    SessionStore(#[from] crate::session::StoreError),
    #[error("internal error: {0}")]
    Internal(&'static str),
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
            AppError::Session(e) => log::error!("session error: {e}"),
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
        }
    }
}

/// The same error as JSON, for `/api` handlers.
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
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
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

/// Why a sign-in did not complete. Shown on the sign-in page; nobody is signed in and nothing
/// is written.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("callback without a state, or with a malformed query")]
    MalformedCallback,
    #[error("no pending sign-in matches this state")]
    UnknownState,
    #[error("the pending sign-in expired")]
    Expired,
    #[error("the state belongs to another provider's sign-in")]
    WrongProvider,
    #[error("the provider returned error={0}")]
    Denied(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the provider gave no usable identity")]
    NoIdentity,
    #[error("email already belongs to an account of {0}")]
    EmailTaken(String),
    #[error("the {0} account is linked to another user")]
    LinkedElsewhere(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("session error: {0}")]
    Session(String),
}

impl SignInError {
    /// A short, stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            SignInError::MalformedCallback => "malformed_callback",
            SignInError::UnknownState => "unknown_state",
            SignInError::Expired => "expired",
            SignInError::WrongProvider => "wrong_provider",
            SignInError::Denied(_) => "denied",
            SignInError::Provider(ProviderError::Unavailable(_)) => "unavailable",
            SignInError::Provider(ProviderError::Timeout) => "timeout",
            SignInError::Provider(ProviderError::BadAnswer(_)) => "bad_answer",
            SignInError::Provider(ProviderError::Rejected(_)) => "rejected",
            SignInError::Provider(ProviderError::InvalidIdToken(_)) => "invalid_id_token",
            SignInError::Provider(ProviderError::IssuerMismatch(_)) => "issuer_mismatch",
            SignInError::Provider(ProviderError::WrongDomain(_)) => "wrong_domain",
            SignInError::NoIdentity => "no_identity",
            SignInError::EmailTaken(_) => "email_taken",
            SignInError::LinkedElsewhere(_) => "linked_elsewhere",
            SignInError::Db(_) => "database",
            SignInError::Session(_) => "session",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            SignInError::Provider(ProviderError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            SignInError::Provider(ProviderError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            SignInError::Provider(ProviderError::BadAnswer(_)) => StatusCode::BAD_GATEWAY,
            SignInError::EmailTaken(_) | SignInError::LinkedElsewhere(_) => StatusCode::CONFLICT,
            SignInError::Provider(ProviderError::WrongDomain(_)) => StatusCode::FORBIDDEN,
            SignInError::Provider(ProviderError::IssuerMismatch(_)) => StatusCode::BAD_REQUEST,
            SignInError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
            SignInError::Session(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// What the person is told; `label` is the provider's button text.
    pub fn message(&self, label: &str) -> String {
        match self {
            SignInError::MalformedCallback | SignInError::UnknownState | SignInError::WrongProvider => {
                "That sign-in link is not valid or was already used. Please sign in again.".into()
            }
            SignInError::Expired => "The sign-in took too long. Please sign in again.".into(),
            SignInError::Denied(code) if code == "access_denied" => {
                format!("Sign-in with {label} was cancelled.")
            }
            SignInError::Denied(_) => format!("{label} could not sign you in. Please try again."),
            SignInError::Provider(ProviderError::Unavailable(_)) => {
                format!("{label} is temporarily unavailable. Please try again in a moment.")
            }
            SignInError::Provider(ProviderError::Timeout) => {
                format!("{label} took too long to answer. Please try again.")
            }
            SignInError::Provider(ProviderError::WrongDomain(domain)) => {
                format!("Sign in with your {domain} account.")
            }
            SignInError::Provider(_) | SignInError::NoIdentity => {
                format!("Sign-in with {label} could not be completed. Please try again.")
            }
            SignInError::EmailTaken(providers) => {
                format!("An account with this email already exists. Sign in with {providers} to use it.")
            }
            SignInError::LinkedElsewhere(label) => format!(
                "This {label} account is already linked to another user. Sign in with it to use that account, \
                 or unlink it there first."
            ),
            SignInError::Db(_) | SignInError::Session(_) => {
                "Sign-in is temporarily unavailable. Please try again shortly.".into()
            }
        }
    }
}

impl SignInError {
    pub fn from_account(e: AccountError, label_of: impl Fn(&str) -> String) -> Self {
        match e {
            AccountError::EmailTaken { providers } => {
                SignInError::EmailTaken(providers.iter().map(|p| label_of(p)).collect::<Vec<_>>().join(" or "))
            }
            AccountError::LinkedElsewhere => SignInError::LinkedElsewhere(String::new()),
            AccountError::Db(db) => SignInError::Db(db),
            AccountError::LastIdentity | AccountError::NoSuchIdentity => SignInError::UnknownState,
        }
    }
}
