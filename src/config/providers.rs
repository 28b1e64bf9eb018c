//! `OAUTH_PROVIDERS` and the `OAUTH_{NAME}_*` variables of each provider.

use std::sync::Arc;

use url::Url;

use super::{Reader, Secret, urls};
use crate::presets::{self, IssuerParam, Preset, Protocol, Shape};
use crate::providers::apple::{self, ClientSecretMinter};

/// Where an OAuth2 profile keeps each field (see [`presets::Claims`]); owned, so
/// `OAUTH_{NAME}_CLAIM_*` can override a preset's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClaimMap {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) avatar: String,
    pub(crate) email_verified: Option<String>,
    /// `CLAIM_GROUPS`: where the person's groups are, if anywhere.
    pub(crate) groups: Option<String>,
}

/// One configured provider, validated.
#[derive(Clone, Debug)]
pub(crate) struct ProviderSettings {
    pub(crate) name: String,
    pub(crate) preset: &'static Preset,
    pub(crate) label: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: ClientCredential,
    /// OIDC: the issuer exactly as configured (a trailing `/` is part of it: Auth0's has one).
    pub(crate) issuer: Option<String>,
    /// OIDC: where the discovery document is (`DISCOVERY_URL`, or the preset's: Azure AD B2C's
    /// is under the policy); `None`: `{issuer without trailing /}/.well-known/openid-configuration`.
    pub(crate) discovery_url: Option<Url>,
    pub(crate) auth_url: Option<Url>,
    pub(crate) token_url: Option<Url>,
    /// OAuth2 kinds: the profile endpoint (`USERINFO_URL`).
    pub(crate) userinfo_url: Option<Url>,
    /// GitHub: the REST API base (`API_URL`), whose `/user` and `/user/emails` are read.
    pub(crate) api_base: Option<Url>,
    pub(crate) scopes: Vec<String>,
    /// May this provider's verified-email claim link a sign-in to an existing account?
    pub(crate) trust_email: bool,
    /// Google Workspace domain (`hd`), sent and checked in the ID token.
    pub(crate) hosted_domain: Option<String>,
    /// OIDC: audiences an ID token may name besides the client id (`TRUSTED_AUDIENCES`:
    /// ZITADEL's project id, a Keycloak audience mapper's API); any other is refused.
    pub(crate) trusted_audiences: Vec<String>,
    pub(crate) claims: ClaimMap,
    /// Who may sign in through this provider, by group (`ALLOWED_GROUPS`; GitHub:
    /// `ALLOWED_ORGS` as `org` and `ALLOWED_TEAMS` as `org/team-slug`); empty: anyone.
    pub(crate) allowed_groups: Vec<String>,
    /// What `POST /logout` ends for a session signed in here (`LOGOUT`).
    pub(crate) logout: LogoutMode,
    /// Keep each identity's access and refresh tokens, sealed, for the app (`STORE_TOKENS`).
    pub(crate) store_tokens: bool,
}

/// How gatehouse proves itself at the provider's token endpoint.
#[derive(Clone, Debug)]
pub(crate) enum ClientCredential {
    /// `OAUTH_{NAME}_CLIENT_SECRET`, as the provider's console issued it.
    Fixed(Secret),
    /// Apple: a secret minted from the `.p8` key (`TEAM_ID`, `KEY_ID`, `PRIVATE_KEY_FILE`).
    Minted(Arc<ClientSecretMinter>),
}

impl ClientCredential {
    /// The secret to send now; `None` only when minting one failed (the system's random
    /// source did).
    pub(crate) fn current(&self) -> Option<String> {
        match self {
            ClientCredential::Fixed(secret) => Some(secret.expose().to_string()),
            ClientCredential::Minted(minter) => minter.current(),
        }
    }

    /// The configured secret of kinds that have one (every kind but Apple).
    pub(crate) fn fixed(&self) -> Option<&str> {
        match self {
            ClientCredential::Fixed(secret) => Some(secret.expose()),
            ClientCredential::Minted(_) => None,
        }
    }
}

/// `OAUTH_{NAME}_LOGOUT`: whether signing out also signs out at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogoutMode {
    /// Only gatehouse's session (the default).
    Local,
    /// gatehouse's session, then the provider's (OpenID Connect RP-Initiated Logout 1.0: the
    /// browser is sent to its `end_session_endpoint`).
    Provider,
}

impl ProviderSettings {
    pub(crate) fn protocol(&self) -> Protocol {
        self.preset.protocol
    }
}

/// `github` → `OAUTH_GITHUB_`, `my-idp` → `OAUTH_MY_IDP_`.
pub(crate) fn env_prefix(name: &str) -> String {
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
    // RFC 9207 §4: one issuer identifier per authorization server, or mix-ups cannot be told.
    for (i, p) in out.iter().enumerate() {
        if let Some(issuer) = &p.issuer
            && let Some(other) = out[..i].iter().find(|o| o.issuer.as_ref() == Some(issuer))
        {
            let (a, b) = (env_prefix(&other.name), env_prefix(&p.name));
            r.problem(format!("{a}ISSUER and {b}ISSUER are the same issuer; configure each provider once"));
        }
    }
    out
}

fn parse_one(r: &mut Reader, name: &str) -> Option<ProviderSettings> {
    let prefix = env_prefix(name);
    let var = |suffix: &str| format!("{prefix}{suffix}");
    let problems_before = r.problems.len();

    let preset = match r.get(&var("KIND")) {
        Some(raw) => presets::find(raw).or_else(|| {
            r.problem(format!("{}={raw:?} is not a known kind; use one of: {}", var("KIND"), presets::kinds()));
            None
        }),
        None => presets::implied_by_name(name).or_else(|| {
            r.problem(format!("{} is required for provider {name:?}: one of {}", var("KIND"), presets::kinds()));
            None
        }),
    }?;

    if preset.kind == "demo" {
        if r.boolean(&var("TRUST_EMAIL"), false) {
            r.problem(format!("{} cannot be true: the demo provider lets anyone claim any email", var("TRUST_EMAIL")));
        }
        return Some(demo(name));
    }

    let client_id = required(r, &var("CLIENT_ID"));
    let is_apple = preset.kind == "apple";
    let client_secret = if is_apple {
        if r.is_set(&var("CLIENT_SECRET")) {
            r.problem(format!(
                "{} is not used for Apple: gatehouse signs its own from {}; remove it",
                var("CLIENT_SECRET"),
                var("PRIVATE_KEY_FILE")
            ));
        }
        None
    } else {
        required(r, &var("CLIENT_SECRET")).map(|s| ClientCredential::Fixed(Secret::new(s)))
    };

    let url_var = |r: &mut Reader, suffix: &str, default: Option<&str>| -> Option<Url> {
        let v = var(suffix);
        match r.get(&v).or(default) {
            Some(raw) => urls::endpoint(r, &v, raw),
            None => {
                r.problem(format!("{v} is required for {} provider", a_kind(preset)));
                None
            }
        }
    };

    unused_issuer_params(r, &prefix, preset);
    let (mut issuer, mut auth_url, mut token_url) = (None, None, None);
    let (mut userinfo_url, mut api_base, mut discovery_url) = (None, None, None);
    match preset.protocol {
        Protocol::Oidc => {
            // Set and not empty: an empty variable (compose's `${X}` with X unset) is no issuer.
            let explicit = r.get(&var("ISSUER")).is_some();
            let server = auth_server(r, &var("AUTH_SERVER"), preset, explicit);
            let params = issuer_params(r, &prefix, preset, explicit);
            let default = match (preset.issuer, &params) {
                (Some(template), _) if preset.tenant.is_some() => {
                    tenant(r, &var("TENANT"), preset).map(|t| template.replace("{tenant}", &t))
                }
                (Some(_), _) if explicit => None,
                (Some(template), Some(params)) => Some(fill(template, params) + &server),
                // No template (ISSUER is required), or a parameter is missing or malformed (reported).
                _ => None,
            };
            // Auth0's and authentik's issuers end in `/`: without it, discovery would name
            // another issuer and no sign-in could start.
            let slash_example = match preset.kind {
                "auth0" => Some("https://login.example.com/"),
                "authentik" => Some("https://auth.example.com/application/o/SLUG/"),
                _ => None,
            };
            if let Some(example) = slash_example
                && r.get(&var("ISSUER")).is_some_and(|i| !i.ends_with('/'))
            {
                r.problem(format!("{} must end in / as {}'s issuers do ({example})", var("ISSUER"), preset.kind));
            }
            // A missing parameter was reported with what to set instead; ISSUER is not asked for too.
            if explicit || default.is_some() || preset.issuer.is_none() {
                // Validated as a URL, kept as written: the url crate would add a `/` to a bare host.
                let raw = r.get(&var("ISSUER")).or(default.as_deref()).map(str::to_string);
                issuer = url_var(r, "ISSUER", default.as_deref()).and(raw);
            }
            discovery_url = discovery(r, &prefix, preset, explicit, params.as_deref());
        }
        Protocol::OAuth2 | Protocol::Github => {
            auth_url = url_var(r, "AUTH_URL", preset.auth_url);
            token_url = url_var(r, "TOKEN_URL", preset.token_url);
            if r.is_set(&var("DISCOVERY_URL")) {
                r.problem(format!("{} applies only to OpenID Connect providers", var("DISCOVERY_URL")));
            }
            if preset.protocol == Protocol::Github {
                api_base = url_var(r, "API_URL", preset.api_base);
            } else {
                userinfo_url = url_var(r, "USERINFO_URL", preset.userinfo_url);
            }
        }
    }

    let client_id_scope = client_id.as_deref().unwrap_or_default();
    let mut scopes: Vec<String> = r
        .get(&var("SCOPES"))
        .unwrap_or(preset.scopes)
        .split_whitespace()
        .map(|s| s.replace("{client_id}", client_id_scope))
        .collect();
    if preset.protocol == Protocol::Oidc && !scopes.iter().any(|s| s == "openid") {
        r.problem(format!("{} must include \"openid\" for an OpenID Connect provider", var("SCOPES")));
    }

    if let Some(other) = scopes.iter().find(|s| is_apple && !["openid", "name", "email"].contains(&s.as_str())) {
        r.problem(format!("{}: Apple knows only openid, name and email, not {other:?}", var("SCOPES")));
    }

    let label = r.get(&var("LABEL")).map(str::to_string).unwrap_or_else(|| match preset.label {
        Some(label) => label.to_string(),
        None => capitalise(name),
    });
    let trust_email = r.boolean(&var("TRUST_EMAIL"), preset.trust_email);
    let hosted_domain = r.get(&var("HOSTED_DOMAIN")).map(str::to_ascii_lowercase);
    if hosted_domain.is_some() && preset.protocol != Protocol::Oidc {
        r.problem(format!("{} applies only to OpenID Connect providers such as google", var("HOSTED_DOMAIN")));
    }
    let claims = claim_map(r, &prefix, preset);
    let logout = match r.get(&var("LOGOUT")) {
        None | Some("local") => LogoutMode::Local,
        Some("provider") if is_apple => {
            r.problem(format!(
                "{}=provider: Apple has no end_session_endpoint to sign out at; use local",
                var("LOGOUT")
            ));
            LogoutMode::Local
        }
        Some("provider") if preset.protocol == Protocol::Oidc => LogoutMode::Provider,
        Some("provider") => {
            r.problem(format!(
                "{}=provider needs an OpenID Connect provider (one with an end_session_endpoint); use local",
                var("LOGOUT")
            ));
            LogoutMode::Local
        }
        Some(other) => {
            r.problem(format!("{} must be local or provider, not {other:?}", var("LOGOUT")));
            LogoutMode::Local
        }
    };
    let store_tokens = r.boolean(&var("STORE_TOKENS"), false);
    let client_secret = if is_apple {
        apple_key(r, &prefix, client_id.as_deref(), issuer.as_deref()).map(|m| ClientCredential::Minted(Arc::new(m)))
    } else {
        for suffix in ["TEAM_ID", "KEY_ID", "PRIVATE_KEY_FILE"] {
            if r.is_set(&var(suffix)) {
                r.problem(format!("{} applies only to the apple kind", var(suffix)));
            }
        }
        client_secret
    };
    let list = |r: &mut Reader, suffix: &str| -> Vec<String> {
        let name = var(suffix);
        let raw = r.get(&name);
        let items: Vec<String> =
            raw.unwrap_or_default().split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect();
        // Set but empty (`ALLOWED_GROUPS=,`) would restrict nobody: a typo must not open the door.
        if r.is_set(&name) && items.is_empty() {
            r.problem(format!("{name} is set but names nothing; name at least one, or remove it"));
        }
        items
    };
    // OIDC Core 3.1.3.7 step 3: an audience the client does not trust is refused; with any
    // other audience, `azp` must be the client id (checked with the ID token).
    let mut trusted_audiences = list(r, "TRUSTED_AUDIENCES");
    // ZITADEL names the project beside the client in every ID token's `aud`.
    match (preset.kind, r.get(&var("PROJECT_ID")).map(str::to_string)) {
        ("zitadel", Some(id)) if id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit()) => {
            trusted_audiences.push(id)
        }
        ("zitadel", Some(id)) => {
            r.problem(format!("{}={id:?} must be the project's Resource Id, digits only", var("PROJECT_ID")))
        }
        ("zitadel", None) => r.problem(format!(
            "{} is required for a zitadel provider: the Resource Id of the project the app is in (its ID tokens name it in aud)",
            var("PROJECT_ID")
        )),
        _ if r.is_set(&var("PROJECT_ID")) => {
            r.problem(format!("{} applies only to the zitadel kind", var("PROJECT_ID")))
        }
        _ => {}
    }
    if !trusted_audiences.is_empty() && preset.protocol != Protocol::Oidc {
        r.problem(format!("{} applies only to OpenID Connect providers", var("TRUSTED_AUDIENCES")));
    }
    if let Some(bad) = trusted_audiences.iter().find(|a| a.len() > 255 || a.chars().any(char::is_whitespace)) {
        r.problem(format!(
            "{}: {bad:?} is not an audience (no spaces, at most 255 characters)",
            var("TRUSTED_AUDIENCES")
        ));
    }
    let mut allowed_groups = list(r, "ALLOWED_GROUPS");
    let (orgs, teams) = (list(r, "ALLOWED_ORGS"), list(r, "ALLOWED_TEAMS"));
    if preset.protocol == Protocol::Github {
        if !allowed_groups.is_empty() {
            r.problem(format!(
                "{}: on GitHub, use {} and {}",
                var("ALLOWED_GROUPS"),
                var("ALLOWED_ORGS"),
                var("ALLOWED_TEAMS")
            ));
        }
        if let Some(bad) = teams.iter().find(|t| t.split('/').filter(|p| !p.is_empty()).count() != 2) {
            r.problem(format!("{}: {bad:?} must be org/team-slug", var("ALLOWED_TEAMS")));
        }
        allowed_groups = orgs.iter().chain(&teams).map(|g| g.to_ascii_lowercase()).collect();
        // Org and team membership needs read:org, asked for only when a rule needs it.
        if !allowed_groups.is_empty() && !scopes.iter().any(|s| s == "read:org") {
            scopes.push("read:org".into());
        }
    } else {
        if !orgs.is_empty() || !teams.is_empty() {
            r.problem(format!("{} and {} apply to GitHub only", var("ALLOWED_ORGS"), var("ALLOWED_TEAMS")));
        }
        if !allowed_groups.is_empty() && claims.groups.is_none() {
            r.problem(format!(
                "{} needs {} (a JSON pointer to the groups in the ID token or profile, e.g. /groups)",
                var("ALLOWED_GROUPS"),
                var("CLAIM_GROUPS")
            ));
        }
    }

    if r.problems.len() > problems_before {
        return None;
    }
    Some(ProviderSettings {
        name: name.to_string(),
        preset,
        label,
        client_id: client_id?,
        client_secret: client_secret?,
        issuer,
        discovery_url,
        auth_url,
        token_url,
        userinfo_url,
        api_base,
        scopes,
        trust_email,
        hosted_domain,
        trusted_audiences,
        claims,
        allowed_groups,
        logout,
        store_tokens,
    })
}

/// The built-in demo provider: its client credentials are made up at start (the provider is in
/// this process); its issuer, `{PUBLIC_URL}/demo-idp`, is set once `PUBLIC_URL` is known.
pub(crate) fn demo(name: &str) -> ProviderSettings {
    let preset = presets::find("demo").expect("the demo preset exists");
    ProviderSettings {
        name: name.to_string(),
        preset,
        label: preset.label.unwrap_or("Demo").to_string(),
        client_id: "gatehouse-demo".into(),
        client_secret: ClientCredential::Fixed(Secret::new(oauth2::CsrfToken::new_random_len(32).secret().clone())),
        issuer: None,
        discovery_url: None,
        auth_url: None,
        token_url: None,
        userinfo_url: None,
        api_base: None,
        scopes: preset.scopes.split_whitespace().map(str::to_string).collect(),
        trust_email: false,
        hosted_domain: None,
        trusted_audiences: Vec::new(),
        claims: ClaimMap {
            id: preset.claims.id.into(),
            email: preset.claims.email.into(),
            name: preset.claims.name.into(),
            avatar: preset.claims.avatar.into(),
            email_verified: preset.claims.email_verified.map(str::to_string),
            groups: None,
        },
        allowed_groups: Vec::new(),
        logout: LogoutMode::Local,
        store_tokens: false,
    }
}

/// Apple's `.p8` key and the ids that go with it; every problem names its variable. `None`
/// when something is missing or wrong (already reported), or nothing to sign for yet.
fn apple_key(
    r: &mut Reader,
    prefix: &str,
    client_id: Option<&str>,
    issuer: Option<&str>,
) -> Option<ClientSecretMinter> {
    let mut id = |suffix: &str, what: &str| -> Option<String> {
        let var = format!("{prefix}{suffix}");
        match r.get(&var) {
            Some(v) if apple::is_apple_id(v) => Some(v.to_string()),
            Some(v) => {
                r.problem(format!("{var}={v:?} is not {what}: ten capital letters and digits"));
                None
            }
            None => {
                r.problem(format!("{var} is required for Apple: {what}"));
                None
            }
        }
    };
    let team_id = id("TEAM_ID", "your Apple Developer Team ID (top right of developer.apple.com/account)");
    let key_id = id("KEY_ID", "the Key ID of the Sign in with Apple key (Certificates, Identifiers & Profiles → Keys)");
    let var = format!("{prefix}PRIVATE_KEY_FILE");
    // Read even when an id is wrong: every problem is reported at once.
    let key = match r.get(&var).map(str::to_string) {
        None => {
            r.problem(format!(
                "{var} is required for Apple: the path of the AuthKey_<KEY_ID>.p8 file downloaded with the key"
            ));
            None
        }
        Some(path) => match apple::read_key(&path) {
            Ok(key) => Some(key),
            Err(e) => {
                r.problem(format!("{var}={path:?} {e}"));
                None
            }
        },
    };
    Some(ClientSecretMinter::new(key?, &team_id?, &key_id?, client_id?, issuer?))
}

/// Microsoft Entra's `OAUTH_{NAME}_TENANT`: a tenant id or domain, or `common` and the like.
fn tenant(r: &mut Reader, var: &str, preset: &Preset) -> Option<String> {
    let value = r.get(var).or(preset.tenant)?.to_string();
    if value.is_empty()
        || value.len() > 64
        || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        r.problem(format!(
            "{var}={value:?} must be common, organizations, consumers, a tenant id or a domain (letters, digits, - and .)"
        ));
        return None;
    }
    Some(value)
}

/// Okta's `OAUTH_{NAME}_AUTH_SERVER`: a custom authorization server's id (`default`,
/// `aus…`), which puts the issuer at `/oauth2/{id}`; empty when unset (the org server).
fn auth_server(r: &mut Reader, var: &str, preset: &Preset, explicit_issuer: bool) -> String {
    let Some(id) = r.get(var).map(str::to_string) else { return String::new() };
    if preset.kind != "okta" {
        // Reported by `unused_issuer_params`, for every kind.
    } else if explicit_issuer {
        let issuer_var = var.replace("AUTH_SERVER", "ISSUER");
        r.problem(format!("{var} is part of the issuer: with {issuer_var} set, write it there and remove {var}"));
    } else if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        r.problem(format!("{var}={id:?} must be an authorization server id such as default or aus1a2b3c4d5E6f7g8h9"));
    } else {
        return format!("/oauth2/{id}");
    }
    String::new()
}

/// A preset's parameters (`OAUTH_{NAME}_DOMAIN` → `{domain}`), to fill its issuer and discovery
/// templates; `None` with every missing or malformed one reported, or when `ISSUER` replaces
/// them (then none may be set).
fn issuer_params(
    r: &mut Reader,
    prefix: &str,
    preset: &Preset,
    explicit_issuer: bool,
) -> Option<Vec<(String, String)>> {
    let issuer_var = format!("{prefix}ISSUER");
    if explicit_issuer {
        let set: Vec<String> =
            preset.issuer_params.iter().map(|p| format!("{prefix}{}", p.var)).filter(|v| r.is_set(v)).collect();
        if !set.is_empty() {
            r.problem(format!("{} and {issuer_var} are both set; set one or the other", set.join(" and ")));
        }
        return None;
    }
    let instead = match preset.discovery {
        Some(_) => format!("{issuer_var} and {prefix}DISCOVERY_URL"),
        None => format!("{issuer_var} to the whole issuer"),
    };
    let mut values = Some(Vec::new());
    for param in preset.issuer_params {
        let var = format!("{prefix}{}", param.var);
        let value = match r.get(&var).map(str::to_string) {
            None => {
                r.problem(format!(
                    "{var} is required for {} provider, such as {} (or set {instead})",
                    a_kind(preset),
                    param.example
                ));
                None
            }
            Some(raw) => checked_param(r, &var, param, raw),
        };
        values = values.zip(value).map(|(mut values, value)| {
            values.push((format!("{{{}}}", param.var.to_ascii_lowercase()), value));
            values
        });
    }
    values
}

/// A template with its `{param}`s replaced.
fn fill(template: &str, params: &[(String, String)]) -> String {
    params.iter().fold(template.to_string(), |filled, (placeholder, value)| filled.replace(placeholder, value))
}

/// `OAUTH_{NAME}_DISCOVERY_URL`, or the preset's discovery template filled in; `None` for the
/// usual place under the issuer. The document found there must still name the configured issuer.
fn discovery(
    r: &mut Reader,
    prefix: &str,
    preset: &Preset,
    explicit_issuer: bool,
    params: Option<&[(String, String)]>,
) -> Option<Url> {
    let var = format!("{prefix}DISCOVERY_URL");
    if let Some(raw) = r.get(&var).map(str::to_string) {
        let url = urls::endpoint(r, &var, &raw)?;
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            r.problem(format!("{var}={raw:?} must be a plain URL, without credentials or #fragment"));
            return None;
        }
        return Some(url);
    }
    match (preset.discovery, params) {
        (Some(template), Some(params)) => {
            let filled = fill(template, params);
            let url = Url::parse(&filled);
            if url.is_err() {
                r.problem(format!("{var}: the {} discovery address {filled:?} is not a URL", preset.kind));
            }
            url.ok()
        }
        (Some(_), None) if explicit_issuer => {
            r.problem(format!(
                "{var} is required with {prefix}ISSUER for {} provider: its discovery document is not under the issuer",
                a_kind(preset)
            ));
            None
        }
        _ => None,
    }
}

fn checked_param(r: &mut Reader, var: &str, param: &IssuerParam, raw: String) -> Option<String> {
    if !param.shape.accepts(&raw) {
        let what = match param.shape {
            Shape::HostName => "a host name (no https://, no path)",
            Shape::Id => "letters, digits, - and _",
            Shape::Region => "lower-case letters, digits and -",
            Shape::Label => "one name of letters, digits and - (no dots)",
            Shape::Guid => "a GUID (8-4-4-4-12 hex digits)",
        };
        r.problem(format!("{var}={raw:?} must be {what}, such as {}", param.example));
        return None;
    }
    Some(match param.shape {
        Shape::HostName | Shape::Label | Shape::Guid => raw.to_ascii_lowercase(),
        Shape::Id | Shape::Region => raw,
    })
}

/// An issuer parameter set for a kind that has no use for it.
fn unused_issuer_params(r: &mut Reader, prefix: &str, preset: &Preset) {
    if preset.kind != "okta" && r.is_set(&format!("{prefix}AUTH_SERVER")) {
        r.problem(format!("{prefix}AUTH_SERVER applies only to the okta kind"));
    }
    // Entra's TENANT is no issuer parameter (it has a default and is checked on its own).
    let uses =
        |p: &Preset, var: &str| p.issuer_params.iter().any(|q| q.var == var) || (var == "TENANT" && p.tenant.is_some());
    let mut vars: Vec<&str> = presets::PRESETS.iter().flat_map(|p| p.issuer_params.iter().map(|q| q.var)).collect();
    vars.push("TENANT");
    vars.sort_unstable();
    vars.dedup();
    for var in vars.into_iter().filter(|v| !uses(preset, v)) {
        let name = format!("{prefix}{var}");
        if r.is_set(&name) {
            let kinds: Vec<&str> = presets::PRESETS.iter().filter(|p| uses(p, var)).map(|p| p.kind).collect();
            let kinds =
                if kinds.len() == 1 { format!("{} kind", kinds[0]) } else { format!("{} kinds", kinds.join(", ")) };
            r.problem(format!("{name} applies only to the {kinds}"));
        }
    }
}

fn claim_map(r: &mut Reader, prefix: &str, preset: &Preset) -> ClaimMap {
    let defaults = preset.claims;
    let verified_override = r.get(&format!("{prefix}CLAIM_EMAIL_VERIFIED")).is_some();
    let groups_override = r.get(&format!("{prefix}CLAIM_GROUPS")).is_some();
    let mut read = |suffix: &str, default: &str| -> String {
        let var = format!("{prefix}CLAIM_{suffix}");
        let value = r.get(&var).unwrap_or(default).to_string();
        let is_pointer = |p: &str| p.starts_with('/');
        let ok = value.split('|').all(is_pointer) || (suffix == "AVATAR" && value.contains("{/"));
        if !ok {
            r.problem(format!(
                "{var}={value:?} must be a JSON pointer such as /email (alternatives with |){}",
                if suffix == "AVATAR" { ", or a URL template with {/pointer} parts" } else { "" }
            ));
        }
        value
    };
    ClaimMap {
        id: read("ID", defaults.id),
        email: read("EMAIL", defaults.email),
        name: read("NAME", defaults.name),
        avatar: read("AVATAR", defaults.avatar),
        email_verified: match (verified_override, defaults.email_verified) {
            (false, None) => None,
            (_, default) => Some(read("EMAIL_VERIFIED", default.unwrap_or_default())),
        },
        groups: match (groups_override, defaults.groups) {
            (false, None) => None,
            (_, default) => Some(read("GROUPS", default.unwrap_or_default())),
        },
    }
}

fn required(r: &mut Reader, var: &str) -> Option<String> {
    let value = r.get(var).map(str::to_string);
    if value.is_none() {
        r.problem(format!("{var} is required (from the provider's developer console)"));
    }
    value
}

/// "a cognito", "an okta": the kind with its article, for messages.
fn a_kind(preset: &Preset) -> String {
    let vowel = preset.kind.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {}", if vowel { "an" } else { "a" }, preset.kind)
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
