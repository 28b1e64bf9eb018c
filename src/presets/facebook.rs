use super::{Claims, DEFAULTS, Preset, Protocol};

/// Facebook Login: OAuth2 plus the Graph API's `/me`. Graph never says an email is verified.
pub const PRESET: Preset = Preset {
    kind: "facebook",
    protocol: Protocol::OAuth2,
    label: Some("Facebook"),
    auth_url: Some("https://www.facebook.com/v21.0/dialog/oauth"),
    token_url: Some("https://graph.facebook.com/v21.0/oauth/access_token"),
    userinfo_url: Some("https://graph.facebook.com/v21.0/me?fields=id,name,email,picture"),
    scopes: "email public_profile",
    claims: Claims {
        id: "/id",
        email: "/email",
        name: "/name",
        avatar: "/picture/data/url",
        email_verified: None,
        groups: None,
    },
    console: "https://developers.facebook.com/apps/",
    ..DEFAULTS
};
