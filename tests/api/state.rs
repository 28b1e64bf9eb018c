//! `state`: bound to this browser, single use, for one provider, ten minutes; checked before
//! any call to the provider.

use actix_web::cookie::{Cookie, CookieJar, Key};

use crate::github_standin::GithubStandIn;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn a_callback_from_another_browser_is_refused_without_calling_the_provider(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        // The attacker's own valid code and state...
        let attacker = app.new_browser();
        let callback = app.github_callback_url(&attacker, "github", "/").await;
        // ...opened in the victim's browser (login CSRF).
        let victim = app.new_browser();
        let res = victim.get(&callback).await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("not valid or was already used"));
        assert_eq!(victim.me().await, Err(401));
        assert_eq!(github.calls().0, 0, "no token request");
        assert_eq!(app.db.counts(), (0, 0));
    }

    async fn a_state_is_single_use(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        let browser = &app.browser;
        let callback = app.github_callback_url(browser, "github", "/").await;
        assert_eq!(browser.get(&callback).await.status(), 303);
        let id = browser.me().await.unwrap()["id"].clone();

        let replay = browser.get(&callback).await;
        assert_eq!(replay.status(), 400);
        assert_eq!(github.calls().0, 1, "the replay made no second token request");
        assert_eq!(browser.me().await.unwrap()["id"], id, "still signed in as before");
        assert_eq!(app.db.counts(), (1, 1));
    }
}

#[actix_web::test]
async fn missing_repeated_or_wrong_state_is_refused_before_any_provider_call() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    let browser = &app.browser;
    let callback = app.github_callback_url(browser, "github", "/").await;
    let code = query_param(&callback, "code").unwrap();
    let state = query_param(&callback, "state").unwrap();
    let mut flipped = state.clone();
    flipped.replace_range(0..1, if state.starts_with('A') { "B" } else { "A" });
    for query in [
        format!("code={code}"),
        format!("code={code}&state="),
        format!("code={code}&state={state}&state={state}"),
        format!("code={code}&state={flipped}"),
        format!("code={code}&state=%00"),
        format!("code={code}&state={}", "x".repeat(4096)),
        format!("code={code}&state=%C3%A9%F0%9F%98%80"),
    ] {
        let res = browser.get(&format!("/callback/github?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
    }
    assert_eq!(github.calls().0, 0, "no token request for any of them");
    // The wrong-state attempt consumed the pending flow: the real state no longer works either.
    assert_eq!(browser.get(&callback).await.status(), 400);
    assert_eq!(github.calls().0, 0);
    assert_eq!(browser.me().await, Err(401));
}

#[actix_web::test]
async fn a_state_from_one_provider_is_refused_at_another() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).oidc("oidc")).await;
    let browser = &app.browser;
    let callback = app.github_callback_url(browser, "github", "/").await;
    let confused = callback.replace("/callback/github", "/callback/oidc");
    let res = browser.get(&confused).await;
    assert_eq!(res.status(), 400);
    // Consumed: the genuine callback fails too, and GitHub was never asked for a token.
    assert_eq!(browser.get(&callback).await.status(), 400);
    assert_eq!(github.calls().0, 0);
}

#[actix_web::test]
async fn parallel_flows_work_but_none_survives_sign_in() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    let browser = &app.browser;
    let tab1 = app.github_callback_url(browser, "github", "/one").await;
    let tab2 = app.github_callback_url(browser, "github", "/two").await;
    assert_eq!(location(&browser.get(&tab1).await), "/one");
    browser.post("/logout").await;
    // Signing in renewed the session and dropped the other pending flow with it.
    assert_eq!(browser.get(&tab2).await.status(), 400);
}

#[actix_web::test]
async fn an_expired_flow_is_refused() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    // A session cookie that holds a flow started eleven minutes ago, sealed with the server's
    // key as the server itself would have (the test knows SESSION_KEY).
    let started = chrono::Utc::now().timestamp() - 660;
    let flow = serde_json::json!([{
        "provider": "github", "state": "old-state-0123456789012345678901234567890",
        "pkce_verifier": "v".repeat(43), "nonce": "n".repeat(43), "next": "/", "created_at": started
    }]);
    let session = serde_json::json!({"gatehouse.flows": flow.to_string()});
    let mut jar = CookieJar::new();
    jar.private_mut(&Key::derive_from(SESSION_KEY.as_bytes())).add(Cookie::new("gatehouse", session.to_string()));
    let sealed = jar.get("gatehouse").unwrap().value().to_string();

    let res = app
        .browser
        .client
        .get(app.browser.url("/callback/github?code=c&state=old-state-0123456789012345678901234567890"))
        .header("Cookie", format!("gatehouse={sealed}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("took too long"));
    assert_eq!(github.calls().0, 0);
}

#[actix_web::test]
async fn an_error_from_the_provider_is_shown_without_calling_it() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    let browser = &app.browser;
    let callback = app.github_callback_url(browser, "github", "/").await;
    let state = query_param(&callback, "state").unwrap();
    let res = browser
        .get(&format!("/callback/github?error=server_error&error_description=%3Cb%3Eboom%3C%2Fb%3E&state={state}"))
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("GitHub could not sign you in"), "{page}");
    assert!(!page.contains("<b>boom"), "the provider's description is never echoed");
    assert_eq!(github.calls().0, 0);
}
