//! Redis or PostgreSQL goes away under a running instance, then comes back. Each runs as a
//! throwaway server of the test's own, on a loopback port of its own (never the shared ones):
//! gatehouse answers quickly while it is down (503, never a hang or a 500), keeps serving what
//! needs neither, and recovers by itself without signing anybody out.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

/// A Redis of the test's own that keeps its data across a restart (append-only file).
struct ThrowawayRedis {
    port: u16,
    dir: TempDir,
}

impl ThrowawayRedis {
    fn start() -> Self {
        let redis = ThrowawayRedis { port: free_port(), dir: TempDir::new() };
        redis.up();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn up(&self) {
        let status = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--daemonize", "yes"])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", ""])
            .arg("--dir")
            .arg(&self.dir.0)
            .arg("--logfile")
            .arg(self.dir.0.join("redis.log"))
            .status()
            .expect("redis-server (scripts/test.sh installs it)");
        assert!(status.success());
        let ready = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            self.cli(&["ping"]).is_some_and(|out| out.contains("PONG"))
        });
        assert!(ready, "the throwaway Redis did not start");
    }

    fn down(&self) {
        let _ = self.cli(&["shutdown"]);
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            self.cli(&["ping"]).is_none_or(|out| !out.contains("PONG"))
        });
        assert!(gone, "the throwaway Redis did not stop");
    }

    fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        let _ = self.cli(&["shutdown", "nosave"]);
    }
}

/// A PostgreSQL cluster of the test's own (initdb, pg_ctl), stopped and started at will.
struct ThrowawayPg {
    port: u16,
    bin: PathBuf,
    dir: TempDir,
}

impl ThrowawayPg {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries (scripts/test.sh installs them)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql");
        let pg = ThrowawayPg { port: free_port(), bin, dir: TempDir::new() };
        if is_root() {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            let _ = Command::new("chown").arg("postgres").arg(&pg.dir.0).status();
        }
        let data = pg.dir.0.join("data");
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "-A", "trust", "--no-sync"]);
        pg.up();
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let status = cmd.args(args).stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "{tool} {args:?} failed");
    }

    fn up(&self) {
        let options =
            format!("-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off", self.port, self.dir.0.display());
        let (data, log) = (self.dir.0.join("data"), self.dir.0.join("log"));
        self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"]);
    }

    fn down(&self) {
        let data = self.dir.0.join("data");
        self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        let data = self.dir.0.join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A request's status and how long it took to answer.
async fn timed(browser: &Browser, path: &str) -> (u16, Duration, bool) {
    let started = Instant::now();
    let res = browser.get(path).await;
    let sets_cookie = !set_cookie_headers(&res).is_empty();
    (res.status().as_u16(), started.elapsed(), sets_cookie)
}

/// What every outage test checks while the component is down.
async fn while_down(app: &TestApp, what: &str) {
    let b = &app.browser;
    let (status, took, _) = timed(b, "/readyz").await;
    assert_eq!(status, 503, "{what} down: /readyz");
    assert!(took < Duration::from_millis(1200), "{what} down: /readyz took {took:?}");
    for path in ["/api/me", "/profile", "/"] {
        let (status, took, sets_cookie) = timed(b, path).await;
        assert_eq!(status, 503, "{what} down: {path}");
        assert!(took < Duration::from_secs(2), "{what} down: {path} took {took:?}");
        assert!(!sets_cookie, "{what} down: {path} must not touch the session cookie");
    }
    let res = b.get("/api/me").await;
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{what}: JSON for /api");
    assert!(res.headers().contains_key("retry-after"), "{what}: Retry-After");
    for header in ["cache-control", "content-security-policy", "x-frame-options", "referrer-policy"] {
        assert!(res.headers().contains_key(header), "{what}: the outage answer carries {header}");
    }
    let (status, ..) = timed(b, "/healthz").await;
    assert_eq!(status, 200, "{what} down: the process itself is healthy");
    let (status, ..) = timed(b, "/static/style.css").await;
    assert_eq!(status, 200, "{what} down: assets need no session");
    let (status, ..) = timed(&app.new_browser(), "/login").await;
    assert_eq!(status, 200, "{what} down: a page that needs no session");
}

/// After the component returns: back within 5 s, and still signed in as before.
async fn recovers(app: &TestApp, what: &str, me: &serde_json::Value) {
    let back = eventually(Duration::from_secs(5), async || app.browser.me().await.as_ref() == Ok(me)).await;
    assert!(back.is_some(), "{what}: not recovered within 5 s (or the user was signed out)");
    assert_eq!(app.browser.get("/readyz").await.status(), 200, "{what}: ready again");
}

#[actix_web::test]
async fn redis_going_away_and_coming_back() {
    let redis = ThrowawayRedis::start();
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .github("github", &github)
            .var("SESSION_STORE", "redis")
            .var("REDIS_URL", redis.url()),
    )
    .await;
    app.sign_in_github(&app.browser, "github").await;
    let me = app.browser.me().await.expect("signed in");

    redis.down();
    while_down(&app, "Redis").await;
    redis.up();
    recovers(&app, "Redis", &me).await;
}

#[actix_web::test]
async fn postgres_going_away_and_coming_back() {
    let pg = ThrowawayPg::start();
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .github("github", &github)
            .var("DATABASE_URL", pg.url())
            .var("SESSION_STORE", "database"),
    )
    .await;
    app.sign_in_github(&app.browser, "github").await;
    let me = app.browser.me().await.expect("signed in");

    pg.down();
    while_down(&app, "PostgreSQL").await;
    // Once the database is known to be away, requests do not each wait the checkout timeout
    // (1 s) for it: twenty answers in far less than twenty seconds.
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(app.browser.get("/api/me").await.status(), 503);
    }
    assert!(started.elapsed() < Duration::from_secs(8), "20 answers took {:?}", started.elapsed());
    pg.up();
    recovers(&app, "PostgreSQL", &me).await;
}
