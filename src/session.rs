//! Sessions: where they are stored (`store`), and what they hold besides the identity — the
//! pending sign-ins of this browser.
//!
//! The session cookie is encrypted and signed (actix-session, `Private`), so flows kept in it
//! are bound to this browser and cannot be read or forged by it; with a server-side store the
//! cookie holds only a random key.

mod database;
mod lifetime;
mod outage;
mod redis;
mod store;

use actix_session::Session;
use chrono::NaiveDateTime;

pub use database::DbSessionStore;
pub use lifetime::{mark_anonymous, shorten_anonymous_cookie};
pub use outage::answer_store_outage;
pub use redis::RedisSessions;
pub use store::{ANONYMOUS_TTL, AnyStore, ListedSession, STORE_TIMEOUT, StoreError};

use crate::providers::AuthFlow;

const FLOWS_KEY: &str = "gatehouse.flows";

/// Pending sign-ins kept per browser (several tabs may sign in at once); the oldest goes first.
pub const MAX_PENDING_FLOWS: usize = 5;

/// The most the session's state may take, serialised. With the cookie store the cookie carries
/// it encrypted and base64-encoded (about 4/3 of this plus 40 bytes), and browsers silently drop
/// a cookie over 4,096 bytes; actix-session refuses one over 4,064. Flows shrink to fit.
pub const STATE_BUDGET: usize = 2_800;

#[derive(Debug, thiserror::Error)]
#[error("session: {0}")]
pub struct SessionError(String);

/// The outcome of looking a callback's `state` up.
#[derive(Debug)]
pub enum Taken {
    Found(AuthFlow),
    Missing,
}

/// Remembers a new flow, dropping expired ones and the oldest beyond the cap. The session
/// stays within [`STATE_BUDGET`] whatever the visitor sends: older flows go first, then the new
/// flow's `next` falls back to `/`.
pub fn push_flow(session: &Session, flow: AuthFlow, now: i64) -> Result<(), SessionError> {
    let mut flows = flows(session);
    flows.retain(|f| !f.is_expired(now));
    flows.push(flow);
    let excess = flows.len().saturating_sub(MAX_PENDING_FLOWS);
    flows.drain(..excess);
    loop {
        session.insert(FLOWS_KEY, &flows).map_err(|e| SessionError(e.to_string()))?;
        if state_size(session) <= STATE_BUDGET {
            return Ok(());
        }
        if flows.len() > 1 {
            flows.remove(0);
        } else if flows[0].next != "/" {
            flows[0].next = "/".into();
        } else {
            return Err(SessionError(format!("the session holds more than {STATE_BUDGET} bytes besides its flows")));
        }
    }
}

/// The session's state as the store would serialise it, in bytes.
fn state_size(session: &Session) -> usize {
    serde_json::to_string(&*session.entries()).map_or(usize::MAX, |s| s.len())
}

/// Takes the flow whose state matches, removing it before anything else is checked: each
/// state gets one attempt. A state that matches nothing clears every pending flow.
pub fn take_flow(session: &Session, state: &str) -> Result<Taken, SessionError> {
    let mut flows = flows(session);
    let position = flows.iter().position(|f| constant_time_eq(f.state.as_bytes(), state.as_bytes()));
    let taken = match position {
        Some(i) => Taken::Found(flows.remove(i)),
        None => {
            flows.clear();
            Taken::Missing
        }
    };
    if flows.is_empty() {
        session.remove(FLOWS_KEY);
    } else {
        session.insert(FLOWS_KEY, flows).map_err(|e| SessionError(e.to_string()))?;
    }
    Ok(taken)
}

/// Forgets every pending flow (at sign-in, so none survives into the signed-in session).
pub fn clear_flows(session: &Session) {
    session.remove(FLOWS_KEY);
}

/// The stored flows (JSON) without those that would link an account; `None` when none is left.
/// For a session that was ended while a request ran: it may keep pending sign-ins, never a
/// link to the user it no longer names.
fn without_link_flows(raw: &str) -> Option<String> {
    let flows: Vec<AuthFlow> = serde_json::from_str(raw).ok()?;
    let kept: Vec<AuthFlow> = flows.into_iter().filter(|f| f.link_to.is_none()).collect();
    if kept.is_empty() { None } else { serde_json::to_string(&kept).ok() }
}

fn flows(session: &Session) -> Vec<AuthFlow> {
    // An unreadable value (older format, tampering already ruled out by the cookie MAC) is
    // treated as no pending flows.
    session.get::<Vec<AuthFlow>>(FLOWS_KEY).ok().flatten().unwrap_or_default()
}

/// Compares secrets without revealing, by timing, how much of them matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const FLASH_KEY: &str = "gatehouse.flash";

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

const DEVICE_KEY: &str = "gatehouse.device";
const SID_KEY: &str = "gatehouse.sid";
const SIGNED_IN_KEY: &str = "gatehouse.signed_in_at";

/// Notes, at sign-in, what the session list shows: the browser, when, and a random id that
/// tells the current session from the others.
pub fn describe(session: &Session, user_agent: Option<&str>) {
    let device: String =
        user_agent.unwrap_or("Unknown browser").chars().filter(|c| !c.is_control()).take(120).collect();
    let _ = session.insert(DEVICE_KEY, device);
    let _ = session.insert(SID_KEY, oauth2::CsrfToken::new_random_len(16).secret());
    let _ = session.insert(SIGNED_IN_KEY, crate::db::models::now().and_utc().timestamp());
}

/// This session's id from [`describe`].
pub fn current_sid(session: &Session) -> Option<String> {
    session.get::<String>(SID_KEY).ok().flatten()
}

/// (device, sid, signed in at) as stored in a server-side session's state.
pub fn read_description(state_json: &str) -> (String, Option<String>, Option<NaiveDateTime>) {
    let state: std::collections::HashMap<String, String> = serde_json::from_str(state_json).unwrap_or_default();
    let get = |k: &str| state.get(k).and_then(|v| serde_json::from_str::<String>(v).ok());
    let signed_in = state
        .get(SIGNED_IN_KEY)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.naive_utc());
    (get(DEVICE_KEY).unwrap_or_else(|| "Unknown browser".into()), get(SID_KEY), signed_in)
}
