//! What signed-in pages show about their user, kept in memory so the hot path (`/profile`,
//! `/api/me`, `/`) does not query the database on every request.
//!
//! Correctness before speed:
//! - Every write to a user or their identities goes through [`crate::accounts`], whose callers
//!   [`AccountCache::forget`] that user once the transaction has committed.
//! - Changes made anywhere else (another instance, an admin with SQL) reach the cache through the
//!   database within one poll interval ([`super::changes`]). A lost listener connection empties
//!   the cache.
//! - Each entry also expires after `ACCOUNT_CACHE_SECONDS`, the backstop should the listener
//!   be unable to reconnect.
//! - A load that started before a `forget` never lands in the cache after it: every forget
//!   bumps an epoch, and a loader that sees the epoch move drops what it loaded; both happen
//!   under one lock (never taken to read), so nobody sees such a copy, even for an instant.
//!
//! Sessions are not cached here: whether a session still exists is the session store's
//! question, asked on every request. What the snapshot does carry is the user's
//! `sessions_valid_after`, which ends sessions on every store ("sign out everywhere").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

use crate::db::models::{Identity, User, UserId};
use crate::db::{AnyConnection, Db, DbError};
use crate::metrics::StripedCounter;

/// A snapshot of a user with their linked identities: everything a signed-in page needs.
#[derive(Debug)]
pub struct Account {
    /// The user.
    pub user: User,
    /// Their linked provider accounts, oldest first.
    pub identities: Vec<Identity>,
    /// Every identity's groups as `provider:group`, read once per snapshot (the gate asks on
    /// every request).
    groups: Vec<String>,
    /// Responses rendered from this snapshot, by page and variant. They live and die with the
    /// snapshot, so a change to the account (a new snapshot) can never serve an old rendering.
    rendered: Mutex<Vec<(&'static str, u64, Bytes)>>,
}

impl Account {
    pub(crate) fn new(user: User, identities: Vec<Identity>) -> Self {
        let mut groups: Vec<String> =
            identities.iter().flat_map(|i| i.groups().into_iter().map(|g| format!("{}:{g}", i.provider))).collect();
        groups.sort();
        groups.dedup();
        Account { user, identities, groups, rendered: Mutex::new(Vec::new()) }
    }

    pub(crate) fn load(conn: &mut AnyConnection, id: UserId) -> diesel::QueryResult<Option<Account>> {
        let Some(user) = User::find(conn, id)? else { return Ok(None) };
        let identities = Identity::for_user(conn, id)?;
        Ok(Some(Account::new(user, identities)))
    }

    /// Every group of every linked identity as `provider:group` (`corp:ops`, `github:acme/web`),
    /// sorted, without repeats: a group is only as good as the provider that says so, and a
    /// name at one provider (a GitLab group anyone can create) is not the same name at another.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The user's id, as in `/api/me` and the session.
    pub fn id(&self) -> UserId {
        UserId(self.user.id)
    }

    /// `page` (in `variant`, e.g. which providers are up) as rendered from this snapshot:
    /// rendered once, then reused. `render` returning `None` (a template failure) is not kept.
    pub(crate) fn rendered(
        &self,
        page: &'static str,
        variant: u64,
        render: impl FnOnce() -> Option<Bytes>,
    ) -> Option<Bytes> {
        let found =
            |memo: &[(&str, u64, Bytes)]| memo.iter().find(|m| m.0 == page && m.1 == variant).map(|m| m.2.clone());
        if let Some(body) = found(&self.rendered.lock().unwrap_or_else(|e| e.into_inner())) {
            return Some(body);
        }
        let body = render()?;
        let mut memo = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        // Provider availability flips rarely; a handful of variants is plenty.
        if memo.len() >= 4 {
            memo.clear();
        }
        memo.push((page, variant, body.clone()));
        Some(body)
    }
}

#[derive(Clone)]
struct Entry {
    loaded: Instant,
    account: Arc<Account>,
}

/// A bounded, per-instance cache of [`Account`]s by user id.
pub(crate) struct AccountCache {
    /// `None` when `ACCOUNT_CACHE_SIZE` or `ACCOUNT_CACHE_SECONDS` is 0: every lookup loads.
    entries: Option<quick_cache::sync::Cache<i64, Entry>>,
    ttl: Duration,
    epoch: AtomicU64,
    /// Held while remembering and forgetting: a remember sees a forget's epoch or happens
    /// wholly before it.
    writing: Mutex<()>,
    hits: StripedCounter,
    misses: AtomicU64,
}

impl AccountCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let entries = (capacity > 0 && !ttl.is_zero()).then(|| quick_cache::sync::Cache::new(capacity));
        AccountCache {
            entries,
            ttl,
            epoch: AtomicU64::new(0),
            writing: Mutex::new(()),
            hits: StripedCounter::default(),
            misses: AtomicU64::new(0),
        }
    }

    /// False when configured off: nothing is kept, so there is nothing to invalidate.
    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The account, from memory when fresh, else from the database. `None`: no such user.
    pub async fn account(&self, db: &Db, id: UserId) -> Result<Option<Arc<Account>>, DbError> {
        if let Some(hit) = self.fresh(id) {
            self.hits.add_one();
            return Ok(Some(hit));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::SeqCst);
        let loaded = db.run(move |c| Account::load(c, id).map_err(DbError::from)).await?.map(Arc::new);
        if let Some(account) = &loaded {
            self.remember(id, epoch, account.clone());
        }
        Ok(loaded)
    }

    /// The account when memory holds it fresh, counting nothing: a caller that uses it counts
    /// the hit ([`AccountCache::count_hit`]); one that goes on to [`AccountCache::account`]
    /// leaves the counting to it.
    pub(crate) fn fresh(&self, id: UserId) -> Option<Arc<Account>> {
        let entry = self.entries.as_ref()?.get(&id.0)?;
        (entry.loaded.elapsed() < self.ttl).then_some(entry.account)
    }

    /// Stores what a load read, unless a forget happened since the load began.
    fn remember(&self, id: UserId, epoch_at_load: u64, account: Arc<Account>) {
        let Some(entries) = &self.entries else { return };
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::SeqCst) == epoch_at_load {
            entries.insert(id.0, Entry { loaded: Instant::now(), account });
        }
    }

    /// Counts a hit of [`AccountCache::fresh`].
    pub(crate) fn count_hit(&self) {
        self.hits.add_one();
    }

    /// Drops one user's entry: call after any committed write to the user or their identities.
    pub fn forget(&self, id: UserId) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(entries) = &self.entries {
            entries.remove(&id.0);
        }
    }

    /// Drops every entry (notifications may have been missed).
    pub fn forget_all(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// (entries, hits, misses) for `/metrics`.
    pub fn stats(&self) -> (usize, u64, u64) {
        let len = self.entries.as_ref().map_or(0, |e| e.len());
        (len, self.hits.get(), self.misses.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn account(id: i64, name: &str) -> Arc<Account> {
        let at = NaiveDateTime::default();
        let user = User {
            id,
            name: name.into(),
            email: None,
            email_verified: false,
            avatar_url: None,
            created_at: at,
            updated_at: at,
            sessions_valid_after: None,
        };
        Arc::new(Account::new(user, vec![]))
    }

    #[test]
    fn a_load_that_began_before_a_forget_is_not_kept() {
        let cache = AccountCache::new(10, Duration::from_secs(60));
        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.forget(UserId(1)); // a write commits while the load is in flight
        cache.remember(UserId(1), epoch, account(1, "stale"));
        assert!(cache.fresh(UserId(1)).is_none());

        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.remember(UserId(1), epoch, account(1, "current"));
        assert_eq!(cache.fresh(UserId(1)).map(|a| a.user.name.clone()).as_deref(), Some("current"));
    }

    #[test]
    fn entries_expire_and_forget_drops_them() {
        let cache = AccountCache::new(10, Duration::from_millis(30));
        cache.remember(UserId(1), 0, account(1, "a"));
        cache.remember(UserId(2), 0, account(2, "b"));
        assert!(cache.fresh(UserId(1)).is_some());
        cache.forget(UserId(1));
        assert!(cache.fresh(UserId(1)).is_none());
        assert!(cache.fresh(UserId(2)).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.fresh(UserId(2)).is_none(), "expired");
    }

    #[test]
    fn size_or_lifetime_zero_turns_the_cache_off() {
        for cache in [AccountCache::new(0, Duration::from_secs(60)), AccountCache::new(10, Duration::ZERO)] {
            cache.remember(UserId(1), 0, account(1, "a"));
            assert!(cache.fresh(UserId(1)).is_none());
        }
    }

    #[test]
    fn a_snapshot_renders_each_page_variant_once() {
        let account = account(1, "a");
        let mut renders = 0;
        for variant in [1, 1, 2, 1, 2] {
            let body = account.rendered("page", variant, || {
                renders += 1;
                Some(Bytes::from(format!("v{variant}")))
            });
            assert_eq!(body, Some(Bytes::from(format!("v{variant}"))));
        }
        assert_eq!(renders, 2);
        assert_eq!(account.rendered("broken", 0, || None), None);
        assert_eq!(
            account.rendered("broken", 0, || Some(Bytes::from("ok"))),
            Some(Bytes::from("ok")),
            "failures are not kept"
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = AccountCache::new(100, Duration::from_secs(60));
        for id in 0..10_000 {
            cache.remember(UserId(id), 0, account(id, "x"));
        }
        assert!(cache.stats().0 <= 200, "held {}", cache.stats().0);
    }
}
