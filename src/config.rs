//! Settings are read and validated once, at start-up. Every problem is collected and reported
//! together, each naming the variable to fix, so a misconfigured deployment fails in one go.
//! Secrets never reach `Debug` output.

mod access;
mod hosts;
mod providers;
mod urls;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::cookie::Key;
use url::Url;

use crate::net::{IpNet, TrustedProxies};

pub(crate) use access::{AccessSettings, parse_list};
#[cfg(test)]
pub(crate) use hosts::HostPattern;
pub(crate) use hosts::ReturnHosts;
pub(crate) use providers::{ClaimMap, ClientCredential, LogoutMode, ProviderSettings};
pub(crate) use urls::{is_loopback, is_mount_path};

/// Where users and identities live. The scheme of `DATABASE_URL` picks the backend. `Debug`
/// hides a PostgreSQL password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(raw) => {
                let shown = match Url::parse(raw) {
                    Ok(mut url) => {
                        if url.password().is_some() {
                            let _ = url.set_password(Some("redacted"));
                        }
                        // libpq also takes `?password=…`.
                        if url.query_pairs().any(|(k, _)| k == "password") {
                            let pairs: Vec<(String, String)> = url
                                .query_pairs()
                                .map(|(k, v)| {
                                    let v = if k == "password" { "redacted".into() } else { v.into_owned() };
                                    (k.into_owned(), v)
                                })
                                .collect();
                            url.query_pairs_mut().clear().extend_pairs(pairs);
                        }
                        url.to_string()
                    }
                    // Unparseable: it might still hold a password somewhere.
                    Err(_) => "postgres://[unparseable, redacted]".into(),
                };
                f.debug_tuple("Postgres").field(&shown).finish()
            }
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
        }
    }
}

/// A string that never shows up in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The key that signs and encrypts session cookies.
#[derive(Clone)]
pub(crate) struct SessionKey {
    pub key: Key,
    /// True when generated at start because `SESSION_KEY` was absent: sessions end at restart.
    pub ephemeral: bool,
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey([redacted], ephemeral: {})", self.ephemeral)
    }
}

/// Where sessions live (`SESSION_STORE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SessionStoreKind {
    /// The encrypted cookie itself: zero setup, but signing one browser out cannot revoke a
    /// copy of its cookie ("sign out everywhere" can).
    Cookie,
    /// Redis at this URL (`redis://` or `rediss://`); gatehouse's own keys (the per-user
    /// session index) start with `prefix` (`REDIS_KEY_PREFIX`), so deployments can share a Redis.
    Redis { url: Secret, prefix: String },
    /// The `sessions` table of `DATABASE_URL`.
    Database,
}

/// Timeouts for every outgoing call to a provider.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpSettings {
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

/// Everything gatehouse is configured with, read and validated once at start: from the
/// environment ([`Settings::from_env`]), a map ([`Settings::from_vars`]) or in code
/// ([`Settings::builder`]). `.env.example` documents every variable; `Debug` hides secrets.
#[derive(Clone, Debug)]
pub struct Settings {
    pub(crate) database_url: DatabaseUrl,
    /// Connections in the pool (`DATABASE_POOL_SIZE`; default 10 on PostgreSQL, 4 on SQLite).
    pub(crate) database_pool_size: u32,
    /// Signed-in users whose page data stays in memory (`ACCOUNT_CACHE_SIZE`; 0 turns it off).
    pub(crate) account_cache_size: usize,
    /// How long a cached user may be shown before it is read again (`ACCOUNT_CACHE_SECONDS`).
    pub(crate) account_cache_ttl: Duration,
    /// Sessions of the database store kept in memory on PostgreSQL (`SESSION_CACHE_SIZE`; 0
    /// turns it off).
    pub(crate) session_cache_size: usize,
    /// Where the service listens (`BIND_ADDR`, `HOST:PORT`; default `127.0.0.1:8080`).
    pub(crate) bind_addr: String,
    /// The service's worker threads (`WORKERS`; default: one per core).
    pub(crate) workers: Option<usize>,
    /// External base URL, with the path gatehouse is mounted under if any; redirect URIs,
    /// links and redirects are built from it.
    pub(crate) public_url: Url,
    /// Signs and encrypts session cookies (`SESSION_KEY`).
    pub(crate) session_key: SessionKey,
    /// The remember-me lifetime of a signed-in session (`SESSION_TTL_DAYS`; default 30).
    pub(crate) session_ttl_days: i64,
    /// Idle timeout; `None` keeps a session alive until its absolute lifetime.
    pub(crate) session_idle_minutes: Option<u64>,
    /// Where sessions live (`SESSION_STORE`).
    pub(crate) session_store: SessionStoreKind,
    /// `APP_ENV=production`: stricter checks (https, a real `SESSION_KEY`, no demo provider).
    pub(crate) production: bool,
    /// Timeouts for calls to providers (`HTTP_CONNECT_TIMEOUT_SECS`, `HTTP_TIMEOUT_SECS`).
    pub(crate) http: HttpSettings,
    /// The sign-in providers, in `OAUTH_PROVIDERS` order (plus the demo provider when on).
    pub(crate) providers: Vec<ProviderSettings>,
    /// Seals the provider tokens kept for `STORE_TOKENS` providers (`TOKEN_KEY`, and
    /// `TOKEN_KEYS_OLD` that still open older ones); `None` when no provider keeps tokens.
    pub(crate) token_keys: Option<TokenKeys>,
    /// May a sign-in join an existing account through a verified, trusted email?
    pub(crate) link_accounts_by_email: bool,
    /// Requests per minute per client on /authorize and /callback; 0 turns limiting off.
    pub(crate) rate_limit_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub(crate) trusted_proxies: TrustedProxies,
    /// Who may read `/metrics` (`METRICS_ALLOW`; default loopback).
    pub(crate) metrics_allow: Vec<IpNet>,
    /// A listener of its own for `/metrics` (`METRICS_BIND_ADDR`); the main listener then
    /// serves no metrics.
    pub(crate) metrics_bind_addr: Option<String>,
    /// Path prefixes whose refusals are JSON (`401`) rather than a redirect to the sign-in page
    /// (`JSON_PATHS`, comma-separated; default `/api/`), plus gatehouse's own `{path}/api/`
    /// always. See [`crate::auth::wants_json`].
    pub(crate) json_paths: Vec<String>,
    /// Replaces "gatehouse" in page titles and the header (`APP_NAME`).
    pub(crate) app_name: String,
    /// A folder of templates replacing the built-in ones of the same name (`TEMPLATES_DIR`).
    pub(crate) templates_dir: Option<PathBuf>,
    /// Where `next` may send a browser besides this site's paths (`ALLOWED_REDIRECT_HOSTS`).
    pub(crate) return_hosts: ReturnHosts,
    /// `Domain=` of the session cookie (`COOKIE_DOMAIN`), so subdomains share the sign-in.
    pub(crate) cookie_domain: Option<String>,
    /// Who may come in (`ALLOWED_EMAILS`, `ALLOWED_EMAIL_DOMAINS`, `ALLOWED_EMAILS_FILE`).
    pub(crate) access: AccessSettings,
}

/// Everything wrong with the configuration, one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    /// One line each, naming the variable and the fix.
    pub problems: Vec<String>,
}

/// Reads variables from a map, recording problems instead of stopping at the first.
pub(crate) struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    pub(crate) problems: Vec<String>,
}

impl<'a> Reader<'a> {
    /// A variable's trimmed value; an empty value counts as unset.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// Present at all, even empty (`VAR=` from an unset `${VAR}` in compose).
    pub(crate) fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    pub(crate) fn problem(&mut self, message: String) {
        self.problems.push(message);
    }

    pub(crate) fn number<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(raw) = self.get(name) else { return default };
        match raw.parse::<T>() {
            Ok(v) if v >= min && v <= max => v,
            _ => {
                self.problem(format!("{name}={raw:?} must be a whole number from {min} to {max}"));
                default
            }
        }
    }

    pub(crate) fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(other) => {
                self.problem(format!("{name}={other:?} must be true or false"));
                default
            }
        }
    }
}

/// Settings from code rather than the environment: the same variables, the same validation
/// (see [`Settings::builder`]).
#[derive(Clone, Default)]
pub struct SettingsBuilder {
    vars: HashMap<String, String>,
}

/// Names only: values may be secrets.
impl fmt::Debug for SettingsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("SettingsBuilder").field("set", &names).finish()
    }
}

impl SettingsBuilder {
    /// Sets one variable, as `.env` would (`"PUBLIC_URL"`, `"OAUTH_PROVIDERS"`, …).
    pub fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    /// Validates everything at once, as [`Settings::from_env`] does.
    pub fn build(&self) -> Result<Settings, ConfigError> {
        Settings::from_vars(&self.vars)
    }
}

impl Settings {
    /// Reads the process environment (after `.env`, whose values never override real ones).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// For apps that configure in code: the variables `.env.example` documents, set one by one,
    /// validated together by [`SettingsBuilder::build`]. Nothing is read from the environment.
    ///
    /// ```
    /// let settings = gatehouse::Settings::builder()
    ///     .set("DATABASE_URL", "sqlite://data/notes.db")
    ///     .set("PUBLIC_URL", "http://127.0.0.1:8080/auth")
    ///     .set("APP_NAME", "Notes")
    ///     .build()?;
    /// assert_eq!(settings.base_path(), "/auth");
    /// # Ok::<(), gatehouse::config::ConfigError>(())
    /// ```
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::default()
    }

    /// Reads the variables from a map instead of the environment (tests, or settings kept
    /// elsewhere); the same validation as [`Settings::from_env`].
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut r = Reader { vars, problems: Vec::new() };

        let database_url = parse_database_url(&mut r);
        let default_pool = if matches!(database_url, DatabaseUrl::Postgres(_)) { 10 } else { 4 };
        let database_pool_size = r.number("DATABASE_POOL_SIZE", default_pool, 1, 1000);
        let account_cache_size = r.number("ACCOUNT_CACHE_SIZE", 10_000usize, 0, 10_000_000);
        let account_cache_ttl = Duration::from_secs(r.number("ACCOUNT_CACHE_SECONDS", 60u64, 0, 86_400));
        let session_cache_size = r.number("SESSION_CACHE_SIZE", 10_000usize, 0, 10_000_000);
        let bind_addr = r.get("BIND_ADDR").unwrap_or("127.0.0.1:8080").to_string();
        let workers = r.get("WORKERS").is_some().then(|| r.number("WORKERS", 1usize, 1, 1024));
        if bind_addr.parse::<std::net::SocketAddr>().is_err() && !bind_addr.contains(':') {
            r.problem(format!("BIND_ADDR={bind_addr:?} must be HOST:PORT, e.g. 127.0.0.1:8080"));
        }
        let public_url = urls::public_url(&mut r, &bind_addr);
        let production = matches!(r.get("APP_ENV"), Some("production" | "prod"));
        let app_name = r.get("APP_NAME").unwrap_or("gatehouse").to_string();
        if app_name.chars().count() > 60 || app_name.chars().any(char::is_control) {
            r.problem("APP_NAME must be at most 60 characters, without control characters".into());
        }
        let session_key = parse_session_key(&mut r, production);
        let session_ttl_days = r.number("SESSION_TTL_DAYS", 30i64, 1, 3650);
        let session_idle_minutes = Some(r.number("SESSION_IDLE_MINUTES", 0u64, 0, 5_256_000)).filter(|m| *m > 0);
        let session_store = parse_session_store(&mut r);
        let http = HttpSettings {
            connect_timeout: Duration::from_secs(r.number("HTTP_CONNECT_TIMEOUT_SECS", 5u64, 1, 60)),
            timeout: Duration::from_secs(r.number("HTTP_TIMEOUT_SECS", 10u64, 1, 120)),
        };
        if production && public_url.as_ref().is_some_and(|u| u.scheme() != "https") {
            r.problem("PUBLIC_URL must be https when APP_ENV=production (session cookies must be Secure)".into());
        }
        let mut providers = providers::parse_all(&mut r);
        if let Some(public_url) = &public_url {
            demo_provider(&mut r, &mut providers, public_url, &bind_addr, production);
        }
        let link_accounts_by_email = r.boolean("LINK_ACCOUNTS_BY_EMAIL", true);
        let rate_limit_per_minute = r.number("RATE_LIMIT_PER_MINUTE", 60u32, 0, 1_000_000);
        let trusted_proxies = TrustedProxies(parse_networks(&mut r, "TRUSTED_PROXIES", ""));
        let metrics_allow = parse_networks(&mut r, "METRICS_ALLOW", "127.0.0.0/8,::1");
        let metrics_bind_addr = r.get("METRICS_BIND_ADDR").map(str::to_string);
        let return_hosts = hosts::parse_return_hosts(&mut r, public_url.as_ref());
        let cookie_domain = hosts::parse_cookie_domain(&mut r, public_url.as_ref(), &return_hosts);
        let access = access::parse(&mut r);
        // gatehouse's own API (under PUBLIC_URL's path) always answers JSON; the default adds the
        // host's /api/.
        let own_api = format!("{}/api/", public_url.as_ref().map_or("", |u| u.path().trim_end_matches('/')));
        let mut json_paths: Vec<String> = r
            .get("JSON_PATHS")
            .unwrap_or("/api/")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        if !json_paths.contains(&own_api) {
            json_paths.push(own_api);
        }
        if let Some(bad) = json_paths.iter().find(|p| !p.starts_with('/')) {
            r.problem(format!("JSON_PATHS: {bad:?} must be a path prefix starting with / (e.g. /api/,/v1/)"));
        }
        if let Some(addr) = &metrics_bind_addr
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            r.problem(format!("METRICS_BIND_ADDR={addr:?} must be IP:PORT, e.g. 127.0.0.1:9090"));
        }

        let token_keys = parse_token_keys(&mut r, production, providers.iter().any(|p| p.store_tokens));

        if !r.problems.is_empty() {
            return Err(ConfigError { problems: r.problems });
        }
        Ok(Settings {
            token_keys,
            database_url,
            database_pool_size,
            account_cache_size,
            account_cache_ttl,
            session_cache_size,
            bind_addr,
            workers,
            public_url: public_url.expect("a missing PUBLIC_URL is recorded as a problem"),
            session_key: session_key.expect("a missing SESSION_KEY is recorded as a problem"),
            session_ttl_days,
            session_idle_minutes,
            session_store,
            production,
            http,
            providers,
            link_accounts_by_email,
            rate_limit_per_minute,
            trusted_proxies,
            metrics_allow,
            metrics_bind_addr,
            json_paths,
            app_name,
            templates_dir: r.get("TEMPLATES_DIR").map(PathBuf::from),
            return_hosts,
            cookie_domain,
            access,
        })
    }

    /// The built-in demo provider, when it is on.
    pub(crate) fn demo(&self) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.preset.kind == "demo")
    }

    /// Where the service listens (`BIND_ADDR`, `HOST:PORT`).
    pub fn bind_addr(&self) -> &str {
        &self.bind_addr
    }

    /// The service's worker threads (`WORKERS`), when set; otherwise actix-web's default, one
    /// per core. An app that mounts gatehouse sets its own (`HttpServer::workers`).
    pub fn workers(&self) -> Option<usize> {
        self.workers
    }

    /// The external base URL (`PUBLIC_URL`), with the path gatehouse is mounted under if any.
    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// `APP_ENV=production`: stricter checks at start.
    pub fn production(&self) -> bool {
        self.production
    }

    /// The session cookie's name: `__Host-` pins it to this host on https, `__Secure-` when
    /// `COOKIE_DOMAIN` shares it with subdomains (`__Host-` forbids `Domain=`).
    pub(crate) fn session_cookie_name(&self) -> &'static str {
        match (self.secure_cookies(), &self.cookie_domain) {
            (false, _) => "gatehouse",
            (true, None) => "__Host-gatehouse",
            (true, Some(_)) => "__Secure-gatehouse",
        }
    }

    /// The path gatehouse is mounted under, from `PUBLIC_URL`: `""` at the root, else `/auth`.
    pub fn base_path(&self) -> String {
        self.public_url.path().trim_end_matches('/').to_string()
    }

    /// `{PUBLIC_URL}/callback/{provider}`: the one redirect URI registered with each provider.
    pub fn redirect_uri(&self, provider: &str) -> String {
        format!("{}/callback/{provider}", self.public_url.as_str().trim_end_matches('/'))
    }

    /// Cookies get `Secure` exactly when the public URL is https.
    pub(crate) fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// The demo provider: on by itself when nothing else is configured (`DEMO_SIGN_IN=auto`, the
/// default) and both `PUBLIC_URL` and `BIND_ADDR` are loopback outside production, or named in
/// `OAUTH_PROVIDERS` (kind `demo`). Anyone can be anyone with it, so production, public hosts
/// and a listener reachable from other machines refuse it.
fn demo_provider(
    r: &mut Reader,
    providers: &mut Vec<ProviderSettings>,
    public_url: &Url,
    bind_addr: &str,
    production: bool,
) {
    let auto = match r.get("DEMO_SIGN_IN").unwrap_or("auto") {
        "auto" => true,
        "off" => false,
        other => {
            r.problem(format!("DEMO_SIGN_IN={other:?} must be auto or off"));
            return;
        }
    };
    let bind_loopback = bind_addr.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback())
        || bind_addr.starts_with("localhost:");
    if auto && providers.is_empty() && !production && urls::is_loopback(public_url) && bind_loopback {
        providers.push(providers::demo("demo"));
    }
    let issuer = format!("{}/demo-idp", public_url.as_str().trim_end_matches('/'));
    let named: Vec<String> = providers.iter().filter(|p| p.preset.kind == "demo").map(|p| p.name.clone()).collect();
    let refuse = |r: &mut Reader, name: &str, why: String| {
        r.problem(format!(
            "OAUTH_PROVIDERS names the demo provider {name:?}, which lets anyone sign in as anyone; \
             {why}: remove it from OAUTH_PROVIDERS"
        ))
    };
    for name in &named {
        if !auto {
            refuse(r, name, "DEMO_SIGN_IN=off forbids it".into());
        } else if production {
            refuse(r, name, "it is refused with APP_ENV=production".into());
        } else if !urls::is_loopback(public_url) {
            refuse(
                r,
                name,
                format!(
                    "it is refused on PUBLIC_URL={:?} (only 127.0.0.1, localhost and [::1] may use it)",
                    public_url.as_str()
                ),
            );
        } else if !bind_loopback {
            refuse(r, name, format!("it is refused with BIND_ADDR={bind_addr:?}, which other machines can reach"));
        }
    }
    if named.len() > 1 {
        r.problem("OAUTH_PROVIDERS names more than one demo provider; one is all there is".into());
    }
    for p in providers.iter_mut().filter(|p| p.preset.kind == "demo") {
        p.issuer = Some(issuer.clone());
    }
}

fn parse_session_store(r: &mut Reader) -> SessionStoreKind {
    match r.get("SESSION_STORE").unwrap_or("cookie") {
        "cookie" => SessionStoreKind::Cookie,
        "database" => SessionStoreKind::Database,
        "redis" => match r.get("REDIS_URL") {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                let prefix = r.get("REDIS_KEY_PREFIX").unwrap_or("gatehouse").to_string();
                if prefix.len() > 64 || !prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) {
                    r.problem(format!(
                        "REDIS_KEY_PREFIX={prefix:?} must be at most 64 letters, digits or -_.: (e.g. gatehouse-prod)"
                    ));
                }
                SessionStoreKind::Redis { url: Secret::new(url), prefix }
            }
            Some(_) => {
                r.problem("REDIS_URL must start with redis:// or rediss:// (TLS)".into());
                SessionStoreKind::Cookie
            }
            None => {
                r.problem("REDIS_URL is required when SESSION_STORE=redis (e.g. redis://127.0.0.1:6379)".into());
                SessionStoreKind::Cookie
            }
        },
        other => {
            r.problem(format!("SESSION_STORE={other:?} must be cookie, redis or database"));
            SessionStoreKind::Cookie
        }
    }
}

/// A comma-separated list of IP addresses and CIDR blocks.
fn parse_networks(r: &mut Reader, var: &str, default: &str) -> Vec<IpNet> {
    let raw = r.get(var).unwrap_or(default);
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match IpNet::parse(item) {
            Some(net) => out.push(net),
            None => r.problem(format!("{var}: {item:?} is not an IP address or CIDR block (e.g. 10.0.0.0/8)")),
        }
    }
    out
}

/// A key nobody should deploy: a single repeated character, or a few characters repeated.
fn is_placeholder_key(raw: &str) -> bool {
    let distinct: std::collections::HashSet<char> = raw.chars().collect();
    distinct.len() < 8 || raw.to_ascii_lowercase().contains("changeme")
}

/// The keys provider tokens are sealed with: `TOKEN_KEY` seals, it and `TOKEN_KEYS_OLD`
/// (comma-separated) open. Secrets: never printed.
#[derive(Clone)]
pub(crate) struct TokenKeys {
    pub(crate) current: Secret,
    pub(crate) old: Vec<Secret>,
    /// Made up at start because `TOKEN_KEY` was absent (not in production): kept tokens
    /// cannot be read after a restart.
    pub(crate) ephemeral: bool,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKeys(<{} redacted>)", 1 + self.old.len())
    }
}

fn parse_token_keys(r: &mut Reader, production: bool, needed: bool) -> Option<TokenKeys> {
    let check = |r: &mut Reader, name: &str, raw: &str| {
        if raw.len() < 64 || is_placeholder_key(raw) {
            r.problem(format!(
                "{name} must be at least 64 random characters, not a placeholder (generate one with: openssl rand -hex 32)"
            ));
        }
    };
    let current = r.get("TOKEN_KEY").map(str::to_string);
    let old: Vec<String> = r
        .get("TOKEN_KEYS_OLD")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect();
    if let Some(key) = &current {
        check(r, "TOKEN_KEY", key);
    }
    for key in &old {
        check(r, "TOKEN_KEYS_OLD", key);
    }
    if !old.is_empty() && current.is_none() {
        r.problem("TOKEN_KEYS_OLD needs TOKEN_KEY (the key new tokens are sealed with)".into());
    }
    if !needed {
        return None;
    }
    match current {
        Some(key) => Some(TokenKeys {
            current: Secret::new(key),
            old: old.into_iter().map(Secret::new).collect(),
            ephemeral: false,
        }),
        None if production => {
            r.problem(
                "TOKEN_KEY is required when a provider keeps tokens (OAUTH_{NAME}_STORE_TOKENS) and APP_ENV=production \
                 (generate one with: openssl rand -hex 32)"
                    .into(),
            );
            None
        }
        None => {
            let made_up = oauth2::CsrfToken::new_random_len(48).secret().clone();
            Some(TokenKeys { current: Secret::new(made_up), old: Vec::new(), ephemeral: true })
        }
    }
}

fn parse_database_url(r: &mut Reader) -> DatabaseUrl {
    let raw = r.get("DATABASE_URL").unwrap_or("sqlite://data/gatehouse.db");
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        DatabaseUrl::Postgres(raw.to_string())
    } else if let Some(path) = raw.strip_prefix("sqlite://") {
        if path.is_empty() {
            r.problem("DATABASE_URL=sqlite:// needs a file path, e.g. sqlite://data/gatehouse.db".into());
        }
        DatabaseUrl::Sqlite(PathBuf::from(path))
    } else {
        // Never echo the value: a PostgreSQL URL may carry a password.
        r.problem(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:// \
             (e.g. sqlite://data/gatehouse.db)"
                .into(),
        );
        DatabaseUrl::Sqlite(PathBuf::from("data/gatehouse.db"))
    }
}

fn parse_session_key(r: &mut Reader, production: bool) -> Option<SessionKey> {
    match r.get("SESSION_KEY") {
        Some(raw) if raw.len() >= 64 && is_placeholder_key(raw) => {
            r.problem(
                "SESSION_KEY looks like a placeholder (one repeated character or the example value); \
                 use random bytes: openssl rand -hex 64"
                    .into(),
            );
            None
        }
        Some(raw) if raw.len() < 64 => {
            r.problem(format!(
                "SESSION_KEY is {} bytes; it must be at least 64 random bytes \
                 (generate one with: openssl rand -hex 64)",
                raw.len()
            ));
            None
        }
        // HKDF over the whole value, so every byte of a long key counts.
        Some(raw) => Some(SessionKey { key: Key::derive_from(raw.as_bytes()), ephemeral: false }),
        None if production => {
            r.problem(
                "SESSION_KEY is required when APP_ENV=production \
                 (generate one with: openssl rand -hex 64)"
                    .into(),
            );
            None
        }
        None => Some(SessionKey { key: Key::generate(), ephemeral: true }),
    }
}

#[cfg(test)]
mod tests;
