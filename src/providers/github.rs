//! GitHub (and GitHub Enterprise Server): OAuth2 plus the REST API.
//!
//! GitHub's quirks: the token endpoint answers form-encoded unless asked for JSON, and HTTP 200
//! with `{"error": …}` for a bad code; the API refuses calls without a `User-Agent`; `/user`'s
//! email may be null or unverified, so the email is the primary *verified* one from
//! `/user/emails`. Users are keyed on the numeric `id`, never on `login`.

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::oauth2::{CodeClient, authorize_url, code_client, redeem};
use super::{AuthFlow, HttpClient, HttpError, Provider, ProviderError};
use crate::accounts::ProviderUser;
use crate::config::ProviderSettings;

const API_ACCEPT: &str = "application/vnd.github+json";

pub struct GithubProvider {
    settings: ProviderSettings,
    client: CodeClient,
    api_url: String,
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: Option<String>,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl GithubProvider {
    pub fn new(settings: ProviderSettings, redirect_uri: String) -> Self {
        let client = code_client(&settings, redirect_uri);
        let api_url = settings
            .api_base
            .as_ref()
            .expect("config fills GitHub's API URL")
            .as_str()
            .trim_end_matches('/')
            .to_string();
        GithubProvider { settings, client, api_url }
    }

    /// The primary verified address, or none; a token without the email permission gets none.
    async fn primary_verified_email(&self, http: &HttpClient, token: &str) -> Result<Option<String>, ProviderError> {
        let url = format!("{}/user/emails", self.api_url);
        match http.get_json::<Vec<GithubEmail>>(&url, token, API_ACCEPT).await {
            Ok(emails) => Ok(emails.into_iter().find(|e| e.primary && e.verified).map(|e| e.email)),
            Err(HttpError::Invalid(why)) => {
                log::warn!("provider={} could not read verified emails: {why}", self.settings.name);
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }
}

#[async_trait(?Send)]
impl Provider for GithubProvider {
    fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    async fn authorize_url(&self, _http: &HttpClient, flow: &AuthFlow) -> Result<Url, ProviderError> {
        Ok(authorize_url(&self.client, &self.settings, flow))
    }

    async fn exchange(&self, http: &HttpClient, code: &str, flow: &AuthFlow) -> Result<ProviderUser, ProviderError> {
        let token = redeem(&self.client, http, code, flow).await?;
        let access = token.as_str();

        let user: GithubUser = http.get_json(&format!("{}/user", self.api_url), access, API_ACCEPT).await?;
        let email = self.primary_verified_email(http, access).await?;
        Ok(ProviderUser {
            subject: user.id.to_string(),
            name: user.name.filter(|n| !n.trim().is_empty()).or(user.login),
            email_verified: email.is_some(),
            email,
            avatar_url: user.avatar_url,
        })
    }
}
