use super::{DEFAULTS, IssuerParam, Preset, Shape};

/// Auth0: OpenID Connect on the tenant's domain (`OAUTH_{NAME}_DOMAIN` = `acme.eu.auth0.com`, or a
/// custom domain). Its issuer ends in `/`, which is part of it. Auth0 marks an email verified
/// only for some connections (and a database connection's sign-up can set it), so emails do not
/// link accounts by default.
pub const PRESET: Preset = Preset {
    kind: "auth0",
    label: Some("Auth0"),
    issuer: Some("https://{domain}/"),
    issuer_params: &[IssuerParam { var: "DOMAIN", shape: Shape::HostName, example: "acme.eu.auth0.com" }],
    console: "https://manage.auth0.com/#/applications",
    ..DEFAULTS
};
