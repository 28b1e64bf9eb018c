//! Where sessions live: the encrypted cookie itself (zero setup, cannot be revoked early), Redis
//! ([`super::redis`]), or this service's own database (a Diesel-backed store; nothing like it
//! ships with actix-session). With a server-side store, sign-out deletes the session, so a
//! copied cookie is refused afterwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_session::storage::{CookieSessionStore, LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use super::redis::RedisSessions;
use crate::db::models::{SessionRow, now};
use crate::db::{Db, DbError};

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
}

#[derive(Clone)]
enum Backend {
    Cookie(Arc<CookieSessionStore>),
    Redis(RedisSessions),
    Database(DbSessionStore),
}

/// The longest a session without a signed-in user lives in any store. A pending sign-in dies
/// after [`crate::providers::flow::FLOW_TTL_SECS`] anyway; without this, every cookie-less
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
            super::FLOWS_KEY => super::without_link_flows(&v).map(|v| (k, v)),
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
        AnyStore { backend, writes: Arc::default() }
    }

    /// Session states written to a server-side store since start (saves and updates), for
    /// `/metrics`: a page view that changes nothing must not add to it.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Counts the write when it happened.
    fn wrote<T>(&self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if result.is_ok() {
            self.count_write();
        }
        result
    }

    fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
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
}

impl ListedSession {
    pub(super) fn from_state(id: String, state_json: &str) -> Self {
        let (device, sid, signed_in) = super::read_description(state_json);
        ListedSession { id, device, sid, signed_in, last_seen: None }
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

/// Why a user's sessions could not be listed or ended.
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// The store did not answer in time.
    pub(crate) fn unavailable() -> Self {
        StoreError("the session store did not answer".into())
    }
}

impl From<anyhow::Error> for StoreError {
    fn from(e: anyhow::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError(e.to_string())
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        StoreError(e.to_string())
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
        match &self.backend {
            Backend::Cookie(s) => s.save(state, &ttl).await,
            Backend::Redis(s) => self.wrote(bounded(s.save(&state, &ttl)).await).map_err(SaveError::Other),
            Backend::Database(s) => self.wrote(bounded(s.save(&state, &ttl)).await).map_err(SaveError::Other),
        }
    }

    async fn update(&self, key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let ttl = lifetime(&state, ttl);
        let replaced = match &self.backend {
            Backend::Cookie(s) => return s.update(key, state, &ttl).await,
            Backend::Redis(s) => bounded(s.replace(&key, &state, &ttl)).await,
            Backend::Database(s) => bounded(s.replace(&key, &state, &ttl)).await,
        };
        if replaced.map_err(UpdateError::Other)? {
            self.count_write();
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
        match &self.backend {
            Backend::Cookie(s) => s.delete(key).await,
            Backend::Redis(s) => bounded(s.delete(key)).await,
            Backend::Database(s) => bounded(s.delete(key)).await,
        }
    }
}

impl AnyStore {
    /// Can the store be reached? (A lookup of a key that does not exist.)
    pub async fn ping(&self) -> bool {
        let answered = match &self.backend {
            Backend::Cookie(_) => return true,
            Backend::Redis(s) => bounded(async { Ok(s.ping().await) }).await,
            Backend::Database(s) => bounded(async { Ok(s.db.ping().await) }).await,
        };
        answered.unwrap_or(false)
    }

    /// The user's live sessions, where the store can find them (database, Redis); `None` for
    /// the cookie store, whose sessions live only in browsers.
    pub async fn sessions_of(&self, user: i64) -> Result<Option<SessionList>, StoreError> {
        within(async {
            match &self.backend {
                Backend::Cookie(_) => Ok(None),
                Backend::Redis(s) => s.lists.get_or_read(user, s.listed(user)).await.map(Some),
                Backend::Database(s) => s.lists.get_or_read(user, s.listed(user)).await.map(Some),
            }
        })
        .await
    }

    /// Ends the user's session named `id` (see [`ListedSession::id`]); false when no such
    /// session of theirs is live.
    pub async fn end_for_user(&self, user: i64, id: String) -> Result<bool, StoreError> {
        within(async {
            match &self.backend {
                Backend::Cookie(_) => Ok(false),
                Backend::Redis(s) => s.end(user, &id).await,
                Backend::Database(s) => s.end(user, id).await,
            }
        })
        .await
    }

    /// Ends every session of the user; returns how many there were.
    pub async fn end_all_for_user(&self, user: i64) -> Result<usize, StoreError> {
        within(async {
            match &self.backend {
                Backend::Cookie(_) => Ok(0),
                Backend::Redis(s) => s.end_all(user).await,
                Backend::Database(s) => s.end_all(user).await,
            }
        })
        .await
    }

    /// Active signed-in sessions, where the store can count them (the database store).
    pub async fn count_active(&self) -> Option<i64> {
        match &self.backend {
            Backend::Database(s) => s.db.run(|c| SessionRow::count_active(c, now()).map_err(DbError::from)).await.ok(),
            _ => None,
        }
    }
}

/// Sessions in the `sessions` table, keyed by the SHA-256 of a 256-bit random session key.
#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    lists: RecentLists,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db, lists: RecentLists::default() }
    }

    async fn listed(&self, user: i64) -> Result<Vec<ListedSession>, StoreError> {
        let rows = self.db.run(move |c| SessionRow::for_user(c, user, now()).map_err(DbError::from)).await?;
        Ok(rows
            .into_iter()
            .map(|r| ListedSession {
                last_seen: Some(r.last_seen_at),
                signed_in: Some(r.created_at),
                ..ListedSession::from_state(r.id, &r.state)
            })
            .collect())
    }

    async fn end(&self, user: i64, id: String) -> Result<bool, StoreError> {
        self.lists.forget(Some(user));
        Ok(self.db.run(move |c| SessionRow::delete_for_user(c, &id, user).map_err(DbError::from)).await?)
    }

    async fn end_all(&self, user: i64) -> Result<usize, StoreError> {
        self.lists.forget(Some(user));
        Ok(self.db.run(move |c| SessionRow::delete_all_for_user(c, user).map_err(DbError::from)).await?)
    }
}

fn row_id(key: &SessionKey) -> String {
    public_id(key.as_ref())
}

/// A session key's SHA-256 in hex: how a session is named outside the cookie.
pub(super) fn public_id(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn expiry(ttl: &Duration) -> NaiveDateTime {
    now() + chrono::Duration::seconds(ttl.whole_seconds())
}

/// actix-identity's key: present exactly when somebody is signed in.
pub(super) const IDENTITY_KEY: &str = "actix_identity.user_id";

/// The signed-in user, so a user's sessions can be listed and ended together.
pub(super) fn user_of(state: &State) -> Option<i64> {
    let raw = state.get(IDENTITY_KEY)?;
    serde_json::from_str::<String>(raw).ok()?.parse().ok()
}

pub(super) fn new_key() -> SessionKey {
    let raw = oauth2::CsrfToken::new_random_len(32).secret().clone();
    SessionKey::try_from(raw).expect("43 characters is a valid session key")
}

impl DbSessionStore {
    async fn load(&self, key: &SessionKey) -> anyhow::Result<Option<State>> {
        let id = row_id(key);
        let row = self.db.run(move |c| SessionRow::find_live(c, &id, now()).map_err(DbError::from)).await?;
        Ok(row.map(|r| serde_json::from_str(&r.state)).transpose()?)
    }

    async fn save(&self, state: &State, ttl: &Duration) -> anyhow::Result<SessionKey> {
        let key = new_key();
        let body = serde_json::to_string(state)?;
        let at = now();
        self.lists.forget(user_of(state));
        let row = SessionRow {
            id: row_id(&key),
            user_id: user_of(state),
            state: body,
            created_at: at,
            last_seen_at: at,
            expires_at: expiry(ttl),
        };
        self.db
            .run(move |c| {
                // Expired rows go when new ones come; no background job needed.
                SessionRow::delete_expired(c, at)?;
                SessionRow::insert(c, &row).map_err(DbError::from)
            })
            .await?;
        Ok(key)
    }

    /// Replaces the state of a session that still exists; false when it is gone (ended or
    /// expired), in which case nothing is written.
    async fn replace(&self, key: &SessionKey, state: &State, ttl: &Duration) -> anyhow::Result<bool> {
        let id = row_id(key);
        let body = serde_json::to_string(state)?;
        let (user, expires) = (user_of(state), expiry(ttl));
        self.lists.forget(user);
        let at = now();
        Ok(self.db.run(move |c| SessionRow::update(c, &id, &body, user, at, expires).map_err(DbError::from)).await?)
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let (id, expires) = (row_id(key), expiry(ttl));
        self.db.run(move |c| SessionRow::touch(c, &id, now(), expires).map_err(DbError::from)).await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        let id = row_id(key);
        let owner = self
            .db
            .run(move |c| {
                let owner = SessionRow::find_live(c, &id, now())?.and_then(|r| r.user_id);
                SessionRow::delete(c, &id)?;
                Ok::<_, DbError>(owner)
            })
            .await?;
        // Signed out here: the user's other browsers list it no more.
        self.lists.forget(owner);
        Ok(())
    }
}
