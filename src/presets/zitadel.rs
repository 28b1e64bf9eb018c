use super::{DEFAULTS, IssuerParam, Preset, Shape};

/// ZITADEL: OpenID Connect on the instance's domain (`OAUTH_{NAME}_DOMAIN` =
/// `acme-a1b2c3.zitadel.cloud`, or a self-hosted one). Every ID token names the project beside
/// the client in `aud`, so `OAUTH_{NAME}_PROJECT_ID` (the project's Resource Id) is required and
/// trusted as an audience; `azp` must then be the client. Project roles come as an object
/// (`urn:zitadel:iam:org:project:roles`), not a list, and are not read as groups. Emails do not
/// link accounts by default.
pub const PRESET: Preset = Preset {
    kind: "zitadel",
    label: Some("ZITADEL"),
    issuer: Some("https://{domain}"),
    issuer_params: &[IssuerParam { var: "DOMAIN", shape: Shape::HostName, example: "acme-a1b2c3.zitadel.cloud" }],
    console: "your ZITADEL Console, `https://DOMAIN/ui/console/` → Projects → the project → New application",
    ..DEFAULTS
};
