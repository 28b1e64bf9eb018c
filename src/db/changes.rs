//! Hearing that an account or a stored session changed somewhere else — another instance, an
//! admin at `psql`, a migration — so the in-memory [`AccountCache`] and [`SessionCache`] never
//! outlive the rows they copy.
//!
//! - PostgreSQL: triggers on `users` and `identities` (migration 000004) `NOTIFY
//!   gatehouse_accounts` with the user id at commit, and on `sessions` (000011) `NOTIFY
//!   gatehouse_sessions` with the row id; one `LISTEN` connection per instance forgets that user
//!   or session. An empty payload (`TRUNCATE`) forgets everything of that kind.
//! - SQLite: no notifications, but `PRAGMA data_version` on a connection of its own changes
//!   whenever any other connection (this process's pool, another process) commits; then the
//!   whole cache is dropped. Writes are rare next to reads, so that costs little.
//!
//! Either way the listener polls every [`POLL`], which bounds how long another writer's change
//! can go unseen. A listener that loses its connection empties both caches and reconnects; the
//! session cache serves nothing until it has (see [`SessionCache::heard`]).
//!
//! A connection can also die silently (a firewall or NAT forgets it; no FIN, no RST): reads
//! then just find nothing. So the listener proves its connection with a round trip every
//! [`PROBE_EVERY`], on a thread of its own watched by a supervisor: a probe or connection
//! attempt that takes too long ([`PROBE_DEADLINE`], 15 s to connect) counts as a lost connection.
//! The session cache stops serving copies as soon as no probe has come back for
//! [`crate::session::cache::HEARD_WITHIN`], without waiting for that deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use crate::accounts::AccountCache;
use crate::config::DatabaseUrl;
use crate::db::models::UserId;
use crate::session::SessionCache;

const ACCOUNTS: &str = "gatehouse_accounts";
const SESSIONS: &str = "gatehouse_sessions";
/// How often the listener looks for changes.
pub const POLL: Duration = Duration::from_millis(50);
const RECONNECT: Duration = Duration::from_secs(1);
/// How often the listener proves its connection: a `NOTIFY` to a channel of its own, which
/// must come back (cheap enough every second; the session cache relies on it).
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A round trip taking longer than this means the connection is dead.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(5);
/// Connecting (TLS, authentication, `LISTEN`) may take longer than a round trip; libpq's own
/// `connect_timeout` normally ends it first.
const OPEN_DEADLINE: Duration = Duration::from_secs(15);

/// The caches the listener keeps honest; either may be absent (turned off).
#[derive(Clone, Default)]
pub struct Caches {
    accounts: Weak<AccountCache>,
    sessions: Weak<SessionCache>,
}

impl Caches {
    pub fn new(accounts: Option<&Arc<AccountCache>>, sessions: Option<&Arc<SessionCache>>) -> Self {
        Caches {
            accounts: accounts.map(Arc::downgrade).unwrap_or_default(),
            sessions: sessions.map(Arc::downgrade).unwrap_or_default(),
        }
    }

    /// False once the server that owned the caches has stopped: the listener ends.
    fn alive(&self) -> bool {
        self.accounts.strong_count() > 0 || self.sessions.strong_count() > 0
    }

    fn forget_all(&self) {
        if let Some(accounts) = self.accounts.upgrade() {
            accounts.forget_all();
        }
        if let Some(sessions) = self.sessions.upgrade() {
            sessions.forget_all();
        }
    }

    /// The connection is lost: forget everything, and serve no session from memory.
    fn lost(&self) {
        if let Some(sessions) = self.sessions.upgrade() {
            sessions.deaf();
        }
        self.forget_all();
    }

    fn heard(&self) {
        if let Some(sessions) = self.sessions.upgrade() {
            sessions.heard();
        }
    }
}

/// Starts the listener thread. It ends when the caches are dropped (the server stopped).
pub fn listen(url: &DatabaseUrl, caches: Caches) {
    let url = url.clone();
    let spawned = std::thread::Builder::new().name("gatehouse-changes".into()).spawn(move || run(&url, &caches));
    if let Err(e) = spawned {
        log::error!(
            "cannot start the change listener ({e}); account changes made elsewhere wait for ACCOUNT_CACHE_SECONDS, \
             and sessions are read from the database on every request"
        );
    }
}

/// One backend's way of learning about changes.
trait Watcher: Sized + Send + 'static {
    fn open(url: &DatabaseUrl) -> Result<Self, String>;
    /// Applies whatever changed since the last call to the caches. Never blocks. True when it
    /// also proved that changes reach this watcher (its own probe came back).
    fn poll(&mut self, caches: &Caches) -> Result<bool, String>;
    /// A round trip to the database, which the next polls see come back.
    fn probe(&mut self) -> Result<(), String>;
}

fn run(url: &DatabaseUrl, caches: &Caches) {
    match url {
        DatabaseUrl::Postgres(_) => watch::<Notifications>(url, caches),
        DatabaseUrl::Sqlite(_) => watch::<DataVersion>(url, caches),
    }
}

/// Keeps one watcher running: opens it on a thread of its own, replaces it when it fails or
/// stops answering, and ends when the caches are dropped.
fn watch<W: Watcher>(url: &DatabaseUrl, caches: &Caches) {
    let warned = Arc::new(AtomicBool::new(false));
    while caches.alive() {
        let shift = Arc::new(Shift::default());
        let (url, caches_for_thread, shift_for_thread, warned) =
            (url.clone(), caches.clone(), shift.clone(), warned.clone());
        let spawned = std::thread::Builder::new()
            .name("gatehouse-changes-conn".into())
            .spawn(move || serve::<W>(&url, &caches_for_thread, &shift_for_thread, &warned));
        let Ok(worker) = spawned else {
            log::error!("cannot start a change listener thread; retrying");
            std::thread::sleep(RECONNECT);
            continue;
        };
        while !worker.is_finished() {
            std::thread::sleep(POLL);
            if !caches.alive() {
                shift.abandoned.store(true, Ordering::Relaxed);
                return;
            }
            if shift.stalled() {
                // Left to its fate: when its read finally fails it sees it was abandoned.
                shift.abandoned.store(true, Ordering::Relaxed);
                log::warn!(
                    "change listener: the database stopped answering; emptying the account and \
                     session caches and reconnecting"
                );
                break;
            }
        }
        // However the connection's thread ended (an error, a stall, a panic), nothing is being
        // heard now.
        caches.lost();
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
fn serve<W: Watcher>(url: &DatabaseUrl, caches: &Caches, shift: &Shift, warned: &AtomicBool) {
    let mut watcher = match shift.blocking(OPEN_DEADLINE, || W::open(url)) {
        Ok(w) => w,
        Err(e) => {
            if !warned.swap(true, Ordering::Relaxed) {
                log::warn!("change listener cannot connect ({e}); retrying every second");
            }
            return;
        }
    };
    warned.store(false, Ordering::Relaxed);
    // Whatever changed while nobody watched is unknown: start empty.
    caches.forget_all();
    let mut result = shift.blocking(PROBE_DEADLINE, || watcher.probe());
    let mut last_probe = Instant::now();
    while !shift.abandoned.load(Ordering::Relaxed) {
        if !caches.alive() {
            return;
        }
        if result.is_ok() {
            result = watcher.poll(caches).map(|heard| {
                // An abandoned thread must not switch the session cache back on.
                if heard && !shift.abandoned.load(Ordering::Relaxed) {
                    caches.heard();
                }
            });
        }
        if result.is_ok() && last_probe.elapsed() >= PROBE_EVERY {
            result = shift.blocking(PROBE_DEADLINE, || watcher.probe());
            last_probe = Instant::now();
        }
        if let Err(e) = result {
            if !shift.abandoned.load(Ordering::Relaxed) {
                log::warn!("change listener lost its connection ({e}); reconnecting");
                caches.lost();
            }
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// `LISTEN`s on the change channels, and on a channel of its own for its probe: a `NOTIFY`
/// there that comes back proves that notifications really reach it.
struct Notifications {
    conn: PgConnection,
    probe_channel: String,
}

impl Watcher for Notifications {
    fn open(url: &DatabaseUrl) -> Result<Self, String> {
        let DatabaseUrl::Postgres(url) = url else { return Err("not a PostgreSQL URL".into()) };
        let mut conn = PgConnection::establish(&crate::db::with_network_timeouts(url)).map_err(|e| e.to_string())?;
        let mut nonce = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| "no randomness for the probe channel".to_string())?;
        let probe_channel = format!("gatehouse_probe_{}", nonce.iter().map(|b| format!("{b:02x}")).collect::<String>());
        conn.batch_execute(&format!("LISTEN {ACCOUNTS}; LISTEN {SESSIONS}; LISTEN {probe_channel}"))
            .map_err(|e| e.to_string())?;
        Ok(Notifications { conn, probe_channel })
    }

    fn probe(&mut self) -> Result<(), String> {
        self.conn.batch_execute(&format!("NOTIFY {}", self.probe_channel)).map_err(|e| e.to_string())
    }

    /// Reads the socket without blocking; a closed connection shows up as an error here.
    fn poll(&mut self, caches: &Caches) -> Result<bool, String> {
        let (accounts, sessions) = (caches.accounts.upgrade(), caches.sessions.upgrade());
        let mut heard = false;
        for notification in self.conn.notifications_iter() {
            let notification = notification.map_err(|e| e.to_string())?;
            if notification.channel == self.probe_channel {
                heard = true;
            } else if notification.channel == SESSIONS {
                match (&sessions, notification.payload.as_str()) {
                    (Some(sessions), "") => sessions.forget_all(),
                    (Some(sessions), id) => sessions.forget(id),
                    (None, _) => {}
                }
            } else if let Some(accounts) = &accounts {
                match notification.payload.parse::<i64>() {
                    Ok(id) => accounts.forget(UserId(id)),
                    Err(_) => accounts.forget_all(),
                }
            }
        }
        Ok(heard)
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

    /// Each poll is a round trip: it proves itself.
    fn poll(&mut self, caches: &Caches) -> Result<bool, String> {
        let now = Self::read(&mut self.conn)?;
        if now != self.last {
            self.last = now;
            caches.forget_all();
        }
        Ok(true)
    }
}
