//! Signing in through the GitHub stand-in, with GitHub's quirks.

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn signs_in_with_the_primary_verified_email_and_numeric_id(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        let browser = &app.browser;

        let res = browser.get("/authorize/github").await;
        let to_github = location(&res);
        assert!(to_github.starts_with(&format!("{}/login/oauth/authorize?", github.base)));
        assert_eq!(query_param(&to_github, "scope").as_deref(), Some("read:user user:email"));
        assert_eq!(query_param(&to_github, "code_challenge_method").as_deref(), Some("S256"));
        assert!(query_param(&to_github, "state").is_some());
        assert_eq!(query_param(&to_github, "nonce"), None, "no nonce for plain OAuth2");

        let res = browser.get(&location(&browser.get(&to_github).await)).await;
        assert_eq!(res.status(), 303);
        let me = browser.me().await.unwrap();
        assert_eq!(me["name"], "octocat", "name falls back to the login");
        assert_eq!(me["email"], "octocat@example.test", "the primary verified address");
        assert_eq!(me["identities"][0]["subject"], "583231");
        assert_eq!(me["identities"][0]["email_verified"], true);
        assert_eq!(github.calls(), (1, 1, 1));
        assert_eq!(app.db.counts(), (1, 1));
    }

    async fn no_verified_primary_email_means_no_email(backend: Backend) {
        let github = GithubStandIn::start();
        github.sign_in_as(GithubAccount {
            id: 42,
            login: "ghost".into(),
            name: Some("Ghost Writer".into()),
            emails: vec![("ghost@example.test".into(), true, false), ("other@example.test".into(), false, true)],
        });
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        assert_eq!(app.sign_in_github(&app.browser, "github").await.status(), 303);
        let me = app.browser.me().await.unwrap();
        assert_eq!(me["name"], "Ghost Writer");
        assert_eq!(me["email"], serde_json::Value::Null);
        assert_eq!(me["identities"][0]["email_verified"], false);
    }

    async fn a_bad_code_answered_with_http_200_is_a_failure(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        let browser = &app.browser;
        let callback = app.github_callback_url(browser, "github", "/").await;
        let res = browser.get(&with_param(&callback, "code", "wrong")).await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("Sign-in with GitHub could not be completed"));
        assert_eq!(github.calls(), (1, 0, 0), "one token request, no API calls");
        assert_eq!(browser.me().await, Err(401));
        assert_eq!(app.db.counts(), (0, 0));
    }
}

#[actix_web::test]
async fn an_https_public_url_makes_the_cookie_secure_and_host_only() {
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite).github("github", &github).var("PUBLIC_URL", "https://gatehouse.test"),
    )
    .await;
    // The redirect URI sent to the provider is the configured https one...
    let res = app.browser.get("/authorize/github").await;
    let to_github = location(&res);
    let redirect_uri = query_param(&to_github, "redirect_uri").unwrap();
    assert_eq!(redirect_uri, "https://gatehouse.test/callback/github");
    // ...and the pre-sign-in cookie already carries Secure and the __Host- prefix.
    let cookie = set_cookie_headers(&res).into_iter().next().expect("a session cookie for the pending flow");
    assert!(cookie.starts_with("__Host-gatehouse="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
}
