//! gatehouse as a library: one value holding everything gatehouse shares between workers, which
//! mounts its routes into an app and wraps the app with its middleware.
//!
//! Middleware runs in reverse order of `.wrap`: the last one added sees the request first. So:
//! access log → the gate's quick yes (cookie store) → security headers → proxy notice → demo
//! notice → store-outage answer → anonymous cookie lifetime → session → anonymous marker →
//! identity → attach_identity → handlers.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, Responder, web};
//! use gatehouse::{CurrentUser, Gatehouse, Settings};
//!
//! async fn dashboard(CurrentUser(account): CurrentUser) -> impl Responder {
//!     format!("Hello, {}", account.user.name)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> anyhow::Result<()> {
//!     let gatehouse = Gatehouse::new(Settings::from_env()?).await?;
//!     let bind = gatehouse.settings().bind_addr().to_string();
//!     HttpServer::new(move || {
//!         let app = App::new()
//!             .configure(|cfg| gatehouse.configure(cfg))
//!             .route("/dashboard", web::get().to(dashboard));
//!         gatehouse.wrap(app)
//!     })
//!     .bind(bind)?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```

use std::sync::Arc;

use actix_identity::IdentityMiddleware;
use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession, TtlExtensionPolicy};
use actix_web::body::MessageBody;
use actix_web::cookie::{SameSite, time};
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, Logger, from_fn};
use actix_web::{App, Error, web};

use crate::access::Access;
use crate::accounts::AccountCache;
use crate::auth::attach_identity;
use crate::config::{DatabaseUrl, SessionStoreKind, Settings};
use crate::db::changes::{self, Caches};
use crate::db::{Db, DbError};
use crate::demo::DemoIdp;
use crate::gate::Signer;
use crate::gate::fast_yes::FastYes;
use crate::metrics::Metrics;
use crate::providers::{HttpClient, Registry};
use crate::rate_limit::RateLimits;
use crate::routes;
use crate::security_headers::SecurityHeaders;
use crate::session::at_provider::IdTokenSeal;
use crate::session::{AnyStore, DbSessionStore, RedisSessions, SessionCache};
use crate::signin::CallbackSeal;
use crate::tokens::TokenVault;

/// Why gatehouse could not start. `Display` says what failed; the cause, where there is one,
/// is its `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The `HOST:PORT` asked for.
        addr: String,
        /// Why the operating system refused.
        source: std::io::Error,
    },
    /// A template (built in, or from `TEMPLATES_DIR`) is missing or does not parse.
    #[error("templates: {0}")]
    Templates(String),
    /// Redis (`REDIS_URL`) could not be reached.
    #[error("session store: cannot reach REDIS_URL")]
    SessionStore(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The identity-assertion signing key could not be loaded or created.
    #[error("assertion signing key")]
    SigningKey(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Settings that `Settings::from_env` would have refused (built in code).
    #[error("settings: {0}")]
    Settings(String),
    /// The demo provider could not start (or may not run with these settings).
    #[error("demo provider: {0}")]
    Demo(String),
}

/// Everything gatehouse shares between workers: settings, providers, the database pool, the
/// session store, the account cache, rate limits and metrics. Build it once with
/// [`Gatehouse::new`]; it is cheap to clone into every worker's `App` (see the module docs).
#[derive(Clone)]
pub struct Gatehouse {
    shared: Arc<Shared>,
}

struct Shared {
    settings: web::Data<Settings>,
    registry: web::Data<Registry>,
    db: web::Data<Db>,
    store: AnyStore,
    store_data: web::Data<AnyStore>,
    accounts: web::Data<AccountCache>,
    login_pages: web::Data<routes::LoginPages>,
    rate_limits: web::Data<RateLimits>,
    metrics: web::Data<Metrics>,
    /// Who may come in (checked at sign-in and by the gate).
    access: web::Data<Access>,
    /// Signs the identity assertions the gate hands to upstreams.
    signer: web::Data<Signer>,
    /// The gate's yes before the session layers (cookie store only).
    fast_yes: Option<web::Data<FastYes>>,
    id_token_seal: web::Data<IdTokenSeal>,
    /// Carries form-posted callbacks (Apple) to the step that can read the session.
    callback_seal: web::Data<CallbackSeal>,
    /// Registered only when a provider keeps tokens (`STORE_TOKENS`).
    token_vault: Option<web::Data<TokenVault>>,
    /// The built-in demo provider, when it is on.
    demo: Option<web::Data<DemoIdp>>,
    /// The site's own templates (`TEMPLATES_DIR`).
    templates: Option<Arc<tera::Tera>>,
}

impl Gatehouse {
    /// Opens the database (running gatehouse's migrations), connects the session store, and
    /// starts gatehouse's background work (provider metadata upkeep, the account-change
    /// listener). Call it inside the actix runtime, before `HttpServer::new`.
    pub async fn new(settings: Settings) -> Result<Self, StartupError> {
        // Listening first: a SIGHUP (`systemctl reload`) during the slower start-up below must
        // not end the process.
        #[cfg(unix)]
        let hangups = settings.access.file.as_ref().and_then(|_| listen_for_hangups());
        crate::templates::check().map_err(StartupError::Templates)?;
        if settings.token_keys.as_ref().is_some_and(|k| k.ephemeral) {
            log::warn!(
                "TOKEN_KEY is not set: using a random key, so kept provider tokens cannot be read after a restart"
            );
        }
        if settings.session_key.ephemeral {
            log::warn!("SESSION_KEY is not set: using a random key, so every restart signs everyone out");
        }
        if !crate::config::is_mount_path(&settings.base_path()) {
            return Err(StartupError::Settings(format!(
                "PUBLIC_URL={:?}: the path gatehouse is mounted under may use letters, digits and -._~ only",
                settings.public_url.as_str()
            )));
        }
        let templates = match &settings.templates_dir {
            Some(dir) => Some(crate::templates::with_overrides(dir).map_err(StartupError::Templates)?),
            None => None,
        };
        let (url, pool_size) = (settings.database_url.clone(), settings.database_pool_size);
        let db = web::block(move || Db::connect(&url, pool_size)).await.map_err(|_| DbError::Cancelled)??;

        warn_about_deployment(&settings);
        let registry = Registry::from_settings(&settings, Some(db.clone()));
        if registry.is_empty() {
            log::warn!(
                "no sign-in providers are configured: set OAUTH_PROVIDERS and the OAUTH_{{NAME}}_* \
                 variables (see .env.example and README.md)"
            );
        }
        let demo = DemoIdp::for_settings(&settings).await.map_err(StartupError::Demo)?;
        if let Some(p) = settings.demo() {
            log::warn!(
                "demo sign-in is on (provider {:?}): anyone can sign in as anyone. Configure a real \
                 provider in OAUTH_PROVIDERS (see .env.example) before real people use this",
                p.name
            );
        }
        maintain_providers(&registry, &settings);

        let (store, sessions) = session_store(&settings, &db).await?;
        let accounts = Arc::new(AccountCache::new(settings.account_cache_size, settings.account_cache_ttl));
        if accounts.enabled() || sessions.is_some() {
            let caches = Caches::new(accounts.enabled().then_some(&accounts), sessions.as_ref());
            changes::listen(&settings.database_url, caches);
        }
        let rate_limits = RateLimits::new(settings.rate_limit_per_minute, settings.trusted_proxies.clone());
        let group_rules = settings.providers.iter().map(|p| (p.name.clone(), p.allowed_groups.clone()));
        let access = Arc::new(
            Access::new(settings.access.clone()).map_err(StartupError::Settings)?.with_group_rules(group_rules),
        );
        let issuer = settings.public_url.as_str().trim_end_matches('/');
        let signer = Signer::load_or_create(&db, settings.session_key.key.master(), issuer)
            .await
            .map_err(|e| StartupError::SigningKey(e.into()))?;
        #[cfg(unix)]
        if let Some(hangups) = hangups {
            reload_on_hangup(hangups, &access);
        }
        let (accounts, access, signer) = (web::Data::from(accounts), web::Data::from(access), web::Data::new(signer));
        let fast_yes = FastYes::new(&settings, accounts.clone(), access.clone(), signer.clone()).map(web::Data::new);
        Ok(Gatehouse {
            shared: Arc::new(Shared {
                registry: web::Data::new(registry),
                db: web::Data::new(db),
                store_data: web::Data::new(store.clone()),
                store,
                accounts,
                login_pages: web::Data::new(routes::LoginPages::default()),
                rate_limits: web::Data::new(rate_limits),
                metrics: web::Data::new(Metrics::default()),
                access,
                signer,
                fast_yes,
                id_token_seal: web::Data::new(IdTokenSeal::new(settings.session_key.key.master())),
                callback_seal: web::Data::new(CallbackSeal::new(settings.session_key.key.master())),
                token_vault: settings.token_keys.as_ref().map(|keys| web::Data::new(TokenVault::new(keys))),
                demo: demo.map(web::Data::from),
                templates,
                settings: web::Data::new(settings),
            }),
        })
    }

    /// The settings gatehouse was built with.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// gatehouse's database pool, for an app's own tables (gatehouse owns `users`,
    /// `identities`, `sessions` and `provider_metadata`, and their migrations).
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// Registers gatehouse's shared state and its routes (`/login`, `/authorize/{p}`,
    /// `/callback/{p}`, `/logout`, `/profile`, `/api/me`, `/healthz`, `/readyz`, `/metrics`,
    /// `/static/…`, `/favicon.ico`, `/`), under `PUBLIC_URL`'s path if it has one, for
    /// `App::configure`. Call it once per `App`, at its root (not inside a `web::scope`: the
    /// path comes from `PUBLIC_URL`). Leaves the app's default service alone.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let s = &self.shared;
        // Links, redirects and titles on this worker follow PUBLIC_URL's path and APP_NAME.
        crate::site::set(crate::site::Site {
            base: s.settings.base_path(),
            app_name: s.settings.app_name.clone(),
            templates: s.templates.clone(),
        });
        // awc clients are not Send: one per worker (configure runs once per worker).
        cfg.app_data(web::Data::new(HttpClient::new(&s.settings.http)))
            .app_data(s.registry.clone())
            .app_data(s.db.clone())
            .app_data(s.settings.clone())
            .app_data(s.rate_limits.clone())
            .app_data(s.metrics.clone())
            .app_data(s.access.clone())
            .app_data(s.signer.clone())
            .app_data(s.id_token_seal.clone())
            .app_data(s.callback_seal.clone())
            .app_data(s.store_data.clone())
            .app_data(s.accounts.clone())
            .app_data(s.login_pages.clone());
        if let Some(demo) = &s.demo {
            cfg.app_data(demo.clone());
        }
        if let Some(vault) = &s.token_vault {
            cfg.app_data(vault.clone());
        }
        if let Some(fast_yes) = &s.fast_yes {
            cfg.app_data(fast_yes.clone());
        }
        let demo = s.demo.is_some();
        let mount = move |cfg: &mut web::ServiceConfig| {
            if demo {
                crate::demo::configure(cfg);
            }
            routes::configure(cfg);
        };
        match s.settings.base_path() {
            base if base.is_empty() => mount(cfg),
            base => {
                // `/auth` itself: on to gatehouse's home, `/auth/`.
                let home = format!("{base}/");
                cfg.route(
                    &base,
                    web::get().to(move || {
                        let home = home.clone();
                        async move { routes::see_other(&home) }
                    }),
                );
                cfg.service(web::scope(&base).configure(mount));
            }
        }
    }

    /// Wraps `app` with gatehouse's middleware: sessions (per `SESSION_STORE`), identity, the
    /// middleware that attaches the signed-in user to every request, security headers and the
    /// access log. Call it last, on the whole app.
    ///
    /// With the cookie store, the gate's yes to a signed-in, allowed `GET` of gatehouse's own
    /// `/verify` or `/forward-auth` is given here, before the session layers and before any
    /// middleware the app added itself (`gate::fast_yes`); everything else goes through them.
    pub fn wrap<T, B>(
        &self,
        app: App<T>,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<T, B>>,
            Error = Error,
            InitError = (),
        > + use<T, B>,
    >
    where
        T: ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse<B>, Error = Error, InitError = ()>
            + 'static,
        T::Service: 'static,
        <T::Service as Service<ServiceRequest>>::Future: 'static,
        B: MessageBody + 'static,
    {
        let s = &self.shared.settings;
        app.wrap(from_fn(attach_identity))
            .wrap(
                // No deadlines here: the session's lifetime is checked by `attach_identity`
                // (`session::check_visit`), after it has renamed the keys of sessions from
                // before the short names; a deadline here would run before that.
                IdentityMiddleware::builder().id_key(crate::session::keys::USER).build(),
            )
            .wrap(from_fn(crate::session::mark_anonymous))
            .wrap(session_middleware(s, self.shared.store.clone()))
            .wrap(from_fn(crate::session::shorten_anonymous_cookie))
            .wrap(from_fn(crate::session::answer_store_outage))
            .wrap(Condition::new(self.shared.demo.is_some(), from_fn(crate::demo::demo_notice)))
            .wrap(Condition::new(s.trusted_proxies.0.is_empty(), from_fn(crate::net::notice_untrusted_proxy)))
            .wrap(SecurityHeaders { https: s.secure_cookies() })
            .wrap(Condition::new(self.shared.fast_yes.is_some(), from_fn(crate::gate::fast_yes::answer)))
            .wrap(Condition::new(log::log_enabled!(target: ACCESS_LOG, log::Level::Info), access_log()))
    }

    pub(crate) fn metrics(&self) -> &web::Data<Metrics> {
        &self.shared.metrics
    }

    pub(crate) fn store(&self) -> &web::Data<AnyStore> {
        &self.shared.store_data
    }

    pub(crate) fn fast_yes(&self) -> Option<&web::Data<FastYes>> {
        self.shared.fast_yes.as_ref()
    }

    pub(crate) fn accounts(&self) -> &web::Data<AccountCache> {
        &self.shared.accounts
    }

    pub(crate) fn settings_data(&self) -> &web::Data<Settings> {
        &self.shared.settings
    }
}

/// Start-up warnings about a deployment that works but is not what its operator meant.
fn warn_about_deployment(settings: &Settings) {
    if settings.cookie_domain.is_none()
        && let Some(other) = settings.return_hosts.others().find(|p| Some(p.host()) != settings.public_url.host_str())
    {
        log::warn!(
            "ALLOWED_REDIRECT_HOSTS names {}, but without COOKIE_DOMAIN the session cookie stays on PUBLIC_URL's \
             host: requests to other hosts carry no sign-in, so forward auth for them needs COOKIE_DOMAIN",
            other.host()
        );
    }
    if settings.secure_cookies() && settings.trusted_proxies.0.is_empty() {
        log::warn!(
            "PUBLIC_URL is https, so a reverse proxy terminates TLS in front of gatehouse, but \
             TRUSTED_PROXIES is empty: every visitor shares the proxy's rate-limit bucket. Set \
             TRUSTED_PROXIES to the proxy's address (e.g. TRUSTED_PROXIES=127.0.0.1)"
        );
    }
}

/// SIGHUP, from now on (instead of the default, which ends the process).
#[cfg(unix)]
fn listen_for_hangups() -> Option<actix_web::rt::signal::unix::Signal> {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .inspect_err(|e| log::error!("cannot listen for SIGHUP ({e}): ALLOWED_EMAILS_FILE is read at start only"))
        .ok()
}

/// Re-reads `ALLOWED_EMAILS_FILE` on each `SIGHUP`; a file that cannot be read keeps the
/// previous list.
#[cfg(unix)]
fn reload_on_hangup(mut hangups: actix_web::rt::signal::unix::Signal, access: &Arc<Access>) {
    let access = Arc::downgrade(access);
    actix_web::rt::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(access) = access.upgrade() else { break };
            match access.reload() {
                Ok(count) => log::info!("SIGHUP: ALLOWED_EMAILS_FILE re-read, {count} addresses"),
                Err(why) => log::error!("SIGHUP: {why}; the previous list stays"),
            }
        }
    });
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

/// The session store `SESSION_STORE` names; Redis is connected (and checked) at start. The
/// database store on PostgreSQL comes with its cache, which the change listener must keep.
async fn session_store(settings: &Settings, db: &Db) -> Result<(AnyStore, Option<Arc<SessionCache>>), StartupError> {
    Ok(match &settings.session_store {
        SessionStoreKind::Cookie => (AnyStore::cookie(), None),
        SessionStoreKind::Database => {
            let store = DbSessionStore::new(db.clone());
            let cache = matches!(settings.database_url, DatabaseUrl::Postgres(_))
                .then(|| SessionCache::new(settings.session_cache_size).map(Arc::new))
                .flatten();
            let store = match &cache {
                Some(cache) => store.with_cache(cache.clone()),
                None => store,
            };
            (AnyStore::database(store), cache)
        }
        SessionStoreKind::Redis { url, prefix } => (
            AnyStore::redis(
                RedisSessions::connect(url.expose(), prefix).await.map_err(|e| StartupError::SessionStore(e.into()))?,
            ),
            None,
        ),
    })
}

/// Sessions (stored per `SESSION_STORE`) that persist across visits (remember-me) for
/// `SESSION_TTL_DAYS`. `Secure` exactly when the public URL is https, where the `__Host-`
/// prefix also pins the cookie to this host (`__Secure-` with `COOKIE_DOMAIN`, which shares it
/// with the subdomains).
fn session_middleware(s: &Settings, store: AnyStore) -> SessionMiddleware<AnyStore> {
    let secure = s.secure_cookies();
    SessionMiddleware::builder(store, s.session_key.key.clone())
        .cookie_name(s.session_cookie_name().to_string())
        .cookie_domain(s.cookie_domain.clone())
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

const ACCESS_LOG: &str = "gatehouse::access";

/// The path only: query strings carry `code` and `state` on /callback and never reach the log.
/// Left out entirely when its target logs nothing (`RUST_LOG=warn`): preparing each line costs
/// as much as some handlers.
fn access_log() -> Logger {
    Logger::new(r#"%a "%{method}xi %U" %s %b %Dms"#)
        .log_target(ACCESS_LOG)
        .custom_request_replace("method", |req| req.method().to_string())
}
