//! Where sessions live: the encrypted cookie itself (zero setup, cannot be revoked early), Redis
//! (actix-session's store), or this service's own database (a Diesel-backed store; nothing like
//! it ships with actix-session). With a server-side store, sign-out deletes the session, so a
//! copied cookie is refused afterwards.

use std::collections::HashMap;

use actix_session::storage::{
    CookieSessionStore, LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore, UpdateError,
};
use actix_web::cookie::time::Duration;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use crate::db::models::{SessionRow, now};
use crate::db::{Db, DbError};

type State = HashMap<String, String>;

/// The store picked by `SESSION_STORE`.
#[derive(Clone)]
pub enum AnyStore {
    Cookie(std::sync::Arc<CookieSessionStore>),
    Redis(RedisSessionStore),
    Database(DbSessionStore),
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
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db }
    }
}

fn row_id(key: &SessionKey) -> String {
    Sha256::digest(key.as_ref().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn expiry(ttl: &Duration) -> NaiveDateTime {
    now() + chrono::Duration::seconds(ttl.whole_seconds())
}

/// The signed-in user, so a user's sessions can be listed and ended together.
fn user_of(state: &State) -> Option<i64> {
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
        self.db.run(move |c| SessionRow::delete(c, &id).map_err(DbError::from)).await?;
        Ok(())
    }
}
