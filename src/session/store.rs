//! Where sessions live: the encrypted cookie itself (zero setup, cannot be revoked early), Redis
//! (actix-session's store), or this service's own database (a Diesel-backed store; nothing like
//! it ships with actix-session). With a server-side store, sign-out deletes the session, so a
//! copied cookie is refused afterwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix_session::storage::{CookieSessionStore, LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use super::redis::RedisSessions;
use crate::db::models::{SessionRow, now};
use crate::db::{Db, DbError};

pub(super) type State = HashMap<String, String>;

/// The store picked by `SESSION_STORE`.
#[derive(Clone)]
pub enum AnyStore {
    Cookie(std::sync::Arc<CookieSessionStore>),
    Redis(RedisSessions),
    Database(DbSessionStore),
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
        match self {
            AnyStore::Cookie(s) => s.load(key).await,
            AnyStore::Redis(s) => s.load(key).await,
            AnyStore::Database(s) => s.load(key).await,
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        match self {
            AnyStore::Cookie(s) => s.save(state, ttl).await,
            AnyStore::Redis(s) => s.save(state, ttl).await,
            AnyStore::Database(s) => s.save(state, ttl).await,
        }
    }

    async fn update(&self, key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        match self {
            AnyStore::Cookie(s) => s.update(key, state, ttl).await,
            AnyStore::Redis(s) => s.update(key, state, ttl).await,
            AnyStore::Database(s) => s.update(key, state, ttl).await,
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        match self {
            AnyStore::Cookie(s) => s.update_ttl(key, ttl).await,
            AnyStore::Redis(s) => s.update_ttl(key, ttl).await,
            AnyStore::Database(s) => s.update_ttl(key, ttl).await,
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        match self {
            AnyStore::Cookie(s) => s.delete(key).await,
            AnyStore::Redis(s) => s.delete(key).await,
            AnyStore::Database(s) => s.delete(key).await,
        }
    }
}

impl AnyStore {
    /// Can the store be reached? (A lookup of a key that does not exist.)
    pub async fn ping(&self) -> bool {
        let probe = SessionKey::try_from("readiness-probe-0000000000000000000000000000000000".to_string())
            .expect("a valid key");
        match self {
            AnyStore::Cookie(_) => true,
            _ => self.load(&probe).await.is_ok(),
        }
    }

    /// The user's live sessions, where the store can find them (database, Redis); `None` for
    /// the cookie store, whose sessions live only in browsers.
    pub async fn sessions_of(&self, user: i64) -> Result<Option<SessionList>, StoreError> {
        match self {
            AnyStore::Cookie(_) => Ok(None),
            AnyStore::Redis(s) => s.lists.get_or_read(user, s.listed(user)).await.map(Some),
            AnyStore::Database(s) => s.lists.get_or_read(user, s.listed(user)).await.map(Some),
        }
    }

    /// Ends the user's session named `id` (see [`ListedSession::id`]); false when no such
    /// session of theirs is live.
    pub async fn end_for_user(&self, user: i64, id: String) -> Result<bool, StoreError> {
        match self {
            AnyStore::Cookie(_) => Ok(false),
            AnyStore::Redis(s) => s.end(user, &id).await,
            AnyStore::Database(s) => s.end(user, id).await,
        }
    }

    /// Ends every session of the user; returns how many there were.
    pub async fn end_all_for_user(&self, user: i64) -> Result<usize, StoreError> {
        match self {
            AnyStore::Cookie(_) => Ok(0),
            AnyStore::Redis(s) => s.end_all(user).await,
            AnyStore::Database(s) => s.end_all(user).await,
        }
    }

    /// Active signed-in sessions, where the store can count them (the database store).
    pub async fn count_active(&self) -> Option<i64> {
        match self {
            AnyStore::Database(s) => s.db.run(|c| SessionRow::count_active(c, now()).map_err(DbError::from)).await.ok(),
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

/// The signed-in user, so a user's sessions can be listed and ended together.
pub(super) fn user_of(state: &State) -> Option<i64> {
    let raw = state.get("actix_identity.user_id")?;
    serde_json::from_str::<String>(raw).ok()?.parse().ok()
}

fn new_key() -> SessionKey {
    let raw = oauth2::CsrfToken::new_random_len(32).secret().clone();
    SessionKey::try_from(raw).expect("43 characters is a valid session key")
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let id = row_id(key);
        let row = self
            .db
            .run(move |c| SessionRow::find_live(c, &id, now()).map_err(DbError::from))
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        row.map(|r| serde_json::from_str(&r.state).map_err(|e| LoadError::Deserialization(e.into()))).transpose()
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = new_key();
        let body = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let at = now();
        self.lists.forget(user_of(&state));
        let row = SessionRow {
            id: row_id(&key),
            user_id: user_of(&state),
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
            .await
            .map_err(|e: DbError| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(&self, key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let id = row_id(&key);
        let body = serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let (user, expires) = (user_of(&state), expiry(ttl));
        self.lists.forget(user);
        let updated = self
            .db
            .run(move |c| SessionRow::update(c, &id, &body, user, now(), expires).map_err(DbError::from))
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        if updated {
            Ok(key)
        } else {
            // Deleted meanwhile (signed out elsewhere): start afresh rather than resurrect it.
            self.save(state, ttl).await.map_err(|e| UpdateError::Other(e.into()))
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        let (id, expires) = (row_id(key), expiry(ttl));
        self.db.run(move |c| SessionRow::touch(c, &id, now(), expires).map_err(DbError::from)).await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
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
