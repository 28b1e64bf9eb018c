use super::{Claims, DEFAULTS, IssuerParam, Preset, STANDARD_CLAIMS, Shape};

/// Okta: OpenID Connect on the org's domain (`OAUTH_{NAME}_DOMAIN` = `acme.okta.com`); with
/// `OAUTH_{NAME}_AUTH_SERVER` (`default`, or a custom server's `aus…` id) the issuer is that
/// authorization server's, `https://{DOMAIN}/oauth2/{AUTH_SERVER}`. Groups come from the
/// `groups` claim once the app or the authorization server has a groups claim. Emails do not
/// link accounts by default: an Okta admin can set any address on a profile.
pub const PRESET: Preset = Preset {
    kind: "okta",
    label: Some("Okta"),
    issuer: Some("https://{domain}"),
    issuer_params: &[IssuerParam { var: "DOMAIN", shape: Shape::HostName, example: "acme.okta.com" }],
    claims: Claims { groups: Some("/groups"), ..STANDARD_CLAIMS },
    console: "your Okta Admin Console, `https://acme-admin.okta.com/` → Applications → Create App Integration",
    ..DEFAULTS
};
