//! Why a sign-in failed, and what the person is told: each kind with its status, its message
//! and a stable label for metrics and logs.

use actix_web::http::StatusCode;

use crate::accounts::AccountError;
use crate::db::DbError;
use crate::providers::ProviderError;

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
    /// The access rules (`ALLOWED_EMAILS`, …) do not admit this person.
    #[error("the access rules do not admit this account")]
    NotAllowed(Option<crate::db::models::UserId>),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("session error: {0}")]
    Session(#[from] super::pending::SessionError),
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
            SignInError::NotAllowed(_) => "not_allowed",
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
            SignInError::Provider(ProviderError::WrongDomain(_)) | SignInError::NotAllowed(_) => StatusCode::FORBIDDEN,
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
            SignInError::NotAllowed(_) => {
                "This account may not sign in here. Ask the site's administrator for access.".into()
            }
            // Apple's Cancel button says `user_cancelled_authorize`.
            SignInError::Denied(code) if code == "access_denied" || code == "user_cancelled_authorize" => {
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
            AccountError::NotAllowed(refreshed) => SignInError::NotAllowed(refreshed),
            AccountError::LastIdentity | AccountError::NoSuchIdentity => SignInError::UnknownState,
        }
    }
}
