use super::{Claims, DEFAULTS, IssuerParam, Preset, STANDARD_CLAIMS, Shape};

/// Amazon Cognito user pools: the issuer is the pool's, on `cognito-idp.{REGION}.amazonaws.com`
/// (`OAUTH_{NAME}_REGION`, `OAUTH_{NAME}_USER_POOL_ID`); discovery there names the endpoints on the
/// pool's own domain (the hosted UI's), another host. Groups come from `cognito:groups`. Emails
/// do not link accounts by default: an administrator can mark any address verified.
pub const PRESET: Preset = Preset {
    kind: "cognito",
    label: Some("Amazon Cognito"),
    issuer: Some("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"),
    issuer_params: &[
        IssuerParam { var: "REGION", shape: Shape::Region, example: "eu-west-1" },
        IssuerParam { var: "USER_POOL_ID", shape: Shape::Id, example: "eu-west-1_AbCdEf123" },
    ],
    claims: Claims { groups: Some("/cognito:groups"), ..STANDARD_CLAIMS },
    console: "https://console.aws.amazon.com/cognito/v2/idp/user-pools",
    ..DEFAULTS
};
