//! Sign-in providers: one trait, one registry, one factory by kind.
//!
//! A provider turns an [`AuthFlow`] into the URL the browser is sent to, and an authorization
//! code back into a [`ProviderUser`]. Adding a provider means implementing [`Provider`] in a
//! file of its own and adding its kind to [`build`].

pub mod flow;
pub mod github;
pub mod http;
pub mod oidc;

use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

pub use flow::AuthFlow;
pub use http::{HttpClient, HttpError};

use crate::accounts::ProviderUser;
use crate::config::{ProviderKind, ProviderSettings, Settings};

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

#[async_trait(?Send)]
pub trait Provider: Send + Sync {
    fn settings(&self) -> &ProviderSettings;

    /// Where to send the browser to start signing in.
    async fn authorize_url(&self, http: &HttpClient, flow: &AuthFlow) -> Result<Url, ProviderError>;

    /// Redeems the code (with the flow's PKCE verifier) and says who signed in.
    async fn exchange(&self, http: &HttpClient, code: &str, flow: &AuthFlow) -> Result<ProviderUser, ProviderError>;

    /// Done once at start-up, in the background; must never stop the service.
    async fn warm_up(&self, _http: &HttpClient) {}
}

/// The configured providers, in `OAUTH_PROVIDERS` order.
#[derive(Clone, Default)]
pub struct Registry {
    providers: Vec<Arc<dyn Provider>>,
}

impl Registry {
    pub fn from_settings(settings: &Settings) -> Self {
        let providers = settings.providers.iter().map(|p| build(p.clone(), settings.redirect_uri(&p.name))).collect();
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

    pub fn label(&self, name: &str) -> String {
        self.get(name).map_or_else(|| name.to_string(), |p| p.settings().label.clone())
    }
}

/// The factory: a provider for each kind.
fn build(settings: ProviderSettings, redirect_uri: String) -> Arc<dyn Provider> {
    match settings.kind {
        ProviderKind::Oidc | ProviderKind::Google => Arc::new(oidc::OidcProvider::new(settings, redirect_uri)),
        ProviderKind::Github => Arc::new(github::GithubProvider::new(settings, redirect_uri)),
    }
}
