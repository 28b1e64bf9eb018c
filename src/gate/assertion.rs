//! `X-Auth-Request-Assertion`: the identity as a short-lived JWT (ES256) an upstream can verify
//! against `{PUBLIC_URL}/.well-known/jwks.json` instead of trusting headers.
//!
//! The signing key lives in the database so that every instance signs with the same one: the
//! first instance to start creates it, and every instance signs with the oldest key it can
//! open. Its private half is sealed (AES-256-GCM, the key id as associated data) with a key
//! derived from `SESSION_KEY`, so a database dump alone cannot forge assertions.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use sha2::Digest;

use crate::accounts::{Account, verified_email};
use crate::db::models::{SigningKeyRow, now};
use crate::db::{Db, DbError};
use crate::seal::Sealer;

/// Header names and values, ready to send.
pub(crate) type IdentityHeaders = Arc<[(actix_web::http::header::HeaderName, actix_web::http::header::HeaderValue)]>;

/// How long an assertion is valid. A fresh one is signed at most every [`REUSE_SECS`] per
/// user; an upstream therefore always receives one with at least 30 s left.
pub(crate) const LIFETIME_SECS: i64 = 60;
const REUSE_SECS: i64 = 30;

/// Why the signing key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot create the assertion signing key")]
    Crypto,
}

/// Signs assertions with the deployment's key; remembers the last one per user.
pub(crate) struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    issuer: String,
    /// `base64url(header) + "."`, the same for every assertion.
    header: String,
    /// The last identity headers (assertion included) per user, with the account snapshot and
    /// time slot they were made for: a busy gate builds them twice a minute per user.
    recent: quick_cache::sync::Cache<i64, (Arc<Account>, i64, IdentityHeaders)>,
}

impl Signer {
    /// The oldest key in the database that `master` (the `SESSION_KEY`) opens; one is created
    /// when there is none.
    pub(crate) async fn load_or_create(db: &Db, master: &[u8], issuer: &str) -> Result<Signer, KeyError> {
        let sealing = sealing_key(master);
        if let Some(signer) = Self::first_usable(db, &sealing, issuer).await? {
            return Ok(signer);
        }
        let row = new_key_row(&sealing)?;
        db.run(move |c| SigningKeyRow::insert(c, &row).map_err(DbError::from)).await?;
        // Instances that raced here each inserted one; all now pick the same, oldest, key.
        Self::first_usable(db, &sealing, issuer).await?.ok_or(KeyError::Crypto)
    }

    async fn first_usable(db: &Db, sealing: &Sealer, issuer: &str) -> Result<Option<Signer>, KeyError> {
        let rows = db.run(|c| SigningKeyRow::all(c).map_err(DbError::from)).await?;
        let rng = SystemRandom::new();
        for row in rows {
            let Some(pkcs8) = sealing.open(&row.kid, &row.sealed_private_key) else { continue };
            let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng) else { continue };
            let header = serde_json::json!({"alg": "ES256", "kid": row.kid, "typ": "JWT"});
            return Ok(Some(Signer {
                header: format!("{}.", B64.encode(header.to_string())),
                key,
                rng,
                issuer: issuer.to_string(),
                recent: quick_cache::sync::Cache::new(10_000),
            }));
        }
        Ok(None)
    }

    /// The identity headers for `account` now: the ones made in this 30-second slot for this
    /// very snapshot of the account, or new ones, `build` given a freshly signed assertion.
    pub(crate) fn identity_headers(
        &self,
        account: &Arc<Account>,
        build: impl FnOnce(Option<&str>) -> IdentityHeaders,
    ) -> IdentityHeaders {
        let slot = chrono::Utc::now().timestamp().div_euclid(REUSE_SECS) * REUSE_SECS;
        let id = account.user.id;
        if let Some((seen, at, headers)) = self.recent.get(&id)
            && at == slot
            && Arc::ptr_eq(&seen, account)
        {
            return headers;
        }
        let headers = build(self.sign(account, slot).as_deref());
        self.recent.insert(id, (account.clone(), slot, headers.clone()));
        headers
    }

    fn sign(&self, account: &Account, iat: i64) -> Option<String> {
        let user = &account.user;
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": user.id.to_string(),
            "email": user.email,
            "email_verified": verified_email(user).is_some(),
            "name": user.name,
            "groups": account.groups(),
            "iat": iat,
            "exp": iat + LIFETIME_SECS,
        });
        let input = format!("{}{}", self.header, B64.encode(claims.to_string()));
        let signature = self.key.sign(&self.rng, input.as_bytes()).ok()?;
        Some(format!("{input}.{}", B64.encode(signature.as_ref())))
    }
}

/// `{"keys": [...]}`: the public half of every key in the database.
pub(crate) async fn jwks(db: &Db) -> Result<serde_json::Value, DbError> {
    let rows = db.run(|c| SigningKeyRow::all(c).map_err(DbError::from)).await?;
    let keys: Vec<serde_json::Value> = rows.iter().filter_map(|r| serde_json::from_str(&r.public_jwk).ok()).collect();
    Ok(serde_json::json!({ "keys": keys }))
}

fn new_key_row(sealing: &Sealer) -> Result<SigningKeyRow, KeyError> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| KeyError::Crypto)?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| KeyError::Crypto)?;
    // An uncompressed point: 0x04, then x and y, 32 bytes each.
    let point = key.public_key().as_ref();
    let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
    // RFC 7638: the thumbprint of the required members, in lexicographic order.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = B64.encode(sha2::Sha256::digest(canonical.as_bytes()));
    let jwk =
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"});
    Ok(SigningKeyRow {
        sealed_private_key: sealing.seal(&kid, pkcs8.as_ref()).ok_or(KeyError::Crypto)?,
        kid,
        public_jwk: jwk.to_string(),
        created_at: now(),
    })
}

/// The key signing keys are sealed with, derived from the session key.
fn sealing_key(master: &[u8]) -> Sealer {
    Sealer::derive(master, b"gatehouse assertion signing key v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signing keys already in databases were sealed with this derivation: a change to it
    /// would leave every instance unable to open them and quietly make a new key. The vector
    /// was made outside gatehouse (Python `cryptography`: HKDF-SHA256, AES-256-GCM).
    #[test]
    fn keys_sealed_by_earlier_versions_still_open() {
        let sealed = "AAECAwQFBgcICQoLE82qt8f6LAg_a6qxRi_vDRvGKArBQkjc_iZUlKIxMge9zz8lM7wbWom5-UYWwlr89JfjXQZ9bg";
        let opened = sealing_key(&[1u8; 64]).open("kid-fixed", sealed);
        assert_eq!(opened.as_deref(), Some(&b"a signing key sealed before src/seal.rs"[..]));
    }

    #[test]
    fn a_new_key_publishes_its_thumbprint_and_no_private_part() {
        let row = new_key_row(&sealing_key(&[1u8; 64])).unwrap();
        let jwk: serde_json::Value = serde_json::from_str(&row.public_jwk).unwrap();
        assert_eq!(jwk["kid"], row.kid);
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
        assert!(jwk.get("d").is_none(), "the private scalar is never published");
        assert_eq!(row.kid.len(), 43, "a base64url SHA-256 thumbprint");
    }
}
