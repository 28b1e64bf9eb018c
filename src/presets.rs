//! The provider kinds people pick by name. A preset is defaults plus the protocol that speaks
//! to it; adding one is a file in `presets/` and a line in [`PRESETS`]. Data only: the
//! configuration reads it, and `crate::providers` builds a provider from it.

mod apple;
mod auth0;
mod authentik;
mod cognito;
mod demo;
mod discord;
mod entra_b2c;
mod facebook;
mod github;
mod gitlab;
mod google;
mod keycloak;
mod microsoft;
mod oauth2;
mod oidc;
mod okta;
mod zitadel;

/// How gatehouse talks to a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OpenID Connect: discovery, ID token, userinfo.
    Oidc,
    /// OAuth2 plus one profile endpoint read through [`Claims`].
    OAuth2,
    /// GitHub's REST API (`/user` and `/user/emails`).
    Github,
}

/// Where the profile fields are in an OAuth2 profile answer: JSON pointers (RFC 6901); `a|b`
/// tries `a`, then `b`. `avatar` may instead be a template such as
/// `https://cdn.example/{/id}/{/avatar}.png`, empty when any part is missing.
#[derive(Clone, Copy, Debug)]
pub struct Claims {
    pub id: &'static str,
    pub email: &'static str,
    pub name: &'static str,
    pub avatar: &'static str,
    /// `None`: this provider never says an email is verified.
    pub email_verified: Option<&'static str>,
    /// Where the person's groups are (a JSON array of strings, or one string); `None`: not read
    /// unless `OAUTH_{NAME}_CLAIM_GROUPS` names them.
    pub groups: Option<&'static str>,
}

pub const STANDARD_CLAIMS: Claims = Claims {
    id: "/sub",
    email: "/email",
    name: "/name",
    avatar: "/picture",
    email_verified: Some("/email_verified"),
    groups: None,
};

/// How a provider sends the browser back with its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// A redirect to `GET /callback/{name}?code=…&state=…` (OAuth2's default).
    Query,
    /// `response_mode=form_post` (Apple): a cross-site `POST /callback/{name}`; see
    /// `crate::signin::form_post`.
    FormPost,
}

impl ResponseMode {
    /// The authorization request's `response_mode` parameter, when one is sent.
    pub fn param(self) -> Option<&'static str> {
        match self {
            ResponseMode::Query => None,
            ResponseMode::FormPost => Some("form_post"),
        }
    }
}

/// A value a preset's issuer (and discovery URL) is built from: `OAUTH_{NAME}_{VAR}` fills `{var}`.
#[derive(Clone, Copy, Debug)]
pub struct IssuerParam {
    pub var: &'static str,
    pub shape: Shape,
    /// A value as it looks, for error messages: `acme.eu.auth0.com`.
    pub example: &'static str,
}

/// What an issuer parameter may hold: never anything that could change the issuer URL's
/// structure (no `/`, `:`, `@`, `?`, `#`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A DNS host name: labels of letters, digits and `-`, at least two.
    HostName,
    /// An identifier: letters, digits, `-` and `_`.
    Id,
    /// A cloud region: lower-case letters, digits and `-` (`eu-west-1`), as it appears in host names.
    Region,
    /// One DNS label (letters, digits, `-`), kept in lower case: a tenant name such as `contoso`.
    Label,
    /// A GUID (`8-4-4-4-12` hex digits), kept in lower case as Microsoft's issuers spell them.
    Guid,
}

impl Shape {
    /// Does `raw` have this shape?
    pub fn accepts(self, raw: &str) -> bool {
        match self {
            Shape::HostName => {
                // The last label has a letter: `127.0.0.1` or `acme.123` is no host name.
                let tld_ok = raw.rsplit('.').next().is_some_and(|l| l.bytes().any(|b| b.is_ascii_alphabetic()));
                raw.len() <= 253 && raw.contains('.') && raw.split('.').all(|l| Shape::Label.accepts(l)) && tld_ok
            }
            Shape::Id => {
                !raw.is_empty()
                    && raw.len() <= 64
                    && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            Shape::Region => {
                !raw.is_empty()
                    && raw.len() <= 32
                    && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }
            Shape::Label => {
                !raw.is_empty()
                    && raw.len() <= 63
                    && !raw.starts_with('-')
                    && !raw.ends_with('-')
                    && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }
            Shape::Guid => {
                raw.len() == 36
                    && raw
                        .bytes()
                        .enumerate()
                        .all(|(i, b)| if [8, 13, 18, 23].contains(&i) { b == b'-' } else { b.is_ascii_hexdigit() })
            }
        }
    }
}

#[derive(Debug)]
pub struct Preset {
    /// The `OAUTH_{NAME}_KIND` value.
    pub kind: &'static str,
    pub protocol: Protocol,
    /// Button text unless `OAUTH_{NAME}_LABEL` says otherwise; `None`: the name, capitalised.
    pub label: Option<&'static str>,
    /// OIDC issuer, a template filled from `issuer_params`, or from `OAUTH_{NAME}_TENANT` for a
    /// preset with a default `tenant`. `None`: ISSUER is required.
    pub issuer: Option<&'static str>,
    /// Where the discovery document is, when not at `{issuer}/.well-known/openid-configuration`
    /// (Azure AD B2C's is under the policy), filled from `issuer_params` like the issuer.
    pub discovery: Option<&'static str>,
    /// Microsoft Entra: the default `OAUTH_{NAME}_TENANT`, which fills `{tenant}` and may name a
    /// tenant by id, domain or audience (`common`).
    pub tenant: Option<&'static str>,
    /// The values the issuer is built from (`{domain}` from `OAUTH_{NAME}_DOMAIN`, …), unless
    /// `OAUTH_{NAME}_ISSUER` gives the whole issuer.
    pub issuer_params: &'static [IssuerParam],
    pub auth_url: Option<&'static str>,
    pub token_url: Option<&'static str>,
    /// OAuth2 kinds: the profile endpoint (`USERINFO_URL`).
    pub userinfo_url: Option<&'static str>,
    /// GitHub: the REST API base (`API_URL`), for GitHub Enterprise Server.
    pub api_base: Option<&'static str>,
    /// Space-separated; `{client_id}` stands for `OAUTH_{NAME}_CLIENT_ID`.
    pub scopes: &'static str,
    /// How the provider sends its answer back.
    pub response_mode: ResponseMode,
    /// May this provider's verified emails link accounts, by default?
    pub trust_email: bool,
    pub claims: Claims,
    /// Where the app is registered: data for the README's preset table, which a test keeps in step.
    #[cfg_attr(not(test), expect(dead_code, reason = "read only by the README table test"))]
    pub console: &'static str,
}

/// What a preset leaves out: an OpenID Connect provider found by its issuer, asked for the
/// standard scopes and claims, whose emails link nothing. Presets say only how they differ,
/// with `..DEFAULTS`; `kind` and `console` always differ.
pub const DEFAULTS: Preset = Preset {
    kind: "",
    protocol: Protocol::Oidc,
    label: None,
    issuer: None,
    discovery: None,
    tenant: None,
    issuer_params: &[],
    auth_url: None,
    token_url: None,
    userinfo_url: None,
    api_base: None,
    scopes: "openid email profile",
    response_mode: ResponseMode::Query,
    trust_email: false,
    claims: STANDARD_CLAIMS,
    console: "",
};

/// Every preset, by kind.
pub const PRESETS: &[&Preset] = &[
    &google::PRESET,
    &github::PRESET,
    &gitlab::PRESET,
    &microsoft::PRESET,
    &apple::PRESET,
    &facebook::PRESET,
    &discord::PRESET,
    &keycloak::PRESET,
    &auth0::PRESET,
    &authentik::PRESET,
    &okta::PRESET,
    &cognito::PRESET,
    &zitadel::PRESET,
    &entra_b2c::PRESET,
    &oidc::PRESET,
    &oauth2::PRESET,
    &demo::PRESET,
];

pub fn find(kind: &str) -> Option<&'static Preset> {
    PRESETS.iter().copied().find(|p| p.kind == kind)
}

/// A name that is a preset other than the generic kinds selects it without `_KIND`.
pub fn implied_by_name(name: &str) -> Option<&'static Preset> {
    find(name).filter(|p| !matches!(p.kind, "oidc" | "oauth2"))
}

pub fn kinds() -> String {
    PRESETS.iter().map(|p| p.kind).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    /// Only Google, GitHub and Apple verify the emails they vouch for: every other preset starts
    /// with its emails untrusted (README, "TRUST_EMAIL").
    #[test]
    fn only_providers_that_verify_emails_are_trusted_by_default() {
        let trusted: Vec<&str> = super::PRESETS.iter().filter(|p| p.trust_email).map(|p| p.kind).collect();
        assert_eq!(trusted, ["google", "github", "apple"]);
    }

    /// `..DEFAULTS` fills what a preset leaves out, so what must not be left out is checked:
    /// a kind of its own, and for a kind that is not OpenID Connect, its own scopes and
    /// endpoints (the generic `oauth2` takes its endpoints from the configuration).
    #[test]
    fn every_preset_sets_what_the_defaults_cannot_know() {
        use super::{DEFAULTS, PRESETS, Protocol};
        let mut kinds: Vec<&str> = PRESETS.iter().map(|p| p.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), PRESETS.len(), "kinds are unique");
        for p in PRESETS {
            assert!(!p.kind.is_empty() && !p.console.is_empty(), "{p:?}");
            if p.protocol != Protocol::Oidc {
                assert_ne!(p.scopes, DEFAULTS.scopes, "{}: OpenID Connect's scopes", p.kind);
                assert!(p.issuer.is_none() && p.discovery.is_none(), "{}", p.kind);
                if p.kind != "oauth2" {
                    assert!(p.auth_url.is_some() && p.token_url.is_some(), "{}: endpoints", p.kind);
                }
            }
        }
    }

    /// The README's preset table lists every kind with its console URL.
    #[test]
    fn readme_lists_every_preset() {
        let readme = include_str!("../README.md");
        for p in super::PRESETS {
            let row = readme.lines().find(|l| l.starts_with(&format!("| `{}` |", p.kind)));
            let row = row.unwrap_or_else(|| panic!("README has no row for {}", p.kind));
            assert!(!p.console.is_empty() && row.contains(p.console), "README row for {} lacks {}", p.kind, p.console);
        }
    }
}
