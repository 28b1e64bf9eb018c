use super::{Claims, DEFAULTS, Preset, STANDARD_CLAIMS};

/// authentik: OpenID Connect, one issuer per application (`OAUTH_{NAME}_ISSUER` =
/// `https://host/application/o/SLUG/`, trailing slash included). Its default `profile` scope
/// mapping sends the person's group names in `groups`. Its default `email` mapping says every
/// email is verified, whether or not it was, so emails never link accounts by default.
pub const PRESET: Preset = Preset {
    kind: "authentik",
    label: Some("authentik"),
    claims: Claims { groups: Some("/groups"), ..STANDARD_CLAIMS },
    console: "your authentik's admin interface, `https://host/if/admin/` → Applications → Providers",
    ..DEFAULTS
};
