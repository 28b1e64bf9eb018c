use super::{DEFAULTS, Preset, Protocol};

/// GitHub OAuth apps; GitHub Enterprise Server through the URL overrides.
pub const PRESET: Preset = Preset {
    kind: "github",
    protocol: Protocol::Github,
    label: Some("GitHub"),
    auth_url: Some("https://github.com/login/oauth/authorize"),
    token_url: Some("https://github.com/login/oauth/access_token"),
    api_base: Some("https://api.github.com"),
    scopes: "read:user user:email",
    trust_email: true,
    console: "https://github.com/settings/developers",
    ..DEFAULTS
};
