//! One Diesel code path for PostgreSQL and embedded SQLite.
//!
//! The URL scheme picks the backend; migrations for that backend run at start. Diesel is
//! blocking, so every query runs on actix's blocking pool through [`Db::run`], never on the
//! async executor.

pub(crate) mod changes;
pub(crate) mod models;
pub(crate) mod schema;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, CustomizeConnection, ManageConnection, Pool};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseUrl;

pub use any::AnyConnection;

mod any {
    #![allow(missing_docs, reason = "Diesel's MultiConnection derive adds items it does not document")]
    use diesel::{PgConnection, SqliteConnection};

    /// A connection to whichever backend `DATABASE_URL` names; what [`Db::run`](crate::Db::run) hands its closure.
    /// Diesel queries run on it directly; match on it for backend-specific SQL.
    #[derive(diesel::MultiConnection)]
    pub enum AnyConnection {
        /// `postgres://…`
        Postgresql(PgConnection),
        /// `sqlite://…`
        Sqlite(SqliteConnection),
    }
}

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Why a database call failed. `Display` says what failed; the cause is its `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// No connection within the checkout timeout: the database is down or saturated.
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::PoolError),
    /// The database could not be reached moments ago and no pooled connection is idle: not
    /// waited for again (see [`FAIL_FAST`]).
    #[error("database unavailable: it could not be reached moments ago")]
    Down,
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// The blocking task was dropped before it finished (shutdown).
    #[error("database task was cancelled")]
    Cancelled,
    /// The SQLite file's folder could not be created.
    #[error("cannot create the database folder {}", .path.display())]
    CreateDir {
        /// The folder.
        path: std::path::PathBuf,
        /// Why it could not be created.
        source: std::io::Error,
    },
    /// The pool could not open its first connection.
    #[error("cannot open the database")]
    Open(#[source] r2d2::PoolError),
    /// gatehouse's migrations could not be applied.
    #[error("migrations failed")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// libpq quotes parts of a URL it cannot read in its message ("invalid percent-encoded token:
/// …"), password included; that message reaches logs and stderr, the password must not.
fn redact_password(error: diesel::ConnectionError, url: &str) -> diesel::ConnectionError {
    let Some(password) = url::Url::parse(url).ok().and_then(|u| u.password().map(str::to_string)) else {
        return error;
    };
    let decoded = percent_encoding::percent_decode_str(&password).decode_utf8_lossy().into_owned();
    let message = error.to_string();
    if [&password, &decoded].iter().any(|p| !p.is_empty() && message.contains(p.as_str())) {
        let redacted = message.replace(&password, "[redacted]").replace(&decoded, "[redacted]");
        return diesel::ConnectionError::BadConnection(redacted);
    }
    error
}

/// Connects by URL scheme. The derived `AnyConnection::establish` tries each backend in turn
/// and throws the real error away, so this manager dispatches itself.
#[derive(Debug)]
struct Manager(DatabaseUrl);

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match &self.0 {
            DatabaseUrl::Postgres(url) => PgConnection::establish(&with_network_timeouts(url))
                .map(AnyConnection::Postgresql)
                .map_err(|e| redact_password(e, url)),
            DatabaseUrl::Sqlite(path) => {
                SqliteConnection::establish(&path.to_string_lossy()).map(AnyConnection::Sqlite)
            }
        }
        .map_err(r2d2::Error::ConnectionError)
    }

    /// Runs at every checkout, so it must not cost a round trip: a PostgreSQL connection whose
    /// server went away has a closed socket, which reading it without blocking reveals (the
    /// first read takes the server's goodbye message, the second meets the end of the stream).
    /// A SQLite file does not go away.
    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        if let AnyConnection::Postgresql(c) = conn {
            for _ in 0..2 {
                if let Some(Err(e)) = c.notifications_iter().next() {
                    return Err(r2d2::Error::QueryError(e));
                }
            }
        }
        Ok(())
    }

    /// A connection left inside a failed transaction is not reused.
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking()
            || <AnyConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// SQLite needs its settings per connection; `busy_timeout` first, or opening connections in
/// parallel reports "database is locked".
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<AnyConnection, r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        if let AnyConnection::Sqlite(c) = conn {
            c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
                .map_err(r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// How long a request waits for a database connection before it is answered with a 503.
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(1);

/// libpq parameters bounding how long a connection to an unreachable or silently dead server
/// can hang (libpq's own defaults wait minutes): a connect timeout, TCP keepalives, and a limit
/// on unacknowledged data. Values the operator put in `DATABASE_URL` win.
pub(crate) fn with_network_timeouts(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return url.to_string() };
    let present: Vec<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let wanted = [
        ("connect_timeout", "3"),
        ("keepalives", "1"),
        ("keepalives_idle", "10"),
        ("keepalives_interval", "5"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "5000"),
    ];
    for (k, v) in wanted {
        if !present.iter().any(|p| p == k) {
            parsed.query_pairs_mut().append_pair(k, v);
        }
    }
    parsed.to_string()
}

/// The connection pool, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    outage: Arc<Outage>,
}

/// After a checkout found the database unreachable (it timed out with no connection left in the
/// pool), checkouts for this long take an idle connection if there is one and otherwise fail at
/// once, instead of each waiting [`CHECKOUT_TIMEOUT`]: during an outage every request still gets
/// its 503, in milliseconds rather than a second. After that, one request at a time waits to
/// find out whether the database is back while the others go on failing fast; the first
/// connection that comes back ends the outage.
pub const FAIL_FAST: Duration = Duration::from_millis(500);

/// When the database was last found unreachable, and who is finding out whether it is back.
struct Outage {
    started: Instant,
    /// Milliseconds since `started` until which checkouts fail fast; 0: no outage.
    until_ms: AtomicU64,
    /// A checkout is waiting to find out whether the database is back.
    probing: AtomicBool,
}

/// How a checkout goes, given what is known about the database.
enum Checkout {
    /// No outage known: wait up to [`CHECKOUT_TIMEOUT`].
    Wait,
    /// An outage, and this checkout is the one that waits to see whether it is over.
    Probe,
    /// An outage: an idle (or at once openable) connection, or [`DbError::Down`].
    Fast,
}

impl Outage {
    fn new() -> Self {
        Outage { started: Instant::now(), until_ms: AtomicU64::new(0), probing: AtomicBool::new(false) }
    }

    fn now_ms(&self) -> u64 {
        (self.started.elapsed().as_millis() as u64).max(1)
    }

    fn checkout(&self) -> Checkout {
        let until = self.until_ms.load(Ordering::SeqCst);
        if until == 0 {
            Checkout::Wait
        } else if self.now_ms() < until {
            Checkout::Fast
        } else if self.probing.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            Checkout::Probe
        } else {
            Checkout::Fast
        }
    }

    /// After a waiting checkout: `reached` when it got a connection or the pool still holds
    /// some (merely busy); otherwise the database is away and checkouts fail fast again.
    fn settle(&self, reached: bool, probed: bool) {
        if reached {
            self.until_ms.store(0, Ordering::SeqCst);
        } else {
            self.until_ms.store(self.now_ms() + FAIL_FAST.as_millis() as u64, Ordering::SeqCst);
        }
        if probed {
            self.probing.store(false, Ordering::SeqCst);
        }
    }
}

impl Db {
    /// Opens the pool (creating the SQLite file and its folder) and applies pending migrations.
    pub(crate) fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Self, DbError> {
        if let DatabaseUrl::Sqlite(path) = url
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            // Fail fast at start and on /healthz instead of r2d2's default 30 s wait.
            .connection_timeout(Duration::from_secs(5))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(Manager(url.clone()))
            .map_err(DbError::Open)?;
        let outage = Arc::new(Outage::new());
        let db = Db { pool, outage };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.pool.get()?;
        let result = match &mut *conn {
            AnyConnection::Postgresql(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|_| ()),
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        };
        result.map_err(DbError::Migrate)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. While the database is
    /// away, waiting for a connection gives up after [`CHECKOUT_TIMEOUT`] (the caller answers
    /// 503); then, while it stays away, only one checkout at a time waits (see [`FAIL_FAST`]).
    /// The pool reconnects by itself when the database returns.
    pub async fn run<T, E>(&self, f: impl FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (pool, outage) = (self.pool.clone(), self.outage.clone());
        let checkout = outage.checkout();
        // Failing fast is decided here, without taking a blocking thread (a prober holds one).
        // A zero timeout takes an idle connection, or starts opening one, and returns at once.
        let ready = match checkout {
            Checkout::Fast => match pool.get_timeout(Duration::ZERO) {
                Ok(conn) => {
                    outage.settle(true, false);
                    Some(conn)
                }
                Err(_) => return Err(E::from(DbError::Down)),
            },
            Checkout::Wait | Checkout::Probe => None,
        };
        web::block(move || {
            let mut conn = match ready {
                Some(conn) => conn,
                None => {
                    let got = pool.get_timeout(CHECKOUT_TIMEOUT);
                    // A pool that is merely busy still holds its connections; one that holds
                    // none could not open any: the database is away.
                    let reached = got.is_ok() || pool.state().connections > 0;
                    outage.settle(reached, matches!(checkout, Checkout::Probe));
                    got.map_err(DbError::from)?
                }
            };
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Cancelled))?
    }

    /// True when the database answers a trivial query within `limit`.
    pub async fn ping_within(&self, limit: Duration) -> bool {
        let ping = self.run(|c| c.batch_execute("SELECT 1").map_err(DbError::from));
        matches!(actix_web::rt::time::timeout(limit, ping).await, Ok(Ok(())))
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.ping_within(CHECKOUT_TIMEOUT).await
    }
}

/// Runs `f` in a write transaction. SQLite starts it with `BEGIN IMMEDIATE`: a deferred
/// transaction that reads and then writes fails at once with "database is locked" when
/// another writer is active, whatever the busy timeout.
pub fn write_tx<T, E>(conn: &mut AnyConnection, f: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    type Tm = <AnyConnection as Connection>::TransactionManager;
    match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        AnyConnection::Postgresql(_) => Tm::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match Tm::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Checkout, Manager, Ordering, Outage, with_network_timeouts};

    #[test]
    fn an_outage_fails_fast_then_lets_one_checkout_at_a_time_find_out() {
        let outage = Outage::new();
        assert!(matches!(outage.checkout(), Checkout::Wait), "no outage known");
        outage.settle(false, false); // a checkout timed out with no connection left
        assert!(matches!(outage.checkout(), Checkout::Fast));
        outage.until_ms.store(1, Ordering::SeqCst); // the fail-fast window is over
        assert!(matches!(outage.checkout(), Checkout::Probe));
        assert!(matches!(outage.checkout(), Checkout::Fast), "one prober at a time");
        outage.settle(false, true); // still away
        assert!(matches!(outage.checkout(), Checkout::Fast));
        outage.until_ms.store(1, Ordering::SeqCst);
        assert!(matches!(outage.checkout(), Checkout::Probe), "the prober was released");
        outage.settle(true, true); // back
        assert!(matches!(outage.checkout(), Checkout::Wait));
    }
    use crate::config::DatabaseUrl;
    use diesel::r2d2::ManageConnection;

    /// libpq quotes a password it cannot decode; gatehouse's message must not.
    #[test]
    fn a_password_libpq_cannot_read_never_reaches_the_error() {
        let manager = Manager(DatabaseUrl::Postgres("postgres://u:hunter%zz2@127.0.0.1:1/x".into()));
        let message = manager.connect().err().expect("a bad URL cannot connect").to_string();
        assert!(message.contains("[redacted]") && !message.contains("hunter"), "{message}");
    }

    #[test]
    fn postgres_connections_give_up_and_keep_alive() {
        let url = with_network_timeouts("postgres://u:p@db:5432/app?sslmode=require&connect_timeout=9");
        assert!(url.contains("sslmode=require") && url.contains("connect_timeout=9"), "{url}");
        assert!(!url.contains("connect_timeout=3"), "the operator's own value wins: {url}");
        assert!(url.contains("keepalives=1") && url.contains("tcp_user_timeout=5000"), "{url}");
    }
}
