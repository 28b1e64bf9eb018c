//! Sessions in Redis, with a per-user index so a user's sessions can be listed and ended (the
//! database store gets that from its `user_id` column).
//!
//! Each session is one string key — the session key itself, as actix-session's own Redis store
//! names it, so sessions survive the switch — expiring with the session. Written here rather
//! than through actix-session's store for two reasons: an update must never recreate a session
//! that sign-out deleted (actix-session's falls back to saving it anew), and every command must
//! give up quickly when Redis is away (one connection, with connect and response timeouts).
//!
//! The index is a sorted set per user, `{REDIS_KEY_PREFIX}:user-sessions:{id}`, of session keys
//! scored by expiry; members whose session has gone are pruned whenever it is read. The index
//! itself expires with the longest session it lists.

use std::sync::LazyLock;
use std::time::Duration as StdDuration;

use actix_session::storage::SessionKey;
use actix_web::cookie::time::Duration;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::store::{ListedSession, State, StoreError, new_key, public_id, user_of};

/// How long one connection attempt or one command may take before it counts as "Redis is down".
const REDIS_TIMEOUT: StdDuration = StdDuration::from_millis(800);

#[derive(Clone)]
pub struct RedisSessions {
    conn: ConnectionManager,
    prefix: String,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl RedisSessions {
    /// Connects (and so checks) Redis at `url`. Later outages are survived: each command fails
    /// within `REDIS_TIMEOUT` (800 ms) while Redis is away and the connection is re-made when it returns.
    pub async fn connect(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT)
            // Reconnect at once, then with short pauses: a request waits for at most one try.
            .set_number_of_retries(1)
            .set_factor(50)
            .set_max_delay(500);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(RedisSessions { conn, prefix: prefix.to_string() })
    }

    fn index_key(&self, user: i64) -> String {
        format!("{}:user-sessions:{user}", self.prefix)
    }

    /// Writes a session (`SET NX` for a new key, `SET XX` for an existing one) and, when it
    /// belongs to a signed-in user, adds it to their index — in one script, so "sign out
    /// everywhere" can never fall between the two and miss it. False when the condition failed
    /// (`XX`: the session was ended meanwhile), in which case nothing was written.
    async fn write(&self, key: &SessionKey, state: &State, ttl: &Duration, only_if: &str) -> anyhow::Result<bool> {
        static WRITE: LazyLock<redis::Script> = LazyLock::new(|| {
            redis::Script::new(
                r"if not redis.call('SET', KEYS[1], ARGV[1], ARGV[3], 'EX', ARGV[2]) then return 0 end
                  if KEYS[2] then
                    redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
                    -- Never shorten the index below a session it lists.
                    redis.call('EXPIREAT', KEYS[2], ARGV[4], 'GT')
                    redis.call('EXPIREAT', KEYS[2], ARGV[4], 'NX')
                  end
                  return 1",
            )
        });
        let body = serde_json::to_string(state)?;
        let ttl = ttl.whole_seconds().max(1);
        let user = user_of(state);
        let mut call = WRITE.key(key.as_ref());
        if let Some(user) = user {
            call.key(self.index_key(user));
        }
        call.arg(body).arg(ttl).arg(only_if).arg(unix_now() + ttl);
        let mut conn = self.conn.clone();
        let written: i64 = call.invoke_async(&mut conn).await?;
        Ok(written == 1)
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
        let Some((key, _)) = self.list(user).await?.into_iter().find(|(key, _)| public_id(key) == id) else {
            return Ok(false);
        };
        let mut conn = self.conn.clone();
        redis::pipe().del(&key).ignore().zrem(self.index_key(user), &key).ignore().exec_async(&mut conn).await?;
        Ok(true)
    }

    /// Ends every session of the user; returns how many there were.
    pub(super) async fn end_all(&self, user: i64) -> Result<usize, StoreError> {
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

impl RedisSessions {
    pub(super) async fn load(&self, key: &SessionKey) -> anyhow::Result<Option<State>> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = conn.get(key.as_ref()).await?;
        Ok(raw.map(|s| serde_json::from_str(&s)).transpose()?)
    }

    /// Stores `state` under a new key.
    pub(super) async fn save(&self, state: &State, ttl: &Duration) -> anyhow::Result<SessionKey> {
        let key = new_key();
        anyhow::ensure!(self.write(&key, state, ttl, "NX").await?, "a fresh session key was already taken");
        Ok(key)
    }

    /// Replaces the state of a session that still exists; false when it is gone (ended or
    /// expired), in which case nothing is written.
    pub(super) async fn replace(&self, key: &SessionKey, state: &State, ttl: &Duration) -> anyhow::Result<bool> {
        self.write(key, state, ttl, "XX").await
    }

    pub(super) async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.expire(key.as_ref(), ttl.whole_seconds().max(1)).await?;
        Ok(())
    }

    /// Deletes the session and its index entry; returns whose it was. (Sign-out is rare next to
    /// reads, so the extra lookup is cheap; index entries of expired sessions go when read.)
    pub(super) async fn delete(&self, key: &SessionKey) -> anyhow::Result<Option<i64>> {
        let owner = self.load(key).await.ok().flatten().as_ref().and_then(user_of);
        let mut conn = self.conn.clone();
        let _: () = conn.del(key.as_ref()).await?;
        if let Some(user) = owner {
            // The session is gone either way; a stale index entry is pruned when next read.
            if let Err(e) = conn.zrem::<_, _, ()>(self.index_key(user), key.as_ref()).await {
                log::warn!("signed out, but the user's session index kept the entry: {e}");
            }
        }
        Ok(owner)
    }

    /// Can Redis be reached?
    pub(super) async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
    }
}
