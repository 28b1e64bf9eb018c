//! ID-token validation and userinfo, against a scripted provider that gets things wrong on
//! purpose. Every bad token signs nobody in, writes nothing, and is never followed by a
//! userinfo call.

use crate::helpers::*;
use crate::on_both_backends;
use crate::scripted_op::{Script, ScriptedOp};

async fn attempt(browser: &Browser) -> reqwest::Response {
    let res = browser.get("/authorize/op").await;
    assert_eq!(res.status(), 303, "authorize");
    let res = browser.get(&location(&res)).await;
    browser.get(&location(&res)).await
}

on_both_backends! {
    async fn invalid_id_tokens_are_refused(backend: Backend) {
        let op = ScriptedOp::start();
        let app = spawn_app(AppOptions::new(backend).provider_env(op.env("op"))).await;
        for script in [Script::WrongAudience, Script::WrongNonce, Script::WrongIssuer, Script::Expired, Script::BadSignature, Script::UnpublishedKey] {
            op.script(script);
            let browser = app.new_browser();
            let before = op.calls();
            let res = attempt(&browser).await;
            assert_eq!(res.status(), 400, "{script:?}");
            assert!(res.text().await.unwrap().contains("could not be completed"), "{script:?}");
            assert_eq!(op.calls().userinfo, before.userinfo, "{script:?}: no userinfo call after a bad ID token");
            assert_eq!(browser.me().await, Err(401), "{script:?}");
        }
        assert_eq!(app.db.counts(), (0, 0));
    }

    async fn userinfo_for_another_subject_is_refused(backend: Backend) {
        let op = ScriptedOp::start();
        op.script(Script::UserinfoOtherSubject);
        let app = spawn_app(AppOptions::new(backend).provider_env(op.env("op"))).await;
        let res = attempt(&app.browser).await;
        assert_eq!(res.status(), 502);
        assert_eq!(app.browser.me().await, Err(401));
        assert_eq!(app.db.counts(), (0, 0));
    }

    async fn a_valid_token_signs_in_with_userinfo_merged(backend: Backend) {
        let op = ScriptedOp::start();
        let app = spawn_app(AppOptions::new(backend).provider_env(op.env("op"))).await;
        assert_eq!(attempt(&app.browser).await.status(), 303);
        let me = app.browser.me().await.unwrap();
        assert_eq!(me["name"], "Scripted User", "name from userinfo");
        assert_eq!(me["identities"][0]["subject"], "scripted-user-1");
        assert_eq!(op.calls().userinfo, 1);
    }
}

#[actix_web::test]
async fn a_rotated_signing_key_is_picked_up_without_restart() {
    let op = ScriptedOp::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op"))).await;
    assert_eq!(attempt(&app.new_browser()).await.status(), 303);
    let jwks_fetches = op.calls().jwks;

    op.rotate_to_key_2();
    let browser = app.new_browser();
    assert_eq!(attempt(&browser).await.status(), 303, "unknown kid → JWKS refetched once → valid");
    assert_eq!(op.calls().jwks, jwks_fetches + 1);
    assert!(browser.me().await.is_ok());
}

#[actix_web::test]
async fn unusable_and_slow_token_answers_are_502_and_504() {
    let op = ScriptedOp::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op"))).await;
    op.script(Script::TokenServerError);
    assert_eq!(attempt(&app.new_browser()).await.status(), 502, "an HTML error page is an unusable answer");
    op.script(Script::NoIdToken);
    assert_eq!(attempt(&app.new_browser()).await.status(), 502);
    op.script(Script::TokenSlow);
    let started = std::time::Instant::now();
    let res = attempt(&app.new_browser()).await;
    assert_eq!(res.status(), 504);
    assert!(res.text().await.unwrap().contains("took too long"));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "HTTP_TIMEOUT_SECS=3 bounds the wait");
    assert_eq!(app.db.counts(), (0, 0));
}

/// A returning sign-in whose provider says no name this time (neither the ID token nor
/// userinfo) keeps the name held; one that says a new name replaces it.
#[actix_web::test]
async fn a_sign_in_without_a_name_keeps_the_one_held() {
    let op = ScriptedOp::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op"))).await;
    assert_eq!(attempt(&app.new_browser()).await.status(), 303);

    let no_name =
        serde_json::json!({"sub": "scripted-user-1", "email": "scripted@example.test", "email_verified": true});
    op.plan(|p| p.userinfo_answer = Some((200, "application/json", no_name.to_string().into_bytes())));
    let browser = app.new_browser();
    assert_eq!(attempt(&browser).await.status(), 303);
    assert_eq!(browser.me().await.unwrap()["name"], "Scripted User", "not the email's local part");

    let renamed = serde_json::json!({"sub": "scripted-user-1", "name": "Renamed User"});
    op.plan(|p| p.userinfo_answer = Some((200, "application/json", renamed.to_string().into_bytes())));
    let browser = app.new_browser();
    assert_eq!(attempt(&browser).await.status(), 303);
    assert_eq!(browser.me().await.unwrap()["name"], "Renamed User");
}

/// Azure AD v1.0 and Entra B2C answer `"expires_in": "3599"`, which the oauth2 crate refuses to
/// parse: the sign-in goes on, and a kept token is dated by it; anything else there is ignored.
#[actix_web::test]
async fn a_token_answer_with_expires_in_as_a_string_signs_in() {
    let op = ScriptedOp::start();
    let env = set_var(op.env("op"), "OAUTH_OP_STORE_TOKENS", "true");
    let app = spawn_app(AppOptions::new(Backend::Postgres).provider_env(env)).await;
    // expires_at is whole seconds: a kept 3599 reads a little less a moment later.
    let lifetime =
        "SELECT COALESCE(FLOOR(EXTRACT(EPOCH FROM expires_at - now()))::text, 'none') AS t FROM provider_tokens";
    for (expires_in, dated) in
        [(serde_json::json!("3599"), true), (serde_json::json!("soon"), false), (serde_json::json!(-5), false)]
    {
        op.plan(|p| p.token_fields = vec![("expires_in", expires_in.clone())]);
        let browser = app.new_browser();
        assert_eq!(attempt(&browser).await.status(), 303, "expires_in {expires_in}");
        assert!(browser.me().await.is_ok(), "expires_in {expires_in}");
        let kept = app.db.texts(lifetime).concat();
        match kept.parse::<i64>() {
            Ok(seconds) => assert!(dated && (3590..=3599).contains(&seconds), "expires_in {expires_in}: {kept}"),
            Err(_) => assert!(!dated && kept == "none", "expires_in {expires_in}: {kept}"),
        }
    }
}

/// ZITADEL puts its project id in `aud` beside the client id (and Keycloak's audience mappers can
/// add an API): refused unless `TRUSTED_AUDIENCES` names it, and then only with `azp` = the client.
#[actix_web::test]
async fn extra_audiences_sign_in_only_when_trusted_and_authorized_for_this_client() {
    let op = ScriptedOp::start();
    let audiences = serde_json::json!([crate::scripted_op::CLIENT_ID, "other-api"]);
    let plan = |azp: serde_json::Value| {
        let audiences = audiences.clone();
        move |p: &mut crate::scripted_op::Plan| p.claims = vec![("aud", audiences), ("azp", azp)]
    };
    let untrusting = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op"))).await;
    op.plan(plan(crate::scripted_op::CLIENT_ID.into()));
    let res = attempt(&untrusting.new_browser()).await;
    assert_eq!(res.status(), 400, "other-api is not trusted");

    let env = set_var(op.env("op"), "OAUTH_OP_TRUSTED_AUDIENCES", "other-api, another");
    let trusting = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    let browser = trusting.new_browser();
    assert_eq!(attempt(&browser).await.status(), 303, "trusted, azp is the client");
    assert!(browser.me().await.is_ok());
    for azp in [serde_json::json!("other-api"), serde_json::Value::Null] {
        op.plan(plan(azp.clone()));
        let browser = trusting.new_browser();
        assert_eq!(attempt(&browser).await.status(), 400, "azp {azp}");
        assert_eq!(browser.me().await, Err(401), "azp {azp}");
    }
    let client = || serde_json::Value::from(crate::scripted_op::CLIENT_ID);
    for (aud, why) in [
        (serde_json::json!([crate::scripted_op::CLIENT_ID, "other-api", "stranger"]), "one audience not trusted"),
        (serde_json::json!(["other-api"]), "only trusted extras, not this client"),
        (serde_json::json!([crate::scripted_op::CLIENT_ID, "Other-API"]), "audiences match exactly"),
    ] {
        op.plan(move |p| p.claims = vec![("aud", aud), ("azp", client())]);
        assert_eq!(attempt(&trusting.new_browser()).await.status(), 400, "{why}");
    }
}
