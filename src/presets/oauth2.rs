use super::{Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// Any OAuth2 server: `AUTH_URL`, `TOKEN_URL`, `USERINFO_URL` required; `CLAIM_*` map its
/// profile answer.
pub const PRESET: Preset = Preset {
    kind: "oauth2",
    protocol: Protocol::OAuth2,
    label: None,
    issuer: None,
    discovery: None,
    tenant: None,
    issuer_params: &[],
    auth_url: None,
    token_url: None,
    userinfo_url: None,
    api_base: None,
    scopes: "",
    response_mode: ResponseMode::Query,
    trust_email: false,
    claims: STANDARD_CLAIMS,
    console: "your provider's admin console",
};
