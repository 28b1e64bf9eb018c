use super::{Claims, Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// authentik: OpenID Connect, one issuer per application (`OAUTH_{NAME}_ISSUER` =
/// `https://host/application/o/SLUG/`, trailing slash included). Its default `profile` scope
/// mapping sends the person's group names in `groups`. Its default `email` mapping says every
/// email is verified, whether or not it was, so emails never link accounts by default.
pub const PRESET: Preset = Preset {
    kind: "authentik",
    protocol: Protocol::Oidc,
    label: Some("authentik"),
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
    claims: Claims { groups: Some("/groups"), ..STANDARD_CLAIMS },
    console: "your authentik's admin interface, `https://host/if/admin/` → Applications → Providers",
};
