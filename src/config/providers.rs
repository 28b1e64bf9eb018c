//! `OAUTH_PROVIDERS` and the `OAUTH_{NAME}_*` variables of each provider.

use url::Url;

use super::{Reader, Secret, urls};

/// How a provider is spoken to. Presets are kinds with defaults filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenID Connect issuer, found through discovery.
    Oidc,
    /// OpenID Connect with Google's issuer and defaults.
    Google,
    /// GitHub's OAuth2 apps plus its REST API for the profile and verified emails.
    Github,
}

impl ProviderKind {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "oidc" => Some(Self::Oidc),
            "google" => Some(Self::Google),
            "github" => Some(Self::Github),
            _ => None,
        }
    }

    pub fn is_oidc(self) -> bool {
        matches!(self, Self::Oidc | Self::Google)
    }

    fn default_scopes(self) -> &'static str {
        match self {
            Self::Github => "read:user user:email",
            Self::Oidc | Self::Google => "openid email profile",
        }
    }

    /// Google and GitHub only report an email as verified after they verified it themselves.
    fn trusts_email_by_default(self) -> bool {
        matches!(self, Self::Google | Self::Github)
    }
}

/// One configured provider, validated.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    pub name: String,
    pub kind: ProviderKind,
    pub label: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// OIDC kinds: discovery happens at `{issuer}/.well-known/openid-configuration`.
    pub issuer: Option<Url>,
    /// GitHub kind: full authorize and token endpoint URLs, and the REST API base.
    pub auth_url: Option<Url>,
    pub token_url: Option<Url>,
    pub api_url: Option<Url>,
    pub scopes: Vec<String>,
    /// May this provider's verified-email claim link a sign-in to an existing account?
    pub trust_email: bool,
}

/// `github` → `GITHUB`, `my-idp` → `MY_IDP`.
pub fn env_prefix(name: &str) -> String {
    format!("OAUTH_{}_", name.to_ascii_uppercase().replace('-', "_"))
}

pub(crate) fn parse_all(r: &mut Reader) -> Vec<ProviderSettings> {
    let Some(list) = r.get("OAUTH_PROVIDERS") else { return Vec::new() };
    let mut seen_prefixes = std::collections::HashSet::new();
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let valid = name.len() <= 32
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            r.problem(format!(
                "OAUTH_PROVIDERS: {name:?} is not a valid provider name (use 1-32 characters of a-z, 0-9, _ and -)"
            ));
            continue;
        }
        if !seen_prefixes.insert(env_prefix(name)) {
            r.problem(format!("OAUTH_PROVIDERS lists {name:?} twice (names that differ only by - and _ collide)"));
            continue;
        }
        if let Some(p) = parse_one(r, name) {
            out.push(p);
        }
    }
    out
}

fn parse_one(r: &mut Reader, name: &str) -> Option<ProviderSettings> {
    let prefix = env_prefix(name);
    let var = |suffix: &str| format!("{prefix}{suffix}");
    let problems_before = r.problems.len();

    let kind = match r.get(&var("KIND")) {
        Some(raw) => ProviderKind::parse(raw).or_else(|| {
            r.problem(format!("{}={raw:?} is not a known kind; use google, github or oidc", var("KIND")));
            None
        }),
        None => ProviderKind::parse(name).filter(|k| *k != ProviderKind::Oidc).or_else(|| {
            r.problem(format!("{} is required for provider {name:?}: set it to google, github or oidc", var("KIND")));
            None
        }),
    }?;

    let client_id = required(r, &var("CLIENT_ID"));
    let client_secret = required(r, &var("CLIENT_SECRET")).map(Secret::new);

    let url_var = |r: &mut Reader, suffix: &str, default: Option<&str>| -> Option<Url> {
        let v = var(suffix);
        let raw = r.get(&v).or(default)?;
        urls::endpoint(r, &v, raw)
    };

    let (issuer, auth_url, token_url, api_url) = match kind {
        ProviderKind::Oidc | ProviderKind::Google => {
            let default = (kind == ProviderKind::Google).then_some("https://accounts.google.com");
            if default.is_none() && r.get(&var("ISSUER")).is_none() {
                r.problem(format!(
                    "{} is required for an oidc provider (the URL before /.well-known/openid-configuration)",
                    var("ISSUER")
                ));
            }
            (url_var(r, "ISSUER", default), None, None, None)
        }
        ProviderKind::Github => (
            None,
            url_var(r, "AUTH_URL", Some("https://github.com/login/oauth/authorize")),
            url_var(r, "TOKEN_URL", Some("https://github.com/login/oauth/access_token")),
            url_var(r, "API_URL", Some("https://api.github.com")),
        ),
    };

    let scopes: Vec<String> =
        r.get(&var("SCOPES")).unwrap_or(kind.default_scopes()).split_whitespace().map(str::to_string).collect();
    if kind.is_oidc() && !scopes.iter().any(|s| s == "openid") {
        r.problem(format!("{} must include \"openid\" for an OpenID Connect provider", var("SCOPES")));
    }

    let label = r.get(&var("LABEL")).map(str::to_string).unwrap_or_else(|| match kind {
        ProviderKind::Google => "Google".into(),
        ProviderKind::Github => "GitHub".into(),
        ProviderKind::Oidc => capitalise(name),
    });
    let trust_email = r.boolean(&var("TRUST_EMAIL"), kind.trusts_email_by_default());

    if r.problems.len() > problems_before {
        return None;
    }
    Some(ProviderSettings {
        name: name.to_string(),
        kind,
        label,
        client_id: client_id?,
        client_secret: client_secret?,
        issuer,
        auth_url,
        token_url,
        api_url,
        scopes,
        trust_email,
    })
}

fn required(r: &mut Reader, var: &str) -> Option<String> {
    let value = r.get(var).map(str::to_string);
    if value.is_none() {
        r.problem(format!("{var} is required (from the provider's developer console)"));
    }
    value
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
