use super::{Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// Any OpenID Connect issuer (`OAUTH_{NAME}_ISSUER` required).
pub const PRESET: Preset = Preset {
    kind: "oidc",
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
    console: "your provider's admin console",
};
