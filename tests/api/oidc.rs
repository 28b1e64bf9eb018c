//! Signing in through a real OpenID Provider (npm oidc-provider), end to end.

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn guarded_page_to_provider_and_back_signed_in(backend: Backend) {
        let app = spawn_app(AppOptions::new(backend).oidc("oidc")).await;
        let browser = &app.browser;

        // Signed out, the guard sends the browser to sign in and remembers where it was going.
        let res = browser.get("/profile").await;
        assert!(matches!(res.status().as_u16(), 302 | 303));
        assert_eq!(location(&res), "/login?next=%2Fprofile");

        let page = browser.get("/login?next=%2Fprofile").await.text().await.unwrap();
        assert!(page.contains(r#"href="/authorize/oidc?next=%2Fprofile""#), "{page}");
        assert!(page.contains("Sign in with Oidc"), "default label is the name, capitalised");

        // The authorization request carries everything a careful client sends.
        let res = browser.get("/authorize/oidc?next=%2Fprofile").await;
        assert!(matches!(res.status().as_u16(), 302 | 303));
        assert_eq!(res.headers()["cache-control"], "no-store");
        let to_provider = location(&res);
        assert!(to_provider.starts_with(&format!("{}/auth?", OidcServer::shared().issuer)), "{to_provider}");
        assert_eq!(query_param(&to_provider, "response_type").as_deref(), Some("code"));
        assert_eq!(query_param(&to_provider, "client_id").as_deref(), Some(app.vars["OAUTH_OIDC_CLIENT_ID"].as_str()));
        assert_eq!(query_param(&to_provider, "redirect_uri"), Some(format!("{}/callback/oidc", app.addr)));
        let scopes = query_param(&to_provider, "scope").unwrap();
        for s in ["openid", "email", "profile"] {
            assert!(scopes.split(' ').any(|x| x == s), "scope {s} missing from {scopes}");
        }
        assert_eq!(query_param(&to_provider, "code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(query_param(&to_provider, "code_challenge").map(|c| c.len()), Some(43));
        let state = query_param(&to_provider, "state").unwrap();
        let nonce = query_param(&to_provider, "nonce").unwrap();
        assert!(state.len() >= 22 && nonce.len() >= 22 && state != nonce);

        // Log in and consent at the provider, then come back.
        let callback = complete_at_provider(&browser.client, &to_provider, &format!("{}/callback/", app.addr), AtProvider::LogIn("alice")).await;
        let res = browser.get(&callback).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/profile");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let cookie = set_cookie_headers(&res).into_iter().find(|c| c.starts_with("gatehouse=")).expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Max-Age=2592000"), "remembered for SESSION_TTL_DAYS: {cookie}");
        assert!(!cookie.contains("Secure"), "plain-http PUBLIC_URL: no Secure flag: {cookie}");

        let me = browser.me().await.expect("signed in");
        assert!(me["id"].is_i64());
        assert_eq!(me["name"], "Alice");
        assert_eq!(me["email"], "alice@example.test");
        assert_eq!(me["avatar_url"], "https://avatars.example.test/alice.png");
        assert_eq!(
            me["identities"],
            serde_json::json!([{"provider": "oidc", "subject": "alice", "email": "alice@example.test", "email_verified": true, "groups": []}])
        );
        let profile = browser.get("/profile").await;
        assert_eq!(profile.status(), 200);
        let html = profile.text().await.unwrap();
        assert!(html.contains("Alice") && html.contains("alice@example.test"));
        assert_eq!(app.db.counts(), (1, 1));
    }

    async fn a_repeat_sign_in_is_the_same_user(backend: Backend) {
        let app = spawn_app(AppOptions::new(backend).oidc("oidc")).await;
        let first = app.new_browser();
        assert_eq!(app.sign_in_oidc(&first, "oidc", "bob").await.status(), 303);
        let second = app.new_browser();
        assert_eq!(app.sign_in_oidc(&second, "oidc", "bob").await.status(), 303);
        assert_eq!(first.me().await.unwrap()["id"], second.me().await.unwrap()["id"]);
        assert_eq!(app.db.counts(), (1, 1));
    }

    async fn sign_out_ends_the_session_and_get_does_not(backend: Backend) {
        let app = spawn_app(AppOptions::new(backend).oidc("oidc")).await;
        let browser = &app.browser;
        app.sign_in_oidc(browser, "oidc", "carol").await;

        let res = browser.get("/logout").await;
        assert_eq!(res.status(), 405, "GET /logout must not sign out");
        assert!(browser.me().await.is_ok());

        let res = browser.post("/logout").await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/");
        assert_eq!(res.headers()["cache-control"], "no-store");
        // The signed-in session is replaced by a fresh one that only carries the "signed out" notice.
        assert!(set_cookie_headers(&res).iter().any(|c| c.starts_with("gatehouse=")), "the cookie is rewritten");
        assert_eq!(browser.me().await, Err(401));
        let res = browser.get("/profile").await;
        assert_eq!(location(&res), "/login?next=%2Fprofile");
    }

    async fn cancelling_at_the_provider_signs_nobody_in(backend: Backend) {
        let app = spawn_app(AppOptions::new(backend).oidc("oidc")).await;
        let browser = &app.browser;
        let callback = app.oidc_callback_url(browser, "oidc", "/", AtProvider::Cancel).await;
        assert_eq!(query_param(&callback, "error").as_deref(), Some("access_denied"));
        let res = browser.get(&callback).await;
        assert_eq!(res.status(), 400);
        let page = res.text().await.unwrap();
        assert!(page.contains("Sign-in with Oidc was cancelled."), "{page}");
        assert!(page.contains("/authorize/oidc"), "the sign-in page is shown again");
        assert_eq!(browser.me().await, Err(401));
        assert_eq!(app.db.counts(), (0, 0));
    }

    async fn a_rejected_code_signs_nobody_in(backend: Backend) {
        let app = spawn_app(AppOptions::new(backend).oidc("oidc")).await;
        let browser = &app.browser;
        let callback = app.oidc_callback_url(browser, "oidc", "/", AtProvider::LogIn("dave")).await;
        let res = browser.get(&with_param(&callback, "code", "not-the-code")).await;
        assert_eq!(res.status(), 400, "invalid_grant from the provider");
        assert!(res.text().await.unwrap().contains("could not be completed"));
        assert_eq!(browser.me().await, Err(401));
        assert_eq!(app.db.counts(), (0, 0));
    }
}

#[actix_web::test]
async fn a_signed_in_visit_to_login_goes_to_next() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc("oidc")).await;
    app.sign_in_oidc(&app.browser, "oidc", "erin").await;
    let res = app.browser.get("/login?next=%2Fprofile%3Ftab%3D1").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/profile?tab=1");
    let res = app.browser.get("/login?next=https%3A%2F%2Fevil.example").await;
    assert_eq!(location(&res), "/");
}

#[actix_web::test]
async fn next_from_authorize_is_honoured_only_when_local() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc("oidc")).await;
    for (next, expected) in [
        ("/profile?tab=a%20b", "/profile?tab=a%20b"),
        ("//evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
    ] {
        let browser = app.new_browser();
        let callback = app.oidc_callback_url(&browser, "oidc", next, AtProvider::LogIn("frank")).await;
        let res = browser.get(&callback).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), expected, "next={next:?}");
    }
}
