//! actix-session's Redis store, plus a per-user index so a user's sessions can be listed and
//! ended (the database store gets that from its `user_id` column).
//!
//! The index is a sorted set per user, `{REDIS_KEY_PREFIX}:user-sessions:{id}`, of session keys scored by
//! expiry. actix-session keeps each session under its key, with Redis expiring it; index members
//! whose session has gone are pruned whenever the index is read. The index itself expires with
//! the longest session it lists.

use std::sync::LazyLock;

use actix_session::storage::{LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::store::{ListedSession, RecentLists, State, StoreError, public_id, user_of};

#[derive(Clone)]
pub struct RedisSessions {
    store: RedisSessionStore,
    /// A connection of our own for the index; actix-session does not lend its own.
    conn: ConnectionManager,
    prefix: String,
    pub(super) lists: RecentLists,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl RedisSessions {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let store = RedisSessionStore::new(url).await.map_err(|e| e.to_string())?;
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let conn = ConnectionManager::new(client).await.map_err(|e| e.to_string())?;
        Ok(RedisSessions { store, conn, prefix: prefix.to_string(), lists: RecentLists::default() })
    }

    fn index_key(&self, user: i64) -> String {
        format!("{}:user-sessions:{user}", self.prefix)
    }

    /// Adds `key` to its user's index, when the session belongs to a signed-in user.
    async fn index(&self, state: &State, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let Some(user) = user_of(state) else { return Ok(()) };
        self.lists.forget(Some(user));
        let expires = unix_now() + ttl.whole_seconds();
        let mut conn = self.conn.clone();
        let index = self.index_key(user);
        redis::pipe()
            .zadd(&index, key.as_ref(), expires)
            .ignore()
            // Never shorten the index below a session it lists.
            .cmd("EXPIREAT")
            .arg(&index)
            .arg(expires)
            .arg("GT")
            .ignore()
            .cmd("EXPIREAT")
            .arg(&index)
            .arg(expires)
            .arg("NX")
            .ignore()
            .exec_async(&mut conn)
            .await?;
        Ok(())
    }

    /// The user's live sessions, pruning index entries whose session expired, was deleted, or
    /// no longer belongs to them. One round trip: /profile asks on every request.
    pub async fn list(&self, user: i64) -> anyhow::Result<Vec<(String, String)>> {
        static LIST: LazyLock<redis::Script> = LazyLock::new(|| {
            redis::Script::new(
                r"local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
                  if #keys == 0 then return {} end
                  local states = redis.call('MGET', unpack(keys))
                  local out = {}
                  for i, key in ipairs(keys) do out[2 * i - 1] = key; out[2 * i] = states[i] end
                  return out",
            )
        });
        let mut conn = self.conn.clone();
        let index = self.index_key(user);
        let pairs: Vec<Option<String>> = LIST.key(&index).invoke_async(&mut conn).await?;
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for pair in pairs.chunks(2) {
            let [Some(key), state] = pair else { continue };
            // Only sessions still signed in as this user: one signed out since is not theirs.
            match state
                .as_ref()
                .filter(|s| serde_json::from_str::<State>(s).ok().and_then(|s| user_of(&s)) == Some(user))
            {
                Some(state) => live.push((key.clone(), state.clone())),
                None => gone.push(key.clone()),
            }
        }
        if !gone.is_empty() {
            let _: () = conn.zrem(&index, gone).await?;
        }
        Ok(live)
    }

    /// Ends the user's session whose public id is `id`; false when there is none.
    pub(super) async fn end(&self, user: i64, id: &str) -> Result<bool, StoreError> {
        self.lists.forget(Some(user));
        let Some((key, _)) = self.list(user).await?.into_iter().find(|(key, _)| public_id(key) == id) else {
            return Ok(false);
        };
        let mut conn = self.conn.clone();
        redis::pipe().del(&key).ignore().zrem(self.index_key(user), &key).ignore().exec_async(&mut conn).await?;
        Ok(true)
    }

    /// Ends every session of the user; returns how many there were.
    pub(super) async fn end_all(&self, user: i64) -> Result<usize, StoreError> {
        self.lists.forget(Some(user));
        let live = self.list(user).await?;
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for (key, _) in &live {
            pipe.del(key).ignore();
        }
        pipe.del(self.index_key(user)).ignore().exec_async(&mut conn).await?;
        Ok(live.len())
    }

    /// The user's sessions as /profile shows them.
    pub(super) async fn listed(&self, user: i64) -> Result<Vec<ListedSession>, StoreError> {
        Ok(self.list(user).await?.iter().map(|(key, state)| ListedSession::from_state(public_id(key), state)).collect())
    }
}

impl SessionStore for RedisSessions {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        self.store.load(key).await
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = self.store.save(state.clone(), ttl).await?;
        self.index(&state, &key, ttl).await.map_err(SaveError::Other)?;
        Ok(key)
    }

    async fn update(&self, key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let key = self.store.update(key, state.clone(), ttl).await?;
        self.index(&state, &key, ttl).await.map_err(UpdateError::Other)?;
        Ok(key)
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        self.store.update_ttl(key, ttl).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        // Signed out here: the user's other browsers list it no more. (Sign-out is rare next to
        // reads, so the extra lookup is cheap; index entries of expired sessions go when read.)
        let owner = self.store.load(key).await.ok().flatten().as_ref().and_then(user_of);
        self.store.delete(key).await?;
        if let Some(user) = owner {
            self.lists.forget(Some(user));
            let mut conn = self.conn.clone();
            let _: () = conn.zrem(self.index_key(user), key.as_ref()).await?;
        }
        Ok(())
    }
}
