//! Discovery documents and JWKS: fetched from the issuer (or the configured discovery URL),
//! validated, kept in memory and in the database (last-known values, used when the issuer
//! cannot be reached), and refreshed in the background before they expire.

use std::time::Duration;

use chrono::NaiveDateTime;
use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};
use url::Url;

use crate::config::is_loopback;
use crate::db::models::{CachedMetadata, now};
use crate::presets::Shape;
use crate::providers::{HttpClient, ProviderError};

/// How long fetched metadata is trusted, whatever `Cache-Control` says: at least 5 minutes, at
/// most a day; 1 hour when the issuer says nothing.
const MIN_TTL: u64 = 300;
const MAX_TTL: u64 = 86_400;
const DEFAULT_TTL: u64 = 3_600;
/// More keys than this in a JWKS is refused.
const MAX_KEYS: usize = 50;

/// Validated metadata, its JWKS included.
#[derive(Clone, Debug)]
pub struct Metadata {
    pub provider: CoreProviderMetadata,
    /// The issuer as the document spells it; Entra's multi-tenant documents say `{tenantid}`.
    pub issuer: String,
    pub expires_at: NaiveDateTime,
    /// RFC 9207: the provider sends `iss` with every authorization response.
    pub iss_parameter_supported: bool,
    /// RP-Initiated Logout 1.0: where to send a browser to sign out at the provider too.
    /// `None` when the document names none (or one that is not https).
    pub end_session_endpoint: Option<Url>,
    /// Raw documents, for the database.
    discovery_json: String,
    jwks_json: String,
}

impl Metadata {
    /// A multi-tenant issuer: each token's `iss` must name its own `tid`.
    pub fn tenant_template(&self) -> bool {
        self.issuer.contains("{tenantid}")
    }

    /// The same metadata with a freshly fetched JWKS.
    pub fn with_jwks(&self, jwks_json: String, jwks: CoreJsonWebKeySet, ttl: u64) -> Metadata {
        Metadata {
            provider: self.provider.clone().set_jwks(jwks),
            jwks_json,
            expires_at: expiry(Some(ttl)),
            ..self.clone()
        }
    }

    pub fn to_row(&self, provider: &str, configured: &Configured<'_>) -> CachedMetadata {
        CachedMetadata {
            provider: provider.to_string(),
            issuer: configured.cache_key(),
            discovery: self.discovery_json.clone(),
            jwks: self.jwks_json.clone(),
            fetched_at: now(),
            expires_at: self.expires_at,
        }
    }

    /// Rebuilds metadata from the database row, if it was stored for this issuer.
    pub fn from_row(row: &CachedMetadata, configured: &Configured<'_>) -> Result<Metadata, ProviderError> {
        if row.issuer != configured.cache_key() {
            return Err(ProviderError::BadAnswer("cached metadata belongs to another issuer".into()));
        }
        let mut m = parse(row.discovery.as_bytes(), configured)?;
        let jwks = parse_jwks(row.jwks.as_bytes())?;
        m.provider = m.provider.set_jwks(jwks);
        m.jwks_json = row.jwks.clone();
        m.expires_at = row.expires_at;
        Ok(m)
    }
}

/// The issuer a provider was configured with, exactly as written, and how to read it.
#[derive(Clone, Copy, Debug)]
pub struct Configured<'a> {
    pub issuer: &'a str,
    /// Microsoft Entra: a tenant named by domain (`contoso.onmicrosoft.com`) is served a
    /// document naming the tenant's id; that issuer is then the one tokens must carry.
    pub entra: bool,
    /// Where the document is, when not under the issuer (Azure AD B2C: under the policy).
    pub discovery: Option<&'a Url>,
}

impl Configured<'_> {
    /// `{issuer without its trailing /}/.well-known/openid-configuration` (OIDC Discovery §4),
    /// unless configured elsewhere.
    pub fn discovery_url(&self) -> String {
        match self.discovery {
            Some(url) => url.to_string(),
            None => format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/')),
        }
    }

    /// What a database copy is stored under (the `issuer` column): the issuer, and the
    /// document's address when it is not the usual one (two B2C policies share an issuer but
    /// not their documents). A copy read back is checked against the issuer again, exactly.
    fn cache_key(&self) -> String {
        match self.discovery {
            Some(url) => format!("{} {url}", self.issuer),
            None => self.issuer.to_string(),
        }
    }
}

/// Fetches and validates the discovery document and its JWKS; the document must name the
/// configured issuer wherever it was found.
pub async fn fetch(http: &HttpClient, configured: &Configured<'_>) -> Result<Metadata, ProviderError> {
    let (body, discovery_ttl) = http.get_document(&configured.discovery_url()).await?;
    let mut m = parse(&body, configured)?;
    let (jwks_body, jwks_ttl) = http.get_document(m.provider.jwks_uri().as_str()).await?;
    let jwks = parse_jwks(&jwks_body)?;
    m.provider = m.provider.set_jwks(jwks);
    m.jwks_json = String::from_utf8_lossy(&jwks_body).into_owned();
    m.expires_at = expiry(match (discovery_ttl, jwks_ttl) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    });
    Ok(m)
}

/// Fetches only the JWKS (after an unknown `kid`).
pub async fn fetch_jwks(http: &HttpClient, m: &Metadata) -> Result<Metadata, ProviderError> {
    let (body, ttl) = http.get_document(m.provider.jwks_uri().as_str()).await?;
    let jwks = parse_jwks(&body)?;
    Ok(m.with_jwks(String::from_utf8_lossy(&body).into_owned(), jwks, ttl.unwrap_or(DEFAULT_TTL)))
}

/// When to refresh: shortly before expiry, within sane bounds.
pub fn refresh_in(m: &Metadata) -> Duration {
    let left = (m.expires_at - now()).num_seconds().max(0) as u64;
    Duration::from_secs((left * 9 / 10).clamp(60, MAX_TTL))
}

fn expiry(max_age: Option<u64>) -> NaiveDateTime {
    let ttl = max_age.map_or(DEFAULT_TTL, |s| s.clamp(MIN_TTL, MAX_TTL));
    now() + chrono::Duration::seconds(ttl as i64)
}

fn parse(body: &[u8], configured: &Configured<'_>) -> Result<Metadata, ProviderError> {
    let bad = |why: String| ProviderError::BadAnswer(format!("discovery: {why}"));
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let issuer = raw.get("issuer").and_then(|i| i.as_str()).ok_or_else(|| bad("no issuer".into()))?.to_string();
    let configured_issuer = configured.issuer;
    let accepted = issuer_matches(&issuer, configured_issuer)
        || (configured.entra && names_domain_tenant(&issuer, configured_issuer));
    if !accepted {
        return Err(bad(format!("the document's issuer {issuer:?} is not the configured {configured_issuer:?}")));
    }
    let iss_parameter_supported =
        raw.get("authorization_response_iss_parameter_supported").and_then(|v| v.as_bool()) == Some(true);
    let end_session_endpoint = raw
        .get("end_session_endpoint")
        .and_then(|v| v.as_str())
        .and_then(|u| Url::parse(u).ok())
        .filter(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)));
    check_capabilities(&raw)?;
    let provider: CoreProviderMetadata = serde_json::from_value(raw).map_err(|e| bad(e.to_string()))?;
    check_endpoints(&provider)?;
    Ok(Metadata {
        provider,
        issuer,
        iss_parameter_supported,
        end_session_endpoint,
        expires_at: expiry(None),
        discovery_json: String::from_utf8_lossy(body).into_owned(),
        jwks_json: String::new(),
    })
}

fn parse_jwks(body: &[u8]) -> Result<CoreJsonWebKeySet, ProviderError> {
    let raw: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ProviderError::BadAnswer(format!("JWKS: {e}")))?;
    if raw.get("keys").and_then(|k| k.as_array()).is_none_or(|k| k.len() > MAX_KEYS) {
        return Err(ProviderError::BadAnswer(format!("JWKS: no key list, or more than {MAX_KEYS} keys")));
    }
    serde_json::from_value(raw).map_err(|e| ProviderError::BadAnswer(format!("JWKS: {e}")))
}

/// Exact match; or Entra's multi-tenant template, where the document says `{tenantid}` in the
/// segment where the configured issuer says `common`, `organizations` or `consumers`.
fn issuer_matches(document: &str, configured: &str) -> bool {
    if document == configured {
        return true;
    }
    let (d, c): (Vec<&str>, Vec<&str>) = (document.split('/').collect(), configured.split('/').collect());
    d.len() == c.len()
        && d.iter()
            .zip(&c)
            .all(|(d, c)| d == c || (*d == "{tenantid}" && matches!(*c, "common" | "organizations" | "consumers")))
}

/// Entra, tenant given by domain: the configured issuer names `contoso.onmicrosoft.com` where
/// the document names the tenant's id, in the first path segment; everything else (scheme,
/// host, the rest of the path) is identical.
fn names_domain_tenant(document: &str, configured: &str) -> bool {
    let (d, c): (Vec<&str>, Vec<&str>) = (document.split('/').collect(), configured.split('/').collect());
    // ["https:", "", host, tenant, ...]
    const TENANT: usize = 3;
    d.len() == c.len()
        && d.len() > TENANT
        && d.iter().zip(&c).enumerate().all(|(i, (d, c))| if i == TENANT { d != c } else { d == c })
        && c[TENANT].contains('.')
        && Shape::Guid.accepts(d[TENANT])
}

/// An issuer of one tenant under Entra's `{tenantid}` template (a tenant id, not a name).
pub fn tenant_issuer_matches(template: &str, iss: &str) -> bool {
    let (t, i): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), iss.split('/').collect());
    t.len() == i.len()
        && t.iter().zip(&i).all(|(t, i)| {
            t == i || (*t == "{tenantid}" && !i.is_empty() && i.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        })
}

/// Refuses providers that could only be used insecurely: no code flow, PKCE without S256,
/// or unsigned ID tokens only. Absent lists are allowed (many providers omit them).
fn check_capabilities(raw: &serde_json::Value) -> Result<(), ProviderError> {
    let list = |key: &str| -> Option<Vec<String>> {
        raw.get(key)?.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
    };
    let refuse = |why: &str| Err(ProviderError::BadAnswer(format!("discovery: {why}")));
    if list("response_types_supported").is_some_and(|l| !l.iter().any(|t| t == "code")) {
        return refuse("the provider does not support the code flow");
    }
    if list("code_challenge_methods_supported").is_some_and(|l| !l.iter().any(|m| m == "S256")) {
        return refuse("the provider does not support PKCE with S256");
    }
    if list("id_token_signing_alg_values_supported").is_some_and(|l| l.iter().all(|a| a == "none")) {
        return refuse("the provider only issues unsigned ID tokens");
    }
    Ok(())
}

/// Discovered endpoints obey the rule for configured ones: https, or http on loopback.
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

#[cfg(test)]
mod tests {
    use super::{Configured, Metadata, check_capabilities, issuer_matches, names_domain_tenant};
    use crate::db::models::{CachedMetadata, now};
    use serde_json::json;
    use url::Url;

    /// Two B2C policies share an issuer, not a document: a database copy serves only the
    /// address it was fetched from. Copies stored before discovery URLs existed still serve.
    #[test]
    fn a_stored_copy_serves_only_the_document_address_it_came_from() {
        let issuer = "https://contoso.b2clogin.com/775527ff-9a37-4307-8b3d-cc311f58d925/v2.0/";
        let policy = |p: &str| {
            Url::parse(&format!(
                "https://contoso.b2clogin.com/contoso.onmicrosoft.com/{p}/v2.0/.well-known/openid-configuration"
            ))
            .unwrap()
        };
        let (a, b) = (policy("B2C_1_a"), policy("B2C_1_b"));
        let at = |discovery| Configured { issuer, entra: false, discovery };
        assert_eq!(at(None).cache_key(), issuer);
        assert_ne!(at(Some(&a)).cache_key(), at(Some(&b)).cache_key());
        assert_ne!(at(Some(&a)).cache_key(), at(None).cache_key());
        let row = CachedMetadata {
            provider: "b2c".into(),
            issuer: at(Some(&a)).cache_key(),
            discovery: "{}".into(),
            jwks: "{}".into(),
            fetched_at: now(),
            expires_at: now(),
        };
        let refused = Metadata::from_row(&row, &at(Some(&b))).unwrap_err().to_string();
        assert!(refused.contains("another issuer"), "{refused}");
        let read = Metadata::from_row(&row, &at(Some(&a))).unwrap_err().to_string();
        assert!(read.contains("no issuer"), "read, then found wanting: {read}");
    }

    #[test]
    fn a_domain_tenant_may_become_its_id_and_nothing_else() {
        let configured = "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0";
        let id = "https://login.microsoftonline.com/3f6c1a2b-9d4e-4c1f-8a7b-0123456789ab/v2.0";
        assert!(names_domain_tenant(id, configured));
        for other in [
            // another host
            "https://3f6c1a2b-9d4e-4c1f-8a7b-0123456789ab/contoso.onmicrosoft.com/v2.0",
            "https://evil.example/3f6c1a2b-9d4e-4c1f-8a7b-0123456789ab/v2.0",
            // not an id, or another segment changed too
            "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/v2.0",
            "https://login.microsoftonline.com/3f6c1a2b-9d4e-4c1f-8a7b-0123456789ab/v1.0",
            "https://login.microsoftonline.com/3f6c1a2b-9d4e-4c1f-8a7b-0123456789ab/v2.0/x",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
        ] {
            assert!(!names_domain_tenant(other, configured), "{other}");
        }
        // A tenant given by id or as common is not a domain.
        assert!(!names_domain_tenant(id, "https://login.microsoftonline.com/common/v2.0"));
    }

    #[test]
    fn unsafe_capabilities_are_refused() {
        assert!(check_capabilities(&json!({"response_types_supported": ["id_token"]})).is_err());
        assert!(check_capabilities(&json!({"code_challenge_methods_supported": ["plain"]})).is_err());
        assert!(check_capabilities(&json!({"id_token_signing_alg_values_supported": ["none"]})).is_err());
        assert!(
            check_capabilities(&json!({
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["plain", "S256"],
                "id_token_signing_alg_values_supported": ["RS256", "none"]
            }))
            .is_ok()
        );
        assert!(check_capabilities(&json!({})).is_ok(), "absent lists are allowed");
    }

    #[test]
    fn issuer_templates_only_stand_for_multi_tenant_names() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(issuer_matches(t, "https://login.microsoftonline.com/common/v2.0"));
        assert!(issuer_matches(t, "https://login.microsoftonline.com/organizations/v2.0"));
        assert!(!issuer_matches(t, "https://login.microsoftonline.com/1234/v2.0"));
        assert!(!issuer_matches(t, "https://evil.example/common/v2.0"));
        assert!(!issuer_matches("https://a.example/", "https://a.example"));
        assert!(issuer_matches("https://a.example", "https://a.example"));
    }
}
