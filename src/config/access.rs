//! `ALLOWED_EMAILS`, `ALLOWED_EMAIL_DOMAINS`, `ALLOWED_EMAILS_FILE`: who may come in (the rules
//! themselves are applied by `crate::access`).

use std::collections::HashSet;
use std::path::PathBuf;

use super::Reader;

/// The operator's rules, as configured. With none set, everyone who signs in may come in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AccessSettings {
    /// `ALLOWED_EMAILS`, lower-case.
    pub(crate) emails: HashSet<String>,
    /// `ALLOWED_EMAIL_DOMAINS`, lower-case, without `@`: the exact domain after the `@`.
    pub(crate) domains: HashSet<String>,
    /// `ALLOWED_EMAILS_FILE`: one address per line (`#` comments), re-read on `SIGHUP`.
    pub(crate) file: Option<PathBuf>,
}

impl AccessSettings {
    /// True when any rule is set: then only the people the rules name may come in.
    pub(crate) fn restricts(&self) -> bool {
        !self.emails.is_empty() || !self.domains.is_empty() || self.file.is_some()
    }
}

/// Parses a comma-separated list of addresses or domains, lower-cased.
pub(crate) fn parse_list(raw: Option<&str>) -> HashSet<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(|v| v.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

pub(crate) fn parse(r: &mut Reader) -> AccessSettings {
    let settings = AccessSettings {
        emails: parse_list(r.get("ALLOWED_EMAILS")),
        domains: parse_list(r.get("ALLOWED_EMAIL_DOMAINS")),
        file: r.get("ALLOWED_EMAILS_FILE").filter(|f| !f.trim().is_empty()).map(PathBuf::from),
    };
    if let Some(bad) = settings.emails.iter().find(|e| !e.contains('@') || e.ends_with('@')) {
        r.problem(format!("ALLOWED_EMAILS: {bad:?} is not an email address (list whole addresses, comma-separated)"));
    }
    if let Some(bad) = settings.domains.iter().find(|d| d.contains(['@', '/', ':', '*']) || !d.contains('.')) {
        r.problem(format!(
            "ALLOWED_EMAIL_DOMAINS: {bad:?} must be a domain such as example.com (the exact part after @)"
        ));
    }
    settings
}
