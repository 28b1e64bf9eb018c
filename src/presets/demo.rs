use super::{Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// The OpenID Provider built into gatehouse (`crate::demo`), for trying sign-in on a laptop
/// before registering an app anywhere: anyone can be anyone, so it is never trusted for email
/// linking and is refused in production and on a non-loopback `PUBLIC_URL`.
pub const PRESET: Preset = Preset {
    kind: "demo",
    protocol: Protocol::Oidc,
    label: Some("Demo"),
    // `{PUBLIC_URL}/demo-idp`, filled in with PUBLIC_URL.
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
    console: "built in: nothing to register",
};
