use super::{Claims, DEFAULTS, Preset, Protocol};

/// Discord: OAuth2 plus `/users/@me`, whose `verified` flag covers the email.
pub const PRESET: Preset = Preset {
    kind: "discord",
    protocol: Protocol::OAuth2,
    label: Some("Discord"),
    auth_url: Some("https://discord.com/oauth2/authorize"),
    token_url: Some("https://discord.com/api/oauth2/token"),
    userinfo_url: Some("https://discord.com/api/users/@me"),
    scopes: "identify email",
    claims: Claims {
        id: "/id",
        email: "/email",
        name: "/global_name|/username",
        avatar: "https://cdn.discordapp.com/avatars/{/id}/{/avatar}.png",
        email_verified: Some("/verified"),
        groups: None,
    },
    console: "https://discord.com/developers/applications",
    ..DEFAULTS
};
