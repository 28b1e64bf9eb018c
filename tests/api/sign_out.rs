//! Signing out reaches every session it should: "sign out everywhere" on every store (the
//! encrypted cookie included), across instances.

use crate::helpers::*;
use crate::on_both_backends;

/// A cookie-store session that is signed in: its browser and a copy of its cookie.
async fn signed_in_copy(app: &TestApp) -> (Browser, String) {
    let browser = app.new_browser();
    let res = app.sign_in_github(&browser, "github").await;
    let cookie = session_set_cookie(&res).expect("a session cookie");
    (browser, cookie)
}

/// What the provider does to tell gatehouse of a logout: a form post of the token.
async fn post_logout_token(app: &TestApp, provider: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/backchannel-logout/{provider}", app.addr))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
}

async fn me_with(base: &str, cookie: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/me"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_backends! {
    /// The cookie store has nothing server-side to delete, yet "sign out everywhere" ends every
    /// session signed in before it: other browsers, copied cookies, guarded pages and the gate.
    /// Signing in again afterwards works at once.
    async fn sign_out_everywhere_ends_cookie_sessions(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).session_store("cookie")).await;
        let (laptop, _) = signed_in_copy(&app).await;
        let (phone, copied) = signed_in_copy(&app).await;
        assert_eq!(me_with(&app.addr, &copied).await, 200);
        assert!(laptop.get("/profile").await.text().await.unwrap().contains("/profile/sessions/end-all"),
            "the cookie store offers sign out everywhere too");

        assert_eq!(laptop.post("/profile/sessions/end-all").await.status(), 303);

        assert_eq!(me_with(&app.addr, &copied).await, 401, "a copied cookie outlived sign out everywhere");
        assert_eq!(phone.me().await, Err(401), "another browser stayed signed in");
        assert_eq!(phone.get("/profile").await.status(), 303, "a guarded page let it in");
        assert_eq!(phone.get("/verify").await.status(), 401, "the gate let it in");
        assert_eq!(laptop.me().await, Err(401));

        app.sign_in_github(&laptop, "github").await;
        assert!(laptop.me().await.is_ok(), "a sign-in after the sign-out was refused");
        assert_eq!(me_with(&app.addr, &copied).await, 401, "the old cookie came back with the new sign-in");
    }
}

/// Two instances share the cookie store's key: "sign out everywhere" on one ends the session on
/// the other too, through the database's change notifications.
#[actix_web::test]
async fn sign_out_everywhere_reaches_every_instance() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Postgres).github("github", &github).session_store("cookie")).await;
    let sibling = app.start_sibling().await;
    let (laptop, _) = signed_in_copy(&app).await;
    let (_, copied) = signed_in_copy(&app).await;
    assert_eq!(me_with(&sibling, &copied).await, 200, "the sibling caches the account");

    assert_eq!(laptop.post("/profile/sessions/end-all").await.status(), 303);

    let refused = eventually(std::time::Duration::from_secs(5), async || me_with(&sibling, &copied).await == 401).await;
    assert!(refused.is_some(), "the sibling still lets the ended session in");
}

/// `LOGOUT=provider` (RP-Initiated Logout with the real OpenID Provider): signing out ends
/// gatehouse's session, then sends the browser to the provider's end-session endpoint with the
/// sign-in's ID token as the hint; the provider accepts it, ends its own session and sends the
/// browser home. The next sign-in has to log in at the provider again.
#[actix_web::test]
async fn provider_logout_ends_the_session_at_the_provider_too() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc_with("corp", vec![("LOGOUT", "provider".into())])).await;
    let browser = app.new_browser();
    assert_eq!(app.sign_in_oidc(&browser, "corp", "alice").await.status(), 303);

    let res = browser.post("/logout").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let to_provider = location(&res);
    let issuer = &crate::oidc_provider::OidcServer::shared().issuer;
    assert!(to_provider.starts_with(&format!("{issuer}/session/end?")), "sent to {to_provider}");
    assert!(query_param(&to_provider, "id_token_hint").is_some_and(|t| t.split('.').count() == 3));
    assert_eq!(
        query_param(&to_provider, "post_logout_redirect_uri").as_deref(),
        Some(format!("{}/", app.addr).as_str())
    );
    assert!(query_param(&to_provider, "client_id").is_some());
    assert_eq!(browser.me().await, Err(401), "gatehouse's session ended before the provider's");

    let back = crate::oidc_provider::confirm_logout_at_provider(&browser.client, &to_provider).await;
    assert_eq!(back, format!("{}/", app.addr), "the provider sends the browser home");

    // The provider forgot the person: signing in again shows its login page.
    let mut url = location(&browser.get("/authorize/corp").await);
    let mut res = browser.client.get(&url).send().await.unwrap();
    while res.status().is_redirection() {
        url = reqwest::Url::parse(&url).unwrap().join(res.headers()["location"].to_str().unwrap()).unwrap().to_string();
        res = browser.client.get(&url).send().await.unwrap();
    }
    assert!(res.text().await.unwrap().contains(r#"name="prompt" value="login""#), "still signed in at the provider");
}

/// The default, `LOGOUT=local`: signing out ends gatehouse's session only and goes home.
#[actix_web::test]
async fn local_logout_stays_home() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc("corp")).await;
    let browser = app.new_browser();
    assert_eq!(app.sign_in_oidc(&browser, "corp", "alice").await.status(), 303);
    let res = browser.post("/logout").await;
    assert_eq!((res.status().as_u16(), location(&res)), (303, "/".to_string()));
    assert_eq!(browser.me().await, Err(401));
}

/// A provider whose discovery names no end-session endpoint: `LOGOUT=provider` signs out
/// locally, as if it were `local`.
#[actix_web::test]
async fn provider_logout_without_an_end_session_endpoint_is_local() {
    use crate::scripted_op::ScriptedOp;
    let op = ScriptedOp::start();
    let env = set_var(op.env("op"), "OAUTH_OP_LOGOUT", "provider");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    assert_eq!(sign_in_auto(&app.browser, "op").await.status(), 303);
    let res = app.browser.post("/logout").await;
    assert_eq!((res.status().as_u16(), location(&res)), (303, "/".to_string()));
    assert_eq!(app.browser.me().await, Err(401));
}

/// Back-Channel Logout with the real OpenID Provider: the person signs out at the provider in
/// one browser; the provider tells gatehouse (a logout token naming that provider session's
/// `sid`), and exactly that browser's session ends. With a server-side store, a second browser
/// of the same person (another provider session) stays signed in; the cookie store cannot
/// single one session out, so there every session of the person ends.
async fn the_provider_ends_a_session_over_the_back_channel(store: &str, others_survive: bool) {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc("corp").session_store(store)).await;
    let (laptop, phone) = (app.new_browser(), app.new_browser());
    assert_eq!(app.sign_in_oidc(&laptop, "corp", "alice").await.status(), 303);
    assert_eq!(app.sign_in_oidc(&phone, "corp", "alice").await.status(), 303);

    let issuer = &crate::oidc_provider::OidcServer::shared().issuer;
    crate::oidc_provider::confirm_logout_at_provider(&laptop.client, &format!("{issuer}/session/end")).await;

    let ended = eventually(std::time::Duration::from_secs(5), async || laptop.me().await == Err(401)).await;
    assert!(ended.is_some(), "{store}: the provider's logout did not reach gatehouse");
    if others_survive {
        assert!(phone.me().await.is_ok(), "{store}: another provider session was ended too");
    } else {
        assert_eq!(phone.me().await, Err(401), "{store}: the cookie store ends every session of the person");
    }
}

#[actix_web::test]
async fn back_channel_logout_ends_that_provider_session_on_the_database_store() {
    the_provider_ends_a_session_over_the_back_channel("database", true).await;
}

#[actix_web::test]
async fn back_channel_logout_ends_that_provider_session_on_redis() {
    the_provider_ends_a_session_over_the_back_channel("redis", true).await;
}

#[actix_web::test]
async fn back_channel_logout_ends_the_persons_sessions_on_the_cookie_store() {
    the_provider_ends_a_session_over_the_back_channel("cookie", false).await;
}

/// Logout tokens that fail any check of the specification are refused with 400 JSON and end
/// nothing; a good one ends the person's sessions once, and its replay is refused.
#[actix_web::test]
async fn bad_logout_tokens_are_refused_and_a_good_one_works_once() {
    use crate::scripted_op::{CLIENT_SECRET, ScriptedOp, Signer};
    use serde_json::{Value, json};
    let op = ScriptedOp::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op")).session_store("database")).await;
    assert_eq!(sign_in_auto(&app.browser, "op").await.status(), 303);
    let post = |body: String| {
        let url = format!("{}/backchannel-logout/op", app.addr);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let form = |token: &str| format!("logout_token={}", enc(token));
    type Change = fn(&mut Value, &mut Value);
    let bad: Vec<(&str, Change, Signer)> = vec![
        ("another audience", |_, c| c["aud"] = json!("someone-else"), Signer::Normal),
        (
            "this client and an untrusted one",
            |_, c| c["aud"] = json!([crate::scripted_op::CLIENT_ID, "sibling-app"]),
            Signer::Normal,
        ),
        ("another issuer", |_, c| c["iss"] = json!("http://127.0.0.1:1/other"), Signer::Normal),
        ("a nonce", |_, c| c["nonce"] = json!("n-1"), Signer::Normal),
        ("no event", |_, c| c["events"] = Value::Null, Signer::Normal),
        ("another event", |_, c| c["events"] = json!({"http://example.test/other": {}}), Signer::Normal),
        ("no jti", |_, c| c["jti"] = Value::Null, Signer::Normal),
        ("an old iat", |_, c| c["iat"] = json!(chrono::Utc::now().timestamp() - 3600), Signer::Normal),
        ("expired", |_, c| c["exp"] = json!(chrono::Utc::now().timestamp() - 600), Signer::Normal),
        ("neither sub nor sid", |_, c| c["sub"] = Value::Null, Signer::Normal),
        ("an ID token's typ", |h, _| h["typ"] = json!("at+jwt"), Signer::Normal),
        ("no signature", |h, _| h["alg"] = json!("none"), Signer::Unsigned),
        (
            "HS256 with the client secret",
            |h, _| h["alg"] = json!("HS256"),
            Signer::Hs256(CLIENT_SECRET.as_bytes().to_vec()),
        ),
        ("an unpublished key", |_, _| {}, Signer::Foreign),
    ];
    for (why, change, signer) in bad {
        let res = post(form(&op.logout_token(change, signer))).await;
        assert_eq!(res.status(), 400, "a logout token with {why} was not refused");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{why}");
    }
    for body in ["".to_string(), "logout_token=not.a.jwt".into(), format!("{0}&{0}", form("a.b.c"))] {
        assert_eq!(post(body.clone()).await.status(), 400, "{body:?}");
    }
    assert!(app.browser.me().await.is_ok(), "a refused token ended the session");

    let good = op.logout_token(|_, _| {}, Signer::Normal);
    let res = post(form(&good)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(app.browser.me().await, Err(401), "the good token did not end the session");
    assert_eq!(post(form(&good)).await.status(), 400, "a replayed token was accepted");

    let res = reqwest::Client::new()
        .post(format!("{}/backchannel-logout/nobody", app.addr))
        .form(&[("logout_token", good.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// A logout token that names only the provider session (`sid`, no `sub`) finds the person
/// through what the sign-in recorded, and ends exactly that session on a server-side store (a
/// second browser, another provider session, stays); on the cookie store it ends every
/// session of the person signed in before the logout, and a sign-in after it stays.
async fn a_sid_alone_finds_the_session(store: &str) {
    use crate::scripted_op::{ScriptedOp, Signer};
    use serde_json::{Value, json};
    let op = ScriptedOp::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op")).session_store(store)).await;
    let (laptop, phone) = (app.new_browser(), app.new_browser());
    op.plan(|p| p.claims = vec![("sid", json!("op-session-laptop"))]);
    assert_eq!(sign_in_auto(&laptop, "op").await.status(), 303);
    op.plan(|p| p.claims = vec![("sid", json!("op-session-phone"))]);
    assert_eq!(sign_in_auto(&phone, "op").await.status(), 303);

    let token = op.logout_token(
        |_, c| {
            c["sub"] = Value::Null;
            c["sid"] = json!("op-session-laptop");
        },
        Signer::Normal,
    );
    let res = post_logout_token(&app, "op", &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(laptop.me().await, Err(401), "{store}: the named provider session stayed signed in");
    if store == "cookie" {
        assert_eq!(phone.me().await, Err(401), "the cookie store ends every session of the person");
        // The logout happened at the token's `iat`: signing in after it is not undone.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(sign_in_auto(&laptop, "op").await.status(), 303);
        assert!(laptop.me().await.is_ok(), "a sign-in after the logout was ended");
    } else {
        assert!(phone.me().await.is_ok(), "{store}: another provider session was ended");
    }
}

#[actix_web::test]
async fn a_sid_alone_ends_that_session_on_the_database_store() {
    a_sid_alone_finds_the_session("database").await;
}

#[actix_web::test]
async fn a_sid_alone_ends_the_persons_sessions_on_the_cookie_store() {
    a_sid_alone_finds_the_session("cookie").await;
}

/// A person with two providers (the scripted OP, and GitHub linked to the same account): a
/// logout token from the OP that names only the subject ends the sessions signed in through
/// the OP, never the one signed in through GitHub.
#[actix_web::test]
async fn a_logout_token_never_ends_the_sessions_of_another_provider() {
    use crate::scripted_op::{ScriptedOp, Signer};
    use serde_json::Value;
    let op = ScriptedOp::start();
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite).provider_env(op.env("op")).github("github", &github).session_store("database"),
    )
    .await;
    let (through_op, through_github) = (app.new_browser(), app.new_browser());
    assert_eq!(sign_in_auto(&through_op, "op").await.status(), 303);
    // Link GitHub to that account: the "Link" button's same-origin post.
    let res = through_op.post("/authorize/github").await;
    let res = through_op.get(&location(&res)).await;
    assert_eq!(through_op.get(&location(&res)).await.status(), 303);
    app.sign_in_github(&through_github, "github").await;
    let id = |me: Value| me["id"].as_i64();
    assert_eq!(id(through_op.me().await.unwrap()), id(through_github.me().await.unwrap()), "one account");

    let token = op.logout_token(|_, _| {}, Signer::Normal);
    let res = post_logout_token(&app, "op", &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(through_op.me().await, Err(401), "the OP's session stayed");
    assert!(through_github.me().await.is_ok(), "the GitHub session was ended by the OP's logout");
}

/// An audience the provider is trusted for (ZITADEL's project) counts in a logout token as in
/// an ID token: `aud` = [this client, a trusted audience] ends the session.
#[actix_web::test]
async fn a_logout_token_naming_a_trusted_audience_beside_this_client_works() {
    use crate::scripted_op::{CLIENT_ID, ScriptedOp, Signer};
    let op = ScriptedOp::start();
    let env = set_var(op.env("op"), "OAUTH_OP_TRUSTED_AUDIENCES", "project-1");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env).session_store("database")).await;
    assert_eq!(sign_in_auto(&app.browser, "op").await.status(), 303);
    let token = op.logout_token(|_, c| c["aud"] = serde_json::json!([CLIENT_ID, "project-1"]), Signer::Normal);
    let res = reqwest::Client::new()
        .post(format!("{}/backchannel-logout/op", app.addr))
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.browser.me().await, Err(401));
}
