use super::{Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// Google: OpenID Connect. `OAUTH_{NAME}_HOSTED_DOMAIN` limits sign-in to a Workspace domain
/// (sent as `hd` and checked in the ID token).
pub const PRESET: Preset = Preset {
    kind: "google",
    protocol: Protocol::Oidc,
    label: Some("Google"),
    issuer: Some("https://accounts.google.com"),
    discovery: None,
    tenant: None,
    issuer_params: &[],
    auth_url: None,
    token_url: None,
    userinfo_url: None,
    api_base: None,
    scopes: "openid email profile",
    response_mode: ResponseMode::Query,
    trust_email: true,
    claims: STANDARD_CLAIMS,
    console: "https://console.cloud.google.com/apis/credentials",
};
