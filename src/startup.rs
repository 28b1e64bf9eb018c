//! Wiring: the one place for middleware order, shared state and routes.
//!
//! Middleware runs in reverse order of `.wrap`: the last one added sees the request first.
//! So: Logger → headers → Session → Identity → attach_identity → handlers.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_identity::IdentityMiddleware;
use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession, TtlExtensionPolicy};
use actix_web::cookie::{SameSite, time};
use actix_web::dev::Server;
use actix_web::middleware::{Condition, DefaultHeaders, Logger, from_fn};
use actix_web::{App, HttpServer, web};

use crate::accounts::{AccountCache, changes};
use crate::auth::attach_identity;
use crate::config::{SessionStoreKind, Settings};
use crate::db::{Db, DbError};
use crate::metrics::Metrics;
use crate::providers::{HttpClient, Registry};
use crate::rate_limit::RateLimits;
use crate::routes;
use crate::session::{AnyStore, DbSessionStore, RedisSessions};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("templates: {0}")]
    Templates(String),
    #[error("session store: {0}")]
    SessionStore(String),
}

pub struct Application {
    port: u16,
    server: Server,
    /// The `METRICS_BIND_ADDR` listener, running beside the main one.
    metrics: Option<(u16, actix_web::dev::ServerHandle)>,
}

impl Application {
    /// Opens the database (running migrations), binds `BIND_ADDR` and prepares the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(&settings.bind_addr)
            .map_err(|source| StartupError::Bind { addr: settings.bind_addr.clone(), source })?;
        Self::build_with_listener(settings, listener).await
    }

    /// As [`Application::build`], on a listener bound by the caller (tests bind port 0).
    pub async fn build_with_listener(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        crate::templates::check().map_err(StartupError::Templates)?;
        let (url, pool_size) = (settings.database_url.clone(), settings.database_pool_size);
        let db = web::block(move || Db::connect(&url, pool_size)).await.map_err(|_| DbError::Cancelled)??;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: settings.bind_addr.clone(), source })?
            .port();

        warn_about_deployment(&settings);
        let registry = Registry::from_settings(&settings, Some(db.clone()));
        if registry.is_empty() {
            log::warn!(
                "no sign-in providers are configured: set OAUTH_PROVIDERS and the OAUTH_{{NAME}}_* \
                 variables (see .env.example and README.md)"
            );
        }
        maintain_providers(&registry, &settings);

        let registry = web::Data::new(registry);
        let db = web::Data::new(db);
        let store = session_store(&settings, &db).await?;
        let accounts = Arc::new(AccountCache::new(settings.account_cache_size, settings.account_cache_ttl));
        if accounts.enabled() {
            changes::listen(&settings.database_url, &accounts);
        }
        let accounts = web::Data::from(accounts);
        let login_pages = web::Data::new(routes::LoginPages::default());
        let rate_limits =
            web::Data::new(RateLimits::new(settings.rate_limit_per_minute, settings.trusted_proxies.clone()));
        let settings = web::Data::new(settings);
        let metrics = web::Data::new(Metrics::default());
        let store_data = web::Data::new(store.clone());
        let metrics_server = match &settings.metrics_bind_addr {
            Some(addr) => Some(metrics_listener(addr, &settings, &metrics, &store_data, &accounts)?),
            None => None,
        };
        let shared_settings = settings.clone();
        let server = HttpServer::new(move || {
            let s = &shared_settings;
            App::new()
                // awc clients are not Send: one per worker.
                .app_data(web::Data::new(HttpClient::new(&s.http)))
                .app_data(registry.clone())
                .app_data(db.clone())
                .app_data(s.clone())
                .app_data(rate_limits.clone())
                .app_data(metrics.clone())
                .app_data(store_data.clone())
                .app_data(accounts.clone())
                .app_data(login_pages.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                .wrap(from_fn(attach_identity))
                .wrap(
                    IdentityMiddleware::builder()
                        .login_deadline(Some(Duration::from_secs(s.session_ttl_days as u64 * 86_400)))
                        .visit_deadline(s.session_idle_minutes.map(|m| Duration::from_secs(m * 60)))
                        .build(),
                )
                .wrap(from_fn(crate::session::mark_anonymous))
                .wrap(session_middleware(s, store.clone()))
                .wrap(from_fn(crate::session::shorten_anonymous_cookie))
                .wrap(from_fn(crate::session::answer_store_outage))
                .wrap(Condition::new(s.trusted_proxies.0.is_empty(), from_fn(crate::net::notice_untrusted_proxy)))
                .wrap(security_headers(s.secure_cookies()))
                .wrap(Condition::new(log::log_enabled!(target: ACCESS_LOG, log::Level::Info), access_log()))
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr: settings.bind_addr.clone(), source })?
        .shutdown_timeout(10)
        .run();
        Ok(Application { port, server, metrics: metrics_server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `METRICS_BIND_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The server future, for tests that need its handle.
    pub fn into_server(self) -> Server {
        self.server
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some((_, metrics)) = self.metrics {
            metrics.stop(true).await;
        }
        result
    }
}

/// Start-up warnings about a deployment that works but is not what its operator meant.
fn warn_about_deployment(settings: &Settings) {
    if settings.secure_cookies() && settings.trusted_proxies.0.is_empty() {
        log::warn!(
            "PUBLIC_URL is https, so a reverse proxy terminates TLS in front of gatehouse, but \
             TRUSTED_PROXIES is empty: every visitor shares the proxy's rate-limit bucket. Set \
             TRUSTED_PROXIES to the proxy's address (e.g. TRUSTED_PROXIES=127.0.0.1)"
        );
    }
}

/// `/metrics` on a listener of its own (`METRICS_BIND_ADDR`), where the usual practice puts it:
/// a reverse proxy in front of the main listener never reaches it. One worker is plenty.
fn metrics_listener(
    addr: &str,
    settings: &web::Data<Settings>,
    metrics: &web::Data<Metrics>,
    store: &web::Data<AnyStore>,
    accounts: &web::Data<AccountCache>,
) -> Result<(u16, actix_web::dev::ServerHandle), StartupError> {
    let bind_error = |source| StartupError::Bind { addr: addr.to_string(), source };
    let listener = TcpListener::bind(addr).map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    let (settings, metrics, store, accounts) = (settings.clone(), metrics.clone(), store.clone(), accounts.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(routes::health::MetricsListener)
            .app_data(settings.clone())
            .app_data(metrics.clone())
            .app_data(store.clone())
            .app_data(accounts.clone())
            .route("/metrics", web::get().to(routes::health::metrics))
    })
    .workers(1)
    .listen(listener)
    .map_err(bind_error)?
    .disable_signals()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok((port, handle))
}

/// Background upkeep for every provider (OIDC metadata): an issuer that is down must not
/// stop start-up. Each task ends when its provider is dropped (server stopped).
fn maintain_providers(registry: &Registry, settings: &Settings) {
    for provider in registry.iter() {
        let provider = Arc::downgrade(provider);
        let http = HttpClient::new(&settings.http);
        actix_web::rt::spawn(async move {
            loop {
                let Some(p) = provider.upgrade() else { break };
                let Some(delay) = p.maintain(&http).await else { break };
                drop(p);
                actix_web::rt::time::sleep(delay).await;
            }
        });
    }
}

/// The session store `SESSION_STORE` names; Redis is connected (and checked) at start.
async fn session_store(settings: &Settings, db: &Db) -> Result<AnyStore, StartupError> {
    Ok(match &settings.session_store {
        SessionStoreKind::Cookie => AnyStore::cookie(),
        SessionStoreKind::Database => AnyStore::database(DbSessionStore::new(db.clone())),
        SessionStoreKind::Redis { url, prefix } => AnyStore::redis(
            RedisSessions::connect(url.expose(), prefix)
                .await
                .map_err(|e| StartupError::SessionStore(format!("cannot reach REDIS_URL: {e}")))?,
        ),
    })
}

/// Sessions (stored per `SESSION_STORE`) that persist across visits (remember-me) for
/// `SESSION_TTL_DAYS`. `Secure` exactly when the public URL is https, where the `__Host-`
/// prefix also pins the cookie to this host.
fn session_middleware(s: &Settings, store: AnyStore) -> SessionMiddleware<AnyStore> {
    let secure = s.secure_cookies();
    let name = if secure { "__Host-gatehouse" } else { "gatehouse" };
    SessionMiddleware::builder(store, s.session_key.key.clone())
        .cookie_name(name.to_string())
        .cookie_secure(secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_string())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default()
                .session_ttl(time::Duration::days(s.session_ttl_days))
                .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
}

/// Safe defaults for every response. Pages are personal: nothing is cached unless a route
/// says otherwise (static assets do).
pub(crate) const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
];

/// [`SECURITY_HEADERS`] on every response, and HSTS on https.
fn security_headers(https: bool) -> DefaultHeaders {
    let headers = SECURITY_HEADERS.into_iter().fold(DefaultHeaders::new(), DefaultHeaders::add);
    if https { headers.add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains")) } else { headers }
}

const ACCESS_LOG: &str = "gatehouse::access";

/// The path only: query strings carry `code` and `state` on /callback and never reach the log.
/// Left out entirely when its target logs nothing (`RUST_LOG=warn`): preparing each line costs
/// as much as some handlers.
fn access_log() -> Logger {
    Logger::new(r#"%a "%{method}xi %U" %s %b %Dms"#)
        .log_target(ACCESS_LOG)
        .custom_request_replace("method", |req| req.method().to_string())
}
