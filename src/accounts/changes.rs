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
//!
//! A connection can also die silently (a firewall or NAT forgets it; no FIN, no RST): reads
//! then just find nothing. So the listener proves its connection with a round trip every
//! [`PROBE_EVERY`], on a thread of its own watched by a supervisor: a probe or connection
//! attempt that takes too long ([`PROBE_DEADLINE`], 15 s to connect) counts as a lost connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

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
/// How often the listener makes a round trip to prove its connection is alive.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// A round trip taking longer than this means the connection is dead.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(5);
/// Connecting (TLS, authentication, `LISTEN`) may take longer than a round trip; libpq's own
/// `connect_timeout` normally ends it first.
const OPEN_DEADLINE: Duration = Duration::from_secs(15);

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
trait Watcher: Sized + Send + 'static {
    fn open(url: &DatabaseUrl) -> Result<Self, String>;
    /// Applies whatever changed since the last call to `cache`. Never blocks.
    fn poll(&mut self, cache: &AccountCache) -> Result<(), String>;
    /// A round trip to the database.
    fn probe(&mut self) -> Result<(), String>;
}

fn run(url: &DatabaseUrl, cache: &Weak<AccountCache>) {
    match url {
        DatabaseUrl::Postgres(_) => watch::<Notifications>(url, cache),
        DatabaseUrl::Sqlite(_) => watch::<DataVersion>(url, cache),
    }
}

/// Keeps one watcher running: opens it on a thread of its own, replaces it when it fails or
/// stops answering, and ends when the cache is dropped.
fn watch<W: Watcher>(url: &DatabaseUrl, cache: &Weak<AccountCache>) {
    let warned = Arc::new(AtomicBool::new(false));
    while cache.strong_count() > 0 {
        let shift = Arc::new(Shift::default());
        let (url, cache_for_thread, shift_for_thread, warned) =
            (url.clone(), cache.clone(), shift.clone(), warned.clone());
        let spawned = std::thread::Builder::new()
            .name("gatehouse-changes-conn".into())
            .spawn(move || serve::<W>(&url, &cache_for_thread, &shift_for_thread, &warned));
        let Ok(worker) = spawned else {
            log::error!("cannot start an account-change listener thread; retrying");
            std::thread::sleep(RECONNECT);
            continue;
        };
        while !worker.is_finished() {
            std::thread::sleep(POLL);
            if cache.strong_count() == 0 {
                shift.abandoned.store(true, Ordering::Relaxed);
                return;
            }
            if shift.stalled() {
                // Left to its fate: when its read finally fails it sees it was abandoned.
                shift.abandoned.store(true, Ordering::Relaxed);
                log::warn!(
                    "account-change listener: the database stopped answering; emptying the account \
                     cache and reconnecting"
                );
                if let Some(cache) = cache.upgrade() {
                    cache.forget_all();
                }
                break;
            }
        }
        std::thread::sleep(RECONNECT);
    }
}

/// One connection's life, shared between its thread and the supervisor.
#[derive(Default)]
struct Shift {
    /// Milliseconds since `EPOCH` when a blocking call began; 0 while not blocked.
    busy_since: AtomicU64,
    /// How long that call may take, in milliseconds.
    deadline: AtomicU64,
    abandoned: AtomicBool,
}

static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

impl Shift {
    fn blocking<T>(&self, deadline: Duration, call: impl FnOnce() -> T) -> T {
        self.deadline.store(deadline.as_millis() as u64, Ordering::Relaxed);
        self.busy_since.store((EPOCH.elapsed().as_millis() as u64).max(1), Ordering::Relaxed);
        let out = call();
        self.busy_since.store(0, Ordering::Relaxed);
        out
    }

    fn stalled(&self) -> bool {
        let since = self.busy_since.load(Ordering::Relaxed);
        since != 0 && (EPOCH.elapsed().as_millis() as u64).saturating_sub(since) > self.deadline.load(Ordering::Relaxed)
    }
}

/// Opens a watcher and applies changes until the connection fails or is abandoned.
fn serve<W: Watcher>(url: &DatabaseUrl, cache: &Weak<AccountCache>, shift: &Shift, warned: &AtomicBool) {
    let mut watcher = match shift.blocking(OPEN_DEADLINE, || W::open(url)) {
        Ok(w) => w,
        Err(e) => {
            if !warned.swap(true, Ordering::Relaxed) {
                log::warn!("account-change listener cannot connect ({e}); retrying every second");
            }
            return;
        }
    };
    warned.store(false, Ordering::Relaxed);
    // Whatever changed while nobody watched is unknown: start empty.
    if let Some(cache) = cache.upgrade() {
        cache.forget_all();
    }
    let mut last_probe = Instant::now();
    while !shift.abandoned.load(Ordering::Relaxed) {
        let Some(live) = cache.upgrade() else { return };
        let mut result = watcher.poll(&live);
        if result.is_ok() && last_probe.elapsed() >= PROBE_EVERY {
            result = shift.blocking(PROBE_DEADLINE, || watcher.probe());
            last_probe = Instant::now();
        }
        if let Err(e) = result {
            if !shift.abandoned.load(Ordering::Relaxed) {
                log::warn!("account-change listener lost its connection ({e}); reconnecting");
                live.forget_all();
            }
            return;
        }
        drop(live);
        std::thread::sleep(POLL);
    }
}

struct Notifications(PgConnection);

impl Watcher for Notifications {
    fn open(url: &DatabaseUrl) -> Result<Self, String> {
        let DatabaseUrl::Postgres(url) = url else { return Err("not a PostgreSQL URL".into()) };
        let mut conn = PgConnection::establish(&crate::db::with_network_timeouts(url)).map_err(|e| e.to_string())?;
        conn.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| e.to_string())?;
        Ok(Notifications(conn))
    }

    fn probe(&mut self) -> Result<(), String> {
        self.0.batch_execute("SELECT 1").map_err(|e| e.to_string())
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

    /// Every poll is a round trip already.
    fn probe(&mut self) -> Result<(), String> {
        Ok(())
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
