//! OpenID Connect Back-Channel Logout 1.0 §2.6: the checks a logout token must pass before
//! any session is ended for it. The `jti` replay check needs the database and is the caller's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{JsonWebKey, JwsSigningAlgorithm};
use serde_json::Value;

use super::metadata::Metadata;
use super::verify::{MAX_ID_TOKEN_LEN, compact_segment};
use crate::providers::LogoutRequest;

/// The event a logout token must carry.
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How far `iat` may be from now: a little ahead (clock skew), more behind (a provider
/// retrying delivery).
const IAT_AHEAD_SECS: i64 = 60;
const IAT_BEHIND_SECS: i64 = 600;

/// Why a logout token was refused.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Signed with a key (`kid`) the JWKS in hand does not list: worth one refetch.
    UnknownKey,
    Invalid(String),
}

fn invalid(why: &str) -> Refusal {
    Refusal::Invalid(why.to_string())
}

/// Checks `token` against the provider's metadata and our `client_id` at time `now` (Unix
/// seconds): signature by a published asymmetric key, `iss`, `aud`, `iat`, `exp` when present,
/// `jti`, the back-channel logout event, no `nonce`, and a `sub` and/or `sid`.
pub(super) fn check(m: &Metadata, client_id: &str, token: &str, now: i64) -> Result<LogoutRequest, Refusal> {
    if token.len() > MAX_ID_TOKEN_LEN || token.split('.').count() != 3 {
        return Err(invalid("not a compact JWS"));
    }
    let segment = |n| compact_segment(token, n).map_err(|_| invalid("a segment is not base64url JSON"));
    let (header, claims) = (segment(0)?, segment(1)?);
    check_signature(m, token, &header)?;

    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if text(&claims, "iss").as_deref() != Some(m.issuer.as_str()) || m.tenant_template() {
        return Err(invalid("iss is not the provider's issuer"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid("aud does not name this client"));
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or_else(|| invalid("no iat"))?;
    if iat > now + IAT_AHEAD_SECS || iat < now - IAT_BEHIND_SECS {
        return Err(invalid("iat is too far from now"));
    }
    let exp = match claims.get("exp") {
        None => None,
        Some(v) => Some(v.as_i64().filter(|exp| *exp > now - IAT_AHEAD_SECS).ok_or_else(|| invalid("expired"))?),
    };
    let jti = text(&claims, "jti")
        .filter(|j| !j.is_empty() && j.len() <= 255 && j.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| invalid("no usable jti"))?;
    let is_logout_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_EVENT))
        .is_some_and(Value::is_object);
    if !is_logout_event {
        return Err(invalid("no back-channel logout event"));
    }
    if claims.get("nonce").is_some() {
        return Err(invalid("a logout token must not carry a nonce"));
    }
    let sub = match claims.get("sub") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .filter(|s| !s.is_empty() && s.len() <= 255)
                .map(str::to_string)
                .ok_or_else(|| invalid("sub is not a usable subject"))?,
        ),
    };
    let sid = match claims.get("sid") {
        None => None,
        Some(v) => Some(
            v.as_str().filter(|s| super::is_sid(s)).map(str::to_string).ok_or_else(|| invalid("sid is not usable"))?,
        ),
    };
    if sub.is_none() && sid.is_none() {
        return Err(invalid("neither sub nor sid"));
    }
    // Kept as used for as long as the token could still be accepted.
    let usable_until = exp.unwrap_or(0).max(iat + IAT_BEHIND_SECS) + IAT_AHEAD_SECS;
    Ok(LogoutRequest { sub, sid, jti, usable_until })
}

/// An asymmetric signature (never `none`, never a shared secret) by a key the provider
/// publishes, chosen by `kid` (or the only key there is).
fn check_signature(m: &Metadata, token: &str, header: &Value) -> Result<(), Refusal> {
    if header.get("crit").is_some() {
        return Err(invalid("unsupported crit header"));
    }
    if let Some(typ) = header.get("typ").and_then(Value::as_str)
        && !typ.eq_ignore_ascii_case("logout+jwt")
        && !typ.eq_ignore_ascii_case("jwt")
    {
        return Err(invalid("typ is neither logout+jwt nor JWT"));
    }
    let alg: CoreJwsSigningAlgorithm = header
        .get("alg")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
        .ok_or_else(|| invalid("no usable alg"))?;
    if alg.uses_shared_secret() || alg == CoreJwsSigningAlgorithm::None {
        return Err(invalid("alg must be an asymmetric signature"));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let keys = m.provider.jwks().keys();
    let candidates: Vec<_> = match kid {
        Some(kid) => keys.iter().filter(|k| k.key_id().is_some_and(|id| id.as_str() == kid)).collect(),
        None => keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(if kid.is_some() { Refusal::UnknownKey } else { invalid("no published key") });
    }
    let (signed, signature) = token.rsplit_once('.').ok_or_else(|| invalid("not a compact JWS"))?;
    let signature = B64.decode(signature).map_err(|_| invalid("the signature is not base64url"))?;
    if candidates.iter().any(|key| key.verify_signature(&alg, signed.as_bytes(), &signature).is_ok()) {
        Ok(())
    } else {
        Err(invalid("bad signature"))
    }
}
