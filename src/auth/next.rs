//! `next`: where to go after signing in. Only a local path is ever honoured.

/// Longest `next` worth keeping; anything longer falls back to `/`.
const MAX_NEXT_LEN: usize = 2048;

/// Returns `raw` when it is a safe local target, else `/`. Never fails: a bad `next` must not
/// refuse a sign-in.
///
/// Safe means: exactly one leading `/`, no `\` anywhere, and no control character or
/// whitespace anywhere (browsers strip TAB and LF, so `/<TAB>/evil.example` would become
/// `//evil.example`). The result is then resolved against a fixed origin and must stay on it.
pub fn safe_next(raw: Option<&str>) -> String {
    raw.filter(|n| is_safe(n)).map_or_else(|| "/".to_string(), str::to_string)
}

fn is_safe(next: &str) -> bool {
    let bytes = next.as_bytes();
    if next.len() > MAX_NEXT_LEN || bytes.first() != Some(&b'/') || matches!(bytes.get(1), Some(b'/')) {
        return false;
    }
    if next.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace()) {
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
    use proptest::prelude::*;

    proptest! {
        /// Whatever comes in, what goes out stays on our origin.
        #[test]
        fn fuzz_next_never_leaves_the_site(raw in "[/\\\\\t\n\r .:%@a-z0-9?#=&-]{0,40}|\\PC{0,60}") {
            let out = safe_next(Some(&raw));
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
        for ok in ["/", "/profile", "/profile?tab=a%20b", "/a/b/../c", "/%2f%2fevil.example", "/%5cevil.example"] {
            assert_eq!(safe_next(Some(ok)), ok, "{ok:?} should be kept");
        }
    }

    #[test]
    fn open_redirect_corpus_falls_back_to_root() {
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
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?} must fall back to /");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(5000)))), "/");
    }

    #[test]
    fn guard_redirect_is_percent_encoded() {
        assert_eq!(login_redirect("/profile"), "/login?next=%2Fprofile");
        assert_eq!(login_redirect("/profile?x=1&y=<"), "/login?next=%2Fprofile%3Fx%3D1%26y%3D%3C");
    }
}
