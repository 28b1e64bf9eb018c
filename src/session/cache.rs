//! The database store's sessions, kept in memory so a signed-in request costs no round trip.
//!
//! Only on PostgreSQL, and correct before fast:
//! - this instance's own writes and ends drop the copy before they return
//!   ([`super::database`] calls [`SessionCache::forget`]), so they are seen here at once;
//! - everyone else's (another instance, an admin at `psql`) arrive through `NOTIFY
//!   gatehouse_sessions` (migration 000011) within the change listener's poll interval
//!   ([`crate::db::changes`]);
//! - copies are served only while that listener has heard, within [`HEARD_WITHIN`], its own
//!   probe notification come back (so `LISTEN` really delivers, which a plain round trip would
//!   not prove behind a transaction-pooling proxy): a listener that lost its connection, or whose
//!   connection died without a word, turns the cache off until it is back, and it starts empty;
//! - each copy is served for at most [`MAX_AGE`], the backstop should notifications stop while
//!   the listener still hears itself (triggers disabled by a restore, say);
//! - only signed-in sessions without a sign-in in progress are kept: pending flows change while
//!   the browser is at its provider and may come back through another instance;
//! - a load that began before a forget never lands after it: an epoch, checked and acted on
//!   under a lock that forgets take too, so no reader ever sees such a copy, even briefly;
//! - a copy is never served past the session's own expiry.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::store::State;
use crate::db::models::now;

/// How recently the change listener must have proved its connection for copies to be served.
/// It proves it every [`crate::db::changes::PROBE_EVERY`].
pub const HEARD_WITHIN: Duration = Duration::from_secs(3);

/// The longest a copy is served before the session is read again.
pub const MAX_AGE: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Entry {
    state: State,
    expires_at: NaiveDateTime,
    loaded: Instant,
}

/// A bounded, per-instance copy of stored sessions by row id (the SHA-256 of the key).
pub struct SessionCache {
    entries: quick_cache::sync::Cache<String, Entry>,
    epoch: AtomicU64,
    /// Held while remembering and forgetting (never while serving): a remember either sees a
    /// forget's epoch or happens wholly before it.
    writing: Mutex<()>,
    /// When the listener last proved its connection, in milliseconds since `started`; 0: not
    /// listening.
    heard_at: AtomicU64,
    started: Instant,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl SessionCache {
    /// A cache of at most about `capacity` sessions; `None` when `capacity` is 0.
    pub fn new(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| SessionCache {
            entries: quick_cache::sync::Cache::new(capacity),
            epoch: AtomicU64::new(0),
            writing: Mutex::new(()),
            heard_at: AtomicU64::new(0),
            started: Instant::now(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// The session's state, when a copy may be served.
    pub(super) fn get(&self, id: &str) -> Option<State> {
        let found = self
            .listening()
            .then(|| self.entries.get(id))
            .flatten()
            .filter(|e| e.expires_at > now() && e.loaded.elapsed() < MAX_AGE);
        match found {
            Some(entry) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(entry.state)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Read before a load; hand back to [`SessionCache::remember`].
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Keeps what a load read, unless a forget happened since it began.
    pub(super) fn remember(&self, id: String, epoch_at_load: u64, state: State, expires_at: NaiveDateTime) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if self.epoch() == epoch_at_load {
            self.entries.insert(id, Entry { state, expires_at, loaded: Instant::now() });
        }
    }

    /// Drops one session's copy: its row changed or is gone.
    pub fn forget(&self, id: &str) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.remove(id);
    }

    /// Drops every copy (notifications may have been missed).
    pub fn forget_all(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    /// The listener heard its own probe just now.
    pub fn heard(&self) {
        self.heard_at.store((self.started.elapsed().as_millis() as u64).max(1), Ordering::SeqCst);
    }

    /// The listener lost its connection: serve nothing from memory until it is back.
    pub fn deaf(&self) {
        self.heard_at.store(0, Ordering::SeqCst);
    }

    fn listening(&self) -> bool {
        let at = self.heard_at.load(Ordering::SeqCst);
        at != 0 && (self.started.elapsed().as_millis() as u64).saturating_sub(at) <= HEARD_WITHIN.as_millis() as u64
    }

    /// (entries, hits, misses, serving) for `/metrics`: a cache that is not serving (its
    /// listener unheard) would otherwise look merely cold.
    pub fn stats(&self) -> (usize, u64, u64, bool) {
        (self.entries.len(), self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed), self.listening())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(user: &str) -> State {
        State::from([(crate::session::keys::USER.to_string(), user.to_string())])
    }

    fn later() -> NaiveDateTime {
        now() + chrono::Duration::hours(1)
    }

    #[test]
    fn nothing_is_served_until_the_listener_is_heard_and_after_it_goes_deaf() {
        let cache = SessionCache::new(10).expect("on");
        cache.remember("a".into(), cache.epoch(), state("1"), later());
        assert!(cache.get("a").is_none(), "not listening yet");
        cache.heard();
        assert_eq!(cache.get("a"), Some(state("1")));
        cache.deaf();
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn a_listener_not_heard_from_lately_counts_as_deaf() {
        let mut cache = SessionCache::new(10).expect("on");
        cache.started = Instant::now().checked_sub(Duration::from_secs(10)).expect("uptime");
        cache.remember("a".into(), cache.epoch(), state("1"), later());
        cache.heard_at.store(1, Ordering::SeqCst); // heard 10 s ago
        assert!(cache.get("a").is_none());
        cache.heard();
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn a_load_that_began_before_a_forget_is_not_kept() {
        let cache = SessionCache::new(10).expect("on");
        cache.heard();
        let epoch = cache.epoch();
        cache.forget("a"); // the session ends while the load is in flight
        cache.remember("a".into(), epoch, state("1"), later());
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn forget_and_expiry_drop_copies() {
        let cache = SessionCache::new(10).expect("on");
        cache.heard();
        cache.remember("a".into(), cache.epoch(), state("1"), later());
        cache.remember("b".into(), cache.epoch(), state("2"), later());
        cache.remember("old".into(), cache.epoch(), state("3"), now() - chrono::Duration::seconds(1));
        cache.forget("a");
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some());
        assert!(cache.get("old").is_none(), "expired");
        cache.forget_all();
        assert!(cache.get("b").is_none());
        assert!(SessionCache::new(0).is_none(), "size 0 turns it off");
    }
}
