//! The pending sign-ins of a browser, kept in its session: several tabs may sign in at once,
//! each flow is taken out once, and the whole session stays small enough for a cookie.

use actix_session::Session;

use super::AuthFlow;

/// Where the pending flows live in the session.
pub(crate) const FLOWS_KEY: &str = "gatehouse.flows";

/// Pending sign-ins kept per browser (several tabs may sign in at once); the oldest goes first.
pub const MAX_PENDING_FLOWS: usize = 5;

/// The most the session's state may take, serialised. With the cookie store the cookie carries
/// it encrypted and base64-encoded (about 4/3 of this plus 40 bytes), and browsers silently drop
/// a cookie over 4,096 bytes; actix-session refuses one over 4,064. Flows shrink to fit.
pub const STATE_BUDGET: usize = 2_800;

/// Why the pending flows could not be kept in the session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session: cannot store the pending sign-ins")]
    Insert(#[from] actix_session::SessionInsertError),
    #[error("session: it holds more than {STATE_BUDGET} bytes besides its pending sign-ins")]
    TooLarge,
}

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
        session.insert(FLOWS_KEY, &flows)?;
        if state_size(session) <= STATE_BUDGET {
            return Ok(());
        }
        if flows.len() > 1 {
            flows.remove(0);
        } else if flows[0].next != "/" {
            flows[0].next = "/".into();
        } else {
            return Err(SessionError::TooLarge);
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
    let position = flows.iter().position(|f| crate::session::constant_time_eq(f.state.as_bytes(), state.as_bytes()));
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
        session.insert(FLOWS_KEY, flows)?;
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
pub(crate) fn without_link_flows(raw: &str) -> Option<String> {
    let flows: Vec<AuthFlow> = serde_json::from_str(raw).ok()?;
    let kept: Vec<AuthFlow> = flows.into_iter().filter(|f| f.link_to.is_none()).collect();
    if kept.is_empty() { None } else { serde_json::to_string(&kept).ok() }
}

fn flows(session: &Session) -> Vec<AuthFlow> {
    // An unreadable value (older format, tampering already ruled out by the cookie MAC) is
    // treated as no pending flows.
    session.get::<Vec<AuthFlow>>(FLOWS_KEY).ok().flatten().unwrap_or_default()
}
