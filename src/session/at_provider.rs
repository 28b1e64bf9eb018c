//! What a session remembers of the provider it was signed in with: the provider's name, its
//! `sid` (which a back-channel logout names) and, for providers with `LOGOUT=provider`, the ID
//! token to send back as `id_token_hint`, sealed (AES-256-GCM, bound to the user) so neither a
//! server-side store nor anyone reading it can use it.

use actix_session::Session;

use crate::accounts::ProviderSession;
use crate::db::models::UserId;
use crate::seal::Sealer;

const PROVIDER_KEY: &str = "gatehouse.provider";
const SID_KEY: &str = "gatehouse.provider_sid";
const ID_TOKEN_KEY: &str = "gatehouse.id_token";

/// The longest sealed ID token kept: beyond it (an Entra token with many groups), the cookie
/// store would outgrow what browsers keep, so the provider is asked without the hint.
const MAX_SEALED_LEN: usize = 2048;

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
    let _ = session.insert(PROVIDER_KEY, provider);
    let Some(at) = at else { return };
    if let Some(sid) = &at.sid {
        let _ = session.insert(SID_KEY, sid);
    }
    if keep_id_token {
        match seal.0.seal(&user.to_string(), at.id_token.as_bytes()) {
            Some(sealed) if sealed.len() <= MAX_SEALED_LEN => {
                let _ = session.insert(ID_TOKEN_KEY, sealed);
            }
            _ => log::info!("provider={provider}: the ID token is too large to keep; sign-out there will ask"),
        }
    }
}

/// What [`remember`] kept for this session of `user`.
pub(crate) fn signed_in_with(session: &Session, seal: &IdTokenSeal, user: UserId) -> Option<SignedInWith> {
    let provider = session.get::<String>(PROVIDER_KEY).ok().flatten()?;
    let id_token = session
        .get::<String>(ID_TOKEN_KEY)
        .ok()
        .flatten()
        .and_then(|sealed| seal.0.open(&user.to_string(), &sealed))
        .and_then(|token| String::from_utf8(token).ok());
    Some(SignedInWith { provider, id_token })
}
