use super::{DEFAULTS, Preset};

/// Microsoft Entra ID (v2.0 endpoint). `OAUTH_{NAME}_TENANT`: `common` (default),
/// `organizations`, `consumers` or a tenant id. Multi-tenant discovery documents carry
/// `{tenantid}` in the issuer; the token's `iss` is then checked against its own `tid`.
/// Entra emails are not verified unless the token says so ("nOAuth"), so they never link by
/// default.
pub const PRESET: Preset = Preset {
    kind: "microsoft",
    label: Some("Microsoft"),
    issuer: Some("https://login.microsoftonline.com/{tenant}/v2.0"),
    tenant: Some("common"),
    console: "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
    ..DEFAULTS
};
