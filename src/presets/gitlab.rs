use super::{Claims, Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// GitLab: OpenID Connect; gitlab.com by default, self-hosted through `OAUTH_{NAME}_ISSUER`.
pub const PRESET: Preset = Preset {
    kind: "gitlab",
    protocol: Protocol::Oidc,
    label: Some("GitLab"),
    issuer: Some("https://gitlab.com"),
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
    // GitLab's ID token lists the groups the person belongs to directly in `groups_direct`.
    claims: Claims { groups: Some("/groups_direct"), ..STANDARD_CLAIMS },
    console: "https://gitlab.com/-/user_settings/applications",
};
