//! Hosts other than this site's own that gatehouse may send a browser to after sign-in
//! (`ALLOWED_REDIRECT_HOSTS`), and the cookie domain that lets one sign-in cover them
//! (`COOKIE_DOMAIN`).

use url::{Host, Url};

use super::Reader;

/// Hosts an absolute `next` may name: `PUBLIC_URL`'s own and `ALLOWED_REDIRECT_HOSTS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReturnHosts {
    /// `PUBLIC_URL`'s own host and port.
    own: Option<HostPattern>,
    /// `ALLOWED_REDIRECT_HOSTS`.
    allowed: Vec<HostPattern>,
    /// On an https site an absolute `next` must be https too: no downgrade after sign-in.
    https_only: bool,
}

/// `app.example.com`, `app.example.com:8443` or `*.example.com` (any subdomain, not the
/// domain itself). Without a port, only the scheme's default port matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostPattern {
    /// Lower-case, IDNA-normalised (punycode), as the `url` crate serialises hosts.
    host: String,
    any_subdomain: bool,
    port: Option<u16>,
}

impl HostPattern {
    /// Parses one `ALLOWED_REDIRECT_HOSTS` entry; the error says what is wrong with it.
    pub(crate) fn parse(raw: &str) -> Result<HostPattern, String> {
        let (any_subdomain, rest) = match raw.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        if rest.is_empty() || rest.contains(['/', '@', '?', '#', '\\', '*']) || rest.chars().any(char::is_whitespace) {
            return Err(format!("{raw:?} must be host[:port] or *.domain[:port]"));
        }
        let url = Url::parse(&format!("http://{rest}/")).map_err(|e| format!("{raw:?} is not a host: {e}"))?;
        let host = url.host_str().ok_or_else(|| format!("{raw:?} is not a host"))?.to_string();
        if any_subdomain && !matches!(url.host(), Some(Host::Domain(d)) if d.contains('.')) {
            return Err(format!("{raw:?}: a wildcard needs a domain with a dot under it, e.g. *.example.com"));
        }
        if any_subdomain && is_public_suffix(&host) {
            return Err(format!("{raw:?}: {host} is a public suffix, so *.{host} would be other people's sites"));
        }
        // `http://h:80/` has no port after parsing; an explicit `:80` still means port 80.
        let port = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !p.contains(']') => {
                Some(p.parse::<u16>().map_err(|_| format!("{raw:?}: {p:?} is not a port"))?)
            }
            _ => None,
        };
        Ok(HostPattern { host, any_subdomain, port })
    }

    /// The exact host (and port) of `url`.
    fn of(url: &Url) -> Option<HostPattern> {
        Some(HostPattern { host: url.host_str()?.to_string(), any_subdomain: false, port: url.port() })
    }

    fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else { return false };
        let host_ok = if self.any_subdomain {
            host.strip_suffix(self.host.as_str()).is_some_and(|label| label.len() > 1 && label.ends_with('.'))
        } else {
            host == self.host
        };
        // The url crate drops a scheme's default port, so `None` is exactly "the default".
        let port_ok = match self.port {
            None => url.port().is_none(),
            Some(port) => url.port_or_known_default() == Some(port),
        };
        host_ok && port_ok
    }

    /// The domain this pattern's hosts are under (for checking them against `COOKIE_DOMAIN`).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }
}

impl ReturnHosts {
    /// `public_url`'s host, and `allowed` besides.
    pub(crate) fn new(public_url: Option<&Url>, allowed: Vec<HostPattern>) -> ReturnHosts {
        let https_only = public_url.is_some_and(|u| u.scheme() == "https");
        ReturnHosts { own: public_url.and_then(HostPattern::of), allowed, https_only }
    }

    /// The hosts named by `ALLOWED_REDIRECT_HOSTS` (not `PUBLIC_URL`'s own).
    pub(crate) fn others(&self) -> impl Iterator<Item = &HostPattern> {
        self.allowed.iter()
    }

    /// The absolute `raw`, re-serialised, when it is an `http(s)` URL on an allowed host.
    pub(crate) fn allow(&self, raw: &str) -> Option<String> {
        let url = Url::parse(raw).ok()?;
        let scheme_ok = match url.scheme() {
            "https" => true,
            "http" => !self.https_only,
            _ => false,
        };
        let plain = url.username().is_empty() && url.password().is_none();
        (scheme_ok && plain && self.own.iter().chain(&self.allowed).any(|p| p.matches(&url))).then(|| url.into())
    }
}

/// `ALLOWED_REDIRECT_HOSTS` (comma-separated [`HostPattern`]s) with `PUBLIC_URL`'s host.
pub(crate) fn parse_return_hosts(r: &mut Reader, public_url: Option<&Url>) -> ReturnHosts {
    let mut allowed = Vec::new();
    for item in r.get("ALLOWED_REDIRECT_HOSTS").unwrap_or("").split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match HostPattern::parse(&item.to_ascii_lowercase()) {
            Ok(p) => allowed.push(p),
            Err(why) => r.problem(format!("ALLOWED_REDIRECT_HOSTS: {why}")),
        }
    }
    ReturnHosts::new(public_url, allowed)
}

/// `COOKIE_DOMAIN`: opt-in `Domain=` for the session cookie, so every host under it shares the
/// sign-in. It must cover `PUBLIC_URL`'s host and every `ALLOWED_REDIRECT_HOSTS` entry: a
/// return host outside it would never see the cookie, and send the browser round again.
pub(crate) fn parse_cookie_domain(r: &mut Reader, public_url: Option<&Url>, hosts: &ReturnHosts) -> Option<String> {
    let raw = r.get("COOKIE_DOMAIN")?.trim();
    let domain = raw.trim_start_matches('.').to_ascii_lowercase();
    let parsed = Url::parse(&format!("http://{domain}/")).ok();
    let is_domain =
        matches!(parsed.as_ref().and_then(Url::host), Some(Host::Domain(d)) if d == domain && d.contains('.'));
    if !is_domain {
        r.problem(format!(
            "COOKIE_DOMAIN={raw:?} must be a domain with a dot in it, e.g. example.com (not a URL, an IP or a port)"
        ));
        return None;
    }
    if is_public_suffix(&domain) {
        r.problem(format!(
            "COOKIE_DOMAIN={domain} is a public suffix: browsers refuse such cookies; use your own domain under it"
        ));
        return None;
    }
    let under = |host: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if let Some(host) = public_url.and_then(Url::host_str)
        && !under(host)
    {
        r.problem(format!(
            "COOKIE_DOMAIN={domain} does not cover PUBLIC_URL's host {host}: use a domain {host} is under"
        ));
    }
    for pattern in hosts.others().filter(|p| !under(p.host())) {
        r.problem(format!(
            "ALLOWED_REDIRECT_HOSTS: {} is outside COOKIE_DOMAIN={domain}, so it would never see the sign-in",
            pattern.host()
        ));
    }
    Some(domain)
}

/// `co.uk`, `github.io`, `com`: a name under which anyone may register their own.
fn is_public_suffix(domain: &str) -> bool {
    psl::suffix_str(domain) == Some(domain)
}
