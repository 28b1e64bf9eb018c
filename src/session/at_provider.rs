//! What a session remembers of the provider it was signed in with: the provider's name, its
//! `sid` (which a back-channel logout names) and, for providers with `LOGOUT=provider`, the ID
//! token to send back as `id_token_hint`, sealed (AES-256-GCM, bound to the user) so neither a
//! server-side store nor anyone reading it can use it.

use actix_session::Session;

use crate::accounts::ProviderSession;
use crate::db::models::UserId;
use crate::seal::Sealer;

use super::keys::{ID_TOKEN as ID_TOKEN_KEY, PROVIDER as PROVIDER_KEY, PROVIDER_SID as SID_KEY};

/// The longest sealed ID token kept (tokens up to about 1,100 bytes). The whole session state
/// must stay within [`crate::signin::pending::STATE_BUDGET`] with room for pending sign-ins
/// (linking, signing in again); beyond it (an Entra token with many groups), the provider is
/// asked to sign out without the hint, by `client_id` alone.
const MAX_SEALED_LEN: usize = 1_500;

/// Seals the ID tokens sessions keep; derived from `SESSION_KEY`.
pub(crate) struct IdTokenSeal(Sealer);

impl IdTokenSeal {
    pub(crate) fn new(master: &[u8]) -> Self {
        IdTokenSeal(Sealer::derive(master, b"gatehouse session id_token v1"))
    }
}

/// The provider side of a signed-in session, as [`remember`] kept it.
pub(crate) struct SignedInWith {
    pub provider: String,
    pub id_token: Option<String>,
}

/// Notes, at sign-in, the provider and what signing out there needs. The ID token is kept
/// only when `keep_id_token` (the provider's `LOGOUT=provider`).
pub(crate) fn remember(
    session: &Session,
    seal: &IdTokenSeal,
    provider: &str,
    user: UserId,
    at: Option<&ProviderSession>,
    keep_id_token: bool,
) {
    // A sign-in over an earlier one (the session is renewed, not emptied) must not keep the
    // earlier provider's sid or token.
    session.remove(SID_KEY);
    session.remove(ID_TOKEN_KEY);
    let _ = session.insert(PROVIDER_KEY, provider);
    let Some(at) = at else { return };
    if let Some(sid) = &at.sid {
        let _ = session.insert(SID_KEY, sid);
    }
    if keep_id_token {
        match seal.0.seal(&bound_to(user, provider), at.id_token.as_bytes()) {
            Some(sealed) if sealed.len() <= MAX_SEALED_LEN => {
                let _ = session.insert(ID_TOKEN_KEY, sealed);
            }
            _ => log::info!("provider={provider}: the ID token is too large to keep; sign-out there will ask"),
        }
    }
}

/// What a sealed ID token is bound to: it opens only in a session of that user signed in
/// through that provider, so it can be neither moved nor sent to another provider.
fn bound_to(user: UserId, provider: &str) -> String {
    format!("{user}|{provider}")
}

/// What [`remember`] kept for this session of `user`.
pub(crate) fn signed_in_with(session: &Session, seal: &IdTokenSeal, user: UserId) -> Option<SignedInWith> {
    let provider = session.get::<String>(PROVIDER_KEY).ok().flatten()?;
    let id_token = session
        .get::<String>(ID_TOKEN_KEY)
        .ok()
        .flatten()
        .and_then(|sealed| seal.0.open(&bound_to(user, &provider), &sealed))
        .and_then(|token| String::from_utf8(token).ok());
    Some(SignedInWith { provider, id_token })
}

/// The provider a server-side session was signed in through and its `sid` when it gave one,
/// as [`remember`] kept them in the state (JSON of JSON values); `None` for a session signed
/// in before sessions noted their provider.
pub(crate) fn provider_sid_in(state: &std::collections::HashMap<String, String>) -> Option<(String, Option<String>)> {
    let get = |k: &str| super::keys::value(state, k).and_then(|v| serde_json::from_str::<String>(v).ok());
    Some((get(PROVIDER_KEY)?, get(SID_KEY)))
}

#[cfg(test)]
mod tests {
    use actix_session::SessionExt;
    use actix_web::test::TestRequest;

    use super::*;

    fn signed_in(sid: Option<&str>, id_token: &str) -> ProviderSession {
        ProviderSession { id_token: id_token.into(), sid: sid.map(str::to_string) }
    }

    #[test]
    fn a_kept_token_opens_only_for_its_user_and_provider() {
        let seal = IdTokenSeal::new(&[3u8; 64]);
        let session = TestRequest::default().to_srv_request().get_session();
        remember(&session, &seal, "corp", UserId(7), Some(&signed_in(Some("s-1"), "a.b.c")), true);
        let with = signed_in_with(&session, &seal, UserId(7)).unwrap();
        assert_eq!((with.provider.as_str(), with.id_token.as_deref()), ("corp", Some("a.b.c")));
        assert_eq!(signed_in_with(&session, &seal, UserId(8)).unwrap().id_token, None, "another user");
        let sealed: String = session.get(ID_TOKEN_KEY).unwrap().unwrap();
        let _ = session.insert(PROVIDER_KEY, "other");
        assert_eq!(session.get::<String>(ID_TOKEN_KEY).unwrap().as_deref(), Some(sealed.as_str()));
        assert_eq!(signed_in_with(&session, &seal, UserId(7)).unwrap().id_token, None, "another provider");
        assert_eq!(signed_in_with(&session, &IdTokenSeal::new(&[4u8; 64]), UserId(7)).unwrap().id_token, None);
    }

    #[test]
    fn a_new_sign_in_leaves_nothing_of_the_previous_provider() {
        let seal = IdTokenSeal::new(&[3u8; 64]);
        let session = TestRequest::default().to_srv_request().get_session();
        remember(&session, &seal, "corp", UserId(7), Some(&signed_in(Some("s-1"), "a.b.c")), true);
        remember(&session, &seal, "github", UserId(7), None, false);
        assert_eq!(session.get::<String>(SID_KEY).unwrap(), None);
        assert_eq!(session.get::<String>(ID_TOKEN_KEY).unwrap(), None);
        assert_eq!(signed_in_with(&session, &seal, UserId(7)).unwrap().provider, "github");
    }

    #[test]
    fn only_tokens_that_leave_room_for_pending_sign_ins_are_kept() {
        let seal = IdTokenSeal::new(&[3u8; 64]);
        let session = TestRequest::default().to_srv_request().get_session();
        let huge = "x".repeat(4000);
        remember(&session, &seal, "entra", UserId(7), Some(&signed_in(Some("s-1"), &huge)), true);
        assert_eq!(session.get::<String>(ID_TOKEN_KEY).unwrap(), None);
        assert_eq!(session.get::<String>(SID_KEY).unwrap().as_deref(), Some("s-1"));
    }
}
