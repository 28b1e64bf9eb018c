//! Sign-in providers: one trait, one registry, one factory by kind.
//!
//! A provider turns an [`AuthFlow`] into the URL the browser is sent to, and an authorization
//! code back into a [`ProviderUser`]. Adding a provider means implementing [`Provider`] in a
//! file of its own and adding its kind to `build`.

pub(crate) mod apple;
pub mod github;
pub mod http;
pub mod oauth2;
pub mod oidc;

use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

pub use crate::signin::AuthFlow;
pub use http::{HttpClient, HttpError};

use crate::accounts::{ProviderTokens, ProviderUser};
use crate::config::{ProviderSettings, Settings};
use crate::db::Db;
use crate::presets::Protocol;

/// Why talking to a provider failed, sorted by what the browser is told.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Unreachable, or discovery has not succeeded yet (503).
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider did not answer in time (504).
    #[error("provider timed out")]
    Timeout,
    /// The provider answered something we cannot use (502).
    #[error("unusable provider answer: {0}")]
    BadAnswer(String),
    /// The provider refused the authorization code, e.g. `invalid_grant` (400).
    #[error("provider refused the code: {0}")]
    Rejected(String),
    /// The ID token failed validation (400).
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    /// RFC 9207: the authorization response names another issuer, or none when one is due (400).
    #[error("authorization response issuer: {0}")]
    IssuerMismatch(String),
    /// The account is not in the configured hosted domain (403).
    #[error("account outside the hosted domain {0}")]
    WrongDomain(String),
}

/// Whether a provider can be offered on the sign-in page right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Ready,
    /// Its issuer cannot be reached and nothing is cached; it comes back by itself.
    Unreachable,
}

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Timeout => ProviderError::Timeout,
            HttpError::Unreachable(why) => ProviderError::Unavailable(why),
            other => ProviderError::BadAnswer(other.to_string()),
        }
    }
}

/// What a valid logout token asks to end: the provider's subject's sessions and/or one of its
/// sessions (`sid`).
#[derive(Debug)]
pub(crate) struct LogoutRequest {
    pub sub: Option<String>,
    pub sid: Option<String>,
    /// Its `jti`, used once.
    pub jti: String,
    /// When the provider's logout happened (its `iat`, never later than now): sessions signed
    /// in after it are not ended.
    pub issued_at: i64,
    /// Until when the token could be accepted (Unix seconds): how long `jti` is remembered.
    pub usable_until: i64,
}

#[async_trait(?Send)]
pub trait Provider: Send + Sync {
    fn settings(&self) -> &ProviderSettings;

    /// Where to send the browser to start signing in.
    async fn authorize_url(&self, http: &HttpClient, flow: &AuthFlow) -> Result<Url, ProviderError>;

    /// Redeems the code (with the flow's PKCE verifier) and says who signed in.
    async fn exchange(&self, http: &HttpClient, code: &str, flow: &AuthFlow) -> Result<ProviderUser, ProviderError>;

    fn availability(&self) -> Availability {
        Availability::Ready
    }

    /// RFC 9207 mix-up defence, before any token request: the callback's `iss` must name this
    /// provider when present, and must be present when the provider promises to send it.
    /// Providers without an issuer identifier have nothing to check.
    async fn check_callback_issuer(&self, _http: &HttpClient, _iss: Option<&str>) -> Result<(), ProviderError> {
        Ok(())
    }

    /// RP-Initiated Logout: where to send the browser so the provider ends its session too,
    /// given the sign-in's ID token (when kept) and where the provider should send the browser
    /// back. `None`: this provider has no such endpoint (then only gatehouse's session ends).
    /// Only what is already known of the provider is used: signing out never waits on it.
    fn end_session_url(&self, _id_token: Option<&str>, _back_to: &Url) -> Option<Url> {
        None
    }

    /// OpenID Connect Back-Channel Logout: checks a logout token (everything §2.6 asks but the
    /// `jti` replay check, which is the caller's). Providers without it refuse every token.
    async fn verify_logout_token(&self, _http: &HttpClient, _token: &str) -> Result<LogoutRequest, ProviderError> {
        Err(ProviderError::InvalidIdToken("this provider has no back-channel logout".into()))
    }

    /// Renews an access token with a refresh token (`STORE_TOKENS`). A provider that answers
    /// with an OAuth error (`invalid_grant`: revoked, expired, rotated away) is
    /// [`ProviderError::Rejected`]; anything else means it could not be asked.
    async fn renew_tokens(&self, _http: &HttpClient, _refresh_token: &str) -> Result<ProviderTokens, ProviderError> {
        Err(ProviderError::Rejected("this provider has no refresh".into()))
    }

    /// Background upkeep (metadata refresh), run at start and then after the returned delay;
    /// `None` when there is nothing to keep. Must never stop the service.
    async fn maintain(&self, _http: &HttpClient) -> Option<std::time::Duration> {
        None
    }
}

/// The configured providers, in `OAUTH_PROVIDERS` order.
#[derive(Clone, Default)]
pub struct Registry {
    providers: Vec<Arc<dyn Provider>>,
}

impl Registry {
    /// Builds every configured provider; `db` keeps last-known OIDC metadata.
    pub fn from_settings(settings: &Settings, db: Option<Db>) -> Self {
        let providers =
            settings.providers.iter().map(|p| build(p.clone(), settings.redirect_uri(&p.name), db.clone())).collect();
        Registry { providers }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.iter().find(|p| p.settings().name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// May `name`'s verified emails vouch for an account? Unknown (removed) providers may not.
    pub fn trusts_email(&self, name: &str) -> bool {
        self.get(name).is_some_and(|p| p.settings().trust_email)
    }

    /// Which providers are ready to sign in, one bit each in `OAUTH_PROVIDERS` order: the one
    /// input besides the account that a memoized page depends on. `None` beyond 64 providers.
    pub fn ready_mask(&self) -> Option<u64> {
        if self.providers.len() > 64 {
            return None;
        }
        Some(
            self.providers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.availability() == Availability::Ready)
                .fold(0, |mask, (i, _)| mask | 1 << i),
        )
    }

    pub fn label(&self, name: &str) -> String {
        self.get(name).map_or_else(|| name.to_string(), |p| p.settings().label.clone())
    }
}

/// The factory: a provider for each kind.
fn build(settings: ProviderSettings, redirect_uri: String, db: Option<Db>) -> Arc<dyn Provider> {
    match settings.protocol() {
        Protocol::Oidc => Arc::new(oidc::OidcProvider::new(settings, redirect_uri, db)),
        Protocol::OAuth2 => Arc::new(oauth2::OAuth2Provider::new(settings, redirect_uri)),
        Protocol::Github => Arc::new(github::GithubProvider::new(settings, redirect_uri)),
    }
}
