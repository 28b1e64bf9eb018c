//! gatehouse behind real reverse proxies: Debian's nginx (`auth_request` → `/verify`) and
//! Caddy (`forward_auth` → `/forward-auth`), each run with the configuration in `docs/deploy/`,
//! in front of a small upstream that echoes the headers it receives. A browser-like client
//! goes through the proxy only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::helpers::*;
use crate::oidc_provider::{AtProvider, complete_at_provider};

/// The app's site, and gatehouse's own when it has a subdomain of its own.
const SITE: &str = "app.example.test";
const AUTH_SITE: &str = "auth.example.test";

/// Where gatehouse lives: under a path of the app's site, or on its own subdomain.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    UnderPath,
    OwnSubdomain,
}

/// One request the app saw: its URI and headers.
type Seen = (String, Vec<(String, String)>);

/// What the app behind the proxy saw.
#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The proxy's port of each request's connection: how many connections it opened.
    peers: Arc<Mutex<Vec<u16>>>,
    addr: String,
}

impl Upstream {
    fn start() -> Upstream {
        let upstream = Upstream::default();
        let (seen, peers) = (upstream.seen.clone(), upstream.peers.clone());
        let server = HttpServer::new(move || {
            let (seen, peers) = (seen.clone(), peers.clone());
            App::new().default_service(web::to(move |req: HttpRequest| {
                let (seen, peers) = (seen.clone(), peers.clone());
                async move {
                    peers.lock().unwrap().extend(req.peer_addr().map(|a| a.port()));
                    let headers: Vec<(String, String)> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect();
                    seen.lock().unwrap().push((req.uri().to_string(), headers.clone()));
                    HttpResponse::Ok().json(serde_json::json!({
                        "uri": req.uri().to_string(),
                        "headers": headers.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                    }))
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0].to_string();
        actix_web::rt::spawn(server.run());
        Upstream { addr, ..upstream }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Nginx,
    Caddy,
}

/// A proxy process with its own folder; stopped and removed on drop.
struct Proxy {
    child: Child,
    port: u16,
    layout: Layout,
    _dir: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.exists())
        .expect("nginx is installed")
}

impl Proxy {
    fn start(kind: Kind, layout: Layout, port: u16, gatehouse: &str, app: &str) -> Proxy {
        let dir = TempDir::new();
        let child = match kind {
            Kind::Nginx => {
                // docs/deploy/nginx*.conf as it is, with only the addresses replaced.
                let file = if layout == Layout::UnderPath { "nginx.conf" } else { "nginx-subdomain.conf" };
                let site = deploy_file(file)
                    .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
                    .replace("server_name app.example.com;", &format!("server_name {SITE};"))
                    .replace("server_name auth.example.com;", &format!("server_name {AUTH_SITE};"))
                    .replace("127.0.0.1:8080", gatehouse)
                    .replace("127.0.0.1:3000", app);
                std::fs::write(dir.0.join("site.conf"), site).unwrap();
                std::fs::write(dir.0.join("gatehouse-identity.conf"), deploy_file("gatehouse-identity.conf")).unwrap();
                let d = dir.0.display();
                let main = format!(
                    "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                     events {{ worker_connections 256; }}\n\
                     http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
                     fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
                     include site.conf;\n}}\n"
                );
                std::fs::write(dir.0.join("nginx.conf"), main).unwrap();
                Command::new(nginx_binary())
                    .args(["-p", &format!("{d}/"), "-c", &format!("{d}/nginx.conf")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("nginx starts")
            }
            Kind::Caddy => {
                let caddyfile = dir.0.join("Caddyfile");
                let file = if layout == Layout::UnderPath { "Caddyfile" } else { "Caddyfile-subdomain" };
                std::fs::write(&caddyfile, deploy_file(file)).unwrap();
                Command::new("caddy")
                    .args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(&caddyfile)
                    .env("SITE", format!("http://{SITE}:{port}"))
                    .env("APP_SITE", format!("http://{SITE}:{port}"))
                    .env("AUTH_SITE", format!("http://{AUTH_SITE}:{port}"))
                    .env("GATEHOUSE", gatehouse)
                    .env("APP", app)
                    .env("XDG_DATA_HOME", &dir.0)
                    .env("XDG_CONFIG_HOME", &dir.0)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("caddy starts")
            }
        };
        let proxy = Proxy { child, port, layout, _dir: dir };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return proxy;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{kind:?} did not start listening on {port}");
    }

    /// `http://app.example.test:{port}`: the app's site as browsers see it.
    fn origin(&self) -> String {
        format!("http://{SITE}:{}", self.port)
    }

    /// Where browsers find gatehouse: under `/gatehouse` of the app's site, or on its own host.
    fn gatehouse(&self) -> String {
        match self.layout {
            Layout::UnderPath => format!("{}/gatehouse", self.origin()),
            Layout::OwnSubdomain => format!("http://{AUTH_SITE}:{}", self.port),
        }
    }

    /// A browser for which the site's name leads to the proxy.
    fn browser(&self) -> reqwest::Client {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve(SITE, addr)
            .resolve(AUTH_SITE, addr)
            .build()
            .unwrap()
    }
}

/// gatehouse configured as `docs/deploy/` says for `layout`, with the proxy in front of the
/// upstream.
async fn deployment(kind: Kind, layout: Layout) -> (TestApp, Proxy, Upstream) {
    let port = free_port();
    let upstream = Upstream::start();
    let options = AppOptions::new(Backend::Sqlite)
        .oidc_with("corp", vec![("TRUST_EMAIL", "true".into())])
        .var("TRUSTED_PROXIES", "127.0.0.1");
    let options = match layout {
        Layout::UnderPath => options.public_origin(format!("http://{SITE}:{port}")).mounted_at("/gatehouse"),
        Layout::OwnSubdomain => options
            .public_origin(format!("http://{AUTH_SITE}:{port}"))
            .var("COOKIE_DOMAIN", "example.test")
            .var("ALLOWED_REDIRECT_HOSTS", format!("{SITE}:{port}")),
    };
    let app = spawn_app(options).await;
    let gatehouse = app.addr.trim_start_matches("http://").to_string();
    let proxy = Proxy::start(kind, layout, port, &gatehouse, &upstream.addr);
    (app, proxy, upstream)
}

const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

async fn get(browser: &reqwest::Client, url: &str) -> reqwest::Response {
    browser.get(url).header("Accept", HTML).send().await.expect("GET through the proxy")
}

/// Signs in through the proxy from a guarded URL; returns where the callback sent the browser.
async fn sign_in_from(proxy: &Proxy, browser: &reqwest::Client, original: &str, login: &str) -> String {
    let res = get(browser, original).await;
    assert_eq!(res.status(), 302, "signed out: sent to sign in");
    let login_page = location(&res);
    assert_eq!(login_page, format!("{}/login?next={}", proxy.gatehouse(), enc(original)));
    assert_eq!(get(browser, &login_page).await.status(), 200, "the sign-in page, through the proxy");

    let next = query_param(&login_page, "next").unwrap();
    let res = get(browser, &format!("{}/authorize/corp?next={}", proxy.gatehouse(), enc(&next))).await;
    assert_eq!(res.status(), 303);
    let back = format!("{}/callback/", proxy.gatehouse());
    let callback = complete_at_provider(browser, &location(&res), &back, AtProvider::LogIn(login)).await;
    let res = get(browser, &callback).await;
    assert_eq!(res.status(), 303, "the callback, through the proxy");
    location(&res)
}

async fn the_whole_journey(kind: Kind, layout: Layout) {
    let (app, proxy, upstream) = deployment(kind, layout).await;
    let browser = proxy.browser();
    let original = format!("{}/reports/2026?year=2026&q=a%20b", proxy.origin());

    let landed = sign_in_from(&proxy, &browser, &original, "alice").await;
    assert_eq!(landed, original, "{kind:?}: back on the exact original URL");

    let res = get(&browser, &original).await;
    assert_eq!(res.status(), 200, "{kind:?}: signed in, the app answers");
    let echo: serde_json::Value = res.json().await.unwrap();
    assert_eq!(echo["uri"], "/reports/2026?year=2026&q=a%20b");
    let headers = &echo["headers"];
    let id = app.db.count("users");
    assert_eq!(id, 1);
    assert_eq!(headers["x-auth-request-user"], "1", "{kind:?}: {headers}");
    assert_eq!(headers["x-auth-request-email"], "alice@example.test");
    assert_eq!(headers["x-auth-request-name"], "Alice");
    let assertion = headers["x-auth-request-assertion"].as_str().unwrap_or_default();
    assert_eq!(assertion.split('.').count(), 3, "{kind:?}: the signed assertion reaches the app");

    // The proxy keeps its connection to the app alive (nginx only when configured to).
    let before = upstream.peers.lock().unwrap().len();
    for _ in 0..5 {
        assert_eq!(get(&browser, &original).await.status(), 200);
    }
    let mut ports = upstream.peers.lock().unwrap()[before..].to_vec();
    ports.sort_unstable();
    ports.dedup();
    assert!(ports.len() <= 2, "{kind:?}: 5 requests reached the app over {} connections", ports.len());

    // The visitor's own query adds no rules (and a misspelt one refuses no one).
    let res = get(&browser, &format!("{original}&allowed_emails=nobody@example.com&allowed_x=1")).await;
    assert_eq!(res.status(), 200, "{kind:?}: rules come from the proxy's configuration only");

    // A stricter location refuses this person: 403 through the proxy, the app never asked,
    // however the path is spelt.
    if layout == Layout::UnderPath {
        let before = upstream.seen.lock().unwrap().len();
        for path in ["/admin/users", "/ADMIN/users", "/admin", "/Admin/", "/admin;jsessionid=1", "/admin.json"] {
            let res = get(&browser, &format!("{}{path}", proxy.origin())).await;
            assert_eq!(res.status(), 403, "{kind:?}: {path} wants example.com");
        }
        assert_eq!(upstream.seen.lock().unwrap().len(), before);
    }

    // A client's own identity header never reaches the app, however it is spelt.
    for (name, value) in [
        ("X-Auth-Request-User", "999"),
        ("X-Auth-Request-Email", "boss@example.com"),
        ("X-Auth-Request-Groups", "corp:admins"),
        ("X_Auth_Request_User", "998"),
    ] {
        let res = browser.get(&original).header(name, value).send().await.unwrap();
        // nginx drops `_` headers itself (underscores_in_headers off); gatehouse refuses the rest.
        if !name.contains('_') {
            assert_eq!(res.status(), 403, "{kind:?}: {name}");
        }
        let forwarded = upstream.seen.lock().unwrap().iter().any(|(_, h)| h.iter().any(|(_, v)| v == value));
        assert!(!forwarded, "{kind:?}: a forged {name} reached the app");
    }

    // An API call or a form post signed out is 401, not a redirect.
    let res = proxy.browser().get(&original).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(res.status(), 401, "{kind:?}");
    let res = proxy.browser().post(&original).header("Accept", HTML).send().await.unwrap();
    assert_eq!(res.status(), 401, "{kind:?}: a signed-out POST");

    // Sign-out through the proxy ends it.
    let gatehouse_origin = url::Url::parse(&proxy.gatehouse()).unwrap().origin().ascii_serialization();
    let res =
        browser.post(format!("{}/logout", proxy.gatehouse())).header("Origin", gatehouse_origin).send().await.unwrap();
    let status = res.status();
    assert_eq!(status, 303, "{kind:?}: sign-out: {}", res.text().await.unwrap_or_default());
    assert_eq!(get(&browser, &original).await.status(), 302, "{kind:?}: signed out, sent to sign in again");
}

#[actix_web::test]
async fn nginx_guards_an_app_with_gatehouse_under_a_path() {
    the_whole_journey(Kind::Nginx, Layout::UnderPath).await;
}

#[actix_web::test]
async fn caddy_guards_an_app_with_gatehouse_under_a_path() {
    the_whole_journey(Kind::Caddy, Layout::UnderPath).await;
}

#[actix_web::test]
async fn nginx_guards_an_app_with_gatehouse_on_its_own_subdomain() {
    the_whole_journey(Kind::Nginx, Layout::OwnSubdomain).await;
}

#[actix_web::test]
async fn caddy_guards_an_app_with_gatehouse_on_its_own_subdomain() {
    the_whole_journey(Kind::Caddy, Layout::OwnSubdomain).await;
}

/// The documented configurations keep `/verify` from browsers: it is the proxies' to ask.
#[actix_web::test]
async fn the_gate_itself_is_not_exposed() {
    for (kind, layout) in [
        (Kind::Nginx, Layout::UnderPath),
        (Kind::Nginx, Layout::OwnSubdomain),
        (Kind::Caddy, Layout::UnderPath),
        (Kind::Caddy, Layout::OwnSubdomain),
    ] {
        let (app, proxy, _upstream) = deployment(kind, layout).await;
        let browser = proxy.browser();
        if layout == Layout::UnderPath {
            let landed = sign_in_from(&proxy, &browser, &format!("{}/", proxy.origin()), "alice").await;
            assert_eq!(landed, format!("{}/", proxy.origin()));
        }
        for path in ["/verify", "/forward-auth"] {
            let res = get(&browser, &format!("{}{path}", proxy.gatehouse())).await;
            assert_eq!(res.status(), 404, "{kind:?} {layout:?} {path}");
            assert!(res.headers().get("x-auth-request-user").is_none());
        }
        drop(app);
    }
}
