//! Plain OAuth2 providers: the code flow (state + PKCE S256), then one profile endpoint read
//! through JSON pointers. Facebook, Discord and the generic `oauth2` kind are this, with
//! different defaults.

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, RedirectUrl,
    Scope, TokenUrl,
};
use serde_json::Value;
use url::Url;

use super::http::TokenEndpoint;
use super::oidc::token_error;
use super::{AuthFlow, HttpClient, Provider, ProviderError};
use crate::accounts::{ProviderTokens, ProviderUser};
use crate::config::{ClaimMap, ProviderSettings};

pub(crate) type CodeClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The oauth2 client for an OAuth2-protocol provider; credentials go in the form body, which
/// GitHub, Facebook and Discord all document.
pub(crate) fn code_client(settings: &ProviderSettings, redirect_uri: String) -> CodeClient {
    let url = |u: &Option<Url>| u.clone().expect("config fills the OAuth2 endpoints");
    BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            settings.client_secret.fixed().expect("config gives OAuth2 kinds a client secret").to_string(),
        ))
        .set_auth_uri(AuthUrl::from_url(url(&settings.auth_url)))
        .set_token_uri(TokenUrl::from_url(url(&settings.token_url)))
        .set_auth_type(AuthType::RequestBody)
        .set_redirect_uri(RedirectUrl::new(redirect_uri).expect("PUBLIC_URL is validated at start"))
}

/// The authorization URL with state, PKCE S256 and the configured scopes.
pub(crate) fn authorize_url(client: &CodeClient, settings: &ProviderSettings, flow: &AuthFlow) -> Url {
    let state = flow.state.clone();
    client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(settings.scopes.iter().map(|s| Scope::new(s.clone())))
        .set_pkce_challenge(flow.pkce_challenge())
        .url()
        .0
}

/// Redeems the code with the flow's PKCE verifier; returns the access token.
pub(crate) async fn redeem(
    client: &CodeClient,
    http: &HttpClient,
    code: &str,
    flow: &AuthFlow,
) -> Result<ProviderTokens, ProviderError> {
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(flow.verifier())
        .request_async(&TokenEndpoint(http))
        .await
        .map_err(token_error)?;
    Ok(ProviderTokens::from_response(&token))
}

/// A refresh-token grant at the token endpoint (RFC 6749 §6). An answer without a refresh
/// token leaves the old one in force (the caller keeps it).
pub(crate) async fn refresh_with(
    client: &CodeClient,
    http: &HttpClient,
    refresh_token: &str,
) -> Result<ProviderTokens, ProviderError> {
    let token = client
        .exchange_refresh_token(&oauth2::RefreshToken::new(refresh_token.to_string()))
        .request_async(&TokenEndpoint(http))
        .await
        .map_err(token_error)?;
    Ok(ProviderTokens::from_response(&token))
}

pub struct OAuth2Provider {
    settings: ProviderSettings,
    client: CodeClient,
}

impl OAuth2Provider {
    pub fn new(settings: ProviderSettings, redirect_uri: String) -> Self {
        let client = code_client(&settings, redirect_uri);
        OAuth2Provider { settings, client }
    }
}

#[async_trait(?Send)]
impl Provider for OAuth2Provider {
    fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    async fn authorize_url(&self, _http: &HttpClient, flow: &AuthFlow) -> Result<Url, ProviderError> {
        Ok(authorize_url(&self.client, &self.settings, flow))
    }

    async fn renew_tokens(&self, http: &HttpClient, refresh_token: &str) -> Result<ProviderTokens, ProviderError> {
        refresh_with(&self.client, http, refresh_token).await
    }

    async fn exchange(&self, http: &HttpClient, code: &str, flow: &AuthFlow) -> Result<ProviderUser, ProviderError> {
        let token = redeem(&self.client, http, code, flow).await?;
        let url = self.settings.userinfo_url.as_ref().expect("config fills the profile URL");
        let profile: Value = http.get_json(url.as_str(), &token.access, "application/json").await?;
        Ok(ProviderUser { tokens: Some(token), ..map_profile(&profile, &self.settings.claims) })
    }
}

/// Reads a profile answer through the claim map. A missing id gives an empty subject, which
/// [`ProviderUser::sanitised`] refuses.
pub fn map_profile(profile: &Value, claims: &ClaimMap) -> ProviderUser {
    let email = text(profile, &claims.email);
    let verified = claims
        .email_verified
        .as_deref()
        .and_then(|p| lookup(profile, p))
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")));
    ProviderUser {
        subject: text(profile, &claims.id).unwrap_or_default(),
        name: text(profile, &claims.name),
        email_verified: verified && email.is_some(),
        email,
        avatar_url: if claims.avatar.contains("{/") {
            template(profile, &claims.avatar)
        } else {
            text(profile, &claims.avatar)
        },
        groups: claims.groups.as_deref().map(|p| groups_at(profile, p)).unwrap_or_default(),
        at_provider: None,
        tokens: None,
    }
}

/// The groups at `spec`: an array of strings (other entries skipped), or one string.
pub fn groups_at(v: &Value, spec: &str) -> Vec<String> {
    match lookup(v, spec) {
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str()).map(str::to_string).collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// The first of `a|b|…` that is present and not null.
fn lookup<'a>(v: &'a Value, spec: &str) -> Option<&'a Value> {
    spec.split('|').filter_map(|p| v.pointer(p)).find(|x| !x.is_null())
}

/// A string or number as text; anything else is absent.
fn text(v: &Value, spec: &str) -> Option<String> {
    match lookup(v, spec)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `https://cdn/{/id}/{/avatar}.png` with each `{pointer}` filled; absent when any part is.
fn template(v: &Value, spec: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = spec;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}')? + start;
        out.push_str(&rest[..start]);
        let part = text(v, &rest[start + 1..end])?;
        out.extend(url::form_urlencoded::byte_serialize(part.as_bytes()));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(p: &crate::presets::Claims) -> ClaimMap {
        ClaimMap {
            id: p.id.into(),
            email: p.email.into(),
            name: p.name.into(),
            avatar: p.avatar.into(),
            email_verified: p.email_verified.map(Into::into),
            groups: p.groups.map(Into::into),
        }
    }

    #[test]
    fn discord_profile() {
        let preset = crate::presets::find("discord").unwrap();
        let user = map_profile(
            &json!({"id": "80351110224678912", "username": "nelly", "global_name": null, "avatar": "8342729096ea3675442027381ff50dfe", "email": "nelly@discord.test", "verified": true}),
            &claims(&preset.claims),
        );
        assert_eq!(user.subject, "80351110224678912");
        assert_eq!(user.name.as_deref(), Some("nelly"), "global_name null → username");
        assert!(user.email_verified);
        assert_eq!(
            user.avatar_url.as_deref(),
            Some("https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png")
        );
        let no_avatar = map_profile(&json!({"id": "1", "username": "x", "avatar": null}), &claims(&preset.claims));
        assert_eq!(no_avatar.avatar_url, None);
    }

    #[test]
    fn facebook_profile_has_numeric_id_nested_picture_and_no_verified_flag() {
        let preset = crate::presets::find("facebook").unwrap();
        let user = map_profile(
            &json!({"id": 10158000000000001u64, "name": "Fay Book", "email": "fay@fb.test", "picture": {"data": {"url": "https://fb.test/p.jpg"}}}),
            &claims(&preset.claims),
        );
        assert_eq!(user.subject, "10158000000000001");
        assert_eq!(user.avatar_url.as_deref(), Some("https://fb.test/p.jpg"));
        assert!(!user.email_verified);
    }
}
