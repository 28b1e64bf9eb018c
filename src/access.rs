//! Who may come in: `ALLOWED_EMAILS`, `ALLOWED_EMAIL_DOMAINS` and `ALLOWED_EMAILS_FILE`,
//! checked at sign-in (inside its transaction, on the account it ends in) and again on every
//! gate request, plus the stricter per-location requirements a proxy asks for in `/verify`'s
//! query.
//!
//! Both checks look at one thing, [`crate::accounts::verified_email`]: the account's email when
//! a provider trusted to verify emails (`OAUTH_{NAME}_TRUST_EMAIL`) verified it, the same bar
//! as joining accounts by email.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::accounts::{Account, verified_email};
pub(crate) use crate::config::AccessSettings;
use crate::config::parse_list;

/// The rules at run time: the settings, and the file's addresses as last read.
pub(crate) struct Access {
    settings: AccessSettings,
    from_file: RwLock<Arc<HashSet<String>>>,
    /// Per provider, the groups one of which a person signing in through it must be in
    /// (`OAUTH_{NAME}_ALLOWED_GROUPS`, GitHub's `ALLOWED_ORGS`/`ALLOWED_TEAMS`), named
    /// `provider:group` as [`Account::groups`] names them.
    groups_by_provider: HashMap<String, Vec<String>>,
    /// Every provider configured now: an identity from one that was removed admits nobody.
    configured: HashSet<String>,
}

impl Access {
    /// Every configured provider with its group rules (`OAUTH_{NAME}_ALLOWED_GROUPS`, …; empty:
    /// none).
    pub(crate) fn with_group_rules(mut self, rules: impl IntoIterator<Item = (String, Vec<String>)>) -> Access {
        for (provider, groups) in rules {
            self.configured.insert(provider.clone());
            if !groups.is_empty() {
                let named = groups.iter().map(|g| format!("{provider}:{g}")).collect();
                self.groups_by_provider.insert(provider, named);
            }
        }
        self
    }

    /// Does the account come in? Its verified email must meet the email rules, and it must have
    /// come through a provider without group rules, or be in one of that provider's groups.
    /// Reads the account snapshot's groups, parsed once per snapshot, never the stored JSON.
    pub(crate) fn admits(&self, account: &Account) -> bool {
        let groups = account.groups();
        self.allows(verified_email(&account.user))
            && (self.groups_by_provider.is_empty()
                || account.identities.iter().any(|i| match self.groups_by_provider.get(&i.provider) {
                    None => self.configured.contains(&i.provider),
                    Some(allowed) => allowed.iter().any(|g| groups.binary_search(g).is_ok()),
                }))
    }

    /// True when any rule is set: without one, everyone who signs in comes in, and a sign-in
    /// need not read the account back to ask.
    pub(crate) fn has_rules(&self) -> bool {
        self.settings.restricts() || !self.groups_by_provider.is_empty()
    }

    /// Reads `ALLOWED_EMAILS_FILE` now: a file that cannot be read stops the start.
    pub(crate) fn new(settings: AccessSettings) -> Result<Access, String> {
        let from_file = match &settings.file {
            Some(path) => read_emails(path)?,
            None => HashSet::new(),
        };
        Ok(Access {
            settings,
            from_file: RwLock::new(Arc::new(from_file)),
            groups_by_provider: HashMap::new(),
            configured: HashSet::new(),
        })
    }

    /// Re-reads `ALLOWED_EMAILS_FILE`; on failure the previous list stays and the error is
    /// returned for the log.
    pub(crate) fn reload(&self) -> Result<usize, String> {
        let Some(path) = &self.settings.file else { return Ok(0) };
        let emails = read_emails(path)?;
        let count = emails.len();
        *self.from_file.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(emails);
        Ok(count)
    }

    /// May the holder of `verified_email` (`None`: no verified email) come in?
    pub(crate) fn allows(&self, verified_email: Option<&str>) -> bool {
        if !self.settings.restricts() {
            return true;
        }
        let Some(email) = verified_email.map(str::to_ascii_lowercase) else { return false };
        self.settings.emails.contains(&email)
            || domain_of(&email).is_some_and(|d| self.settings.domains.contains(d))
            || self.from_file.read().unwrap_or_else(|e| e.into_inner()).contains(&email)
    }
}

/// What one gated location asks for beyond the operator's rules
/// (`/verify?allowed_emails=…&allowed_email_domains=…`). Every given list must hold; within a
/// list, any entry suffices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Requirement {
    emails: Option<HashSet<String>>,
    domains: Option<HashSet<String>>,
    groups: Option<HashSet<String>>,
}

impl Requirement {
    /// From a query string. Parameters of the proxy's own are ignored, but an `allowed_*`
    /// parameter that is repeated or unknown (a typo) is an error: a rule must never be
    /// dropped silently.
    pub(crate) fn from_query(query: &str) -> Result<Requirement, String> {
        let mut requirement = Requirement::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*name {
                "allowed_emails" => &mut requirement.emails,
                "allowed_email_domains" => &mut requirement.domains,
                "allowed_groups" => &mut requirement.groups,
                other if other.starts_with("allowed_") => return Err(format!("unknown rule {other:?}")),
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("{name} is given twice"));
            }
            *slot = Some(if name == "allowed_groups" {
                // `provider:group`, as the account's groups are named; group names keep their
                // case (an IdP's `Admins` is not `admins`). A bare name would match nobody.
                let groups: HashSet<String> =
                    value.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect();
                if let Some(bare) = groups.iter().find(|g| !g.contains(':')) {
                    return Err(format!("allowed_groups: {bare:?} must name its provider, e.g. corp:{bare}"));
                }
                groups
            } else {
                parse_list(Some(&value))
            });
        }
        Ok(requirement)
    }

    /// Do `verified_email` and `groups` meet every list given? (An empty list, `allowed_emails=`,
    /// admits nobody: a typo must not open the door.)
    pub(crate) fn allows(&self, verified_email: Option<&str>, groups: &[String]) -> bool {
        let groups_ok = self.groups.as_ref().is_none_or(|list| groups.iter().any(|g| list.contains(g)));
        if self.emails.is_none() && self.domains.is_none() {
            return groups_ok;
        }
        let Some(email) = verified_email.map(str::to_ascii_lowercase) else { return false };
        groups_ok
            && self.emails.as_ref().is_none_or(|list| list.contains(&email))
            && self.domains.as_ref().is_none_or(|list| domain_of(&email).is_some_and(|d| list.contains(d)))
    }
}

fn domain_of(email: &str) -> Option<&str> {
    email.rsplit_once('@').filter(|(local, domain)| !local.is_empty() && !domain.is_empty()).map(|(_, domain)| domain)
}

fn read_emails(path: &Path) -> Result<HashSet<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("ALLOWED_EMAILS_FILE={}: cannot read it: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(emails: &str, domains: &str) -> Access {
        Access::new(AccessSettings { emails: parse_list(Some(emails)), domains: parse_list(Some(domains)), file: None })
            .unwrap()
    }

    #[test]
    fn no_rules_let_everyone_in() {
        let open = access("", "");
        assert!(open.allows(Some("anyone@anywhere.example")) && open.allows(None));
    }

    #[test]
    fn listed_addresses_and_exact_domains_come_in_verified_only() {
        let rules = access("Boss@Partner.example", "example.com, @example.org");
        for ok in ["boss@partner.example", "BOSS@PARTNER.EXAMPLE", "ann@example.com", "bob@example.org"] {
            assert!(rules.allows(Some(ok)), "{ok}");
        }
        for refused in
            ["ann@sub.example.com", "ann@example.com.evil", "ann@evilexample.com", "example.com", "@example.com"]
        {
            assert!(!rules.allows(Some(refused)), "{refused}");
        }
        assert!(!rules.allows(None), "no verified email, no entry");
    }

    #[test]
    fn the_file_is_read_at_start_and_on_reload() {
        let dir = std::env::temp_dir().join(format!("gatehouse-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("allowed.txt");
        std::fs::write(&path, "# staff\nann@example.com\n  Bob@Example.com  # contractor\n").unwrap();
        let settings = AccessSettings { file: Some(path.clone()), ..Default::default() };
        let rules = Access::new(settings).unwrap();
        assert!(rules.allows(Some("ann@example.com")) && rules.allows(Some("bob@example.com")));
        assert!(!rules.allows(Some("carol@example.com")));

        std::fs::write(&path, "carol@example.com\n").unwrap();
        assert_eq!(rules.reload(), Ok(1));
        assert!(rules.allows(Some("carol@example.com")) && !rules.allows(Some("ann@example.com")));

        std::fs::remove_file(&path).unwrap();
        assert!(rules.reload().unwrap_err().contains("ALLOWED_EMAILS_FILE"));
        assert!(rules.allows(Some("carol@example.com")), "a failed reload keeps the last list");
    }

    #[test]
    fn per_location_requirements_all_hold() {
        let req =
            Requirement::from_query("allowed_emails=a@x.example,b@y.example&allowed_email_domains=x.example&rd=/")
                .unwrap();
        assert!(req.allows(Some("a@x.example"), &[]));
        assert!(!req.allows(Some("b@y.example"), &[]), "its domain is not listed");
        assert!(!req.allows(Some("c@x.example"), &[]), "not a listed address");
        assert!(!req.allows(None, &[]));
        assert!(Requirement::from_query("").unwrap().allows(None, &[]));
        let empty = Requirement::from_query("allowed_emails=").unwrap();
        assert!(!empty.allows(Some("a@x.example"), &[]), "an empty list admits nobody");
        assert!(Requirement::from_query("allowed_emails=a@x.example&allowed_emails=b@x.example").is_err(), "repeated");
        assert!(Requirement::from_query("allowed_email=a@x.example").is_err(), "a typo is not ignored");
        assert!(Requirement::from_query("allowed_roles=admins").is_err(), "a rule this version does not know");
        assert!(Requirement::from_query("allowed_groups=admins").is_err(), "a group without its provider");
        let admins = Requirement::from_query("allowed_groups=corp:Admins,corp:ops").unwrap();
        assert!(
            admins.allows(None, &["corp:ops".into()]) && admins.allows(None, &["corp:Admins".into(), "x:y".into()])
        );
        assert!(!admins.allows(None, &["corp:admins".into()]), "group names keep their case");
        assert!(!admins.allows(None, &["gitlab:ops".into()]), "another provider's group of that name");
        assert!(!admins.allows(None, &[]));
    }
}
