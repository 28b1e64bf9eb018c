//! Any OpenID Connect issuer, found through discovery; Google, GitLab and Microsoft are presets
//! of this kind.
//!
//! Metadata (discovery + JWKS) is kept in memory and in the database, refreshed in the
//! background before it expires and on an unknown `kid`, and used from the database when the
//! issuer is down: an outage neither stops start-up nor sign-in. ID tokens are validated fully
//! (OIDC Core §3.1.3.7): signature against the JWKS, `iss` (per tenant for Entra's multi-tenant
//! issuers), `aud`, `azp`, `exp`, `iat`, `nonce`, `at_hash` when present, and `hd` when a
//! hosted domain is configured. Userinfo is called only after the ID token passed, and its `sub`
//! must equal the token's.

mod logout;
mod metadata;
pub(crate) mod verify;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdToken, CoreIdTokenClaims};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce, OAuth2TokenResponse, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse,
};
use url::Url;

pub use metadata::Metadata;
use verify::*;

use super::http::TokenEndpoint;
use super::{AuthFlow, Availability, HttpClient, HttpError, LogoutRequest, Provider, ProviderError};
use crate::accounts::{ProviderSession, ProviderTokens, ProviderUser};
use crate::config::{ClientCredential, ProviderSettings};
use crate::db::models::CachedMetadata;
use crate::db::{Db, DbError};

/// After a failed discovery, requests are told "unavailable" for this long instead of each
/// waiting for another attempt.
const DISCOVERY_RETRY: Duration = Duration::from_secs(5);
/// Background retry after a failure.
const BACKGROUND_RETRY: Duration = Duration::from_secs(10);
/// At most one JWKS refetch for unknown keys in this interval.
const JWKS_REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Accepted clock difference for `iat`.
pub(super) const CLOCK_SKEW_SECS: i64 = 300;

pub(super) type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

enum VerifyError {
    UnknownKey,
    Invalid(ProviderError),
}
use VerifyError::{Invalid, UnknownKey};

pub struct OidcProvider {
    settings: ProviderSettings,
    /// Exactly as configured (a trailing `/` included, as Auth0's has): discovery compares
    /// issuers as exact strings.
    issuer: String,
    redirect_uri: RedirectUrl,
    db: Option<Db>,
    metadata: RwLock<Option<Arc<Metadata>>>,
    last_failure: Mutex<Option<Instant>>,
    last_jwks_refetch: Mutex<Option<Instant>>,
    /// `LOGOUT=provider` without an `end_session_endpoint` has been logged.
    said_no_end_session: AtomicBool,
}

impl OidcProvider {
    pub fn new(settings: ProviderSettings, redirect_uri: String, db: Option<Db>) -> Self {
        let issuer = settings.issuer.as_ref().expect("config requires an issuer for OIDC kinds");
        OidcProvider {
            issuer: issuer.clone(),
            redirect_uri: RedirectUrl::new(redirect_uri).expect("PUBLIC_URL is validated at start"),
            settings,
            db,
            metadata: RwLock::new(None),
            last_failure: Mutex::new(None),
            last_jwks_refetch: Mutex::new(None),
            said_no_end_session: AtomicBool::new(false),
        }
    }

    fn configured(&self) -> metadata::Configured<'_> {
        metadata::Configured {
            issuer: &self.issuer,
            entra: self.settings.preset.kind == "microsoft",
            discovery: self.settings.discovery_url.as_ref(),
        }
    }

    fn in_memory(&self) -> Option<Arc<Metadata>> {
        self.metadata.read().expect("lock poisoned").clone()
    }

    fn remember(&self, m: Metadata) -> Arc<Metadata> {
        let m = Arc::new(m);
        *self.metadata.write().expect("lock poisoned") = Some(m.clone());
        *self.last_failure.lock().expect("lock poisoned") = None;
        m
    }

    /// Metadata for a request: what is in memory (a background task keeps it fresh), else a
    /// fetch now, else the database's last-known copy.
    async fn current(&self, http: &HttpClient) -> Result<Arc<Metadata>, ProviderError> {
        if let Some(m) = self.in_memory() {
            return Ok(m);
        }
        if self.last_failure.lock().expect("lock poisoned").is_some_and(|t| t.elapsed() < DISCOVERY_RETRY) {
            return Err(ProviderError::Unavailable("discovery failed recently; retrying shortly".into()));
        }
        self.refresh(http).await
    }

    /// Fetches fresh metadata; on failure falls back to memory, then to the database.
    async fn refresh(&self, http: &HttpClient) -> Result<Arc<Metadata>, ProviderError> {
        let name = &self.settings.name;
        match metadata::fetch(http, &self.configured()).await {
            Ok(m) => {
                self.persist(&m).await;
                log::info!("provider={name} metadata fetched from {}", self.configured().discovery_url());
                Ok(self.remember(m))
            }
            Err(e) => {
                *self.last_failure.lock().expect("lock poisoned") = Some(Instant::now());
                if let Some(m) = self.in_memory() {
                    log::warn!("provider={name} metadata refresh failed, keeping the last-known copy: {e}");
                    return Ok(m);
                }
                match self.load_cached().await {
                    Some(m) => {
                        log::warn!("provider={name} issuer unreachable ({e}); using the cached metadata");
                        let m = Arc::new(m);
                        *self.metadata.write().expect("lock poisoned") = Some(m.clone());
                        Ok(m)
                    }
                    None => {
                        log::warn!("provider={name} discovery failed and nothing is cached: {e}");
                        Err(e)
                    }
                }
            }
        }
    }

    async fn load_cached(&self) -> Option<Metadata> {
        let db = self.db.as_ref()?;
        let name = self.settings.name.clone();
        let row = db.run(move |c| CachedMetadata::find(c, &name).map_err(DbError::from)).await.ok()??;
        Metadata::from_row(&row, &self.configured()).ok()
    }

    async fn persist(&self, m: &Metadata) {
        let Some(db) = &self.db else { return };
        let row = m.to_row(&self.settings.name, &self.configured());
        if let Err(e) = db.run(move |c| CachedMetadata::store(c, &row).map_err(DbError::from)).await {
            log::warn!("provider={} could not cache its metadata: {e}", self.settings.name);
        }
    }

    /// Refetches the JWKS after an unknown `kid` (key rotation), rate-limited. A refetch that
    /// is not allowed yet leaves the kid unknown (400); one that fails is the provider's (502).
    async fn refetch_jwks(&self, http: &HttpClient, current: &Metadata) -> Result<Arc<Metadata>, ProviderError> {
        {
            let mut last = self.last_jwks_refetch.lock().expect("lock poisoned");
            if last.is_some_and(|t| t.elapsed() < JWKS_REFETCH_MIN_INTERVAL) {
                return Err(unknown_kid());
            }
            *last = Some(Instant::now());
        }
        match metadata::fetch_jwks(http, current).await {
            Ok(m) => {
                log::info!("provider={} refetched its JWKS after an unknown key id", self.settings.name);
                self.persist(&m).await;
                Ok(self.remember(m))
            }
            Err(e) => {
                log::warn!("provider={} JWKS refetch failed: {e}", self.settings.name);
                Err(e)
            }
        }
    }

    fn client(&self, m: &Metadata) -> Result<OidcClient, ProviderError> {
        let secret = self
            .settings
            .client_secret
            .current()
            .ok_or_else(|| ProviderError::Unavailable("the client secret could not be signed".into()))?;
        // RFC 8414: client_secret_basic unless the provider lists only client_secret_post.
        // Apple, which refuses Basic, always gets the body, whatever its discovery says.
        let methods = m.provider.token_endpoint_auth_methods_supported();
        let post_only = matches!(self.settings.client_secret, ClientCredential::Minted(_))
            || methods.is_some_and(|methods| {
                methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
            });
        let client = CoreClient::from_provider_metadata(
            m.provider.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(self.redirect_uri.clone());
        Ok(if post_only { client.set_auth_type(AuthType::RequestBody) } else { client })
    }

    /// Validates the ID token against the current keys; returns its claims and raw payload.
    fn verify(
        &self,
        m: &Metadata,
        client: &OidcClient,
        id_token: &CoreIdToken,
        compact: &str,
        nonce: &Nonce,
        access_token: &AccessToken,
    ) -> Result<(CoreIdTokenClaims, serde_json::Value), VerifyError> {
        let trusted = &self.settings.trusted_audiences;
        let verifier = verifier(client)
            .require_issuer_match(!m.tenant_template())
            .set_other_audience_verifier_fn(move |aud| trusted.iter().any(|t| t == aud.as_str()));
        // The signature, when ring finds it good, is not checked a second time (slowly).
        let allowed = m.provider.id_token_signing_alg_values_supported();
        let verifier = if rs256_verified_by_ring(id_token, compact, allowed, &verifier) {
            verifier.insecure_disable_signature_check()
        } else {
            verifier
        };
        match id_token.claims(&verifier, nonce) {
            Ok(claims) => {
                check_header(compact).map_err(Invalid)?;
                let raw = payload(compact).map_err(Invalid)?;
                check_not_before(&raw).map_err(Invalid)?;
                check_subject(claims.subject().as_str()).map_err(Invalid)?;
                check_azp(claims, &self.settings.client_id).map_err(Invalid)?;
                check_at_hash(claims, id_token, &verifier, access_token).map_err(Invalid)?;
                if m.tenant_template() {
                    check_tenant_issuer(&m.issuer, &raw).map_err(Invalid)?;
                }
                if let Some(domain) = &self.settings.hosted_domain {
                    let hd = raw.get("hd").and_then(|v| v.as_str()).unwrap_or_default();
                    if !hd.eq_ignore_ascii_case(domain) {
                        return Err(Invalid(ProviderError::WrongDomain(domain.clone())));
                    }
                }
                Ok((claims.clone(), raw))
            }
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                Err(UnknownKey)
            }
            Err(e) => Err(Invalid(ProviderError::InvalidIdToken(e.to_string()))),
        }
    }
}

#[async_trait(?Send)]
impl Provider for OidcProvider {
    fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    fn availability(&self) -> Availability {
        let failed = self.last_failure.lock().expect("lock poisoned").is_some();
        if self.in_memory().is_none() && failed { Availability::Unreachable } else { Availability::Ready }
    }

    async fn check_callback_issuer(&self, http: &HttpClient, iss: Option<&str>) -> Result<(), ProviderError> {
        let m = self.current(http).await?;
        // The issuer this provider's tokens name; Entra's template is checked per tenant later.
        let expected_ok =
            |iss: &str| iss == m.issuer || (m.tenant_template() && metadata::tenant_issuer_matches(&m.issuer, iss));
        match iss {
            Some(iss) if !expected_ok(iss) => Err(ProviderError::IssuerMismatch(format!("got {iss:?}"))),
            None if m.iss_parameter_supported => Err(ProviderError::IssuerMismatch("missing".into())),
            _ => Ok(()),
        }
    }

    async fn authorize_url(&self, http: &HttpClient, flow: &AuthFlow) -> Result<Url, ProviderError> {
        let m = self.current(http).await?;
        let client = self.client(&m)?;
        let (state, nonce) = (flow.state.clone(), flow.nonce.clone());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            // openidconnect adds `openid` itself.
            .add_scopes(self.settings.scopes.iter().filter(|s| *s != "openid").map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(flow.pkce_challenge());
        if let Some(domain) = &self.settings.hosted_domain {
            request = request.add_extra_param("hd", domain.clone());
        }
        if let Some(mode) = self.settings.preset.response_mode.param() {
            request = request.add_extra_param("response_mode", mode);
        }
        // Google issues a refresh token only to a request for offline access.
        if self.settings.store_tokens && self.settings.preset.kind == "google" {
            request = request.add_extra_param("access_type", "offline");
        }
        Ok(request.url().0)
    }

    async fn exchange(&self, http: &HttpClient, code: &str, flow: &AuthFlow) -> Result<ProviderUser, ProviderError> {
        let mut m = self.current(http).await?;
        let mut client = self.client(&m)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| ProviderError::BadAnswer(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(flow.verifier())
            .request_async(&TokenEndpoint(http))
            .await
            .map_err(token_error)?;
        if *token.token_type() != openidconnect::core::CoreTokenType::Bearer {
            return Err(ProviderError::BadAnswer("the token type is not Bearer".into()));
        }
        let id_token =
            token.id_token().ok_or_else(|| ProviderError::BadAnswer("the token response has no id_token".into()))?;
        // The compact form, once (openidconnect re-encodes the signature each time): header and
        // payload are the provider's exact bytes, which is what the signature checks cover.
        let compact = id_token.to_string();
        if compact.len() > verify::MAX_ID_TOKEN_LEN {
            return Err(ProviderError::BadAnswer("the ID token is larger than 16 KiB".into()));
        }
        let nonce = Nonce::new(flow.nonce.clone());

        let (claims, raw) = match self.verify(&m, &client, id_token, &compact, &nonce, token.access_token()) {
            Err(UnknownKey) => {
                m = self.refetch_jwks(http, &m).await?;
                client = self.client(&m)?;
                self.verify(&m, &client, id_token, &compact, &nonce, token.access_token())
            }
            other => other,
        }
        .map_err(|e| match e {
            UnknownKey => unknown_kid(),
            Invalid(p) => p,
        })?;

        let groups = self.settings.claims.groups.as_deref();
        let mut user = from_claims(&claims, &raw, groups);
        // A usable `sid` is short printable text; anything else is as good as none.
        let sid = raw.get("sid").and_then(|v| v.as_str()).filter(|s| is_sid(s)).map(str::to_string);
        user.at_provider = Some(ProviderSession { id_token: compact, sid });
        user.tokens = Some(ProviderTokens::from_response(&token));
        if let Some(endpoint) = m.provider.userinfo_endpoint() {
            // Read as plain JSON rather than through openidconnect's typed claims, so a claim
            // in an unexpected shape (`"email_verified": "yes"`) counts as unverified instead
            // of failing the sign-in.
            let info: serde_json::Value =
                http.get_json(endpoint.url().as_str(), token.access_token().secret(), "application/json").await?;
            if info.get("sub").and_then(|s| s.as_str()) != Some(claims.subject().as_str()) {
                return Err(ProviderError::BadAnswer("userinfo: sub does not match the ID token".into()));
            }
            merge_userinfo(&mut user, &info, groups);
        }
        Ok(user)
    }

    fn end_session_url(&self, id_token: Option<&str>, back_to: &Url) -> Option<Url> {
        let m = self.in_memory()?;
        let Some(mut url) = m.end_session_endpoint.clone() else {
            if !self.said_no_end_session.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "provider={} has no end_session_endpoint in its discovery document: LOGOUT=provider signs out locally only",
                    self.settings.name
                );
            }
            return None;
        };
        let mut query = url.query_pairs_mut();
        if let Some(token) = id_token {
            query.append_pair("id_token_hint", token);
        }
        query
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("post_logout_redirect_uri", back_to.as_str());
        drop(query);
        Some(url)
    }

    async fn renew_tokens(&self, http: &HttpClient, refresh_token: &str) -> Result<ProviderTokens, ProviderError> {
        let m = self.current(http).await?;
        let token = self
            .client(&m)?
            .exchange_refresh_token(&openidconnect::RefreshToken::new(refresh_token.to_string()))
            .map_err(|e| ProviderError::BadAnswer(format!("no token endpoint: {e}")))?
            .request_async(&TokenEndpoint(http))
            .await
            .map_err(token_error)?;
        // A refreshed ID token, if any, is not needed: the identity was established at sign-in.
        Ok(ProviderTokens::from_response(&token))
    }

    async fn verify_logout_token(&self, http: &HttpClient, token: &str) -> Result<LogoutRequest, ProviderError> {
        let now = chrono::Utc::now().timestamp();
        let m = self.current(http).await?;
        let check =
            |m: &Metadata| logout::check(m, &self.settings.client_id, &self.settings.trusted_audiences, token, now);
        let checked = match check(&m) {
            // A key the provider rotated in since the JWKS was read: read it again, once.
            Err(logout::Refusal::UnknownKey) => match self.refetch_jwks(http, &m).await {
                // Read again just now and still unknown: not the provider's key.
                Ok(m) => match check(&m) {
                    Err(logout::Refusal::UnknownKey) => Err(logout::Refusal::Invalid("an unknown signing key".into())),
                    other => other,
                },
                Err(_) => Err(logout::Refusal::UnknownKey),
            },
            other => other,
        };
        checked.map_err(|refusal| match refusal {
            // The keys could not be read again now (refetched moments ago, or failing): the
            // provider should retry rather than give up.
            logout::Refusal::UnknownKey => {
                ProviderError::Unavailable("logout token: signed by a key not known yet".into())
            }
            logout::Refusal::Invalid(why) => ProviderError::InvalidIdToken(format!("logout token: {why}")),
        })
    }

    async fn maintain(&self, http: &HttpClient) -> Option<Duration> {
        if self.in_memory().is_none()
            && let Some(cached) = self.load_cached().await
        {
            // Start from the last-known copy, so an outage at start-up costs nothing.
            *self.metadata.write().expect("lock poisoned") = Some(Arc::new(cached));
        }
        let _ = self.refresh(http).await;
        let failed = self.last_failure.lock().expect("lock poisoned").is_some();
        match self.in_memory() {
            Some(m) if !failed => Some(metadata::refresh_in(&m)),
            _ => Some(BACKGROUND_RETRY),
        }
    }
}

/// A `sid` (OpenID Connect Front-/Back-Channel Logout) worth keeping: short printable ASCII.
pub(crate) fn is_sid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())
}

fn unknown_kid() -> ProviderError {
    ProviderError::InvalidIdToken("no key in the JWKS matches the token's kid".into())
}

/// Sorts a failed code exchange; the provider's body is never logged (it may hold a token).
pub(crate) fn token_error<E>(e: RequestTokenError<HttpError, E>) -> ProviderError
where
    E: oauth2::ErrorResponse + std::fmt::Display,
{
    match e {
        // Our credentials were refused: a configuration problem, not the user's.
        RequestTokenError::ServerResponse(r) if r.to_string().starts_with("invalid_client") => {
            log::error!(
                "client authentication failed at the token endpoint: check CLIENT_ID and CLIENT_SECRET \
                 (Apple: the Services ID, TEAM_ID, KEY_ID and PRIVATE_KEY_FILE)"
            );
            ProviderError::BadAnswer("invalid_client".into())
        }
        // Only the error code: a description is provider text (escaped nowhere in logs).
        RequestTokenError::ServerResponse(r) => {
            ProviderError::Rejected(r.to_string().split(':').next().unwrap_or_default().chars().take(64).collect())
        }
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
    // Facebook's Graph API sends {"error": {"type": "OAuthException", …}}.
    let error = v.get("error")?;
    let code = error.as_str().or_else(|| error.get("type")?.as_str())?;
    (code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        .then(|| code.to_string())
}

#[cfg(test)]
mod fuzz {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary text as an ID token: parsing and our header/payload reads never panic.
        #[test]
        fn id_token_parsing_never_panics(raw in "[A-Za-z0-9._=+/-]{0,300}|\\PC{0,200}") {
            let _ = CoreIdToken::from_str(&raw);
            let _ = compact_segment(&raw, 0);
            let _ = compact_segment(&raw, 1);
        }

        /// Structurally valid JWS shapes with arbitrary JSON inside.
        #[test]
        fn jws_shaped_garbage_is_handled(header in "\\PC{0,60}", payload in "\\PC{0,120}", sig in "[A-Za-z0-9_-]{0,60}") {
            use base64::Engine;
            let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            let raw = format!("{}.{}.{sig}", b(&header), b(&payload));
            if let Ok(token) = CoreIdToken::from_str(&raw) {
                let compact = token.to_string();
                let _ = check_header(&compact);
                let _ = verify::payload(&compact);
            }
            let _ = compact_segment(&raw, 1);
        }
    }
}
