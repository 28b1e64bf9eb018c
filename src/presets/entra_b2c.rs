use super::{DEFAULTS, IssuerParam, Preset, Shape};

/// Azure AD B2C (Microsoft Entra External ID's predecessor): one user flow or custom policy
/// (`OAUTH_{NAME}_POLICY`) of the tenant `OAUTH_{NAME}_TENANT` (`contoso` of
/// `contoso.b2clogin.com`). The discovery document lives under the policy, not the issuer, and
/// names the issuer by the tenant's id (`OAUTH_{NAME}_TENANT_ID`). User flows have no userinfo
/// endpoint; the ID token carries the profile, its addresses as a list in `emails`, never said
/// to be verified, so they link nothing by default. Token answers give `expires_in` as a string,
/// and hold an access token only when a scope besides `openid` asks for one: the client id,
/// which names the app itself.
pub const PRESET: Preset = Preset {
    kind: "entra-b2c",
    label: Some("Azure AD B2C"),
    issuer: Some("https://{tenant}.b2clogin.com/{tenant_id}/v2.0/"),
    discovery: Some(
        "https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/openid-configuration",
    ),
    issuer_params: &[
        IssuerParam { var: "TENANT", shape: Shape::Label, example: "contoso" },
        IssuerParam { var: "TENANT_ID", shape: Shape::Guid, example: "775527ff-9a37-4307-8b3d-cc311f58d925" },
        IssuerParam { var: "POLICY", shape: Shape::Id, example: "B2C_1_signupsignin1" },
    ],
    scopes: "openid {client_id}",
    console: "https://portal.azure.com/#view/Microsoft_AAD_B2CAdmin/TenantManagementMenuBlade/~/registeredApps",
    ..DEFAULTS
};
