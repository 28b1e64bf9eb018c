//! Signed-in pages read their user from memory, and every change to the account shows at once:
//! in every browser, on this instance and (PostgreSQL) on the others.

use std::time::Duration;

use crate::helpers::*;
use crate::on_both_backends;

/// The account cache's hit and miss counters from an instance's /metrics.
async fn lookups(app: &TestApp) -> (u64, u64) {
    lookups_at(&app.addr).await
}

async fn lookups_at(base: &str) -> (u64, u64) {
    let text = Browser::new(base).get("/metrics").await.text().await.unwrap();
    let count = |result: &str| {
        let prefix = format!("gatehouse_account_cache_lookups_total{{result=\"{result}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|n| n.parse().ok()).expect("counter in /metrics")
    };
    (count("hit"), count("miss"))
}

/// Waits out the echo of a sign-in's own write (it comes back as a change notification), then
/// checks that `browser`'s user is served from `base`'s cache: so what a test sees next can
/// only come from invalidation, not from a cache that happened to be empty.
async fn settle_and_cache(base: &str, browser: &Browser) {
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(browser.me().await.is_ok());
    let (hits, _) = lookups_at(base).await;
    assert!(browser.me().await.is_ok());
    assert_eq!(lookups_at(base).await.0, hits + 1, "the user is served from the cache");
}

fn renamed(name: &str) -> GithubAccount {
    GithubAccount { name: Some(name.into()), ..GithubAccount::octocat() }
}

on_both_backends! {
    async fn signed_in_requests_do_not_read_the_database_again(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        app.sign_in_github(&app.browser, "github").await;
        // The sign-in's own write comes back from the database as a change: let it arrive.
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let first = app.browser.me().await.unwrap();
        let (hits, misses) = lookups(&app).await;
        for _ in 0..20 {
            assert_eq!(app.browser.me().await.unwrap(), first);
        }
        assert_eq!(app.browser.get("/profile").await.status(), 200);
        assert_eq!(lookups(&app).await, (hits + 21, misses));
    }

    async fn a_returning_sign_in_refreshes_every_browser(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        let (a, b) = (app.new_browser(), app.new_browser());
        app.sign_in_github(&a, "github").await;
        app.sign_in_github(&b, "github").await;
        assert_eq!(b.me().await.unwrap()["name"], "octocat");
        settle_and_cache(&app.addr, &b).await;

        github.sign_in_as(renamed("Mona Lisa Octocat"));
        // A new browser: signed in, `a` would link instead of signing in again.
        app.sign_in_github(&app.new_browser(), "github").await;
        assert_eq!(b.me().await.unwrap()["name"], "Mona Lisa Octocat");
        assert!(b.get("/profile").await.text().await.unwrap().contains("Mona Lisa Octocat"));
    }

    async fn deleting_the_account_signs_out_every_browser(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        let (a, b) = (app.new_browser(), app.new_browser());
        app.sign_in_github(&a, "github").await;
        app.sign_in_github(&b, "github").await;
        settle_and_cache(&app.addr, &b).await;

        assert_eq!(a.post("/profile/delete").await.status(), 303);
        assert_eq!(b.me().await, Err(401));
        assert_eq!(location(&b.get("/profile").await), "/login?next=%2Fprofile");
    }

    async fn linking_and_unlinking_show_in_every_browser(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        let (a, b) = (app.new_browser(), app.new_browser());
        app.sign_in_github(&a, "github").await;
        app.sign_in_github(&b, "github").await;
        let providers = |me: serde_json::Value| -> Vec<String> {
            me["identities"].as_array().unwrap().iter().map(|i| i["provider"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(providers(b.me().await.unwrap()), ["github"]);
        settle_and_cache(&app.addr, &b).await;

        let callback = app.link_callback_url(&a, "corp", AtProvider::LogIn("second")).await;
        assert_eq!(a.get(&callback).await.status(), 303);
        assert_eq!(providers(b.me().await.unwrap()), ["github", "corp"]);

        let github_identity = app.db.identity_ids(b.me().await.unwrap()["id"].as_i64().unwrap())[0];
        assert_eq!(a.post(&format!("/profile/identities/{github_identity}/unlink")).await.status(), 303);
        assert_eq!(providers(b.me().await.unwrap()), ["corp"]);
    }
}

#[actix_web::test]
async fn other_instances_hear_of_changes_through_postgres_at_once() {
    let github = GithubStandIn::start();
    // A cache lifetime far beyond the test: only the notification can refresh instance B.
    let a =
        spawn_app(AppOptions::new(Backend::Postgres).github("github", &github).var("ACCOUNT_CACHE_SECONDS", "3600"))
            .await;
    let b = a.start_sibling().await;
    let on_b = Browser::new(&b);
    a.sign_in_github(&a.browser, "github").await;
    a.sign_in_github(&on_b, "github").await;
    assert_eq!(on_b.me().await.unwrap()["name"], "octocat");
    settle_and_cache(&b, &on_b).await;

    github.sign_in_as(renamed("Renamed on A"));
    a.sign_in_github(&a.new_browser(), "github").await;
    let took =
        eventually(Duration::from_secs(3), async || on_b.me().await.is_ok_and(|me| me["name"] == "Renamed on A")).await;
    assert!(took.is_some(), "B never saw the new name");

    assert_eq!(a.browser.post("/profile/delete").await.status(), 303);
    let took = eventually(Duration::from_secs(3), async || on_b.me().await == Err(401)).await;
    assert!(took.is_some(), "B still serves a deleted user");
}

#[actix_web::test]
async fn instances_on_one_sqlite_file_see_each_others_changes() {
    // SQLite has no notifications: each instance watches the file's data_version instead.
    let github = GithubStandIn::start();
    let a = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).var("ACCOUNT_CACHE_SECONDS", "3600"))
        .await;
    let b = a.start_sibling().await;
    let on_b = Browser::new(&b);
    a.sign_in_github(&a.browser, "github").await;
    a.sign_in_github(&on_b, "github").await;
    settle_and_cache(&b, &on_b).await;

    assert_eq!(a.browser.post("/profile/delete").await.status(), 303);
    let took = eventually(Duration::from_secs(3), async || on_b.me().await == Err(401)).await;
    assert!(took.is_some(), "B still serves a deleted user");
}

on_both_backends! {
    async fn changes_made_by_hand_in_the_database_show_at_once(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).var("ACCOUNT_CACHE_SECONDS", "3600")).await;
        app.sign_in_github(&app.browser, "github").await;
        assert_eq!(app.browser.me().await.unwrap()["name"], "octocat");
        settle_and_cache(&app.addr, &app.browser).await;

        app.db.execute("UPDATE users SET name = 'Renamed by an admin'");
        let seen = eventually(Duration::from_secs(3), async || {
            app.browser.me().await.is_ok_and(|me| me["name"] == "Renamed by an admin")
        })
        .await;
        assert!(seen.is_some(), "the admin's rename never showed");

        app.db.execute("DELETE FROM users");
        let seen = eventually(Duration::from_secs(3), async || app.browser.me().await == Err(401)).await;
        assert!(seen.is_some(), "a user deleted by hand is still served");
    }
}

#[actix_web::test]
async fn the_cache_can_be_turned_off() {
    let github = GithubStandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).var("ACCOUNT_CACHE_SIZE", "0")).await;
    app.sign_in_github(&app.browser, "github").await;
    for _ in 0..5 {
        assert!(app.browser.me().await.is_ok());
    }
    let (hits, misses) = lookups(&app).await;
    assert_eq!(hits, 0);
    assert!(misses >= 5);
}

#[actix_web::test]
async fn a_listener_that_loses_its_connection_empties_the_cache_and_listens_again() {
    let github = GithubStandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Postgres).github("github", &github).var("ACCOUNT_CACHE_SECONDS", "3600"))
            .await;
    app.sign_in_github(&app.browser, "github").await;
    settle_and_cache(&app.addr, &app.browser).await;

    // The listener's connection dies; a change made meanwhile sends a notification nobody hears.
    app.db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query = 'LISTEN gatehouse_accounts'",
    );
    app.db.execute("UPDATE users SET name = 'Changed while deaf'");
    let seen = eventually(Duration::from_secs(3), async || {
        app.browser.me().await.is_ok_and(|me| me["name"] == "Changed while deaf")
    })
    .await;
    assert!(seen.is_some(), "the cache was not emptied when the listener lost its connection");

    // Reconnected (after a second), it hears changes again.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.browser.me().await.unwrap()["name"], "Changed while deaf", "cached again");
    app.db.execute("UPDATE users SET name = 'Heard again'");
    let seen =
        eventually(Duration::from_secs(3), async || app.browser.me().await.is_ok_and(|me| me["name"] == "Heard again"))
            .await;
    assert!(seen.is_some(), "the listener did not come back");
}

/// A TCP relay to PostgreSQL that can make the account-change listener's connection die
/// silently: its bytes are swallowed in both directions, with no FIN and no RST, as when a
/// firewall or NAT forgets a connection.
struct SilentRelay {
    port: u16,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<RelayedConn>>>>,
}

#[derive(Default)]
struct RelayedConn {
    listens: std::sync::atomic::AtomicBool,
    swallowed: std::sync::atomic::AtomicBool,
}

impl SilentRelay {
    fn start(upstream: std::net::SocketAddr) -> SilentRelay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let registry = conns.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = std::net::TcpStream::connect(upstream) else { continue };
                let conn = std::sync::Arc::new(RelayedConn::default());
                registry.lock().unwrap().push(conn.clone());
                let pipe = move |mut from: std::net::TcpStream,
                                 mut to: std::net::TcpStream,
                                 conn: std::sync::Arc<RelayedConn>| {
                    use std::io::{Read, Write};
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if buf[..n].windows(7).any(|w| w == b"LISTEN ") {
                            conn.listens.store(true, Ordering::Relaxed);
                        }
                        if conn.swallowed.load(Ordering::Relaxed) {
                            continue;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let conn2 = conn.clone();
                std::thread::spawn(move || pipe(client, server, conn));
                std::thread::spawn(move || pipe(s2, c2, conn2));
            }
        });
        SilentRelay { port, conns }
    }

    /// Connections that have sent `LISTEN` so far.
    fn listeners(&self) -> usize {
        self.conns.lock().unwrap().iter().filter(|c| c.listens.load(std::sync::atomic::Ordering::Relaxed)).count()
    }

    /// Every listening connection now goes silent.
    fn silence_listeners(&self) {
        for c in self.conns.lock().unwrap().iter().filter(|c| c.listens.load(std::sync::atomic::Ordering::Relaxed)) {
            c.swallowed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[actix_web::test]
async fn a_listener_whose_connection_dies_silently_notices_within_30_s() {
    let db = TestDb::new(Backend::Postgres);
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let relay = SilentRelay::start(std::net::ToSocketAddrs::to_socket_addrs(&upstream).unwrap().next().unwrap());
    url.set_port(Some(relay.port)).unwrap();
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .github("github", &github)
            .var("DATABASE_URL", url.to_string())
            .var("ACCOUNT_CACHE_SECONDS", "3600"),
    )
    .await;
    app.sign_in_github(&app.browser, "github").await;
    settle_and_cache(&app.addr, &app.browser).await;
    assert_eq!(relay.listeners(), 1);

    relay.silence_listeners();
    db.execute("UPDATE users SET name = 'Changed while the line was dead'");
    let noticed = eventually(Duration::from_secs(30), async || {
        app.browser.me().await.is_ok_and(|me| me["name"] == "Changed while the line was dead")
    })
    .await;
    assert!(noticed.is_some(), "the silently dead listener was never noticed; the cache kept the old name");
    assert!(
        eventually(Duration::from_secs(5), async || relay.listeners() == 2).await.is_some(),
        "the listener reconnected"
    );
    settle_and_cache(&app.addr, &app.browser).await;
    db.execute("UPDATE users SET name = 'Heard on the new line'");
    let heard = eventually(Duration::from_secs(3), async || {
        app.browser.me().await.is_ok_and(|me| me["name"] == "Heard on the new line")
    })
    .await;
    assert!(heard.is_some(), "the new listener hears changes");
}
