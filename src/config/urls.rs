//! URL rules shared by the settings: plain http is only for loopback hosts.

use std::net::IpAddr;

use url::{Host, Url};

use super::Reader;

/// True for 127.0.0.0/8, ::1 and `localhost`: the only hosts allowed over plain http.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses an endpoint URL: https, or http on a loopback host; records a problem otherwise.
pub(crate) fn endpoint(r: &mut Reader, var: &str, raw: &str) -> Option<Url> {
    let url = match Url::parse(raw) {
        Ok(u) if u.host().is_some() => u,
        _ => {
            r.problem(format!("{var}={raw:?} is not an absolute URL (e.g. https://example.com/path)"));
            return None;
        }
    };
    match url.scheme() {
        "https" => Some(url),
        "http" if is_loopback(&url) => Some(url),
        "http" => {
            r.problem(format!(
                "{var}={raw:?} uses plain http on a non-loopback host; use https \
                 (http is accepted only for 127.0.0.0/8, localhost and [::1])"
            ));
            None
        }
        other => {
            r.problem(format!("{var}={raw:?} has scheme {other:?}; use https"));
            None
        }
    }
}

/// A path gatehouse may be mounted under: empty, or `/seg/seg` of letters, digits and `-._~`
/// (no empty or dot segment), so it can go into links and redirects as it is.
pub(crate) fn is_mount_path(path: &str) -> bool {
    let segment_ok = |s: &str| {
        !s.is_empty() && s != "." && s != ".." && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    };
    path.is_empty() || (path.starts_with('/') && path[1..].split('/').all(segment_ok))
}

/// `PUBLIC_URL`, defaulting to `http://{BIND_ADDR}`: an origin, optionally with a path that
/// gatehouse is mounted under (`https://example.com/auth`); no query, fragment or credentials.
pub(crate) fn public_url(r: &mut Reader, bind_addr: &str) -> Option<Url> {
    let raw = r.get("PUBLIC_URL").map(str::to_string).unwrap_or_else(|| format!("http://{bind_addr}"));
    let url = match Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            r.problem(format!("PUBLIC_URL={raw:?} must be an absolute http(s) URL such as https://auth.example.com"));
            return None;
        }
    };
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        r.problem(format!(
            "PUBLIC_URL={raw:?} must be an origin, optionally with a path (https://example.com/auth), \
             without query, fragment or credentials"
        ));
        return None;
    }
    if !is_mount_path(url.path().trim_end_matches('/')) {
        r.problem(format!(
            "PUBLIC_URL={raw:?}: the path gatehouse is mounted under may use letters, digits and -._~ only \
             (e.g. https://example.com/auth)"
        ));
        return None;
    }
    Some(url)
}
