//! Finding users by (provider, subject) and linking by email only when it is safe.

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn an_untrusted_provider_cannot_take_over_a_trusted_email(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        app.sign_in_github(&app.new_browser(), "github").await;
        assert_eq!(app.db.counts(), (1, 1));

        // corp is an oidc provider: untrusted by default, even with email_verified=true.
        let browser = app.new_browser();
        let res = app.sign_in_oidc(&browser, "corp", "octocat@example.test").await;
        assert_eq!(res.status(), 409);
        let page = res.text().await.unwrap();
        assert!(page.contains("Sign in with GitHub to use it"), "{page}");
        assert_eq!(browser.me().await, Err(401));
        assert_eq!(app.db.counts(), (1, 1), "nothing written");
    }

    async fn a_trusted_verified_email_links_ignoring_case(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(
            AppOptions::new(backend).github("github", &github).oidc_with("corp", vec![("TRUST_EMAIL", "true".into())]),
        )
        .await;
        let first = app.new_browser();
        app.sign_in_github(&first, "github").await;
        let id = first.me().await.unwrap()["id"].clone();

        let second = app.new_browser();
        assert_eq!(app.sign_in_oidc(&second, "corp", "OctoCat@Example.TEST").await.status(), 303);
        let me = second.me().await.unwrap();
        assert_eq!(me["id"], id, "linked to the existing user");
        assert_eq!(me["identities"].as_array().unwrap().len(), 2);
        assert_eq!(app.db.counts(), (1, 2));
    }

    async fn an_unverified_email_never_links(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(
            AppOptions::new(backend).github("github", &github).oidc_with("corp", vec![("TRUST_EMAIL", "true".into())]),
        )
        .await;
        app.sign_in_github(&app.new_browser(), "github").await;
        let browser = app.new_browser();
        let res = app.sign_in_oidc(&browser, "corp", "unverified+octocat@example.test").await;
        assert_eq!(res.status(), 409);
        assert_eq!(app.db.counts(), (1, 1));
    }

    async fn an_email_only_vouched_for_by_an_untrusted_provider_is_not_a_claim(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        let first = app.new_browser();
        app.sign_in_oidc(&first, "corp", "octocat@example.test").await;
        let second = app.new_browser();
        assert_eq!(app.sign_in_github(&second, "github").await.status(), 303);
        assert_ne!(first.me().await.unwrap()["id"], second.me().await.unwrap()["id"], "a separate user");
        assert_eq!(app.db.counts(), (2, 2));
    }
}
