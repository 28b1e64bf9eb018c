//! Routes that need no provider round trip: public pages, guards, errors, health, headers.

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn public_guarded_and_unknown_routes(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        let b = &app.browser;

        let home = b.get("/").await;
        assert_eq!(home.status(), 200);
        assert!(home.text().await.unwrap().contains("You are not signed in"));

        let res = b.get("/api/me").await;
        assert_eq!(res.status(), 401, "JSON guard: 401, never a redirect");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthenticated");

        let res = b.get("/profile?x=1&y=%3Cscript%3E").await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/login?next=%2Fprofile%3Fx%3D1%26y%3D%253Cscript%253E");

        for path in ["/nope", "/authorize/unknown", "/callback/unknown?code=x&state=y"] {
            let res = b.get(path).await;
            assert_eq!(res.status(), 404, "{path}");
            assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
            assert!(res.text().await.unwrap().contains("There is nothing at this address"), "{path}");
        }

        assert_eq!(b.get("/healthz").await.status(), 200);

        // Signed in, the home page greets the user and offers sign-out.
        app.sign_in_github(b, "github").await;
        let page = b.get("/").await.text().await.unwrap();
        assert!(page.contains("Welcome back, octocat") && page.contains(r#"action="/logout""#));
    }
}

#[actix_web::test]
async fn login_page_escapes_next_and_explains_missing_providers() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite)).await;
    let res = app.browser.get("/login").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("No sign-in providers are configured"), "{page}");

    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    let page = app.browser.get("/login?next=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E").await.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains(r#"href="/authorize/github""#), "an unsafe next is dropped: {page}");
    let page = app.browser.get("/login?next=%2Fprofile&next=%2F%2Fevil.example").await.text().await.unwrap();
    assert!(page.contains(r#"href="/authorize/github""#), "a repeated next is dropped");
}

#[actix_web::test]
async fn every_response_carries_the_safety_headers() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite)).await;
    for path in ["/", "/login", "/nope", "/api/me"] {
        let res = app.browser.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    let css = app.browser.get("/static/style.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("max-age"));
}

#[actix_web::test]
async fn every_page_names_a_favicon_that_exists() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite)).await;
    let page = app.browser.get("/login").await.text().await.unwrap();
    assert!(page.contains(r#"<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">"#), "{page}");
    for path in ["/static/favicon.svg", "/favicon.ico"] {
        let res = app.browser.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "image/svg+xml", "{path}");
    }
}

#[actix_web::test]
async fn readyz_is_503_and_healthz_200_when_the_database_is_gone() {
    let app = spawn_app(AppOptions::new(Backend::Postgres)).await;
    assert_eq!(app.browser.get("/readyz").await.status(), 200);
    app.db.drop_now();
    assert_eq!(app.browser.get("/readyz").await.status(), 503);
    // Liveness: the process is fine; restarting it would not bring the database back.
    assert_eq!(app.browser.get("/healthz").await.status(), 200);
}

on_both_backends! {
    async fn deleting_the_account_removes_everything_and_signs_out(backend: Backend) {
        let github = GithubStandIn::start();
        let app =
            spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp").var("SESSION_STORE", "database")).await;
        let b = &app.browser;
        app.sign_in_github(b, "github").await;
        let callback = app.link_callback_url(b, "corp", AtProvider::LogIn("second")).await;
        b.get(&callback).await;
        assert_eq!(app.db.counts(), (1, 2));

        let page = b.get("/profile/delete").await.text().await.unwrap();
        assert!(page.contains("Delete your account?") && page.contains(r#"action="/profile/delete""#));
        let res = b.post("/profile/delete").await;
        assert_eq!(res.status(), 303);
        assert_eq!(app.db.counts(), (0, 0), "user and identities gone");
        assert_eq!(app.db.count("sessions"), 1, "only this browser's fresh, signed-out session remains");
        assert_eq!(b.me().await, Err(401));
        let home = b.get("/").await.text().await.unwrap();
        assert!(home.contains("Your account has been deleted."), "{home}");
        let again = b.get("/").await.text().await.unwrap();
        assert!(!again.contains("has been deleted"), "a flash shows once");
    }
}

#[actix_web::test]
async fn signing_out_says_so_once() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    app.sign_in_github(&app.browser, "github").await;
    app.browser.post("/logout").await;
    assert!(app.browser.get("/").await.text().await.unwrap().contains("You have been signed out."));
    assert!(!app.browser.get("/").await.text().await.unwrap().contains("signed out."));
}

#[actix_web::test]
async fn provider_logos_are_served_as_svg() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite)).await;
    for logo in ["google", "github", "gitlab", "microsoft", "facebook", "discord", "generic"] {
        let res = app.browser.get(&format!("/static/providers/{logo}.svg")).await;
        assert_eq!(res.status(), 200, "{logo}");
        assert_eq!(res.headers()["content-type"], "image/svg+xml");
    }
    assert_eq!(app.browser.get("/static/../Cargo.toml").await.status(), 404);
}
