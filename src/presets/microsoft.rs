use super::{Preset, Protocol, ResponseMode, STANDARD_CLAIMS};

/// Microsoft Entra ID (v2.0 endpoint). `OAUTH_{NAME}_TENANT`: `common` (default),
/// `organizations`, `consumers` or a tenant id. Multi-tenant discovery documents carry
/// `{tenantid}` in the issuer; the token's `iss` is then checked against its own `tid`.
/// Entra emails are not verified unless the token says so ("nOAuth"), so they never link by
/// default.
pub const PRESET: Preset = Preset {
    kind: "microsoft",
    protocol: Protocol::Oidc,
    label: Some("Microsoft"),
    issuer: Some("https://login.microsoftonline.com/{tenant}/v2.0"),
    discovery: None,
    tenant: Some("common"),
    issuer_params: &[],
    auth_url: None,
    token_url: None,
    userinfo_url: None,
    api_base: None,
    scopes: "openid email profile",
    response_mode: ResponseMode::Query,
    trust_email: false,
    claims: STANDARD_CLAIMS,
    console: "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
};
