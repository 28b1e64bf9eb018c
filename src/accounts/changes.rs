//! Hearing that an account changed somewhere else — another instance, an admin at `psql`, a
//! migration — so the in-memory [`AccountCache`] never outlives the rows it copies.
//!
//! - PostgreSQL: triggers on `users` and `identities` (migration 000004) `NOTIFY
//!   gatehouse_accounts` with the user id at commit; one `LISTEN` connection per instance forgets
//!   that user. An empty payload (`TRUNCATE`) forgets everyone.
//! - SQLite: no notifications, but `PRAGMA data_version` on a connection of its own changes
//!   whenever any other connection (this process's pool, another process) commits; then the
//!   whole cache is dropped. Writes are rare next to reads, so that costs little.
//!
//! Either way the listener polls every [`POLL`], which bounds how long another writer's change
//! can go unseen. A listener that loses its connection empties the cache and reconnects.

use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::AccountCache;
use crate::config::DatabaseUrl;
use crate::db::models::UserId;

const CHANNEL: &str = "gatehouse_accounts";
/// How often the listener looks for changes.
pub const POLL: Duration = Duration::from_millis(50);
const RECONNECT: Duration = Duration::from_secs(1);

/// Starts the listener thread. It ends when `cache` is dropped (the server stopped).
pub fn listen(url: &DatabaseUrl, cache: &Arc<AccountCache>) {
    let (url, cache) = (url.clone(), Arc::downgrade(cache));
    let spawned = std::thread::Builder::new().name("gatehouse-changes".into()).spawn(move || run(&url, &cache));
    if let Err(e) = spawned {
        log::error!(
            "cannot start the account-change listener ({e}); changes made elsewhere wait for ACCOUNT_CACHE_SECONDS"
        );
    }
}

/// One backend's way of learning about changes.
trait Watcher: Sized {
    fn open(url: &DatabaseUrl) -> Result<Self, String>;
    /// Applies whatever changed since the last call to `cache`.
    fn poll(&mut self, cache: &AccountCache) -> Result<(), String>;
}

fn run(url: &DatabaseUrl, cache: &Weak<AccountCache>) {
    match url {
        DatabaseUrl::Postgres(_) => watch::<Notifications>(url, cache),
        DatabaseUrl::Sqlite(_) => watch::<DataVersion>(url, cache),
    }
}

fn watch<W: Watcher>(url: &DatabaseUrl, cache: &Weak<AccountCache>) {
    let mut warned = false;
    while cache.strong_count() > 0 {
        match W::open(url) {
            Ok(mut watcher) => {
                warned = false;
                // Whatever changed while nobody watched is unknown: start empty.
                if let Some(cache) = cache.upgrade() {
                    cache.forget_all();
                }
                while let Some(live) = cache.upgrade() {
                    if let Err(e) = watcher.poll(&live) {
                        log::warn!("account-change listener lost its connection ({e}); reconnecting");
                        live.forget_all();
                        break;
                    }
                    drop(live);
                    std::thread::sleep(POLL);
                }
            }
            Err(e) if !warned => {
                log::warn!("account-change listener cannot connect ({e}); retrying every second");
                warned = true;
            }
            Err(_) => {}
        }
        std::thread::sleep(RECONNECT);
    }
}

struct Notifications(PgConnection);

impl Watcher for Notifications {
    fn open(url: &DatabaseUrl) -> Result<Self, String> {
        let DatabaseUrl::Postgres(url) = url else { return Err("not a PostgreSQL URL".into()) };
        let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
        conn.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| e.to_string())?;
        Ok(Notifications(conn))
    }

    /// Reads the socket without blocking; a closed connection shows up as an error here.
    fn poll(&mut self, cache: &AccountCache) -> Result<(), String> {
        for notification in self.0.notifications_iter() {
            match notification.map_err(|e| e.to_string())?.payload.parse::<i64>() {
                Ok(id) => cache.forget(UserId(id)),
                Err(_) => cache.forget_all(),
            }
        }
        Ok(())
    }
}

struct DataVersion {
    conn: SqliteConnection,
    last: i64,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    data_version: i64,
}

impl DataVersion {
    fn read(conn: &mut SqliteConnection) -> Result<i64, String> {
        diesel::sql_query("PRAGMA data_version")
            .get_result::<Version>(conn)
            .map(|v| v.data_version)
            .map_err(|e| e.to_string())
    }
}

impl Watcher for DataVersion {
    fn open(url: &DatabaseUrl) -> Result<Self, String> {
        let DatabaseUrl::Sqlite(path) = url else { return Err("not a SQLite path".into()) };
        let mut conn = SqliteConnection::establish(&path.to_string_lossy()).map_err(|e| e.to_string())?;
        let last = Self::read(&mut conn)?;
        Ok(DataVersion { conn, last })
    }

    fn poll(&mut self, cache: &AccountCache) -> Result<(), String> {
        let now = Self::read(&mut self.conn)?;
        if now != self.last {
            self.last = now;
            cache.forget_all();
        }
        Ok(())
    }
}
