use super::{Claims, DEFAULTS, Preset, STANDARD_CLAIMS};

/// Keycloak: OpenID Connect, one realm per issuer (`OAUTH_{NAME}_ISSUER` =
/// `https://host/realms/NAME`; before Keycloak 17, `https://host/auth/realms/NAME`). Groups come
/// from the `groups` claim once a "Group Membership" mapper adds it to the ID token. Whether an
/// email is verified is the realm's own setting, so emails do not link accounts by default.
pub const PRESET: Preset = Preset {
    kind: "keycloak",
    label: Some("Keycloak"),
    claims: Claims { groups: Some("/groups"), ..STANDARD_CLAIMS },
    console: "your Keycloak's admin console, `https://host/admin/` → the realm → Clients",
    ..DEFAULTS
};
