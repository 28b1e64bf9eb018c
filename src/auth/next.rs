//! `next`: where to go after signing in. A local path of this site, or an absolute URL on a
//! host the operator named (`ALLOWED_REDIRECT_HOSTS`, and `PUBLIC_URL`'s own host); anything
//! else falls back to `/`.

use crate::config::ReturnHosts;

/// Longest `next` worth keeping; anything longer falls back to `/`.
const MAX_NEXT_LEN: usize = 2048;

/// Returns `raw` when it is a safe target, else `/`. Never fails: a bad `next` must not
/// refuse a sign-in.
///
/// A local path is safe with exactly one leading `/`, no `\` anywhere, and no control character or
/// whitespace anywhere (browsers strip TAB and LF, so `/<TAB>/evil.example` would become
/// `//evil.example`); it is then resolved against a fixed origin and must stay on it. An
/// absolute URL is safe when `hosts` allows its host and port, it has no user info, and it is
/// `https` (or `http` on an http site). The same character rules apply to both.
pub(crate) fn safe_next(raw: Option<&str>, hosts: &ReturnHosts) -> String {
    let Some(raw) = raw.filter(|n| n.len() <= MAX_NEXT_LEN && has_plain_characters(n)) else {
        return "/".to_string();
    };
    if raw.starts_with('/') {
        return if is_safe_local(raw) { raw.to_string() } else { "/".to_string() };
    }
    hosts.allow(raw).unwrap_or_else(|| "/".to_string())
}

/// No `\`, control character or whitespace: what browsers strip or reinterpret.
fn has_plain_characters(next: &str) -> bool {
    !next.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

fn is_safe_local(next: &str) -> bool {
    if matches!(next.as_bytes().get(1), Some(b'/')) {
        return false;
    }
    // Belt and braces: a WHATWG-style parse must keep it on our origin.
    let base = url::Url::parse("http://gatehouse.invalid/").expect("constant URL");
    base.join(next).is_ok_and(|u| u.origin() == base.origin())
}

/// `/login?next=…` (under the site's prefix) for a guard redirect, percent-encoded.
pub fn login_redirect(next: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    crate::site::path(&format!("/login?next={encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostPattern;
    use proptest::prelude::*;

    proptest! {
        /// With hosts allowed, whatever comes in goes out as a local path or an https URL whose
        /// host is one of them, re-read the way a browser reads it.
        #[test]
        fn fuzz_next_only_returns_to_allowed_hosts(
            raw in concat!(
                // Near misses of allowed URLs...
                "(https?://)?([a-z@:]{1,6}[.@])?(app\\.|docs\\.)?(example\\.com|example\\.org|evil\\.com)[.]?",
                "(:[0-9]{1,5})?([/\\\\?#@][a-z@.%:/\\\\]{0,12})?",
                // ...and noise.
                "|(https?:)?(//|/\\\\|\\\\)?[a-z.@:%0-9\\[\\]*-]{0,30}[:/?#@.%0-9a-z]{0,20}",
            )
        ) {
            let hosts = gate_hosts();
            let out = safe_next(Some(&raw), &hosts);
            if !out.starts_with('/') {
                let url = url::Url::parse(&out).unwrap();
                prop_assert_eq!(url.scheme(), "https");
                prop_assert!(url.username().is_empty() && url.password().is_none());
                let host = url.host_str().unwrap();
                prop_assert!(
                    host == "app.example.com" || host.ends_with(".example.com")
                        || (host == "docs.example.org" && url.port() == Some(8443)),
                    "{} from {:?}", out, raw
                );
                prop_assert!(url.port().is_none() || host == "docs.example.org");
            } else {
                prop_assert!(!out.starts_with("//") && !out.contains('\\'));
            }
        }

        /// Whatever comes in, what goes out stays on our origin.
        #[test]
        fn fuzz_next_never_leaves_the_site(raw in "[/\\\\\t\n\r .:%@a-z0-9?#=&-]{0,40}|\\PC{0,60}") {
            let out = safe_next(Some(&raw), &ReturnHosts::default());
            prop_assert!(out == "/" || out == raw);
            let base = url::Url::parse("https://ours.example/").unwrap();
            let resolved = base.join(&out).unwrap();
            prop_assert_eq!(resolved.origin(), base.origin());
            prop_assert!(out.starts_with('/') && !out.starts_with("//") && !out.contains('\\'));
            prop_assert!(!out.chars().any(|c| c.is_control() || c.is_whitespace()));
        }
    }

    #[test]
    fn local_paths_are_kept() {
        let none = ReturnHosts::default();
        for ok in ["/", "/profile", "/profile?tab=a%20b", "/a/b/../c", "/%2f%2fevil.example", "/%5cevil.example"] {
            assert_eq!(safe_next(Some(ok), &none), ok, "{ok:?} should be kept");
        }
    }

    #[test]
    fn open_redirect_corpus_falls_back_to_root() {
        let none = ReturnHosts::default();
        let corpus = [
            "https://evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/ /evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/./\\evil.example",
            "http:evil.example",
            "https:/\\evil.example",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "//evil.example@ourhost",
            "evil.example",
            "",
            "/\u{0}x",
            "/\u{a0}/evil.example",
            "/\u{2028}/evil.example",
        ];
        for bad in corpus {
            assert_eq!(safe_next(Some(bad), &none), "/", "{bad:?} must fall back to /");
        }
        assert_eq!(safe_next(None, &none), "/");
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(5000))), &none), "/");
    }

    /// `PUBLIC_URL=https://app.example.com/gatehouse`,
    /// `ALLOWED_REDIRECT_HOSTS=*.example.com,docs.example.org:8443`.
    fn gate_hosts() -> ReturnHosts {
        let public = url::Url::parse("https://app.example.com/gatehouse").unwrap();
        let allowed = ["*.example.com", "docs.example.org:8443"].map(|p| HostPattern::parse(p).unwrap());
        ReturnHosts::new(Some(&public), allowed.to_vec())
    }

    #[test]
    fn absolute_urls_on_allowed_hosts_are_kept() {
        let hosts = gate_hosts();
        for ok in [
            "https://app.example.com/dashboard?x=1&y=2#top",
            "https://wiki.example.com/page",
            "https://a.b.example.com/",
            "https://docs.example.org:8443/guide",
        ] {
            assert_eq!(safe_next(Some(ok), &hosts), ok, "{ok:?} should be kept");
        }
        // Kept as the browser would read it.
        assert_eq!(safe_next(Some("https://APP.example.com:443/x"), &hosts), "https://app.example.com/x");
        // Local paths still work, and may name the host app's own pages.
        assert_eq!(safe_next(Some("/dashboard"), &hosts), "/dashboard");
    }

    #[test]
    fn absolute_open_redirect_corpus_falls_back_to_root() {
        let hosts = gate_hosts();
        let corpus = [
            "https://evil.example",
            "http://app.example.com/",       // no downgrade from an https site
            "https://example.com/",          // *.example.com is subdomains only
            "https://example.com.evil.com/", // suffix tricks
            "https://app.example.com.evil.com/",
            "https://evilexample.com/",
            "https://evil.com/?.example.com",
            "https://evil.com/#.example.com",
            "https://app.example.com@evil.com/", // userinfo: the host is evil.com
            "https://evil.com@app.example.com/", // userinfo on an allowed host is refused too
            "https://user:pw@app.example.com/",
            "https://evil.com\\@app.example.com/", // backslashes
            "https://app.example.com\\evil.com/",
            "https://evil.com\\.example.com/",
            "https://app.example.com:444/", // ports
            "https://app.example.com:8443/",
            "https://docs.example.org/",
            "https://docs.example.org:443/",
            "https://docs.example.org:8444/",
            "https://app.example.com./",      // a trailing dot is another name
            "https://app.ex\u{430}mple.com/", // IDN look-alikes: Cyrillic a, Greek o
            "https://wiki.exampl\u{3bf}.com/",
            "https://xn--app-example-com.evil/",
            "https://app.example.com%2eevil.com/", // an encoded dot
            "https://app.example.com\t/",
            "https://app.example.com\n.evil.com/",
            "https: //app.example.com/",
            "javascript://app.example.com/%0aalert(1)",
            "ftp://app.example.com/",
            "data:text/html,https://app.example.com/",
            "//app.example.com/", // scheme-relative stays refused
            "https://127.0.0.1/",
            "https://[::1]/",
            "https:/\\app.example.com.evil.com",
        ];
        for bad in corpus {
            assert_eq!(safe_next(Some(bad), &hosts), "/", "{bad:?} must fall back to /");
        }
    }

    #[test]
    fn an_http_site_may_return_to_http() {
        let public = url::Url::parse("http://127.0.0.1:8080/").unwrap();
        let hosts = ReturnHosts::new(Some(&public), vec![HostPattern::parse("localhost:3000").unwrap()]);
        assert_eq!(safe_next(Some("http://localhost:3000/app"), &hosts), "http://localhost:3000/app");
        assert_eq!(safe_next(Some("http://127.0.0.1:8080/x"), &hosts), "http://127.0.0.1:8080/x");
        assert_eq!(safe_next(Some("http://127.0.0.1:8081/x"), &hosts), "/");
    }

    #[test]
    fn host_patterns_are_checked() {
        let refused = [
            "https://example.com",
            "*.com",
            "example.com/path",
            "*",
            "*.",
            "a:99999",
            "a:",
            "u@example.com",
            "*.*.example.com",
            "exa mple.com",
            "*.github.io",
            "*.co.uk",
        ];
        for bad in refused {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} should be refused");
        }
        for ok in [
            "example.com",
            "app.example.com:8443",
            "*.example.com",
            "*.example.com:8443",
            "localhost:3000",
            "[::1]:8080",
        ] {
            assert!(HostPattern::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn guard_redirect_is_percent_encoded() {
        assert_eq!(login_redirect("/profile"), "/login?next=%2Fprofile");
        assert_eq!(login_redirect("/profile?x=1&y=<"), "/login?next=%2Fprofile%3Fx%3D1%26y%3D%3C");
    }
}
