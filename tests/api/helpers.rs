//! `spawn_app`: the app on a random port with its own fresh database (SQLite file or a new
//! PostgreSQL database), providers pointed at local servers, and a browser-like client (cookie
//! jar, redirects not followed).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::dev::ServerHandle;
use diesel::{Connection, PgConnection, RunQueryDsl};
use gatehouse::config::Settings;
use gatehouse::startup::Application;
use reqwest::header::LOCATION;

pub use crate::github_standin::{GithubAccount, GithubStandIn};
pub use crate::oidc_provider::{AtProvider, OidcServer, complete_at_provider};

pub const SESSION_KEY: &str = "test-session-key-0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test body twice: on SQLite and on the real PostgreSQL. A doc comment on
/// the body documents the pair.
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$doc:meta])* async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $($(#[$doc])* mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[actix_web::test]
            async fn sqlite() { run($crate::helpers::Backend::Sqlite).await }
            #[actix_web::test]
            async fn postgres() { run($crate::helpers::Backend::Postgres).await }
            async fn run($backend: $crate::helpers::Backend) $body
        })*
    };
}

/// A database of its own for one test; a PostgreSQL one is dropped afterwards.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<TempDir>,
}

pub fn admin_pg_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new();
                let url = format!("sqlite://{}/nested/gatehouse.db", dir.0.display());
                TestDb { url, pg_name: None, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let admin = admin_pg_url();
                let name = format!("gatehouse_t_{}", unique());
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for these tests and did not answer at {admin}: {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&name);
                TestDb { url: url.to_string(), pg_name: Some(name), _dir: None }
            }
        }
    }

    /// The ids of a user's identities, oldest first, read straight from the database.
    pub fn identity_ids(&self, user_id: i64) -> Vec<i64> {
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let q = format!("SELECT id FROM identities WHERE user_id = {user_id} ORDER BY id");
        let rows: Vec<Id> = if let Some(path) = self.url.strip_prefix("sqlite://") {
            diesel::sql_query(q).load(&mut diesel::SqliteConnection::establish(path).unwrap()).unwrap()
        } else {
            diesel::sql_query(q).load(&mut PgConnection::establish(&self.url).unwrap()).unwrap()
        };
        rows.into_iter().map(|r| r.id).collect()
    }

    /// Runs a statement straight on the database (to simulate what happens behind the app).
    pub fn execute(&self, sql: &str) {
        if let Some(path) = self.url.strip_prefix("sqlite://") {
            diesel::sql_query(sql).execute(&mut diesel::SqliteConnection::establish(path).unwrap()).unwrap();
        } else {
            diesel::sql_query(sql).execute(&mut PgConnection::establish(&self.url).unwrap()).unwrap();
        }
    }

    /// The text column `t` of every row `sql` selects, read straight from the database.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        use diesel::sql_types::Text;
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = Text)]
            t: String,
        }
        let rows: Vec<T> = if let Some(path) = self.url.strip_prefix("sqlite://") {
            diesel::sql_query(sql).load(&mut diesel::SqliteConnection::establish(path).unwrap()).unwrap()
        } else {
            diesel::sql_query(sql).load(&mut PgConnection::establish(&self.url).unwrap()).unwrap()
        };
        rows.into_iter().map(|r| r.t).collect()
    }

    /// Rows in `table`, read straight from the database.
    pub fn count(&self, table: &str) -> i64 {
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let q = format!("SELECT COUNT(*) AS n FROM {table}");
        let n: N = if let Some(path) = self.url.strip_prefix("sqlite://") {
            diesel::sql_query(q).get_result(&mut diesel::SqliteConnection::establish(path).unwrap()).unwrap()
        } else {
            diesel::sql_query(q).get_result(&mut PgConnection::establish(&self.url).unwrap()).unwrap()
        };
        n.n
    }

    /// Row counts of (users, identities), read straight from the database.
    pub fn counts(&self) -> (i64, i64) {
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let q = |table: &str| format!("SELECT COUNT(*) AS n FROM {table}");
        if let Some(path) = self.url.strip_prefix("sqlite://") {
            let mut c = diesel::SqliteConnection::establish(path).unwrap();
            let u: N = diesel::sql_query(q("users")).get_result(&mut c).unwrap();
            let i: N = diesel::sql_query(q("identities")).get_result(&mut c).unwrap();
            (u.n, i.n)
        } else {
            let mut c = PgConnection::establish(&self.url).unwrap();
            let u: N = diesel::sql_query(q("users")).get_result(&mut c).unwrap();
            let i: N = diesel::sql_query(q("identities")).get_result(&mut c).unwrap();
            (u.n, i.n)
        }
    }
}

impl TestDb {
    /// Seconds until the `sessions` row `id` expires, as the database itself keeps it.
    pub fn seconds_left(&self, id: &str) -> i64 {
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct Left {
            #[diesel(sql_type = BigInt)]
            left: i64,
        }
        let left: Left = if let Some(path) = self.url.strip_prefix("sqlite://") {
            let q = format!(
                "SELECT CAST(strftime('%s', expires_at) - strftime('%s', 'now') AS BIGINT) AS left FROM sessions WHERE id = '{id}'"
            );
            diesel::sql_query(q).get_result(&mut diesel::SqliteConnection::establish(path).unwrap()).unwrap()
        } else {
            let q = format!(
                "SELECT CAST(EXTRACT(EPOCH FROM expires_at - (now() AT TIME ZONE 'UTC')) AS BIGINT) AS left FROM sessions WHERE id = '{id}'"
            );
            diesel::sql_query(q).get_result(&mut PgConnection::establish(&self.url).unwrap()).unwrap()
        };
        left.left
    }

    /// Drops a PostgreSQL database under the running app (a database outage).
    pub fn drop_now(&self) {
        self.drop_pg();
    }

    fn drop_pg(&self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = PgConnection::establish(&admin_pg_url())
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_pg();
    }
}

pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("gatehouse-test-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A provider for the app under test.
pub enum TestProvider<'a> {
    /// The shared real OpenID Provider, with a client registered for this app.
    Oidc { name: &'a str, extra: Vec<(&'a str, String)> },
    /// The GitHub stand-in.
    Github { name: &'a str, standin: &'a GithubStandIn },
    /// Raw variables (a provider that is down, say).
    Env(Vec<(String, String)>),
}

pub struct TestApp {
    pub addr: String,
    /// `http://127.0.0.1:{port}` of the `METRICS_BIND_ADDR` listener, when one was asked for.
    pub metrics_addr: Option<String>,
    pub db: TestDb,
    pub browser: Browser,
    pub vars: HashMap<String, String>,
    handle: ServerHandle,
}

pub struct AppOptions<'a> {
    pub backend: Backend,
    /// The path gatehouse is mounted under (`PUBLIC_URL`'s path), e.g. `/auth`.
    pub mount: &'a str,
    pub providers: Vec<TestProvider<'a>>,
    pub vars: Vec<(&'a str, String)>,
    /// The origin browsers use (`PUBLIC_URL` without the mount path), when a proxy is in front;
    /// by default the app's own address.
    pub origin: Option<String>,
}

impl<'a> AppOptions<'a> {
    pub fn new(backend: Backend) -> Self {
        AppOptions { backend, mount: "", providers: Vec::new(), vars: Vec::new(), origin: None }
    }
    pub fn oidc(mut self, name: &'a str) -> Self {
        self.providers.push(TestProvider::Oidc { name, extra: Vec::new() });
        self
    }
    pub fn oidc_with(mut self, name: &'a str, extra: Vec<(&'a str, String)>) -> Self {
        self.providers.push(TestProvider::Oidc { name, extra });
        self
    }
    pub fn github(mut self, name: &'a str, standin: &'a GithubStandIn) -> Self {
        self.providers.push(TestProvider::Github { name, standin });
        self
    }
    pub fn provider_env(mut self, vars: Vec<(String, String)>) -> Self {
        self.providers.push(TestProvider::Env(vars));
        self
    }
    /// `SESSION_STORE=store`, with the shared Redis when it is `redis`.
    pub fn session_store(self, store: &'a str) -> Self {
        let opts = self.var("SESSION_STORE", store);
        if store == "redis" { opts.var("REDIS_URL", redis_url()) } else { opts }
    }

    /// Mounts gatehouse under `path` (`PUBLIC_URL=http://127.0.0.1:{port}{path}`).
    /// Browsers reach the app through a proxy at `origin` (`http://host:port`).
    pub fn public_origin(mut self, origin: String) -> Self {
        self.origin = Some(origin);
        self
    }
    pub fn mounted_at(mut self, path: &'a str) -> Self {
        self.mount = path;
        self
    }
    pub fn var(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.vars.push((name, value.into()));
        self
    }
}

fn prefix(name: &str) -> String {
    format!("OAUTH_{}_", name.to_uppercase().replace('-', "_"))
}

/// A listener on a random port for an app of its own that mounts gatehouse, with `app`'s
/// variables and `PUBLIC_URL` its own address: (listener, address, variables).
pub fn mounting_app_listener(app: &TestApp) -> (TcpListener, String, HashMap<String, String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut vars = app.vars.clone();
    vars.insert("PUBLIC_URL".into(), addr.clone());
    (listener, addr, vars)
}

/// Runs an app of its own on `listener` with gatehouse mounted in, as the README shows: `own`
/// registers the app's routes, before gatehouse's, and gatehouse wraps the whole app.
pub async fn serve_mounting_app(
    vars: &HashMap<String, String>,
    listener: TcpListener,
    own: fn(&mut actix_web::web::ServiceConfig),
) {
    use actix_web::{App, HttpServer};
    let gatehouse = gatehouse::Gatehouse::new(Settings::from_vars(vars).unwrap()).await.unwrap();
    let server = HttpServer::new(move || {
        let app = App::new().configure(own).configure(|cfg| gatehouse.configure(cfg));
        gatehouse.wrap(app)
    })
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
}

pub async fn spawn_app(opts: AppOptions<'_>) -> TestApp {
    // Logs go to the test's captured output (shown for failing tests); RUST_LOG tunes them.
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,actix_server=warn"))
        .is_test(true)
        .try_init();
    let db = TestDb::new(opts.backend);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());

    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), db.url.clone());
    vars.insert("BIND_ADDR".into(), "127.0.0.1:0".into());
    let public = format!("{}{}", opts.origin.as_deref().unwrap_or(&addr), opts.mount);
    vars.insert("PUBLIC_URL".into(), public.clone());
    vars.insert("SESSION_KEY".into(), SESSION_KEY.into());
    vars.insert("HTTP_TIMEOUT_SECS".into(), "3".into());
    vars.insert("HTTP_CONNECT_TIMEOUT_SECS".into(), "2".into());
    // The demo provider is tested on purpose (tests/api/demo.rs), not wherever nothing else is.
    vars.insert("DEMO_SIGN_IN".into(), "off".into());
    // Tests share one Redis, and every test's first user is id 1.
    vars.insert("REDIS_KEY_PREFIX".into(), format!("gatehouse-test-{}", unique()));
    let mut names = Vec::new();
    for p in opts.providers {
        match p {
            TestProvider::Oidc { name, extra } => {
                let op = OidcServer::shared();
                let (id, secret) = op.register_client(&format!("{public}/callback/{name}")).await;
                let pre = prefix(name);
                vars.insert(format!("{pre}KIND"), "oidc".into());
                vars.insert(format!("{pre}ISSUER"), op.issuer.clone());
                vars.insert(format!("{pre}CLIENT_ID"), id);
                vars.insert(format!("{pre}CLIENT_SECRET"), secret);
                for (k, v) in extra {
                    vars.insert(format!("{pre}{k}"), v);
                }
                names.push(name.to_string());
            }
            TestProvider::Github { name, standin } => {
                vars.extend(standin.env(name));
                names.push(name.to_string());
            }
            TestProvider::Env(env) => {
                let name = env
                    .iter()
                    .find_map(|(k, _)| k.strip_suffix("_KIND"))
                    .map(|k| k.trim_start_matches("OAUTH_").to_lowercase().replace('_', "-"))
                    .expect("a provider env needs OAUTH_{NAME}_KIND");
                vars.extend(env);
                names.push(name);
            }
        }
    }
    vars.insert("OAUTH_PROVIDERS".into(), names.join(","));
    for (k, v) in opts.vars {
        vars.insert(k.to_string(), v);
    }
    let (addr, handle, metrics_addr) = start(&vars, listener).await;
    TestApp { addr: addr.clone(), metrics_addr, db, browser: Browser::new(&addr), vars, handle }
}

async fn start(vars: &HashMap<String, String>, listener: TcpListener) -> (String, ServerHandle, Option<String>) {
    let settings = Settings::from_vars(vars).expect("test configuration is valid");
    let app = Application::build_with_listener(settings, listener).await.expect("app starts");
    let addr = format!("http://127.0.0.1:{}", app.port());
    let metrics_addr = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
    let server = app.into_server();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle, metrics_addr)
}

impl TestApp {
    /// Stops the server and starts a new one on the same port, database and settings: a
    /// restart as a deployment would do it.
    pub async fn restart(&mut self) {
        self.handle.stop(true).await;
        let port: u16 = self.addr.rsplit(':').next().unwrap().parse().unwrap();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port is free again after stop");
        let (_, handle, _) = start(&self.vars, listener).await;
        self.handle = handle;
    }

    /// A second instance of the same deployment (same settings, database and public URL) on
    /// another port, as behind a load balancer.
    pub async fn start_sibling(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (addr, _handle, _) = start(&self.vars, listener).await;
        addr
    }

    /// Another browser with an empty cookie jar.
    pub fn new_browser(&self) -> Browser {
        Browser::new(&self.addr)
    }

    /// The whole dance with the real OpenID Provider in `browser`: authorize, log in as
    /// `login` and consent, then the callback. Returns the callback's response.
    pub async fn sign_in_oidc(&self, browser: &Browser, provider: &str, login: &str) -> reqwest::Response {
        let callback = self.oidc_callback_url(browser, provider, "/", AtProvider::LogIn(login)).await;
        browser.get(&callback).await
    }

    /// Runs authorize and the provider's pages; returns the callback URL without visiting it.
    pub async fn oidc_callback_url(
        &self,
        browser: &Browser,
        provider: &str,
        next: &str,
        action: AtProvider<'_>,
    ) -> String {
        let res = browser.get(&format!("/authorize/{provider}?next={}", enc(next))).await;
        assert!(res.status().is_redirection(), "authorize answered {}", res.status());
        let to_provider = location(&res);
        complete_at_provider(&browser.client, &to_provider, &format!("{}/callback/", self.addr), action).await
    }

    /// Linking from /profile: the "Link" form's same-origin POST, then the provider's pages;
    /// returns the callback URL without visiting it.
    pub async fn link_callback_url(&self, browser: &Browser, provider: &str, action: AtProvider<'_>) -> String {
        let res = browser
            .client
            .post(browser.url(&format!("/authorize/{provider}?next=%2Fprofile")))
            .header("Origin", &self.addr)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "linking answered {}", res.status());
        complete_at_provider(&browser.client, &location(&res), &format!("{}/callback/", self.addr), action).await
    }

    /// The GitHub dance: the stand-in approves at once and redirects back.
    pub async fn github_callback_url(&self, browser: &Browser, provider: &str, next: &str) -> String {
        let res = browser.get(&format!("/authorize/{provider}?next={}", enc(next))).await;
        assert!(res.status().is_redirection(), "authorize answered {}", res.status());
        let res = browser.get(&location(&res)).await;
        assert_eq!(res.status(), 302, "the GitHub stand-in should approve at once");
        location(&res)
    }

    pub async fn sign_in_github(&self, browser: &Browser, provider: &str) -> reqwest::Response {
        let url = self.github_callback_url(browser, provider, "/").await;
        browser.get(&url).await
    }
}

/// A browser: cookie jar, no automatic redirects, relative URLs resolved against the app.
pub struct Browser {
    pub client: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let client =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { client, base: base.to_string() }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client.post(self.url(path)).send().await.expect("POST")
    }

    /// `GET /api/me` as JSON, or the status when not 200.
    pub async fn me(&self) -> Result<serde_json::Value, u16> {
        let res = self.get("/api/me").await;
        match res.status().as_u16() {
            200 => Ok(res.json().await.unwrap()),
            other => Err(other),
        }
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location on a {}", res.status()))
        .to_str()
        .unwrap()
        .to_string()
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The value of `name` in a URL's query.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Replaces (or adds) a query parameter in a URL.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> =
        u.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    u.query_pairs_mut().clear().extend_pairs(pairs).append_pair(name, value);
    u.to_string()
}

pub fn set_cookie_headers(res: &reqwest::Response) -> Vec<String> {
    res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

/// Sign-in through a provider that approves at once (the stand-ins and the scripted OP):
/// authorize, follow the provider's redirect, visit the callback. Returns the callback's answer.
pub async fn sign_in_auto(browser: &Browser, provider: &str) -> reqwest::Response {
    let res = browser.get(&format!("/authorize/{provider}")).await;
    assert_eq!(res.status(), 303, "authorize at {provider}");
    let res = browser.get(&location(&res)).await;
    assert!(res.status().is_redirection(), "the provider should approve at once, answered {}", res.status());
    browser.get(&location(&res)).await
}

/// Sets (or replaces) `OAUTH_{NAME}_{suffix}` in a provider's variables.
pub fn set_var(mut env: Vec<(String, String)>, key: &str, value: impl Into<String>) -> Vec<(String, String)> {
    let value = value.into();
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => env.push((key.to_string(), value)),
    }
    env
}

/// A session cookie value sealed with the test SESSION_KEY, as the server itself would seal it:
/// each entry's value is JSON, as actix-session stores it.
pub fn seal_session(entries: &[(&str, serde_json::Value)]) -> String {
    let state: std::collections::HashMap<&str, String> = entries.iter().map(|(k, v)| (*k, v.to_string())).collect();
    seal_state(&serde_json::to_string(&state).unwrap())
}

/// A session cookie's value holding `state` exactly as given, for states actix-session would
/// never write itself (a repeated name, a value that is not a string).
pub fn seal_state(state: &str) -> String {
    seal_state_as("gatehouse", state)
}

/// [`seal_state`] for a cookie of another name (the name is part of what is sealed).
pub fn seal_state_as(name: &str, state: &str) -> String {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let mut jar = CookieJar::new();
    jar.private_mut(&Key::derive_from(SESSION_KEY.as_bytes())).add(Cookie::new(name.to_string(), state.to_string()));
    jar.get(name).unwrap().value().to_string()
}

/// Polls `check` until it holds or `within` passes; returns how long it took.
pub async fn eventually(
    within: std::time::Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The Redis the tests share (scripts/test.sh exports it, or starts a throwaway one).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// What a session cookie value (as sent, percent-encoded) sealed with the test SESSION_KEY
/// holds: the session state (cookie store) or the session key (server-side stores). `None`
/// when it does not open.
pub fn unseal_session(value: &str) -> Option<String> {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let mut jar = CookieJar::new();
    jar.add_original(Cookie::new("gatehouse", percent_decode(value)));
    jar.private(&Key::derive_from(SESSION_KEY.as_bytes())).get("gatehouse").map(|c| c.value().to_string())
}

/// The session cookie a response sets, as `name=value` ready for a `Cookie` header, if any.
pub fn session_set_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookie_headers(res)
        .into_iter()
        .find(|c| c.starts_with("gatehouse=") && !c.contains("Max-Age=0"))
        .and_then(|c| c.split(';').next().map(str::to_string))
}

fn percent_decode(s: &str) -> String {
    // form_urlencoded would turn a literal `+` into a space; base64 has them.
    url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A counter from `/metrics` (the app allows loopback), summed over its labels.
pub async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.new_browser().get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// --- Sign in with Apple (the stand-in in tests/providers/apple_standin.rs) ---------------------

/// Runs `/authorize/apple` in `browser` and Apple's page; returns the form Apple's page would
/// post on "Continue" (its action and fields).
pub async fn apple_form(browser: &Browser) -> (String, Vec<(String, String)>) {
    apple_page_form(browser, "apple").await
}

/// The form with id `form` on Apple's page ("apple": Continue, "cancel": Cancel).
pub async fn apple_page_form(browser: &Browser, form: &str) -> (String, Vec<(String, String)>) {
    let res = browser.get("/authorize/apple").await;
    assert_eq!(res.status(), 303, "authorize");
    let to_apple = location(&res);
    assert_eq!(query_param(&to_apple, "response_mode").as_deref(), Some("form_post"), "{to_apple}");
    let page = reqwest::get(&to_apple).await.unwrap();
    assert_eq!(page.status(), 200, "Apple's page: {}", page.text().await.unwrap());
    let html = page.text().await.unwrap();
    let form_html = &html[html.find(&format!(r#"<form id="{form}""#)).unwrap()..];
    let form_html = &form_html[..form_html.find("</form>").unwrap()];
    let action = attr(&form_html[..form_html.find('>').unwrap()], "action");
    let fields = form_html.split("<input ").skip(1).map(|input| (attr(input, "name"), attr(input, "value"))).collect();
    (action, fields)
}

/// An attribute's (HTML-unescaped) value in a tag.
fn attr(tag: &str, name: &str) -> String {
    let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let value = &tag[start..start + tag[start..].find('"').unwrap()];
    value.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#x2F;", "/").replace("&amp;", "&")
}

/// Posts Apple's form as a browser would after Apple's page: cross-site, so without the
/// `SameSite=Lax` session cookie. Returns gatehouse's answer: a page that moves on, same-origin,
/// to the resume step.
pub async fn post_from_apple(action: &str, fields: &[(String, String)]) -> reqwest::Response {
    let no_cookies = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    no_cookies.post(action).form(fields).send().await.unwrap()
}

/// Where the page gatehouse answers a form post with sends the browser (its meta refresh,
/// which the page's link repeats).
pub async fn resume_url(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 200, "the form post answers a page that moves on");
    let html = res.text().await.unwrap();
    let meta = &html[html.find(r#"http-equiv="refresh""#).expect("a meta refresh")..];
    let content = attr(&meta[..meta.find('>').unwrap()], "content");
    let url = content.strip_prefix("0;url=").expect("0;url=").to_string();
    let link = &html[html.find("<a ").expect("a link")..];
    assert_eq!(attr(&link[..link.find('>').unwrap()], "href"), url, "the page links there too");
    url
}

/// Apple's form post, then the same-origin step in `browser`; returns the step's answer.
pub async fn post_like_apple(browser: &Browser, action: &str, fields: &[(String, String)]) -> reqwest::Response {
    let resume = resume_url(post_from_apple(action, fields).await).await;
    browser.get(&resume).await
}

pub async fn sign_in_with_apple(browser: &Browser) -> reqwest::Response {
    let (action, fields) = apple_form(browser).await;
    post_like_apple(browser, &action, &fields).await
}
