use super::{DEFAULTS, Preset};

/// The OpenID Provider built into gatehouse (`crate::demo`), for trying sign-in on a laptop
/// before registering an app anywhere: anyone can be anyone, so it is never trusted for email
/// linking and is refused in production and on a non-loopback `PUBLIC_URL`.
pub const PRESET: Preset = Preset {
    kind: "demo",
    label: Some("Demo"),
    // `{PUBLIC_URL}/demo-idp`, filled in with PUBLIC_URL.
    issuer: None,
    console: "built in: nothing to register",
    ..DEFAULTS
};
