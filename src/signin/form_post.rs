//! Callbacks that arrive as a cross-site `POST` (`response_mode=form_post`: Apple).
//!
//! A browser sends no `SameSite=Lax` cookie with a cross-site `POST`, so the session holding
//! the pending flow cannot be read there. The cookie is not loosened for it. Instead the
//! `POST`'s parameters are sealed (AES-256-GCM under a key derived from `SESSION_KEY`, bound to
//! the provider, usable as long as the sign-in itself) into `GET /callback/{provider}?resume=…`,
//! which the `POST`'s answer, a page of gatehouse's own, opens at once: a same-origin
//! navigation, which carries the Lax cookie, where the flow is found by its `state` in the
//! session exactly as for every other provider. The `state` therefore stays bound to the
//! browser that started the sign-in and is used once. Nothing is written server-side, so a
//! flood of forged `POST`s costs a seal each and stores nothing; the code inside the seal is
//! unreadable in logs and history, and worthless without the client secret.

use std::collections::HashMap;

use crate::routes::query;
use crate::seal::Sealer;
use crate::signin::SignInError;

/// How long the resume step may take: normally milliseconds, but no less than the sign-in
/// itself may (its flow expires on its own), so a stalled browser does not lose the name Apple
/// sends only once.
const RESUME_SECS: i64 = crate::signin::flow::FLOW_TTL_SECS;

/// The parameters carried over, each with the longest value accepted (so a resume URL stays
/// far below proxies' 8 KiB request-line limits). Anything else the provider posts (Apple's
/// `id_token` when asked for `code id_token`) is dropped: the ID token comes from the token
/// endpoint.
const CARRIED: &[(&str, usize)] =
    &[("code", super::MAX_CODE_LEN), ("state", 256), ("error", 64), ("iss", 512), ("user", 1024)];

/// The longest parameters sealed, as JSON: the resume URL then stays under 6 KB.
const MAX_SEALED_JSON: usize = 4096;

/// Seals the parameters of form-posted callbacks; derived from `SESSION_KEY`, so any instance
/// can open what another sealed.
pub(crate) struct CallbackSeal(Sealer);

impl CallbackSeal {
    pub(crate) fn new(master: &[u8]) -> Self {
        CallbackSeal(Sealer::derive(master, b"gatehouse form_post callback v1"))
    }

    /// The `resume` value for a form-posted callback body. Refused (400) when the body is not a
    /// form, repeats a name, has no `state`, or carries an oversized value.
    pub(crate) fn seal(&self, provider: &str, body: &[u8], now: i64) -> Result<String, SignInError> {
        let form = std::str::from_utf8(body).map_err(|_| SignInError::MalformedCallback)?;
        let mut params = query::parse(form).map_err(|_| SignInError::MalformedCallback)?;
        let limit = |name: &str| CARRIED.iter().find(|(carried, _)| *carried == name).map(|(_, max)| *max);
        params.retain(|k, _| limit(k).is_some());
        // The name is optional and unsigned: an odd one is dropped rather than failing the sign-in.
        if params.get("user").is_some_and(|user| user.len() > limit("user").unwrap_or_default()) {
            log::warn!("provider={provider}: the posted user field is over 1 KiB; signing in without the name");
            params.remove("user");
        }
        if params.iter().any(|(k, v)| limit(k).is_some_and(|max| v.len() > max))
            || params.get("state").is_none_or(String::is_empty)
        {
            return Err(SignInError::MalformedCallback);
        }
        let sealed = serde_json::json!({"exp": now + RESUME_SECS, "params": params}).to_string();
        // JSON escaping can grow a value several times over; the URL must still fit.
        if sealed.len() > MAX_SEALED_JSON {
            return Err(SignInError::MalformedCallback);
        }
        self.0.seal(provider, sealed.as_bytes()).ok_or(SignInError::MalformedCallback)
    }

    /// The parameters `seal` kept, for the same provider, while the sign-in may last.
    pub(crate) fn open(&self, provider: &str, resume: &str, now: i64) -> Result<HashMap<String, String>, SignInError> {
        #[derive(serde::Deserialize)]
        struct Sealed {
            exp: i64,
            params: HashMap<String, String>,
        }
        let plain = self.0.open(provider, resume).ok_or(SignInError::MalformedCallback)?;
        let sealed: Sealed = serde_json::from_slice(&plain).map_err(|_| SignInError::MalformedCallback)?;
        if now > sealed.exp {
            return Err(SignInError::Expired);
        }
        Ok(sealed.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_callback_opens_for_its_provider_while_the_sign_in_may_last() {
        let seal = CallbackSeal::new(&[3u8; 64]);
        let body = b"state=s1&code=c1&user=%7B%22name%22%3A%7B%7D%7D&id_token=dropped&extra=dropped";
        let resume = seal.seal("apple", body, 1000).unwrap();
        assert!(!resume.contains("c1"), "the code is not readable in the URL");
        let params = seal.open("apple", &resume, 1000 + RESUME_SECS).unwrap();
        let mut names: Vec<&str> = params.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["code", "state", "user"]);
        assert_eq!(params["code"], "c1");
        assert_eq!(params["user"], r#"{"name":{}}"#);

        assert!(matches!(seal.open("apple", &resume, 1001 + RESUME_SECS), Err(SignInError::Expired)));
        assert!(matches!(seal.open("other", &resume, 1000), Err(SignInError::MalformedCallback)));
        assert!(matches!(
            CallbackSeal::new(&[4u8; 64]).open("apple", &resume, 1000),
            Err(SignInError::MalformedCallback)
        ));
        assert!(matches!(seal.open("apple", "not-sealed", 1000), Err(SignInError::MalformedCallback)));
    }

    #[test]
    fn unusable_posts_are_refused_before_anything_is_sealed() {
        let seal = CallbackSeal::new(&[3u8; 64]);
        let refused = |body: &[u8]| matches!(seal.seal("apple", body, 0), Err(SignInError::MalformedCallback));
        assert!(refused(b"code=c1"), "no state");
        assert!(refused(b"state=&code=c1"), "empty state");
        assert!(refused(b"state=a&state=b&code=c1"), "repeated state");
        assert!(refused(&[b's', b't', 0xff]), "not UTF-8");
        let big = format!("state=s&code={}", "x".repeat(2049));
        assert!(refused(big.as_bytes()), "oversized code");
        let escaped = format!("state=s&code={}", "%01".repeat(1000));
        assert!(refused(escaped.as_bytes()), "a value that JSON escaping makes too long");
        let big_name = format!("state=s&code=c&user={}", "x".repeat(1025));
        let resume = seal.seal("apple", big_name.as_bytes(), 0).expect("an oversized name is dropped, not refused");
        assert_eq!(seal.open("apple", &resume, 0).unwrap().get("user"), None);
        let resume = seal
            .seal(
                "apple",
                format!("state={}&code={}&user={}&error=e&iss=i", "s".repeat(256), "c".repeat(2048), "u".repeat(1024))
                    .as_bytes(),
                0,
            )
            .unwrap();
        assert!(resume.len() < 6000, "the longest resume fits a request line: {}", resume.len());
        assert!(!refused(b"state=s&error=user_cancelled_authorize"), "a refusal is carried too");
    }
}
