use super::{Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// GitHub OAuth apps; GitHub Enterprise Server through the URL overrides.
pub const PRESET: Preset = Preset {
    kind: "github",
    protocol: Protocol::Github,
    label: Some("GitHub"),
    issuer: None,
    discovery: None,
    tenant: None,
    issuer_params: &[],
    auth_url: Some("https://github.com/login/oauth/authorize"),
    token_url: Some("https://github.com/login/oauth/access_token"),
    userinfo_url: None,
    api_base: Some("https://api.github.com"),
    scopes: "read:user user:email",
    response_mode: ResponseMode::Query,
    trust_email: true,
    claims: STANDARD_CLAIMS,
    console: "https://github.com/settings/developers",
};
