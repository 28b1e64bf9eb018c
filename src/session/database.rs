//! Sessions in this service's own database (the `sessions` table): a Diesel-backed store,
//! which nothing like ships with actix-session. Each row is keyed by the SHA-256 of a 256-bit
//! random session key, carries the signed-in user (so a user's sessions can be listed and ended)
//! and its own expiry; expired rows go when new ones come. On PostgreSQL, sessions read are kept
//! in a [`SessionCache`] (see there for why that stays correct).

use std::sync::Arc;

use actix_session::storage::SessionKey;
use actix_web::cookie::time::Duration;
use chrono::NaiveDateTime;

use super::SessionCache;
use super::store::{ListedSession, State, StoreError, new_key, public_id, user_of};
use crate::db::models::{SessionRow, now};
use crate::db::{Db, DbError};

/// Sessions in the `sessions` table, keyed by the SHA-256 of a 256-bit random session key.
#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    cache: Option<Arc<SessionCache>>,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db, cache: None }
    }

    /// Serves sessions from `cache` while it may (PostgreSQL only: the cache needs the
    /// database's change notifications).
    pub fn with_cache(self, cache: Arc<SessionCache>) -> Self {
        DbSessionStore { cache: Some(cache), ..self }
    }

    /// The session cache's (entries, hits, misses), when there is one.
    pub(super) fn cache_stats(&self) -> Option<(usize, u64, u64, bool)> {
        self.cache.as_ref().map(|c| c.stats())
    }

    /// Drops `id`'s copy. Called inside the database closure, right after the write: that
    /// closure runs to the end even when the request gave up waiting on it (a store timeout).
    fn forgetter(&self) -> impl Fn(&str) + Send + 'static {
        let cache = self.cache.clone();
        move |id| {
            if let Some(cache) = &cache {
                cache.forget(id);
            }
        }
    }

    pub(super) async fn listed(&self, user: i64) -> Result<Vec<ListedSession>, StoreError> {
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

    pub(super) async fn end(&self, user: i64, id: String) -> Result<bool, StoreError> {
        let forget = self.forgetter();
        Ok(self
            .db
            .run(move |c| {
                let ended = SessionRow::delete_for_user(c, &id, user);
                forget(&id);
                ended.map_err(DbError::from)
            })
            .await?)
    }

    pub(super) async fn end_all(&self, user: i64) -> Result<usize, StoreError> {
        let cache = self.cache.clone();
        Ok(self
            .db
            .run(move |c| {
                let ended = SessionRow::delete_all_for_user(c, user);
                // The rows' ids are not at hand; ending every session of a user is rare.
                if let Some(cache) = &cache {
                    cache.forget_all();
                }
                ended.map_err(DbError::from)
            })
            .await?)
    }
}

fn row_id(key: &SessionKey) -> String {
    public_id(key.as_ref())
}

fn expiry(ttl: &Duration) -> NaiveDateTime {
    now() + chrono::Duration::seconds(ttl.whole_seconds())
}

impl DbSessionStore {
    pub(super) async fn ping(&self) -> bool {
        self.db.ping().await
    }

    /// Signed-in sessions that have not expired.
    pub(super) async fn count_active(&self) -> Option<i64> {
        self.db.run(|c| SessionRow::count_active(c, now()).map_err(DbError::from)).await.ok()
    }

    pub(super) async fn load(&self, key: &SessionKey) -> anyhow::Result<Option<State>> {
        let id = row_id(key);
        if let Some(state) = self.cache.as_ref().and_then(|c| c.get(&id)) {
            return Ok(Some(state));
        }
        let epoch = self.cache.as_ref().map(|c| c.epoch());
        let find = id.clone();
        let Some(row) = self.db.run(move |c| SessionRow::find_live(c, &find, now()).map_err(DbError::from)).await?
        else {
            return Ok(None);
        };
        let state: State = serde_json::from_str(&row.state)?;
        // Signed-in sessions without a sign-in in progress only (see the cache's docs).
        let settled = user_of(&state).is_some() && !state.contains_key(crate::signin::pending::FLOWS_KEY);
        if let (Some(cache), Some(epoch), true) = (&self.cache, epoch, settled) {
            cache.remember(id, epoch, state.clone(), row.expires_at);
        }
        Ok(Some(state))
    }

    pub(super) async fn save(&self, state: &State, ttl: &Duration) -> anyhow::Result<SessionKey> {
        let key = new_key();
        let body = serde_json::to_string(state)?;
        let at = now();
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
    pub(super) async fn replace(&self, key: &SessionKey, state: &State, ttl: &Duration) -> anyhow::Result<bool> {
        let id = row_id(key);
        let body = serde_json::to_string(state)?;
        let (user, expires) = (user_of(state), expiry(ttl));
        let (at, forget) = (now(), self.forgetter());
        Ok(self
            .db
            .run(move |c| {
                let replaced = SessionRow::update(c, &id, &body, user, at, expires);
                forget(&id);
                replaced.map_err(DbError::from)
            })
            .await?)
    }

    pub(super) async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let (id, expires, forget) = (row_id(key), expiry(ttl), self.forgetter());
        self.db
            .run(move |c| {
                let touched = SessionRow::touch(c, &id, now(), expires);
                forget(&id);
                touched.map_err(DbError::from)
            })
            .await?;
        Ok(())
    }

    /// Deletes the session; returns whose it was.
    pub(super) async fn delete(&self, key: &SessionKey) -> anyhow::Result<Option<i64>> {
        let (id, forget) = (row_id(key), self.forgetter());
        let owner = self
            .db
            .run(move |c| {
                let owner = SessionRow::find_live(c, &id, now())?.and_then(|r| r.user_id);
                let deleted = SessionRow::delete(c, &id);
                forget(&id);
                deleted?;
                Ok::<_, DbError>(owner)
            })
            .await?;
        Ok(owner)
    }
}
