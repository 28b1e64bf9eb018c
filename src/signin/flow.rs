//! The pending sign-in: what `/authorize` remembers for `/callback` in this browser's session.

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use serde::{Deserialize, Serialize};

/// How long a browser has to come back from the provider.
pub const FLOW_TTL_SECS: i64 = 600;

/// One pending authorization: random `state`, PKCE verifier and nonce, plus where to go next.
/// Kept only in the (encrypted) session and taken out once, before anything is checked.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthFlow {
    pub provider: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// Already sanitised by [`crate::auth::next::safe_next`].
    pub next: String,
    pub created_at: i64,
    /// Set when a signed-in user started the flow: the identity is linked to them instead of
    /// signing in again.
    #[serde(default)]
    pub link_to: Option<i64>,
}

impl std::fmt::Debug for AuthFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFlow")
            .field("provider", &self.provider)
            .field("next", &self.next)
            .field("created_at", &self.created_at)
            .field("link_to", &self.link_to)
            .finish_non_exhaustive()
    }
}

impl AuthFlow {
    /// Starts a flow with 256-bit random state, nonce and PKCE verifier from the OS CSPRNG.
    pub fn start(provider: &str, next: String, now: i64) -> Self {
        let (_, verifier) = PkceCodeChallenge::new_random_sha256();
        AuthFlow {
            provider: provider.to_string(),
            state: CsrfToken::new_random_len(32).secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: CsrfToken::new_random_len(32).secret().clone(),
            next,
            created_at: now,
            link_to: None,
        }
    }

    pub fn is_expired(&self, now: i64) -> bool {
        now - self.created_at > FLOW_TTL_SECS || self.created_at > now + 60
    }

    pub fn pkce_challenge(&self) -> PkceCodeChallenge {
        PkceCodeChallenge::from_code_verifier_sha256(&self.verifier())
    }

    pub fn verifier(&self) -> PkceCodeVerifier {
        PkceCodeVerifier::new(self.pkce_verifier.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn secrets_are_unique_and_long() {
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let flow = AuthFlow::start("p", "/".into(), 0);
            // 32 random bytes, base64url without padding.
            assert_eq!(flow.state.len(), 43);
            assert!(flow.pkce_verifier.len() >= 43);
            assert_eq!(flow.nonce.len(), 43);
            assert!(seen.insert(flow.state.clone()));
            assert!(seen.insert(flow.nonce.clone()));
            assert!(seen.insert(flow.pkce_verifier.clone()));
        }
    }

    #[test]
    fn expires_after_ten_minutes() {
        let flow = AuthFlow::start("p", "/".into(), 1_000);
        assert!(!flow.is_expired(1_000 + FLOW_TTL_SECS));
        assert!(flow.is_expired(1_000 + FLOW_TTL_SECS + 1));
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let flow = AuthFlow::start("p", "/x".into(), 0);
        let shown = format!("{flow:?}");
        assert!(!shown.contains(&flow.state));
        assert!(!shown.contains(&flow.nonce));
        assert!(!shown.contains(&flow.pkce_verifier));
    }
}
