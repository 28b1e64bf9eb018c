//! Where sessions live, and the rules every store follows: the encrypted cookie itself (zero
//! setup, cannot be revoked early), Redis ([`super::redis`]), or this service's own database
//! ([`super::database`]). With a server-side store, sign-out deletes the session, so a copied
//! cookie is refused afterwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_session::storage::{CookieSessionStore, LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use super::database::DbSessionStore;
use super::redis::RedisSessions;
use crate::db::DbError;

pub(super) type State = HashMap<String, String>;

/// The store picked by `SESSION_STORE`, with the rules every store follows:
///
/// - a session nobody is signed in to (pending sign-ins, a flash notice) is kept at most
///   [`ANONYMOUS_TTL`]; signing in gives it the full `SESSION_TTL_DAYS`;
/// - an update never brings back a session that was ended meanwhile (sign-out, "sign out
///   everywhere", account deletion): a request that raced the end finishes signed out;
/// - every call gives up after [`STORE_TIMEOUT`], so an outage answers 503 instead of hanging.
#[derive(Clone)]
pub struct AnyStore {
    backend: Backend,
    writes: Arc<AtomicU64>,
    /// Each user's session list as last read; dropped here, and only here, whenever this
    /// instance writes or ends one of that user's sessions.
    lists: RecentLists,
}

#[derive(Clone)]
enum Backend {
    Cookie(Arc<CookieSessionStore>),
    Redis(RedisSessions),
    Database(DbSessionStore),
}

/// The longest a session without a signed-in user lives in any store. A pending sign-in dies
/// after [`crate::signin::flow::FLOW_TTL_SECS`] anyway; without this, every cookie-less
/// `/authorize` would keep a row or key for the whole `SESSION_TTL_DAYS`.
pub const ANONYMOUS_TTL: Duration = Duration::minutes(15);

/// How long one session-store call may take before the request is answered with a 503.
pub const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// What of a session that was ended meanwhile may still be written: what an anonymous visitor
/// may hold (pending sign-ins that link nothing, a notice). The identity and everything else go.
fn anonymous_part(state: State) -> State {
    state
        .into_iter()
        .filter_map(|(k, v)| match k.as_str() {
            super::FLASH_KEY => Some((k, v)),
            crate::signin::pending::FLOWS_KEY => crate::signin::pending::without_link_flows(&v).map(|v| (k, v)),
            _ => None,
        })
        .collect()
}

/// The lifetime `state` gets: the configured one once somebody is signed in, else at most
/// [`ANONYMOUS_TTL`].
pub fn lifetime(state: &State, configured: &Duration) -> Duration {
    if user_of(state).is_some() { *configured } else { (*configured).min(ANONYMOUS_TTL) }
}

/// Runs a listing or ending call within [`STORE_TIMEOUT`].
async fn within<T>(call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    bounded(async { call.await.map_err(anyhow::Error::from) }).await.map_err(StoreError::from)
}

/// Runs a store call within [`STORE_TIMEOUT`].
async fn bounded<T>(call: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    actix_web::rt::time::timeout(STORE_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the session store did not answer within {STORE_TIMEOUT:?}")))
}

impl AnyStore {
    /// Sessions in the encrypted cookie itself.
    pub fn cookie() -> Self {
        Self::with(Backend::Cookie(Arc::new(CookieSessionStore::default())))
    }

    /// Sessions in Redis.
    pub fn redis(store: RedisSessions) -> Self {
        Self::with(Backend::Redis(store))
    }

    /// Sessions in the database's `sessions` table.
    pub fn database(store: DbSessionStore) -> Self {
        Self::with(Backend::Database(store))
    }

    fn with(backend: Backend) -> Self {
        AnyStore { backend, writes: Arc::default(), lists: RecentLists::default() }
    }

    /// The database store's session cache: (entries, hits, misses, serving), for `/metrics`.
    pub fn cache_stats(&self) -> Option<(usize, u64, u64, bool)> {
        match &self.backend {
            Backend::Database(s) => s.cache_stats(),
            _ => None,
        }
    }

    /// Session states written to a server-side store since start (saves and updates), for
    /// `/metrics`: a page view that changes nothing must not add to it.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// After a write of `user`'s session: counts it and drops their cached session list.
    fn wrote<T>(&self, user: Option<i64>, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if result.is_ok() {
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.lists.forget(user);
        }
        result
    }
}

/// One of a user's sessions, as /profile lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListedSession {
    /// The SHA-256 of the session key: names the session in URLs without revealing the key.
    pub id: String,
    pub device: String,
    /// The random id [`super::describe`] gave it, to tell the current session from the others.
    pub sid: Option<String>,
    pub signed_in: Option<NaiveDateTime>,
    /// Known to the database store, which writes on every extension; Redis does not say.
    pub last_seen: Option<NaiveDateTime>,
    /// The provider it was signed in through, with that provider's session (`sid`) when it
    /// gave one: what a back-channel logout names.
    pub(crate) at_provider: Option<(String, Option<String>)>,
}

impl ListedSession {
    pub(super) fn from_state(id: String, state_json: &str) -> Self {
        let (device, sid, signed_in) = super::read_description(state_json);
        let state: State = serde_json::from_str(state_json).unwrap_or_default();
        let at_provider = super::at_provider::provider_sid_in(&state);
        ListedSession { id, device, sid, signed_in, last_seen: None, at_provider }
    }
}

/// Each user's session list as last read, for [`RECENT`]: /profile shows it on every request,
/// and reading it costs a store round trip and a parse of every session. Changes this instance
/// makes (sign-in, sign-out of a listed session) drop the user's entry at once; changes made by
/// another instance show within [`RECENT`]. Only the display is cached: ending a session reads
/// the live list.
#[derive(Clone)]
pub(super) struct RecentLists(Arc<quick_cache::sync::Cache<i64, (Instant, SessionList)>>);

/// A user's sessions, shared between requests.
pub type SessionList = Arc<Vec<ListedSession>>;

/// How long a user's session list may be shown as last read.
pub const RECENT: std::time::Duration = std::time::Duration::from_secs(2);

impl Default for RecentLists {
    fn default() -> Self {
        RecentLists(Arc::new(quick_cache::sync::Cache::new(10_000)))
    }
}

impl RecentLists {
    async fn get_or_read<F>(&self, user: i64, read: F) -> Result<SessionList, StoreError>
    where
        F: Future<Output = Result<Vec<ListedSession>, StoreError>>,
    {
        if let Some((_, list)) = self.0.get(&user).filter(|(at, _)| at.elapsed() < RECENT) {
            return Ok(list);
        }
        let list = Arc::new(read.await?);
        self.0.insert(user, (Instant::now(), list.clone()));
        Ok(list)
    }

    pub(super) fn forget(&self, user: Option<i64>) {
        if let Some(user) = user {
            self.0.remove(&user);
        }
    }
}

/// Why a user's sessions could not be listed or ended; keeps its cause.
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// The store did not answer in time.
    pub(crate) fn unavailable() -> Self {
        StoreError("the session store did not answer".into())
    }
}

impl From<anyhow::Error> for StoreError {
    fn from(e: anyhow::Error) -> Self {
        StoreError(e.into())
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError(Box::new(e))
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        StoreError(Box::new(e))
    }
}

impl SessionStore for AnyStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let loaded = match &self.backend {
            Backend::Cookie(s) => return s.load(key).await,
            Backend::Redis(s) => bounded(s.load(key)).await,
            Backend::Database(s) => bounded(s.load(key)).await,
        };
        // A state that does not parse is a fresh session (as actix-session treats it), not an
        // outage: answering 503 would lock the browser out until the session expired.
        loaded.map_err(|e| match e.downcast_ref::<serde_json::Error>() {
            Some(_) => LoadError::Deserialization(e),
            None => LoadError::Other(e),
        })
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let ttl = lifetime(&state, ttl);
        let saved = match &self.backend {
            Backend::Cookie(s) => return s.save(state, &ttl).await,
            Backend::Redis(s) => bounded(s.save(&state, &ttl)).await,
            Backend::Database(s) => bounded(s.save(&state, &ttl)).await,
        };
        self.wrote(user_of(&state), saved).map_err(SaveError::Other)
    }

    async fn update(&self, key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let ttl = lifetime(&state, ttl);
        let replaced = match &self.backend {
            Backend::Cookie(s) => return s.update(key, state, &ttl).await,
            Backend::Redis(s) => bounded(s.replace(&key, &state, &ttl)).await,
            Backend::Database(s) => bounded(s.replace(&key, &state, &ttl)).await,
        };
        if replaced.map_err(UpdateError::Other)? {
            self.wrote(user_of(&state), Ok(())).map_err(UpdateError::Other)?;
            return Ok(key);
        }
        // Ended while this request ran: keep only what an anonymous visitor may have, so the
        // request finishes signed out. Nothing left, nothing stored: the new key names no session.
        let state = anonymous_part(state);
        if state.is_empty() {
            return Ok(new_key());
        }
        self.save(state, &ttl).await.map_err(|e| match e {
            SaveError::Serialization(e) => UpdateError::Serialization(e),
            SaveError::Other(e) => UpdateError::Other(e),
        })
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        match &self.backend {
            Backend::Cookie(s) => s.update_ttl(key, ttl).await,
            Backend::Redis(s) => bounded(s.update_ttl(key, ttl)).await,
            Backend::Database(s) => bounded(s.update_ttl(key, ttl)).await,
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let owner = match &self.backend {
            Backend::Cookie(s) => return s.delete(key).await,
            Backend::Redis(s) => bounded(s.delete(key)).await?,
            Backend::Database(s) => bounded(s.delete(key)).await?,
        };
        // Signed out here: the user's other browsers list it no more.
        self.lists.forget(owner);
        Ok(())
    }
}

impl AnyStore {
    /// Can the store be reached? (A lookup of a key that does not exist.)
    pub async fn ping(&self) -> bool {
        let answered = match &self.backend {
            Backend::Cookie(_) => return true,
            Backend::Redis(s) => bounded(async { Ok(s.ping().await) }).await,
            Backend::Database(s) => bounded(async { Ok(s.ping().await) }).await,
        };
        answered.unwrap_or(false)
    }

    /// The user's live sessions, where the store can find them (database, Redis); `None` for
    /// the cookie store, whose sessions live only in browsers.
    pub async fn sessions_of(&self, user: i64) -> Result<Option<SessionList>, StoreError> {
        within(async {
            match &self.backend {
                Backend::Cookie(_) => Ok(None),
                Backend::Redis(s) => self.lists.get_or_read(user, s.listed(user)).await.map(Some),
                Backend::Database(s) => self.lists.get_or_read(user, s.listed(user)).await.map(Some),
            }
        })
        .await
    }

    /// Ends the user's session named `id` (see [`ListedSession::id`]); false when no such
    /// session of theirs is live.
    pub async fn end_for_user(&self, user: i64, id: String) -> Result<bool, StoreError> {
        let ended = within(async {
            match &self.backend {
                Backend::Cookie(_) => Ok(false),
                Backend::Redis(s) => s.end(user, &id).await,
                Backend::Database(s) => s.end(user, id).await,
            }
        })
        .await;
        self.lists.forget(Some(user));
        ended
    }

    /// Ends the user's sessions that `ends` picks (back-channel logout), reading the live
    /// list; returns how many. The cookie store cannot pick: 0.
    pub async fn end_where(&self, user: i64, ends: impl Fn(&ListedSession) -> bool) -> Result<usize, StoreError> {
        let ended = within(async {
            let listed = match &self.backend {
                Backend::Cookie(_) => return Ok(0),
                Backend::Redis(s) => s.listed(user).await?,
                Backend::Database(s) => s.listed(user).await?,
            };
            let mut n = 0;
            for session in listed.into_iter().filter(|l| ends(l)) {
                let ended = match &self.backend {
                    Backend::Cookie(_) => false,
                    Backend::Redis(s) => s.end(user, &session.id).await?,
                    Backend::Database(s) => s.end(user, session.id).await?,
                };
                n += usize::from(ended);
            }
            Ok(n)
        })
        .await;
        self.lists.forget(Some(user));
        ended
    }

    /// Whether ending one session is possible (a server-side store) or only ending them all.
    pub fn can_end_one(&self) -> bool {
        !matches!(self.backend, Backend::Cookie(_))
    }

    /// Ends every session of the user; returns how many there were.
    pub async fn end_all_for_user(&self, user: i64) -> Result<usize, StoreError> {
        let ended = within(async {
            match &self.backend {
                Backend::Cookie(_) => Ok(0),
                Backend::Redis(s) => s.end_all(user).await,
                Backend::Database(s) => s.end_all(user).await,
            }
        })
        .await;
        self.lists.forget(Some(user));
        ended
    }

    /// Active signed-in sessions, where the store can count them (the database store).
    pub async fn count_active(&self) -> Option<i64> {
        match &self.backend {
            Backend::Database(s) => s.count_active().await,
            _ => None,
        }
    }
}

/// A session key's SHA-256 in hex: how a session is named outside the cookie.
pub(super) fn public_id(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The signed-in user, so a user's sessions can be listed and ended together.
pub(super) fn user_of(state: &State) -> Option<i64> {
    let raw = super::keys::value(state, super::keys::USER)?;
    serde_json::from_str::<String>(raw).ok()?.parse().ok()
}

pub(super) fn new_key() -> SessionKey {
    let raw = oauth2::CsrfToken::new_random_len(32).secret().clone();
    SessionKey::try_from(raw).expect("43 characters is a valid session key")
}
