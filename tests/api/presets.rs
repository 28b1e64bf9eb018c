//! Every preset signs in against a stand-in that reproduces its provider's documented quirks.

use crate::helpers::*;
use crate::oauth2_standin::OAuth2StandIn;
use crate::on_both_backends;
use crate::scripted_op::{Script, ScriptedOp};

#[actix_web::test]
async fn gitlab_is_oidc_with_an_issuer_override() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc_with("gitlab", vec![("KIND", "gitlab".into())])).await;
    let page = app.browser.get("/login").await.text().await.unwrap();
    assert!(page.contains("Sign in with GitLab"), "{page}");
    assert_eq!(app.sign_in_oidc(&app.browser, "gitlab", "gina").await.status(), 303);
    let me = app.browser.me().await.unwrap();
    assert_eq!(me["identities"][0]["provider"], "gitlab");
    assert_eq!(me["identities"][0]["subject"], "gina");
}

#[actix_web::test]
async fn microsoft_multi_tenant_issuer_is_checked_against_the_tokens_tenant() {
    let op = ScriptedOp::start();
    op.tenant_mode("9188040d-6c67-4c5b-b112-36a304b66dad");
    let env = set_var(op.env("microsoft"), "OAUTH_MICROSOFT_KIND", "microsoft");
    let env = set_var(env, "OAUTH_MICROSOFT_ISSUER", format!("{}/common/v2.0", op.issuer));
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;

    assert_eq!(sign_in_auto(&app.new_browser(), "microsoft").await.status(), 303);

    op.script(Script::WrongTenant);
    let browser = app.new_browser();
    let res = sign_in_auto(&browser, "microsoft").await;
    assert_eq!(res.status(), 400, "iss of another tenant than tid");
    assert_eq!(browser.me().await, Err(401));
}

#[actix_web::test]
async fn microsoft_emails_are_unverified_and_never_link() {
    let op = ScriptedOp::start();
    op.tenant_mode("9188040d-6c67-4c5b-b112-36a304b66dad");
    let github = GithubStandIn::start();
    github.sign_in_as(GithubAccount {
        id: 7,
        login: "victim".into(),
        name: None,
        emails: vec![("scripted@example.test".into(), true, true)],
    });
    let env = set_var(op.env("microsoft"), "OAUTH_MICROSOFT_KIND", "microsoft");
    let env = set_var(env, "OAUTH_MICROSOFT_ISSUER", format!("{}/common/v2.0", op.issuer));
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env).github("github", &github)).await;
    app.sign_in_github(&app.new_browser(), "github").await;

    // The same address through Entra (nOAuth): refused, not merged into the GitHub account.
    let res = sign_in_auto(&app.new_browser(), "microsoft").await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.db.counts(), (1, 1));
}

#[actix_web::test]
async fn google_hosted_domain_is_sent_and_enforced() {
    let op = ScriptedOp::start();
    let env = set_var(op.env("google"), "OAUTH_GOOGLE_KIND", "google");
    let env = set_var(env, "OAUTH_GOOGLE_HOSTED_DOMAIN", "example.com");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;

    let res = app.browser.get("/authorize/google").await;
    assert_eq!(query_param(&location(&res), "hd").as_deref(), Some("example.com"));

    op.hosted_domain(Some("example.com"));
    assert_eq!(sign_in_auto(&app.new_browser(), "google").await.status(), 303);

    for hd in [Some("other.example"), None] {
        op.hosted_domain(hd);
        let browser = app.new_browser();
        let res = sign_in_auto(&browser, "google").await;
        assert_eq!(res.status(), 403, "hd={hd:?}");
        assert!(res.text().await.unwrap().contains("Sign in with your example.com account"));
        assert_eq!(browser.me().await, Err(401));
    }
}

#[actix_web::test]
async fn facebook_graph_profile_and_error_objects() {
    let standin = OAuth2StandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(standin.env("facebook", "facebook", "facebook"))).await;
    assert_eq!(sign_in_auto(&app.browser, "facebook").await.status(), 303);
    let me = app.browser.me().await.unwrap();
    assert_eq!(me["name"], "Fay Book");
    assert_eq!(me["email"], "fay@facebook.test");
    assert_eq!(me["avatar_url"], "https://avatars.example.test/fay.jpg");
    assert_eq!(me["identities"][0]["subject"], "10158000000000001");
    assert_eq!(me["identities"][0]["email_verified"], false, "Graph never says an email is verified");

    // A bad code: Graph's error object is a refusal (400), not an unusable answer (502).
    let browser = app.new_browser();
    let res = browser.get("/authorize/facebook").await;
    let callback = location(&browser.get(&location(&res)).await);
    let res = browser.get(&with_param(&callback, "code", "forged")).await;
    assert_eq!(res.status(), 400);
    assert_eq!(standin.token_calls(), 2, "one good exchange, one refused");
    assert_eq!(browser.me().await, Err(401));
}

#[actix_web::test]
async fn discord_verified_flag_and_avatar_hash() {
    let standin = OAuth2StandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(standin.env("discord", "discord", "discord"))).await;
    assert_eq!(sign_in_auto(&app.browser, "discord").await.status(), 303);
    let me = app.browser.me().await.unwrap();
    assert_eq!(me["name"], "nelly", "global_name is null → username");
    assert_eq!(
        me["avatar_url"],
        "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"
    );
    assert_eq!(me["identities"][0]["email_verified"], true);
}

#[actix_web::test]
async fn generic_oauth2_maps_claims_by_json_pointer() {
    let standin = OAuth2StandIn::start();
    let mut env = standin.env("acme", "oauth2", "generic");
    for (k, v) in [
        ("CLAIM_ID", "/data/uid"),
        ("CLAIM_EMAIL", "/data/mail"),
        ("CLAIM_NAME", "/data/display"),
        ("CLAIM_AVATAR", "/data/photo/href"),
        ("CLAIM_EMAIL_VERIFIED", "/data/mail_confirmed"),
        ("LABEL", "Acme SSO"),
    ] {
        env = set_var(env, &format!("OAUTH_ACME_{k}"), v);
    }
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    assert!(app.browser.get("/login").await.text().await.unwrap().contains("Sign in with Acme SSO"));
    assert_eq!(sign_in_auto(&app.browser, "acme").await.status(), 303);
    let me = app.browser.me().await.unwrap();
    assert_eq!(me["name"], "Gene Ric");
    assert_eq!(me["avatar_url"], "https://avatars.example.test/gene.png");
    assert_eq!(
        me["identities"][0],
        serde_json::json!({"provider": "acme", "subject": "4711", "email": "gene@generic.test", "email_verified": true, "groups": []})
    );
}

#[actix_web::test]
async fn a_profile_without_an_id_is_no_usable_identity() {
    let standin = OAuth2StandIn::start();
    let env = set_var(standin.env("acme", "oauth2", "generic"), "OAUTH_ACME_CLAIM_ID", "/data/missing");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let res = sign_in_auto(&app.browser, "acme").await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.db.counts(), (0, 0));
}

// Discovery and JWKS survive an outage through the database copy.
on_both_backends! {
    async fn a_restart_during_an_issuer_outage_signs_in_from_cached_metadata(backend: Backend) {
        let op = ScriptedOp::start();
        let mut app = spawn_app(AppOptions::new(backend).provider_env(op.env("op"))).await;
        assert_eq!(sign_in_auto(&app.new_browser(), "op").await.status(), 303);

        // The issuer's metadata endpoints go down; a restart forgets everything in memory.
        op.metadata_down(true);
        // Counted before the restart: the new instance may try the issuer while it starts.
        let before = op.calls();
        app.restart().await;
        let browser = app.new_browser();
        assert!(browser.get("/login").await.text().await.unwrap().contains("/authorize/op"));
        assert_eq!(sign_in_auto(&browser, "op").await.status(), 303, "signed in with the cached metadata");
        assert!(browser.me().await.is_ok());
        assert!(op.calls().discovery > before.discovery, "it did try the issuer first");
    }
}

/// Entra, tenant given by domain: its discovery document names the tenant's id, and tokens
/// carry that issuer. Signs in; a token from another tenant is still refused.
#[actix_web::test]
async fn microsoft_tenant_given_as_a_domain_signs_in() {
    let tid = "3f6c1a2b-9d4e-4c1f-8a7b-0123456789ab";
    let op = ScriptedOp::start();
    op.tenant_mode(tid);
    op.plan(|p| p.discovery_issuer = Some(format!("{}/{tid}/v2.0", op.issuer)));
    let env = set_var(op.env("microsoft"), "OAUTH_MICROSOFT_KIND", "microsoft");
    let env = set_var(env, "OAUTH_MICROSOFT_ISSUER", format!("{}/contoso.onmicrosoft.com/v2.0", op.issuer));
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    assert_eq!(sign_in_auto(&app.new_browser(), "microsoft").await.status(), 303);
    assert!(op.seen().iter().any(|r| r.path == "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"));

    op.script(Script::WrongTenant);
    assert_eq!(sign_in_auto(&app.new_browser(), "microsoft").await.status(), 400, "another tenant's token");
}

/// An issuer whose identifier ends in `/` (Auth0: `https://tenant.auth0.com/`) is compared as
/// written; discovery is fetched without doubling the slash.
#[actix_web::test]
async fn an_issuer_ending_in_a_slash_signs_in() {
    let op = ScriptedOp::start();
    let with_slash = format!("{}/", op.issuer);
    op.plan(|p| {
        p.discovery_issuer = Some(with_slash.clone());
        p.claims.push(("iss", serde_json::json!(with_slash.clone())));
    });
    let env = set_var(op.env("auth0"), "OAUTH_AUTH0_ISSUER", with_slash.clone());
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    assert_eq!(sign_in_auto(&app.new_browser(), "auth0").await.status(), 303);
    assert!(op.seen().iter().any(|r| r.path == "/.well-known/openid-configuration"));

    // The slash is part of the identifier: a token naming the issuer without it is refused.
    op.plan(|p| p.claims = vec![("iss", serde_json::json!(op.issuer.clone()))]);
    assert_eq!(sign_in_auto(&app.new_browser(), "auth0").await.status(), 400);
}

/// Keycloak as its documentation shows it: the issuer is the realm (`/realms/acme`), the token
/// answer carries Keycloak's own fields (`refresh_expires_in`, `not-before-policy`,
/// `session_state`), and the ID token `typ: ID`, `azp`, `sid`, `acr` and, with a Group Membership
/// mapper (full group path on, its default), `groups` as paths.
#[actix_web::test]
async fn keycloak_signs_in_through_its_realm_with_groups_from_the_mapper() {
    let op = ScriptedOp::start().issuer_at("/realms/acme");
    op.plan(|p| {
        p.token_fields = vec![
            ("refresh_token", "eyJhbGciOiJIUzUxMiIsInR5cCIgOiAiSldUIn0.e30.kc-refresh".into()),
            ("refresh_expires_in", 1800.into()),
            ("not-before-policy", 0.into()),
            ("session_state", "2f0c6d7e-5b7a-4d33-9e4b-6b1f0c7c9a11".into()),
            ("scope", "openid email profile".into()),
        ];
        p.claims = vec![
            ("typ", "ID".into()),
            ("azp", crate::scripted_op::CLIENT_ID.into()),
            ("sid", "2f0c6d7e-5b7a-4d33-9e4b-6b1f0c7c9a11".into()),
            ("session_state", "2f0c6d7e-5b7a-4d33-9e4b-6b1f0c7c9a11".into()),
            ("acr", "1".into()),
            ("auth_time", chrono::Utc::now().timestamp().into()),
            ("jti", "1b6c3e6a-0d54-4b8e-a0f4-3a1f3f2e8e77".into()),
            ("preferred_username", "kim".into()),
            ("given_name", "Kim".into()),
            ("family_name", "Lee".into()),
            ("name", "Kim Lee".into()),
            ("groups", serde_json::json!(["/staff", "/staff/ops"])),
        ];
    });
    let env = set_var(op.env("keycloak"), "OAUTH_KEYCLOAK_KIND", "keycloak");
    assert!(env.iter().any(|(k, v)| k == "OAUTH_KEYCLOAK_ISSUER" && v.ends_with("/realms/acme")));
    let env = set_var(env, "OAUTH_KEYCLOAK_ALLOWED_GROUPS", "/staff");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let page = app.browser.get("/login").await.text().await.unwrap();
    assert!(page.contains("Sign in with Keycloak"), "{page}");

    let browser = app.new_browser();
    assert_eq!(sign_in_auto(&browser, "keycloak").await.status(), 303);
    let me = browser.me().await.unwrap();
    assert_eq!(me["groups"], serde_json::json!(["keycloak:/staff", "keycloak:/staff/ops"]));

    // Not in /staff: refused by the provider's group rule.
    op.plan(|p| p.claims.retain(|(k, _)| *k != "groups"));
    op.plan(|p| p.claims.push(("groups", serde_json::json!(["/contractors"]))));
    op.subject("someone-else");
    let outsider = app.new_browser();
    assert_eq!(sign_in_auto(&outsider, "keycloak").await.status(), 403);
    assert_eq!(outsider.me().await, Err(401));
}

/// Auth0 as its documentation shows it: the issuer ends in `/` (`https://acme.eu.auth0.com/`),
/// subjects are `connection|id`, the token answer lasts a day, and the ID token carries
/// `nickname`, `picture` and `updated_at` as a timestamp string.
#[actix_web::test]
async fn auth0_signs_in_with_the_trailing_slash_of_its_issuer() {
    let op = ScriptedOp::start().issuer_at("/");
    op.subject("auth0|64f1c0ffee0123456789abcd");
    op.plan(|p| {
        p.token_fields = vec![("expires_in", 86400.into()), ("scope", "openid profile email".into())];
        p.claims = vec![
            ("nickname", "ana".into()),
            ("name", "Ana Silva".into()),
            (
                "picture",
                "https://s.gravatar.com/avatar/0?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fas.png".into(),
            ),
            ("updated_at", "2026-12-01T10:00:00.000Z".into()),
            ("sid", "pQ7vLr2-nK3sYh8Zx1BcD4eF5gH6iJ7k".into()),
        ];
    });
    let env = set_var(op.env("auth0"), "OAUTH_AUTH0_KIND", "auth0");
    assert!(env.iter().any(|(k, v)| k == "OAUTH_AUTH0_ISSUER" && v.ends_with('/')), "{env:?}");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let browser = app.new_browser();
    assert_eq!(sign_in_auto(&browser, "auth0").await.status(), 303);
    let me = browser.me().await.unwrap();
    assert_eq!(me["identities"][0]["provider"], "auth0");
    assert_eq!(me["identities"][0]["subject"], "auth0|64f1c0ffee0123456789abcd");

    // Configured without its slash, the auth0 kind refuses to start (config tests); the generic
    // kind's refusal is `an_issuer_ending_in_a_slash_signs_in`.
}

/// authentik as its documentation shows it: one issuer per application, under
/// `/application/o/SLUG/` with a trailing slash; `acr` and `amr` of its own; group names in
/// `groups`; and `email_verified` true from its default mapping whatever the truth, which is why
/// its emails link nothing by default.
#[actix_web::test]
async fn authentik_signs_in_through_its_application_issuer_with_groups() {
    let op = ScriptedOp::start().issuer_at("/application/o/gatehouse/");
    op.subject("5f0e9b0c3a7d4e1f8a2b6c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f");
    op.plan(|p| {
        p.token_fields = vec![
            ("scope", "openid email profile".into()),
            ("refresh_token", "uYpDc0JmJ5ftqMvN5hQ0fK1dP3xRr7b2".into()),
        ];
        p.claims = vec![
            ("auth_time", chrono::Utc::now().timestamp().into()),
            ("acr", "goauthentik.io/providers/oauth2/default".into()),
            ("amr", serde_json::json!(["pwd"])),
            ("name", "Ada Admin".into()),
            ("given_name", "Ada Admin".into()),
            ("preferred_username", "akadmin".into()),
            ("nickname", "akadmin".into()),
            ("groups", serde_json::json!(["authentik Admins", "staff"])),
        ];
    });
    assert!(op.issuer.ends_with("/application/o/gatehouse/"));
    let env = set_var(op.env("authentik"), "OAUTH_AUTHENTIK_KIND", "authentik");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let browser = app.new_browser();
    assert_eq!(sign_in_auto(&browser, "authentik").await.status(), 303);
    assert!(op.seen().iter().any(|r| r.path == "/application/o/gatehouse/.well-known/openid-configuration"));
    let me = browser.me().await.unwrap();
    assert_eq!(me["groups"], serde_json::json!(["authentik:authentik Admins", "authentik:staff"]));
    assert_eq!(me["email_verified"], false, "authentik's email_verified is not trusted by default");
}

/// Okta as its documentation shows it, through a custom authorization server
/// (`/oauth2/default`): subjects `00u…`, ID tokens with `ver`, `jti` `ID.…`, `idp`, `amr` and a
/// groups claim; an hour-long token answer.
#[actix_web::test]
async fn okta_signs_in_through_its_authorization_server_with_groups() {
    let op = ScriptedOp::start().issuer_at("/oauth2/default");
    op.subject("00u1a2b3c4d5E6f7g8h9");
    op.plan(|p| {
        p.token_fields = vec![("expires_in", 3600.into()), ("scope", "openid email profile".into())];
        p.claims = vec![
            ("ver", 1.into()),
            ("jti", "ID.4eAWJOCMB3SX8XewDfVR1XY6yo5W3H8Bm2QG5gXGyZE".into()),
            ("amr", serde_json::json!(["pwd"])),
            ("idp", "00o1a2b3c4d5E6f7g8h9".into()),
            ("auth_time", chrono::Utc::now().timestamp().into()),
            ("preferred_username", "scripted@example.test".into()),
            ("groups", serde_json::json!(["Everyone", "Engineering"])),
        ];
    });
    let env = set_var(op.env("okta"), "OAUTH_OKTA_KIND", "okta");
    let env = set_var(env, "OAUTH_OKTA_ALLOWED_GROUPS", "Engineering");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let browser = app.new_browser();
    assert_eq!(sign_in_auto(&browser, "okta").await.status(), 303);
    assert!(op.seen().iter().any(|r| r.path == "/oauth2/default/.well-known/openid-configuration"));
    let me = browser.me().await.unwrap();
    assert_eq!(me["identities"][0]["subject"], "00u1a2b3c4d5E6f7g8h9");
    assert_eq!(me["groups"], serde_json::json!(["okta:Engineering", "okta:Everyone"]));
}

/// Amazon Cognito as its documentation shows it: the issuer is the user pool's
/// (`https://cognito-idp.{region}.amazonaws.com/{pool id}`) while discovery names endpoints on the
/// pool's own domain, another host; ID tokens carry `token_use: id`, `cognito:username`, and
/// `cognito:groups`.
#[actix_web::test]
async fn cognito_signs_in_with_endpoints_on_another_host_and_its_groups() {
    let op = ScriptedOp::start().issuer_at("/eu-west-1_AbCdEf123");
    let other_host = op.issuer.replace("127.0.0.1", "localhost").replace("/eu-west-1_AbCdEf123", "");
    op.subject("7c1e4b6a-2f3d-4e5f-8a9b-0c1d2e3f4a5b");
    op.plan(move |p| {
        p.endpoint_root = Some(other_host);
        p.token_fields = vec![
            ("expires_in", 3600.into()),
            ("refresh_token", "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.cognito".into()),
        ];
        p.claims = vec![
            ("token_use", "id".into()),
            ("cognito:username", "7c1e4b6a-2f3d-4e5f-8a9b-0c1d2e3f4a5b".into()),
            ("cognito:groups", serde_json::json!(["admins", "eu-west-1_AbCdEf123_Google"])),
            ("origin_jti", "b4b0f3a6-1f0e-4c5b-9d8e-7f6a5b4c3d2e".into()),
            ("event_id", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d".into()),
            ("auth_time", chrono::Utc::now().timestamp().into()),
        ];
    });
    let env = set_var(op.env("cognito"), "OAUTH_COGNITO_KIND", "cognito");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let browser = app.new_browser();
    let res = browser.get("/authorize/cognito").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("http://localhost:"), "the pool's domain: {}", location(&res));
    let res = browser.get(&location(&res)).await;
    assert_eq!(browser.get(&location(&res)).await.status(), 303);
    assert!(op.seen().iter().any(|r| r.path == "/eu-west-1_AbCdEf123/.well-known/openid-configuration"));
    let me = browser.me().await.unwrap();
    assert_eq!(me["groups"], serde_json::json!(["cognito:admins", "cognito:eu-west-1_AbCdEf123_Google"]));
}

/// ZITADEL as its documentation shows it: client ids `{id}@{project}`, numeric subjects, and
/// ID tokens whose `aud` names the project's Resource Id beside the client (`azp` the client),
/// with the project roles as an object. Without PROJECT_ID the preset does not start.
#[actix_web::test]
async fn zitadel_signs_in_with_its_project_in_the_audience() {
    let op = ScriptedOp::start();
    op.subject("170086904795562241");
    op.plan(|p| {
        p.token_fields = vec![("expires_in", 43199.into())];
        p.claims = vec![
            ("aud", serde_json::json!([crate::scripted_op::CLIENT_ID, "170086774599581953"])),
            ("azp", crate::scripted_op::CLIENT_ID.into()),
            ("amr", serde_json::json!(["password", "pwd"])),
            ("sid", "V1_170086905312345678".into()),
            ("auth_time", chrono::Utc::now().timestamp().into()),
            ("preferred_username", "zoe@acme.zitadel.cloud".into()),
            ("locale", "en".into()),
            ("updated_at", chrono::Utc::now().timestamp().into()),
            (
                "urn:zitadel:iam:org:project:roles",
                serde_json::json!({"admin": {"170086363054473473": "acme.zitadel.cloud"}}),
            ),
        ];
    });
    let env = set_var(op.env("zitadel"), "OAUTH_ZITADEL_KIND", "zitadel");
    let env = set_var(env, "OAUTH_ZITADEL_PROJECT_ID", "170086774599581953");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let browser = app.new_browser();
    assert_eq!(sign_in_auto(&browser, "zitadel").await.status(), 303);
    assert_eq!(browser.me().await.unwrap()["identities"][0]["subject"], "170086904795562241");

    // Another project in `aud` is not this one's, and another app of the same project is not
    // trusted unless named: both refused.
    for aud in [
        serde_json::json!([crate::scripted_op::CLIENT_ID, "999999999999999999"]),
        serde_json::json!([crate::scripted_op::CLIENT_ID, "170086851234567890@spa", "170086774599581953"]),
    ] {
        op.plan(move |p| p.claims[0] = ("aud", aud));
        assert_eq!(sign_in_auto(&app.new_browser(), "zitadel").await.status(), 400);
    }
    let env = set_var(op.env("zitadel"), "OAUTH_ZITADEL_KIND", "zitadel");
    let env = set_var(env, "OAUTH_ZITADEL_PROJECT_ID", "170086774599581953");
    let env = set_var(env, "OAUTH_ZITADEL_TRUSTED_AUDIENCES", "170086851234567890@spa");
    let sharing = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    assert_eq!(sign_in_auto(&sharing.new_browser(), "zitadel").await.status(), 303, "the sibling app named");
}

/// Azure AD B2C as its documentation shows it: the discovery document lives under the policy
/// (`/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/...`), not under the issuer
/// (`/{tenant id}/v2.0/`, with its trailing slash); user flows have no userinfo endpoint; the
/// token answer gives its numbers as strings, and an access token only for a scope besides
/// `openid` (the preset asks for the client id); the ID token lists the addresses in `emails`.
#[actix_web::test]
async fn entra_b2c_finds_its_document_under_the_policy_and_reads_its_token_answer() {
    const TID: &str = "775527ff-9a37-4307-8b3d-cc311f58d925";
    const POLICY_DOCUMENT: &str = "/contoso.onmicrosoft.com/B2C_1_signupsignin1/v2.0/.well-known/openid-configuration";
    let op = ScriptedOp::start().issuer_at(&format!("/{TID}/v2.0/"));
    let oid = "5b2a7c1e-4d3f-4a6b-9c8d-0e1f2a3b4c5d";
    op.subject(oid);
    op.plan(|p| {
        p.discovery_path = Some(POLICY_DOCUMENT.into());
        p.without_userinfo = true;
        p.access_token_only_for_a_resource_scope = true;
        p.token_fields = vec![
            ("not_before", "1442340812".into()),
            ("expires_in", "3600".into()),
            ("expires_on", "1644254945".into()),
            ("id_token_expires_in", "3600".into()),
            ("profile_info", "eyJ2ZXIiOiIxLjAiLCJ0aWQiOiI3NzU1MjdmZiJ9".into()),
            ("scope", format!("{} openid", crate::scripted_op::CLIENT_ID).into()),
            ("refresh_token", "eyJraWQiOiJjcGltY29yZV8wOTI1MjAxNSIsInZlciI6IjEuMCIsInppcCI6IkRlZmxhdGUifQ.b2c".into()),
            ("refresh_token_expires_in", "1209600".into()),
        ];
        let now = chrono::Utc::now().timestamp();
        p.claims = vec![
            ("email", serde_json::Value::Null),
            ("email_verified", serde_json::Value::Null),
            ("ver", "1.0".into()),
            ("nbf", now.into()),
            ("auth_time", now.into()),
            ("oid", oid.into()),
            ("emails", serde_json::json!(["bea@contoso.example", "bea.alt@contoso.example"])),
            ("name", "Bea Contoso".into()),
            ("given_name", "Bea".into()),
            ("family_name", "Contoso".into()),
            ("tfp", "B2C_1_signupsignin1".into()),
        ];
    });
    let env = set_var(op.env("entra-b2c"), "OAUTH_ENTRA_B2C_KIND", "entra-b2c");
    let root = op.issuer.trim_end_matches(&format!("/{TID}/v2.0/")).to_string();
    let env = set_var(env, "OAUTH_ENTRA_B2C_DISCOVERY_URL", format!("{root}{POLICY_DOCUMENT}"));
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env.clone())).await;
    assert!(app.browser.get("/login").await.text().await.unwrap().contains("Sign in with Azure AD B2C"));
    let browser = app.new_browser();
    assert_eq!(sign_in_auto(&browser, "entra-b2c").await.status(), 303);
    let me = browser.me().await.unwrap();
    assert_eq!(me["identities"][0]["subject"], oid);
    assert_eq!(me["name"], "Bea Contoso");
    assert_eq!(me["email"], "bea@contoso.example", "the first of `emails`");
    assert_eq!(me["identities"][0]["email_verified"], false, "B2C never says an address is verified");
    let seen = op.seen();
    assert!(seen.iter().any(|r| r.path == POLICY_DOCUMENT));
    let authorization = seen.iter().find(|r| r.path == "/authorize").unwrap();
    let scope = url::form_urlencoded::parse(authorization.query.as_bytes()).find(|(k, _)| k == "scope").unwrap().1;
    assert_eq!(scope, format!("openid {}", crate::scripted_op::CLIENT_ID), "the client id asks for an access token");
    assert!(!seen.iter().any(|r| r.path.starts_with(&format!("/{TID}/"))), "nothing asked under the issuer");
    assert_eq!(op.calls().userinfo, 0);

    // `email_verified` speaks of `email`: with only `emails`, nothing is verified; with both,
    // `email` is the address.
    for (sub, email, expected) in
        [("b2c-2", None, "bea@contoso.example"), ("b2c-3", Some("c@contoso.example"), "c@contoso.example")]
    {
        op.subject(sub);
        op.plan(|p| {
            p.claims.retain(|(k, _)| !["email", "email_verified"].contains(k));
            p.claims.push(("email_verified", true.into()));
            p.claims.push(("email", email.map_or(serde_json::Value::Null, |e| e.into())));
        });
        let browser = app.new_browser();
        assert_eq!(sign_in_auto(&browser, "entra-b2c").await.status(), 303);
        let me = browser.me().await.unwrap();
        assert_eq!(me["email"], expected);
        assert_eq!(me["identities"][0]["email_verified"], email.is_some(), "{sub}: as the provider said it");
    }

    // Wherever the document is, it must name the configured issuer: another tenant's is refused.
    op.plan(|p| p.discovery_issuer = Some(format!("{root}/ffffffff-0000-0000-0000-000000000000/v2.0/")));
    let authorizations = || op.seen().iter().filter(|r| r.path == "/authorize").count();
    let before = authorizations();
    let elsewhere = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let res = elsewhere.browser.get("/authorize/entra-b2c").await;
    // 502 when this request ran the failing discovery, 503 when the background one just did.
    assert!(matches!(res.status().as_u16(), 502 | 503), "{}", res.status());
    assert_eq!(authorizations(), before, "never sent to the authorization endpoint");
}
