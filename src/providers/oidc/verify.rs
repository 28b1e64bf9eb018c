//! ID-token checks beyond openidconnect's (OIDC Core §3.1.3.7 steps it leaves to the client,
//! RFC 7515 `crit`, `nbf`, Entra tenants) and the mapping of claims to a [`ProviderUser`].

use base64::Engine;
use chrono::Utc;
use openidconnect::core::{CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{AccessToken, AccessTokenHash};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

use super::{CLOCK_SKEW_SECS, OidcClient};
use crate::accounts::ProviderUser;
use crate::providers::ProviderError;

/// The verifier openidconnect checks ID tokens with. Its allowed algorithms are discovery's
/// (`id_token_signing_alg_values_supported`, through the client), which is what
/// [`rs256_verified_by_ring`] is given too: restrict one, restrict both.
pub(super) fn verifier(client: &OidcClient) -> CoreIdTokenVerifier<'_> {
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

/// Checks an RS256 signature with `ring`, under the key openidconnect itself picks from the
/// JWKS (by `kid`, key type and `use`): the pure-Rust `rsa` crate openidconnect verifies with
/// spent three quarters of a sign-in's CPU on it. `true` only for a good RS256 signature when
/// the provider's discovery allows RS256 (`allowed`, as openidconnect's verifier is told).
/// Anything else (another `alg`, no such key, a key `ring` refuses such as one under 2048
/// bits, a bad signature) is `false`, and the caller leaves the signature to openidconnect, so
/// every refusal and its message stay openidconnect's.
pub(super) fn rs256_verified_by_ring(
    id_token: &CoreIdToken,
    compact: &str,
    allowed: &[CoreJwsSigningAlgorithm],
    verifier: &CoreIdTokenVerifier<'_>,
) -> bool {
    let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    if id_token.signing_alg() != Ok(&rs256) || !allowed.contains(&rs256) {
        return false;
    }
    let Ok(key) = id_token.signing_key(verifier) else { return false };
    let Ok(jwk) = serde_json::to_value(key) else { return false };
    // Some issuers (Java ones) give `n` a leading 0x00 sign byte, which ring refuses and
    // openidconnect reads as the same number: strip leading zeros.
    let decode = |name: &str| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok()?;
        let first = bytes.iter().position(|b| *b != 0)?;
        Some(bytes[first..].to_vec())
    };
    let (Some(n), Some(e)) = (decode("n"), decode("e")) else { return false };
    let Some((signed, signature)) = compact.rsplit_once('.') else { return false };
    let Ok(signature) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature) else { return false };
    RsaPublicKeyComponents { n: &n, e: &e }.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature).is_ok()
}

/// The verified token's payload as JSON, for claims openidconnect does not model (`tid`, `hd`).
pub(super) fn payload(compact: &str) -> Result<serde_json::Value, ProviderError> {
    compact_segment(compact, 1)
}

/// The longest ID token accepted, before any parsing.
pub const MAX_ID_TOKEN_LEN: usize = 16 * 1024;

/// Segment `n` of a compact JWS as JSON; bounded by `MAX_ID_TOKEN_LEN`.
pub fn compact_segment(compact: &str, n: usize) -> Result<serde_json::Value, ProviderError> {
    if compact.len() > MAX_ID_TOKEN_LEN {
        return Err(ProviderError::InvalidIdToken("too large".into()));
    }
    let part = compact.split('.').nth(n).ok_or_else(|| ProviderError::InvalidIdToken("not a JWS".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ProviderError::InvalidIdToken("segment is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| ProviderError::InvalidIdToken("segment is not JSON".into()))
}

/// RFC 7515 §4.1.11: we implement no header extensions, so any `crit` is refused.
pub(super) fn check_header(compact: &str) -> Result<(), ProviderError> {
    if compact_segment(compact, 0)?.get("crit").is_some() {
        return Err(ProviderError::InvalidIdToken("unsupported crit header".into()));
    }
    Ok(())
}

/// OIDC Core §2: `sub` is 1–255 ASCII characters; anything else is refused before userinfo.
pub(super) fn check_subject(sub: &str) -> Result<(), ProviderError> {
    if sub.is_empty() || sub.len() > 255 || !sub.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ProviderError::InvalidIdToken("sub is empty, too long or not printable ASCII".into()));
    }
    Ok(())
}

/// openidconnect does not look at `nbf`; a token not valid yet is refused.
pub(super) fn check_not_before(raw: &serde_json::Value) -> Result<(), ProviderError> {
    match raw.get("nbf") {
        None => Ok(()),
        Some(nbf) => match nbf.as_i64() {
            Some(t) if t <= Utc::now().timestamp() + CLOCK_SKEW_SECS => Ok(()),
            _ => Err(ProviderError::InvalidIdToken("nbf is in the future or malformed".into())),
        },
    }
}

/// Entra multi-tenant: `iss` must be the template with the token's own `tid`.
pub(super) fn check_tenant_issuer(template: &str, raw: &serde_json::Value) -> Result<(), ProviderError> {
    let tid = raw.get("tid").and_then(|t| t.as_str()).unwrap_or_default();
    let iss = raw.get("iss").and_then(|t| t.as_str()).unwrap_or_default();
    let tid_ok = !tid.is_empty() && tid.len() <= 64 && tid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if tid_ok && iss == template.replace("{tenantid}", tid) {
        Ok(())
    } else {
        Err(ProviderError::InvalidIdToken("iss does not match the token's tenant".into()))
    }
}

/// OIDC Core §3.1.3.7 steps 4–5, which openidconnect leaves to the client.
pub(super) fn check_azp(claims: &CoreIdTokenClaims, client_id: &str) -> Result<(), ProviderError> {
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id => Err(ProviderError::InvalidIdToken("azp is not our client id".into())),
        None if claims.audiences().len() > 1 => {
            Err(ProviderError::InvalidIdToken("several audiences but no azp".into()))
        }
        _ => Ok(()),
    }
}

pub(super) fn check_at_hash(
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

pub(super) fn from_claims(c: &CoreIdTokenClaims, raw: &serde_json::Value, groups: Option<&str>) -> ProviderUser {
    // Entra marks a verified email domain owner with `xms_edov`. openidconnect (feature
    // `accept-string-booleans`) already reads `"email_verified": "true"` as true.
    let verified = c.email_verified() == Some(true) || raw.get("xms_edov").and_then(flag) == Some(true);
    // Azure AD B2C's user flows send no `email`, but a list, `emails`: the first is the address,
    // never verified (`email_verified` speaks of `email`).
    let listed = || raw.get("emails")?.as_array()?.first()?.as_str().filter(|e| !e.is_empty()).map(str::to_string);
    let email = c.email().map(|e| e.to_string()).or_else(listed);
    ProviderUser {
        subject: c.subject().to_string(),
        name: c.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        email_verified: c.email().is_some() && verified,
        email,
        avatar_url: c.picture().and_then(|p| p.get(None)).map(|p| p.to_string()),
        groups: groups.map(|p| crate::providers::oauth2::groups_at(raw, p)).unwrap_or_default(),
        at_provider: None,
        tokens: None,
    }
}

/// A boolean claim as providers really send it: `true`, or the string `"true"` (Amazon
/// Cognito, some Keycloak and Okta mappers); any other value present counts as false. Exactly
/// what openidconnect's `accept-string-booleans` reads in ID tokens.
pub fn flag(value: &serde_json::Value) -> Option<bool> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => Some(s == "true"),
        _ => Some(false),
    }
}

/// Userinfo (a JSON object whose `sub` the caller has checked) wins where it says something;
/// an email keeps its own verified flag.
pub(super) fn merge_userinfo(user: &mut ProviderUser, info: &serde_json::Value, groups: Option<&str>) {
    // Groups the ID token lacks may be in the userinfo answer (GitLab puts them in both).
    if let Some(pointer) = groups
        && user.groups.is_empty()
    {
        user.groups = crate::providers::oauth2::groups_at(info, pointer);
    }
    let text = |k: &str| info.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(name) = text("name") {
        user.name = Some(name);
    }
    if let Some(email) = text("email") {
        let verified = info.get("email_verified").and_then(flag);
        if user.email.as_deref() != Some(email.as_str()) {
            user.email_verified = verified == Some(true);
        } else if let Some(verified) = verified {
            user.email_verified = verified;
        }
        user.email = Some(email);
    }
    if let Some(picture) = text("picture") {
        user.avatar_url = Some(picture);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// ring says yes only to a good RS256 signature by the key the JWKS lists under the
    /// token's `kid`; everything else goes to openidconnect's own check.
    #[test]
    fn ring_accepts_only_a_good_rs256_signature_by_the_published_key() {
        use std::str::FromStr;

        use openidconnect::core::{CoreJsonWebKeySet, CoreRsaPrivateSigningKey};
        use openidconnect::{ClientId, ClientSecret, IssuerUrl, JsonWebKeyId, PrivateSigningKey};

        let key = |n: u8, kid: &str| {
            let pem = if n == 1 {
                include_str!("../../../tests/fixtures/op-key-1.pem")
            } else {
                include_str!("../../../tests/fixtures/op-key-2.pem")
            };
            CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).unwrap()
        };
        let jwks = CoreJsonWebKeySet::new(vec![key(1, "k1").as_verification_key()]);
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new("c".into()),
            ClientSecret::new("s".into()),
            IssuerUrl::new("https://op.example".into()).unwrap(),
            jwks,
        );
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let claims = json!({"iss": "https://op.example", "aud": "c", "sub": "s", "iat": 1, "exp": 2});
        let token = |header: serde_json::Value, signer: &CoreRsaPrivateSigningKey| {
            let input = format!("{}.{}", b64(&header), b64(&claims));
            let sig = signer.sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes()).unwrap();
            CoreIdToken::from_str(&format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)))
                .unwrap()
        };
        const RS256: &[CoreJwsSigningAlgorithm] = &[CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256];
        let good = token(json!({"alg": "RS256", "kid": "k1"}), &key(1, "k1"));
        assert!(rs256_verified_by_ring(&good, &good.to_string(), RS256, &verifier));
        // The same key with a 0x00 sign byte before `n`, as some issuers publish it.
        let mut padded = serde_json::to_value(key(1, "k1").as_verification_key()).unwrap();
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(padded["n"].as_str().unwrap()).unwrap();
        padded["n"] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([&[0u8][..], &n].concat()).into();
        let padded_jwks: CoreJsonWebKeySet = serde_json::from_value(json!({"keys": [padded]})).unwrap();
        let padded_verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new("c".into()),
            ClientSecret::new("s".into()),
            IssuerUrl::new("https://op.example".into()).unwrap(),
            padded_jwks,
        );
        assert!(rs256_verified_by_ring(&good, &good.to_string(), RS256, &padded_verifier), "a sign byte before n");
        let es256_only = &[CoreJwsSigningAlgorithm::EcdsaP256Sha256];
        assert!(!rs256_verified_by_ring(&good, &good.to_string(), es256_only, &verifier), "RS256 not allowed");

        let forged = token(json!({"alg": "RS256", "kid": "k1"}), &key(2, "k1"));
        assert!(
            !rs256_verified_by_ring(&forged, &forged.to_string(), RS256, &verifier),
            "another key under the published kid"
        );
        let unknown = token(json!({"alg": "RS256", "kid": "k9"}), &key(1, "k9"));
        assert!(
            !rs256_verified_by_ring(&unknown, &unknown.to_string(), RS256, &verifier),
            "a kid the JWKS does not list"
        );
        let other_alg = token(json!({"alg": "RS384", "kid": "k1"}), &key(1, "k1"));
        assert!(!rs256_verified_by_ring(&other_alg, &other_alg.to_string(), RS256, &verifier), "not RS256");
        let mut tampered = good.to_string();
        let at = tampered.len() - 10;
        let flipped = if &tampered[at..at + 1] == "A" { "B" } else { "A" };
        tampered.replace_range(at..at + 1, flipped);
        let tampered = CoreIdToken::from_str(&tampered).unwrap();
        assert!(!rs256_verified_by_ring(&tampered, &tampered.to_string(), RS256, &verifier), "a changed signature");
    }

    #[test]
    fn email_verified_as_providers_send_it() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!("true"), Some(true)),
            (json!("TRUE"), Some(false)),
            (json!(false), Some(false)),
            (json!("false"), Some(false)),
            (json!("yes"), Some(false)),
            (json!(1), Some(false)),
            (json!({}), Some(false)),
            (json!(null), None),
        ] {
            assert_eq!(flag(&value), expected, "{value}");
        }
    }

    #[test]
    fn userinfo_email_in_an_odd_shape_counts_as_unverified() {
        let mut user = ProviderUser { subject: "s".into(), ..Default::default() };
        merge_userinfo(&mut user, &json!({"sub": "s", "email": "a@b.test", "email_verified": "true"}), None);
        assert!(user.email_verified);
        merge_userinfo(&mut user, &json!({"sub": "s", "email": "a@b.test", "email_verified": "maybe"}), None);
        assert!(!user.email_verified);
        merge_userinfo(&mut user, &json!({"sub": "s", "email": "c@b.test", "email_verified": 1}), None);
        assert!(!user.email_verified);
    }
}
