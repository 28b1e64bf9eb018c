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
use crate::accounts::{ProviderTokens, ProviderUser};
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
struct GithubOrg {
    login: String,
}

#[derive(Deserialize)]
struct GithubTeam {
    slug: String,
    organization: GithubOrg,
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

impl GithubProvider {
    /// The person's orgs (`org`) and teams (`org/team-slug`), lower-case, read only when a rule
    /// needs them (`ALLOWED_ORGS`, `ALLOWED_TEAMS`: then `read:org` was asked for). The first
    /// 100 of each are read. A token GitHub refuses them to has none.
    async fn orgs_and_teams(&self, http: &HttpClient, token: &str) -> Result<Vec<String>, ProviderError> {
        if self.settings.allowed_groups.is_empty() {
            return Ok(Vec::new());
        }
        let read = async |path: &str| -> Result<Option<serde_json::Value>, ProviderError> {
            let url = format!("{}{path}?per_page=100", self.api_url);
            match http.get_json::<serde_json::Value>(&url, token, API_ACCEPT).await {
                Ok(list) => Ok(Some(list)),
                Err(HttpError::Invalid(why)) => {
                    log::warn!("provider={} could not read {path}: {why}", self.settings.name);
                    Ok(None)
                }
                Err(other) => Err(other.into()),
            }
        };
        let mut groups = Vec::new();
        if let Some(orgs) = read("/user/orgs").await? {
            let orgs: Vec<GithubOrg> = serde_json::from_value(orgs).unwrap_or_default();
            groups.extend(orgs.into_iter().map(|o| o.login.to_ascii_lowercase()));
        }
        if let Some(teams) = read("/user/teams").await? {
            let teams: Vec<GithubTeam> = serde_json::from_value(teams).unwrap_or_default();
            groups
                .extend(teams.into_iter().map(|t| format!("{}/{}", t.organization.login, t.slug).to_ascii_lowercase()));
        }
        Ok(groups)
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

    async fn renew_tokens(&self, http: &HttpClient, refresh_token: &str) -> Result<ProviderTokens, ProviderError> {
        super::oauth2::refresh_with(&self.client, http, refresh_token).await
    }

    async fn exchange(&self, http: &HttpClient, code: &str, flow: &AuthFlow) -> Result<ProviderUser, ProviderError> {
        let token = redeem(&self.client, http, code, flow).await?;
        let access = token.access.as_str();

        let user: GithubUser = http.get_json(&format!("{}/user", self.api_url), access, API_ACCEPT).await?;
        let email = self.primary_verified_email(http, access).await?;
        let groups = self.orgs_and_teams(http, access).await?;
        Ok(ProviderUser {
            subject: user.id.to_string(),
            name: user.name.filter(|n| !n.trim().is_empty()).or(user.login),
            email_verified: email.is_some(),
            email,
            avatar_url: user.avatar_url,
            groups,
            at_provider: None,
            tokens: Some(token),
        })
    }
}
