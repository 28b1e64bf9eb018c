//! What Sign in with Apple needs beyond OpenID Connect: a client secret that is an ES256 JWT
//! signed with the `.p8` key from Apple's developer console (minted here, renewed before it
//! expires), and the person's name, which Apple sends only once, beside the first code.
//! Everything else (discovery, ID-token checks, refresh) is the OIDC provider's.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

/// How long a minted client secret is valid. Apple accepts up to six months; an hour keeps a
/// leaked one (in a proxy's log, say) nearly worthless and costs one signature an hour.
const LIFETIME_SECS: i64 = 3600;
/// A new secret is minted when the current one has less than this left, so a token request
/// in flight never carries one that expires on the way.
const RENEW_BEFORE_SECS: i64 = 600;

/// Why `OAUTH_{NAME}_PRIVATE_KEY_FILE` is not a usable key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyFileError {
    #[error("cannot be read ({0})")]
    Read(std::io::Error),
    #[error("is not a PEM private key (a .p8 file starts with -----BEGIN PRIVATE KEY-----)")]
    NotPem,
    #[error("is not a P-256 (ES256) key in PKCS#8 form, as Apple's .p8 files are")]
    NotP256,
}

/// Mints Apple's client secret: `{"alg":"ES256","kid":KEY_ID}` over
/// `{"iss":TEAM_ID,"sub":CLIENT_ID,"aud":issuer,"iat","exp"}`.
pub(crate) struct ClientSecretMinter {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    team_id: String,
    key_id: String,
    client_id: String,
    /// Apple's issuer, `https://appleid.apple.com` (a stand-in's in tests).
    audience: String,
    /// The current secret and when it expires.
    current: Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for ClientSecretMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretMinter")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ClientSecretMinter {
    pub(crate) fn new(key: EcdsaKeyPair, team_id: &str, key_id: &str, client_id: &str, audience: &str) -> Self {
        ClientSecretMinter {
            key,
            rng: SystemRandom::new(),
            team_id: team_id.to_string(),
            key_id: key_id.to_string(),
            client_id: client_id.to_string(),
            audience: audience.to_string(),
            current: Mutex::new(None),
        }
    }

    /// A client secret with at least ten minutes left; `None` only if signing failed (the
    /// system's random source did).
    pub(crate) fn current(&self) -> Option<String> {
        let now = chrono::Utc::now().timestamp();
        let mut current = self.current.lock().expect("lock poisoned");
        if let Some((secret, expires)) = current.as_ref()
            && expires - now > RENEW_BEFORE_SECS
        {
            return Some(secret.clone());
        }
        let secret = self.mint(now)?;
        *current = Some((secret.clone(), now + LIFETIME_SECS));
        Some(secret)
    }

    fn mint(&self, now: i64) -> Option<String> {
        let header = serde_json::json!({"alg": "ES256", "kid": self.key_id});
        let claims = serde_json::json!({
            "iss": self.team_id,
            "sub": self.client_id,
            "aud": self.audience,
            // A minute back, so a server clock slightly ahead of Apple's is not "not yet valid".
            "iat": now - 60,
            "exp": now + LIFETIME_SECS,
        });
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = self.key.sign(&self.rng, input.as_bytes()).ok()?;
        Some(format!("{input}.{}", B64.encode(signature.as_ref())))
    }
}

/// The `.p8` key at `path`: PKCS#8, P-256.
pub(crate) fn read_key(path: &str) -> Result<EcdsaKeyPair, KeyFileError> {
    parse_key(&std::fs::read_to_string(path).map_err(KeyFileError::Read)?)
}

/// A `.p8` file's contents as a signing key.
fn parse_key(pem: &str) -> Result<EcdsaKeyPair, KeyFileError> {
    let der = pkcs8_der(pem).ok_or(KeyFileError::NotPem)?;
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
        .map_err(|_| KeyFileError::NotP256)
}

/// The DER inside a PEM `PRIVATE KEY` block.
fn pkcs8_der(pem: &str) -> Option<Vec<u8>> {
    let body = pem.split("-----BEGIN PRIVATE KEY-----").nth(1)?.split("-----END PRIVATE KEY-----").next()?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

/// `TEAM_ID` and `KEY_ID` as Apple issues them: ten capital letters and digits.
pub(crate) fn is_apple_id(value: &str) -> bool {
    value.len() == 10 && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The person's name from the `user` form field Apple posts with the first authorization
/// only (`{"name":{"firstName":…,"lastName":…},"email":…}`). Unsigned, so only the name is
/// read, for display; the email comes from the ID token alone.
pub(crate) fn name_from_user_field(raw: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Field {
        name: Option<Name>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Name {
        first_name: Option<String>,
        last_name: Option<String>,
    }
    let name = serde_json::from_str::<Field>(raw).ok()?.name?;
    let parts = [name.first_name, name.last_name];
    let full = parts.iter().flatten().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    (!full.is_empty()).then_some(full)
}

#[cfg(test)]
mod tests {
    use ring::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};

    use super::*;

    fn minter(pem: &str, team_id: &str, key_id: &str) -> Result<ClientSecretMinter, KeyFileError> {
        Ok(ClientSecretMinter::new(parse_key(pem)?, team_id, key_id, "com.example.web", "https://appleid.apple.com"))
    }

    /// A new `.p8` key's PEM, and its public half.
    fn key_pem() -> (String, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let public = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let pem =
            format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(pkcs8.as_ref()));
        (pem, public)
    }

    #[test]
    fn the_client_secret_is_an_es256_jwt_apple_can_verify_and_is_reused_until_renewal() {
        let (pem, public) = key_pem();
        let minter = minter(&pem, "TEAM123456", "KEY1234567").unwrap();
        let secret = minter.current().unwrap();
        let parts: Vec<&str> = secret.split('.').collect();
        assert_eq!(parts.len(), 3);
        let json = |p: &str| serde_json::from_slice::<serde_json::Value>(&B64.decode(p).unwrap()).unwrap();
        assert_eq!(json(parts[0]), serde_json::json!({"alg": "ES256", "kid": "KEY1234567"}));
        let claims = json(parts[1]);
        assert_eq!(claims["iss"], "TEAM123456");
        assert_eq!(claims["sub"], "com.example.web");
        assert_eq!(claims["aud"], "https://appleid.apple.com");
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!(lifetime > RENEW_BEFORE_SECS && lifetime <= 15_777_000, "Apple's cap is six months: {lifetime}");
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(signed.as_bytes(), &B64.decode(parts[2]).unwrap())
            .expect("signed with the .p8 key");
        assert_eq!(minter.current().unwrap(), secret, "reused while it has time left");

        // Nearly expired: the next request gets a new one.
        let now = chrono::Utc::now().timestamp();
        *minter.current.lock().unwrap() = Some((secret.clone(), now + RENEW_BEFORE_SECS - 1));
        assert_ne!(minter.current().unwrap(), secret);
    }

    /// Apple's `.p8` files (`MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg…`) repeat the
    /// curve inside the key (`[0] parameters`), which ring's own PKCS#8 output leaves out.
    #[test]
    fn a_key_in_apples_exact_layout_is_read() {
        let rng = SystemRandom::new();
        let ring_layout = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let der = apple_layout(ring_layout.as_ref());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(&der));
        assert!(pem.contains("MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg"), "{pem}");
        let minter = minter(&pem, "TEAM123456", "KEY1234567").expect("Apple's layout is read");
        assert!(minter.current().is_some());
    }

    /// ring's PKCS#8 with the `[0] parameters` Apple includes.
    fn apple_layout(ring: &[u8]) -> Vec<u8> {
        let private_key_at = ring.windows(2).position(|w| w == [0x04, 0x20]).unwrap();
        let public_key_at = private_key_at + 2 + 32;
        assert_eq!(&ring[public_key_at..public_key_at + 2], [0xa1, 0x44]);
        let params = [0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let mut der = [&ring[..public_key_at], &params, &ring[public_key_at..]].concat();
        // Three enclosing lengths grow by the 12 bytes: the outer SEQUENCE (long form), the
        // privateKey OCTET STRING and the ECPrivateKey SEQUENCE.
        assert_eq!(&der[..3], [0x30, 0x81, 0x87]);
        der[2] += 12;
        let octet = der.windows(2).position(|w| w == [0x04, 0x6d]).unwrap();
        der[octet + 1] += 12;
        assert_eq!(&der[octet + 2..octet + 4], [0x30, 0x6b]);
        der[octet + 3] += 12;
        der
    }

    #[test]
    fn key_files_that_are_not_apple_keys_are_named_as_such() {
        let err = |contents: &str| minter(contents, "T", "K").unwrap_err().to_string();
        assert!(err("not a key").contains("not a PEM private key"));
        assert!(err("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").contains("P-256"));
        let ed25519 = ring::signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pem =
            format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(ed25519.as_ref()));
        assert!(err(&pem).contains("not a P-256"), "a PKCS#8 key of another kind");
        let missing = read_key("/nonexistent/AuthKey.p8").unwrap_err();
        assert!(missing.to_string().starts_with("cannot be read"), "{missing}");
    }

    #[test]
    fn the_name_comes_from_the_first_authorizations_user_field() {
        let field = r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"x@privaterelay.appleid.com"}"#;
        assert_eq!(name_from_user_field(field).as_deref(), Some("Ada Lovelace"));
        assert_eq!(name_from_user_field(r#"{"name":{"firstName":" Ada "}}"#).as_deref(), Some("Ada"));
        assert_eq!(name_from_user_field(r#"{"email":"a@b.test"}"#), None);
        assert_eq!(name_from_user_field(r#"{"name":{"firstName":"","lastName":" "}}"#), None);
        assert_eq!(name_from_user_field("not json"), None);
        assert_eq!(name_from_user_field(r#"{"name":"Ada"}"#), None);
    }

    #[test]
    fn apple_ids_are_ten_capitals_and_digits() {
        assert!(is_apple_id("ABCDE12345"));
        assert!(!is_apple_id("abcde12345"));
        assert!(!is_apple_id("ABCDE1234"));
        assert!(!is_apple_id("ABCDE-2345"));
    }
}
