//! Tera pages, compiled into the binary so it runs from any directory.

use std::sync::LazyLock;

use tera::{Context, Tera};

const PAGES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("profile.html", include_str!("../templates/profile.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("delete.html", include_str!("../templates/delete.html")),
];

static TERA: LazyLock<Result<Tera, String>> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.add_raw_templates(PAGES.iter().copied()).map_err(|e| format!("{e:?}"))?;
    tera.autoescape_on(vec![".html"]);
    Ok(tera)
});

/// Parses every template; called at start so a broken template stops the service there.
pub fn check() -> Result<(), String> {
    TERA.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// Renders a page, with the site's `base` (path prefix) and `app_name` added to `ctx`. Errors
/// carry Tera's reason for the log, never for the browser.
pub fn render(name: &str, ctx: &Context) -> Result<String, String> {
    let tera = TERA.as_ref().map_err(Clone::clone)?;
    let site = crate::site::current();
    let mut ctx = ctx.clone();
    ctx.insert("base", &site.base);
    ctx.insert("app_name", &site.app_name);
    tera.render(name, &ctx).map_err(|e| {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why.push_str(&format!(": {s}"));
            source = s.source();
        }
        why
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        super::check().unwrap();
    }
}
