//! Sealing secrets gatehouse keeps outside memory (signing keys in the database, ID tokens in
//! sessions): AES-256-GCM under a key derived (HKDF-SHA256) from a master secret for one
//! purpose, with associated data that binds each sealed value to where it belongs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// One purpose's sealing key.
pub(crate) struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    /// The key for `purpose` (the HKDF salt; a new purpose must use a new one), from `master`.
    pub(crate) fn derive(master: &[u8], purpose: &'static [u8]) -> Sealer {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                AES_256_GCM.key_len()
            }
        }
        let mut bytes = [0u8; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, purpose)
            .extract(master)
            .expand(&[b"seal"], Len)
            .and_then(|okm| okm.fill(&mut bytes))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).expect("a 32-byte AES-256 key"));
        Sealer { key, rng: SystemRandom::new() }
    }

    /// `base64url(nonce || ciphertext || tag)`, with `bound_to` as associated data.
    pub(crate) fn seal(&self, bound_to: &str, plaintext: &[u8]) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut data = plaintext.to_vec();
        let nonce_value = Nonce::assume_unique_for_key(nonce);
        self.key.seal_in_place_append_tag(nonce_value, Aad::from(bound_to.as_bytes()), &mut data).ok()?;
        Some(B64.encode([nonce.as_slice(), &data].concat()))
    }

    /// The plaintext, or `None` when it was sealed under another key, bound to something else,
    /// or tampered with.
    pub(crate) fn open(&self, bound_to: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut data).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_purpose_and_binding() {
        let mine = Sealer::derive(&[7u8; 64], b"test purpose");
        let sealed = mine.seal("kid-1", b"secret").unwrap();
        assert_eq!(mine.open("kid-1", &sealed).as_deref(), Some(&b"secret"[..]));
        assert_eq!(mine.open("kid-2", &sealed), None, "bound to another id");
        assert_eq!(Sealer::derive(&[8u8; 64], b"test purpose").open("kid-1", &sealed), None, "another master");
        assert_eq!(Sealer::derive(&[7u8; 64], b"other purpose").open("kid-1", &sealed), None, "another purpose");
        let mut tampered = B64.decode(&sealed).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(mine.open("kid-1", &B64.encode(tampered)), None, "tampered");
        assert_eq!(mine.open("kid-1", "short"), None);
    }
}
