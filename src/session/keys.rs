//! The names a signed-in session's state is kept under. The state travels with every request
//! (inside the encrypted cookie, or read from the store) and is parsed on every request, so the
//! names are short; `_gh.` keeps them apart from the host application's own session keys.
//!
//! Sessions signed in before the names were shortened (actix-identity's default names and
//! `gatehouse.*`) are renamed on their first request ([`upgrade`]), so an upgrade signs nobody
//! out; stored states that have not been used since are read through [`value`]. Either layout
//! is taken whole: a state that still has the old user key is read by its old names only.

use std::collections::HashMap;

use actix_session::Session;

/// The signed-in user's id (actix-identity's id key).
pub(crate) const USER: &str = "_gh.uid";
/// When the session was signed in, Unix milliseconds: the absolute lifetime and "sign out
/// everywhere" are measured from it.
pub(crate) const ISSUED_MS: &str = "_gh.issued_ms";
/// When the session was last seen, Unix seconds; kept only with `SESSION_IDLE_MINUTES`.
pub(crate) const LAST_SEEN: &str = "_gh.seen";
/// The provider signed in with, its `sid`, and the sealed ID token (`session::at_provider`).
pub(crate) const PROVIDER: &str = "_gh.provider";
pub(crate) const PROVIDER_SID: &str = "_gh.provider_sid";
pub(crate) const ID_TOKEN: &str = "_gh.id_token";
/// What the session list shows (server-side stores only): the browser, the session's own id,
/// and when it was signed in (Unix seconds).
pub(crate) const DEVICE: &str = "_gh.device";
pub(crate) const SID: &str = "_gh.sid";
pub(crate) const SIGNED_IN_AT: &str = "_gh.signed_in_at";

/// actix-identity's default id key: a session that has it was signed in before the rename.
pub(crate) const LEGACY_USER: &str = "actix_identity.user_id";
/// actix-identity's login time (Unix seconds), which [`ISSUED_MS`] now does the work of.
const LEGACY_LOGGED_IN_AT: &str = "actix_identity.logged_in_at";

/// Each current name with the name it had before.
const RENAMED: [(&str, &str); 9] = [
    (USER, LEGACY_USER),
    (ISSUED_MS, "gatehouse.issued_ms"),
    (LAST_SEEN, "actix_identity.last_visited_at"),
    (PROVIDER, "gatehouse.provider"),
    (PROVIDER_SID, "gatehouse.provider_sid"),
    (ID_TOKEN, "gatehouse.id_token"),
    (DEVICE, "gatehouse.device"),
    (SID, "gatehouse.sid"),
    (SIGNED_IN_AT, "gatehouse.signed_in_at"),
];

/// Renames the keys of a session signed in before the rename; one lookup when there are none.
/// The old layout replaces whatever it finds under the new names, so a state is never read half
/// in each. A session that never had [`ISSUED_MS`] takes it from actix-identity's login time.
pub(crate) fn upgrade(session: &Session) {
    if !session.contains_key(LEGACY_USER) {
        return;
    }
    for (name, _) in RENAMED {
        session.remove(name);
    }
    for (name, legacy) in RENAMED {
        if let Ok(Some(value)) = session.get::<serde_json::Value>(legacy) {
            let _ = session.insert(name, value);
        }
        session.remove(legacy);
    }
    if let Ok(Some(seconds)) = session.get::<i64>(LEGACY_LOGGED_IN_AT)
        && !session.contains_key(ISSUED_MS)
    {
        let _ = session.insert(ISSUED_MS, seconds.saturating_mul(1000));
    }
    session.remove(LEGACY_LOGGED_IN_AT);
}

/// A value of a stored state (JSON of JSON values, as actix-session keeps it) under `name`, or
/// under the name it had before when the state was written before the rename.
pub(crate) fn value<'a>(state: &'a HashMap<String, String>, name: &str) -> Option<&'a String> {
    if !state.contains_key(LEGACY_USER) {
        return state.get(name);
    }
    let (_, legacy) = RENAMED.iter().find(|(current, _)| *current == name)?;
    state.get(*legacy)
}

#[cfg(test)]
mod tests {
    use actix_session::SessionExt;
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_session_from_before_the_rename_keeps_everything_under_the_new_names() {
        let session = TestRequest::default().to_srv_request().get_session();
        let _ = session.insert(LEGACY_USER, "7");
        let _ = session.insert(LEGACY_LOGGED_IN_AT, 1_700_000_000i64);
        let _ = session.insert("actix_identity.last_visited_at", 1_700_000_100i64);
        let _ = session.insert("gatehouse.provider", "corp");
        let _ = session.insert("gatehouse.flows", "untouched");
        upgrade(&session);
        assert_eq!(session.get::<String>(USER).unwrap().as_deref(), Some("7"));
        assert_eq!(session.get::<String>(PROVIDER).unwrap().as_deref(), Some("corp"));
        assert_eq!(session.get::<i64>(ISSUED_MS).unwrap(), Some(1_700_000_000_000), "from the login time");
        assert_eq!(session.get::<i64>(LAST_SEEN).unwrap(), Some(1_700_000_100));
        let mut left: Vec<String> = session.entries().keys().cloned().collect();
        left.sort();
        assert_eq!(left, ["_gh.issued_ms", "_gh.provider", "_gh.seen", "_gh.uid", "gatehouse.flows"]);
    }

    #[test]
    fn an_issued_stamp_is_kept_over_the_login_time() {
        let session = TestRequest::default().to_srv_request().get_session();
        let _ = session.insert(LEGACY_USER, "7");
        let _ = session.insert(LEGACY_LOGGED_IN_AT, 1_700_000_000i64);
        let _ = session.insert("gatehouse.issued_ms", 1_700_000_000_123i64);
        upgrade(&session);
        assert_eq!(session.get::<i64>(ISSUED_MS).unwrap(), Some(1_700_000_000_123));
    }

    #[test]
    fn a_state_with_both_layouts_is_taken_whole_from_the_old_one() {
        // An instance from before the upgrade signed user 8 in over a renamed session of user 7.
        let session = TestRequest::default().to_srv_request().get_session();
        for (name, value) in
            [(USER, "7"), (PROVIDER_SID, "sid-of-7"), (LEGACY_USER, "8"), ("gatehouse.provider", "corp")]
        {
            let _ = session.insert(name, value);
        }
        let stored: HashMap<String, String> = session.entries().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(value(&stored, USER).map(String::as_str), Some("\"8\""));
        assert_eq!(value(&stored, PROVIDER_SID), None, "nothing of user 7's session");
        upgrade(&session);
        assert_eq!(session.get::<String>(USER).unwrap().as_deref(), Some("8"));
        assert_eq!(session.get::<String>(PROVIDER).unwrap().as_deref(), Some("corp"));
        assert_eq!(session.get::<String>(PROVIDER_SID).unwrap(), None, "nothing of user 7's session");
    }

    #[test]
    fn only_a_session_with_the_old_user_key_is_renamed() {
        let session = TestRequest::default().to_srv_request().get_session();
        let _ = session.insert(USER, "7");
        let _ = session.insert("gatehouse.provider", "an old name without the old user key");
        upgrade(&session);
        assert_eq!(session.entries().len(), 2);
    }

    #[test]
    fn stored_states_are_read_under_either_name() {
        let old = HashMap::from([(LEGACY_USER.to_string(), "\"7\"".to_string())]);
        let new = HashMap::from([(USER.to_string(), "\"8\"".to_string())]);
        assert_eq!(value(&old, USER).map(String::as_str), Some("\"7\""));
        assert_eq!(value(&new, USER).map(String::as_str), Some("\"8\""));
        assert_eq!(value(&old, PROVIDER), None);
    }
}
