//! Tera pages, compiled into the binary so it runs from any directory; `TEMPLATES_DIR` may
//! replace any of them with a file of the same name.

use std::path::Path;
use std::sync::{Arc, LazyLock};

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

/// The built-in pages with those in `dir` put in their place. Every file must be named like a
/// built-in page (a typo would silently be ignored otherwise) and parse; errors name the file
/// and, for a template error, the line.
pub fn with_overrides(dir: &Path) -> Result<Arc<Tera>, String> {
    let known: Vec<&str> = PAGES.iter().map(|(name, _)| *name).collect();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("TEMPLATES_DIR={}: {e}", dir.display()))?;
    let mut overrides = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("TEMPLATES_DIR={}: {e}", dir.display()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "TEMPLATES_DIR: {} is not one of gatehouse's templates ({})",
                path.display(),
                known.join(", ")
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("TEMPLATES_DIR: {}: {e}", path.display()))?;
        overrides.push((name, text));
    }
    let mut tera = Tera::default();
    let pages = PAGES
        .iter()
        .map(|(name, text)| {
            let replaced = overrides.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str());
            (*name, replaced.unwrap_or(text))
        })
        .collect::<Vec<_>>();
    tera.add_raw_templates(pages).map_err(|e| format!("TEMPLATES_DIR={}: {}", dir.display(), chain(&e)))?;
    tera.autoescape_on(vec![".html"]);
    Ok(Arc::new(tera))
}

fn chain(e: &tera::Error) -> String {
    let mut why = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why.push_str(&format!(": {s}"));
        source = s.source();
    }
    why
}

/// Renders a page, with the site's `base` (path prefix) and `app_name` added to `ctx`, from the
/// site's own templates (`TEMPLATES_DIR`) or the built-in ones. Errors carry Tera's reason for
/// the log, never for the browser.
pub fn render(name: &str, ctx: &Context) -> Result<String, String> {
    let site = crate::site::current();
    let tera = match &site.templates {
        Some(own) => own.as_ref(),
        None => TERA.as_ref().map_err(Clone::clone)?,
    };
    let mut ctx = ctx.clone();
    ctx.insert("base", &site.base);
    ctx.insert("app_name", &site.app_name);
    tera.render(name, &ctx).map_err(|e| chain(&e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        super::check().unwrap();
    }
}
