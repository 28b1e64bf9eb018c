//! Sessions: where they are stored (`store`), and what they hold besides the identity (the
//! pending sign-ins are [`crate::signin`]'s: `signin::pending`).
//!
//! The session cookie is encrypted and signed (actix-session, `Private`), so flows kept in it
//! are bound to this browser and cannot be read or forged by it; with a server-side store the
//! cookie holds only a random key.

pub(crate) mod at_provider;
pub(crate) mod cache;
mod database;
pub(crate) mod keys;
mod lifetime;
mod outage;
mod redis;
mod store;

use actix_session::Session;
use chrono::NaiveDateTime;

pub use cache::SessionCache;
pub use database::DbSessionStore;
pub(crate) use lifetime::{Stamps, check_visit};
pub use lifetime::{mark_anonymous, shorten_anonymous_cookie};
pub use outage::answer_store_outage;
pub use redis::RedisSessions;
pub use store::{ANONYMOUS_TTL, AnyStore, ListedSession, StoreError};

/// Compares secrets without revealing, by timing, how much of them matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) const FLASH_KEY: &str = "gatehouse.flash";

/// A one-time notice for the next page (signed out, account deleted, …).
pub fn set_flash(session: &Session, message: &str) {
    let _ = session.insert(FLASH_KEY, message);
}

/// Takes the pending notice, if any. Without one the session is left untouched: removing an
/// absent key would still mark it changed and cost a store write on every page view.
pub fn take_flash(session: &Session) -> Option<String> {
    if !session.contains_key(FLASH_KEY) {
        return None;
    }
    session.remove_as::<String>(FLASH_KEY).and_then(Result::ok)
}

/// Signs out: forgets everything in the session and gives the browser a new session key, so
/// a server-side store deletes the old one (a copied cookie is refused from then on). Unlike
/// a purge, the new session can still carry a flash message.
pub fn end_session(session: &Session) {
    session.clear();
    session.renew();
}

/// Notes, at sign-in, when this session was signed in.
pub(crate) fn stamp_sign_in(session: &Session) {
    let _ = session.insert(keys::ISSUED_MS, crate::db::models::now().and_utc().timestamp_millis());
    // A sign-in over an earlier one keeps the session (renewed, not emptied): idle time counts
    // from this sign-in, not from the earlier session's last visit.
    session.remove(keys::LAST_SEEN);
}

/// Was this session signed in before `moment` (or at an unknown time)? Such a session was
/// ended by "sign out everywhere" or a back-channel logout, whatever store holds it.
pub(crate) fn signed_in_before(session: &Session, moment: NaiveDateTime) -> bool {
    issued_before(session.get::<i64>(keys::ISSUED_MS).ok().flatten(), moment)
}

/// [`signed_in_before`], given the session's sign-in time ([`keys::ISSUED_MS`]).
pub(crate) fn issued_before(issued_ms: Option<i64>, moment: NaiveDateTime) -> bool {
    issued_ms.is_none_or(|issued| issued <= moment.and_utc().timestamp_millis())
}

/// Notes, at sign-in, what the session list shows: the browser, when, and a random id that
/// tells the current session from the others.
pub fn describe(session: &Session, user_agent: Option<&str>) {
    let device: String =
        user_agent.unwrap_or("Unknown browser").chars().filter(|c| !c.is_control()).take(120).collect();
    let _ = session.insert(keys::DEVICE, device);
    let _ = session.insert(keys::SID, oauth2::CsrfToken::new_random_len(16).secret());
    let _ = session.insert(keys::SIGNED_IN_AT, crate::db::models::now().and_utc().timestamp());
}

/// This session's id from [`describe`].
pub fn current_sid(session: &Session) -> Option<String> {
    session.get::<String>(keys::SID).ok().flatten()
}

/// (device, sid, signed in at) as stored in a server-side session's state.
pub fn read_description(state_json: &str) -> (String, Option<String>, Option<NaiveDateTime>) {
    let state: std::collections::HashMap<String, String> = serde_json::from_str(state_json).unwrap_or_default();
    let get = |k: &str| keys::value(&state, k).and_then(|v| serde_json::from_str::<String>(v).ok());
    let signed_in = keys::value(&state, keys::SIGNED_IN_AT)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.naive_utc());
    (get(keys::DEVICE).unwrap_or_else(|| "Unknown browser".into()), get(keys::SID), signed_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_states_from_before_the_short_names_are_still_described() {
        let old = r#"{"actix_identity.user_id":"\"7\"","gatehouse.device":"\"Firefox\"","gatehouse.sid":"\"s1\"","gatehouse.signed_in_at":"1700000000","gatehouse.provider":"\"corp\"","gatehouse.provider_sid":"\"op-sid\""}"#;
        let new = r#"{"_gh.uid":"\"7\"","_gh.device":"\"Firefox\"","_gh.sid":"\"s1\"","_gh.signed_in_at":"1700000000","_gh.provider":"\"corp\"","_gh.provider_sid":"\"op-sid\""}"#;
        for state_json in [old, new] {
            let (device, sid, signed_in) = read_description(state_json);
            assert_eq!((device.as_str(), sid.as_deref()), ("Firefox", Some("s1")), "{state_json}");
            assert_eq!(signed_in.map(|t| t.and_utc().timestamp()), Some(1_700_000_000));
            let state: std::collections::HashMap<String, String> = serde_json::from_str(state_json).unwrap();
            let at_provider = at_provider::provider_sid_in(&state);
            assert_eq!(at_provider, Some(("corp".to_string(), Some("op-sid".to_string()))), "{state_json}");
        }
    }
}
