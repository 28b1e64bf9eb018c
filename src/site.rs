//! Where gatehouse lives inside the site, and what it is called there: the path prefix taken
//! from `PUBLIC_URL` (`https://example.com/auth` → `/auth`) and `APP_NAME`.
//!
//! Every link, form, redirect and page title goes through here. It is kept per worker thread:
//! [`crate::Gatehouse::configure`] sets it on each worker as the app is built, so error pages,
//! which are rendered where no request or app data is at hand, follow it too.

use std::cell::RefCell;
use std::rc::Rc;

/// One site's placement and look.
#[derive(Clone)]
pub struct Site {
    /// `""` at the root of the host, else `/auth` (no trailing slash).
    pub base: String,
    /// Replaces "gatehouse" in titles and the header (`APP_NAME`).
    pub app_name: String,
    /// The site's own templates (`TEMPLATES_DIR`), checked at start; `None`: the built-in ones.
    pub templates: Option<std::sync::Arc<tera::Tera>>,
}

impl Default for Site {
    fn default() -> Self {
        Site { base: String::new(), app_name: "gatehouse".into(), templates: None }
    }
}

thread_local! {
    static CURRENT: RefCell<Rc<Site>> = RefCell::new(Rc::new(Site::default()));
}

/// Makes `site` this worker thread's.
pub fn set(site: Site) {
    CURRENT.with(|c| *c.borrow_mut() = Rc::new(site));
}

/// This worker thread's site.
pub fn current() -> Rc<Site> {
    CURRENT.with(|c| c.borrow().clone())
}

/// `path` (absolute, from gatehouse's root: `/login`) as the browser must ask for it.
pub fn path(path: &str) -> String {
    format!("{}{path}", current().base)
}

/// A request path as gatehouse's own routes see it: `/auth/static/x.css` → `/static/x.css`;
/// `None` for a path outside the prefix (the host app's own).
pub fn local(path: &str) -> Option<&str> {
    let site = current();
    if site.base.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(site.base.as_str())?;
    match rest {
        "" => Some("/"),
        r if r.starts_with('/') => Some(&path[path.len() - r.len()..]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_prefix() {
        set(Site { base: "/auth".into(), app_name: "Notes".into(), templates: None });
        assert_eq!(path("/login?next=%2F"), "/auth/login?next=%2F");
        assert_eq!(local("/auth/static/style.css"), Some("/static/style.css"));
        assert_eq!(local("/auth"), Some("/"));
        assert_eq!(local("/authorize/x"), None, "a prefix is a whole segment");
        assert_eq!(local("/static/style.css"), None, "the host's own");
        set(Site::default());
        assert_eq!(path("/login"), "/login");
        assert_eq!(local("/static/style.css"), Some("/static/style.css"));
    }
}
