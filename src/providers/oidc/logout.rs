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
/// seconds): signature by a published asymmetric key, `iss`, `aud` (as for ID tokens: this
/// client, and any other audience only when `trusted`), `iat`, `exp` when present, `jti`, the
/// back-channel logout event, no `nonce`, and a `sub` and/or `sid`.
pub(super) fn check(
    m: &Metadata,
    client_id: &str,
    trusted: &[String],
    token: &str,
    now: i64,
) -> Result<LogoutRequest, Refusal> {
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
    // Back-Channel Logout 1.0 §2.6: `aud` is validated as for ID tokens (OIDC Core 3.1.3.7): a
    // token for a sibling app that merely also names this client ends nothing here.
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => {
            auds.iter().any(|a| a.as_str() == Some(client_id))
                && auds.iter().all(|a| a.as_str().is_some_and(|a| a == client_id || trusted.iter().any(|t| t == a)))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(invalid("aud does not name this client"));
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or_else(|| invalid("no iat"))?;
    if iat > now + IAT_AHEAD_SECS || iat < now - IAT_BEHIND_SECS {
        return Err(invalid("iat is too far from now"));
    }
    if let Some(exp) = claims.get("exp")
        && exp.as_i64().is_none_or(|exp| exp <= now - IAT_AHEAD_SECS)
    {
        return Err(invalid("expired"));
    }
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
    // Kept as used for as long as the token could still be accepted (`iat` bounds that).
    let usable_until = iat + IAT_BEHIND_SECS + IAT_AHEAD_SECS;
    Ok(LogoutRequest { sub, sid, jti, issued_at: iat.min(now), usable_until })
}

/// An asymmetric signature (never `none`, never a shared secret) by a key the provider
/// publishes: the one its `kid` names, or, without a `kid`, any of them (openidconnect checks
/// each key's type, `use` and `alg` against the token's `alg`).
fn check_signature(m: &Metadata, token: &str, header: &Value) -> Result<(), Refusal> {
    if header.get("crit").is_some() {
        return Err(invalid("unsupported crit header"));
    }
    // RFC 7515 §4.1.9: `typ` may also be written with its `application/` prefix.
    if let Some(typ) = header.get("typ").and_then(Value::as_str)
        && !["logout+jwt", "application/logout+jwt", "jwt", "application/jwt"]
            .iter()
            .any(|t| typ.eq_ignore_ascii_case(t))
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
