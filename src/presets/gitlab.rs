use super::{Claims, DEFAULTS, Preset, STANDARD_CLAIMS};

/// GitLab: OpenID Connect; gitlab.com by default, self-hosted through `OAUTH_{NAME}_ISSUER`.
pub const PRESET: Preset = Preset {
    kind: "gitlab",
    label: Some("GitLab"),
    issuer: Some("https://gitlab.com"),
    // GitLab's ID token lists the groups the person belongs to directly in `groups_direct`.
    claims: Claims { groups: Some("/groups_direct"), ..STANDARD_CLAIMS },
    console: "https://gitlab.com/-/user_settings/applications",
    ..DEFAULTS
};
