//! Any OpenID Connect issuer, found through discovery; Google is this kind with its defaults.
//!
//! Discovery is lazy and retried: an issuer that is down at start-up leaves the service up and
//! starts working once it answers. ID tokens are validated fully (OIDC Core §3.1.3.7):
//! signature against the JWKS (refetched once on an unknown `kid`), `iss`, `aud`, `azp`,
//! `exp`, `iat`, `nonce`, and `at_hash` when present. Userinfo is called only after the ID
//! token passed, and its `sub` must equal the token's.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse, UserInfoError,
};
use url::Url;

use super::{AuthFlow, HttpClient, HttpError, Provider, ProviderError};
use crate::accounts::ProviderUser;
use crate::config::{ProviderSettings, is_loopback};

/// Between two failed discoveries, callers are told "unavailable" without another attempt.
const DISCOVERY_RETRY: Duration = Duration::from_secs(5);
/// At most one JWKS refetch for unknown keys in this interval.
const JWKS_REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Accepted clock difference for `iat`.
const CLOCK_SKEW_SECS: i64 = 300;

enum VerifyError {
    UnknownKey,
    Invalid(ProviderError),
}
use VerifyError::{Invalid, UnknownKey};

type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

pub struct OidcProvider {
    settings: ProviderSettings,
    issuer: IssuerUrl,
    redirect_uri: RedirectUrl,
    metadata: RwLock<Option<Arc<CoreProviderMetadata>>>,
    last_discovery_failure: Mutex<Option<Instant>>,
    last_jwks_refetch: Mutex<Option<Instant>>,
}

impl OidcProvider {
    pub fn new(settings: ProviderSettings, redirect_uri: String) -> Self {
        let issuer_url = settings.issuer.clone().expect("config requires an issuer for OIDC kinds");
        // Discovery compares issuers as exact strings; `Url` would add a trailing slash.
        let issuer = IssuerUrl::new(issuer_url.as_str().trim_end_matches('/').to_string())
            .expect("a parsed URL is a valid issuer");
        OidcProvider {
            settings,
            issuer,
            redirect_uri: RedirectUrl::new(redirect_uri).expect("PUBLIC_URL is validated at start"),
            metadata: RwLock::new(None),
            last_discovery_failure: Mutex::new(None),
            last_jwks_refetch: Mutex::new(None),
        }
    }

    /// The discovered metadata, discovering now if needed. After a failure, callers are told
    /// "unavailable" for [`DISCOVERY_RETRY`] instead of each waiting for another attempt.
    async fn metadata(&self, http: &HttpClient) -> Result<Arc<CoreProviderMetadata>, ProviderError> {
        if let Some(m) = self.metadata.read().expect("lock poisoned").clone() {
            return Ok(m);
        }
        if self.last_discovery_failure.lock().expect("lock poisoned").is_some_and(|t| t.elapsed() < DISCOVERY_RETRY) {
            return Err(ProviderError::Unavailable("discovery failed recently; retrying shortly".into()));
        }
        let discovered = CoreProviderMetadata::discover_async(self.issuer.clone(), http)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Request(h) => ProviderError::from(h),
                other => ProviderError::BadAnswer(format!("discovery: {other}")),
            })
            .and_then(|m| check_endpoints(&m).map(|()| m))
            .inspect_err(|err| {
                log::warn!("provider={} discovery failed: {err}", self.settings.name);
                *self.last_discovery_failure.lock().expect("lock poisoned") = Some(Instant::now());
            })?;
        let discovered = Arc::new(discovered);
        *self.metadata.write().expect("lock poisoned") = Some(discovered.clone());
        log::info!("provider={} discovered issuer {}", self.settings.name, self.issuer.as_str());
        Ok(discovered)
    }

    fn client(&self, metadata: &CoreProviderMetadata) -> OidcClient {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.expose().to_string())),
        )
        .set_redirect_uri(self.redirect_uri.clone())
    }

    /// Refetches the JWKS after an unknown `kid` (key rotation), rate-limited.
    async fn refetch_jwks(
        &self,
        http: &HttpClient,
        metadata: &CoreProviderMetadata,
    ) -> Option<Arc<CoreProviderMetadata>> {
        {
            let mut last = self.last_jwks_refetch.lock().expect("lock poisoned");
            if last.is_some_and(|t| t.elapsed() < JWKS_REFETCH_MIN_INTERVAL) {
                return None;
            }
            *last = Some(Instant::now());
        }
        match JsonWebKeySet::fetch_async(metadata.jwks_uri(), http).await {
            Ok(jwks) => {
                let updated = Arc::new(metadata.clone().set_jwks(jwks));
                *self.metadata.write().expect("lock poisoned") = Some(updated.clone());
                log::info!("provider={} refetched its JWKS after an unknown key id", self.settings.name);
                Some(updated)
            }
            Err(e) => {
                log::warn!("provider={} JWKS refetch failed: {e}", self.settings.name);
                None
            }
        }
    }

    /// Validates the ID token against the current keys.
    fn verify(
        &self,
        client: &OidcClient,
        id_token: &CoreIdToken,
        nonce: &Nonce,
        access_token: &AccessToken,
    ) -> Result<CoreIdTokenClaims, VerifyError> {
        let verifier = self.verifier(client);
        match id_token.claims(&verifier, nonce) {
            Ok(claims) => {
                check_azp(claims, &self.settings.client_id).map_err(Invalid)?;
                check_at_hash(claims, id_token, &verifier, access_token).map_err(Invalid)?;
                Ok(claims.clone())
            }
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                Err(UnknownKey)
            }
            Err(e) => Err(Invalid(ProviderError::InvalidIdToken(e.to_string()))),
        }
    }

    fn verifier<'a>(&self, client: &'a OidcClient) -> CoreIdTokenVerifier<'a> {
        client.id_token_verifier().set_issue_time_verifier_fn(|iat| {
            let age = Utc::now().signed_duration_since(iat).num_seconds();
            if age < -CLOCK_SKEW_SECS {
                Err("issued in the future".into())
            } else if age > 3600 {
                Err("issued more than an hour ago".into())
            } else {
                Ok(())
            }
        })
    }
}

#[async_trait(?Send)]
impl Provider for OidcProvider {
    fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    async fn authorize_url(&self, http: &HttpClient, flow: &AuthFlow) -> Result<Url, ProviderError> {
        let metadata = self.metadata(http).await?;
        let client = self.client(&metadata);
        let (state, nonce) = (flow.state.clone(), flow.nonce.clone());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            // openidconnect adds `openid` itself.
            .add_scopes(self.settings.scopes.iter().filter(|s| *s != "openid").map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(flow.pkce_challenge())
            .url();
        Ok(url)
    }

    async fn exchange(&self, http: &HttpClient, code: &str, flow: &AuthFlow) -> Result<ProviderUser, ProviderError> {
        let mut metadata = self.metadata(http).await?;
        let mut client = self.client(&metadata);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| ProviderError::BadAnswer(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(flow.verifier())
            .request_async(http)
            .await
            .map_err(token_error)?;
        let id_token =
            token.id_token().ok_or_else(|| ProviderError::BadAnswer("the token response has no id_token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone());

        let claims = match self.verify(&client, id_token, &nonce, token.access_token()) {
            Err(UnknownKey) => {
                let updated = self.refetch_jwks(http, &metadata).await.ok_or_else(|| {
                    ProviderError::InvalidIdToken("no key in the JWKS matches the token's kid".into())
                })?;
                metadata = updated;
                client = self.client(&metadata);
                self.verify(&client, id_token, &nonce, token.access_token())
            }
            other => other,
        }
        .map_err(|e| match e {
            UnknownKey => ProviderError::InvalidIdToken("no key in the JWKS matches the token's kid".into()),
            Invalid(p) => p,
        })?;

        let mut user = from_claims(&claims);
        if metadata.userinfo_endpoint().is_some() {
            let info: CoreUserInfoClaims = client
                .user_info(token.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|e| ProviderError::BadAnswer(e.to_string()))?
                .request_async(http)
                .await
                .map_err(userinfo_error)?;
            merge_userinfo(&mut user, &info);
        }
        Ok(user)
    }

    async fn warm_up(&self, http: &HttpClient) {
        let _ = self.metadata(http).await;
    }
}

/// The discovered endpoints obey the same rule as configured ones: https, or http on loopback.
fn check_endpoints(m: &CoreProviderMetadata) -> Result<(), ProviderError> {
    let mut urls: Vec<&Url> = vec![m.authorization_endpoint().url(), m.jwks_uri().url()];
    urls.extend(m.token_endpoint().map(|u| u.url()));
    urls.extend(m.userinfo_endpoint().map(|u| u.url()));
    match urls.into_iter().find(|u| !(u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)))) {
        Some(bad) => Err(ProviderError::BadAnswer(format!("discovery lists a non-https endpoint {bad}"))),
        None if m.token_endpoint().is_none() => {
            Err(ProviderError::BadAnswer("discovery lists no token endpoint".into()))
        }
        None => Ok(()),
    }
}

/// OIDC Core §3.1.3.7 steps 4–5, which openidconnect leaves to the client.
fn check_azp(claims: &CoreIdTokenClaims, client_id: &str) -> Result<(), ProviderError> {
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id => Err(ProviderError::InvalidIdToken("azp is not our client id".into())),
        None if claims.audiences().len() > 1 => {
            Err(ProviderError::InvalidIdToken("several audiences but no azp".into()))
        }
        _ => Ok(()),
    }
}

fn check_at_hash(
    claims: &CoreIdTokenClaims,
    id_token: &CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    access_token: &AccessToken,
) -> Result<(), ProviderError> {
    let Some(expected) = claims.access_token_hash() else { return Ok(()) };
    let alg = id_token.signing_alg().map_err(|e| ProviderError::InvalidIdToken(e.to_string()))?;
    let key = id_token.signing_key(verifier).map_err(|e| ProviderError::InvalidIdToken(e.to_string()))?;
    let actual = AccessTokenHash::from_token(access_token, alg, key)
        .map_err(|e| ProviderError::InvalidIdToken(e.to_string()))?;
    if actual != *expected {
        return Err(ProviderError::InvalidIdToken("at_hash does not match the access token".into()));
    }
    Ok(())
}

fn from_claims(c: &CoreIdTokenClaims) -> ProviderUser {
    ProviderUser {
        subject: c.subject().to_string(),
        name: c.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        email: c.email().map(|e| e.to_string()),
        email_verified: c.email().is_some() && c.email_verified() == Some(true),
        avatar_url: c.picture().and_then(|p| p.get(None)).map(|p| p.to_string()),
    }
}

/// Userinfo wins where it says something; an email keeps its own verified flag.
fn merge_userinfo(user: &mut ProviderUser, info: &CoreUserInfoClaims) {
    if let Some(name) = info.name().and_then(|n| n.get(None)) {
        user.name = Some(name.to_string());
    }
    if let Some(email) = info.email() {
        user.email = Some(email.to_string());
        user.email_verified = info.email_verified() == Some(true);
    }
    if let Some(picture) = info.picture().and_then(|p| p.get(None)) {
        user.avatar_url = Some(picture.to_string());
    }
}

/// Sorts a failed code exchange; the provider's body is never logged (it may hold a token).
pub(crate) fn token_error<E>(e: RequestTokenError<HttpError, E>) -> ProviderError
where
    E: oauth2::ErrorResponse + std::fmt::Display,
{
    match e {
        RequestTokenError::ServerResponse(r) => ProviderError::Rejected(r.to_string()),
        RequestTokenError::Request(h) => ProviderError::from(h),
        RequestTokenError::Parse(_, body) => match error_code(&body) {
            // GitHub answers HTTP 200 with {"error": "bad_verification_code"}.
            Some(code) => ProviderError::Rejected(code),
            None => ProviderError::BadAnswer("the token response could not be parsed".into()),
        },
        RequestTokenError::Other(why) => ProviderError::BadAnswer(why),
    }
}

/// The `error` code of an OAuth error body, if it is a short, plain token.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = v.get("error")?.as_str()?;
    (code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        .then(|| code.to_string())
}

fn userinfo_error(e: UserInfoError<HttpError>) -> ProviderError {
    match e {
        UserInfoError::Request(h) => ProviderError::from(h),
        UserInfoError::ClaimsVerification(v) => ProviderError::BadAnswer(format!("userinfo: {v}")),
        other => ProviderError::BadAnswer(format!("userinfo: {other}")),
    }
}
