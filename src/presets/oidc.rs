use super::{DEFAULTS, Preset};

/// Any OpenID Connect issuer (`OAUTH_{NAME}_ISSUER` required).
pub const PRESET: Preset = Preset { kind: "oidc", console: "your provider's admin console", ..DEFAULTS };
