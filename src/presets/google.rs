use super::{DEFAULTS, Preset};

/// Google: OpenID Connect. `OAUTH_{NAME}_HOSTED_DOMAIN` limits sign-in to a Workspace domain
/// (sent as `hd` and checked in the ID token).
pub const PRESET: Preset = Preset {
    kind: "google",
    label: Some("Google"),
    issuer: Some("https://accounts.google.com"),
    trust_email: true,
    console: "https://console.cloud.google.com/apis/credentials",
    ..DEFAULTS
};
