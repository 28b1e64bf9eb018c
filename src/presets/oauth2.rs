use super::{DEFAULTS, Preset, Protocol};

/// Any OAuth2 server: `AUTH_URL`, `TOKEN_URL`, `USERINFO_URL` required; `CLAIM_*` map its
/// profile answer.
pub const PRESET: Preset = Preset {
    kind: "oauth2",
    protocol: Protocol::OAuth2,
    scopes: "",
    console: "your provider's admin console",
    ..DEFAULTS
};
