use super::{DEFAULTS, Preset, ResponseMode};

/// Sign in with Apple: OpenID Connect with three quirks. The client secret is an ES256 JWT
/// gatehouse mints from the `.p8` key (`TEAM_ID`, `KEY_ID`, `PRIVATE_KEY_FILE`; see
/// `crate::providers::apple`); the callback arrives as a cross-site `POST` (`form_post`,
/// required when `name` or `email` is asked for); and the name comes only once, beside the
/// code, never in the ID token. Apple verifies every email, but a private-relay address
/// (`…@privaterelay.appleid.com`) never links accounts.
pub const PRESET: Preset = Preset {
    kind: "apple",
    label: Some("Apple"),
    issuer: Some("https://appleid.apple.com"),
    scopes: "openid name email",
    response_mode: ResponseMode::FormPost,
    trust_email: true,
    console: "https://developer.apple.com/account/resources/identifiers/list/serviceId",
    ..DEFAULTS
};
