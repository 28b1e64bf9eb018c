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

/// Signs in with GitHub (octocat), then links the OIDC account `login` from /profile.
async fn link_oidc(app: &TestApp, browser: &Browser, login: &str) -> reqwest::Response {
    let callback = app.link_callback_url(browser, "corp", AtProvider::LogIn(login)).await;
    browser.get(&callback).await
}

async fn unlink(browser: &Browser, identity_id: &serde_json::Value) -> reqwest::Response {
    browser.post(&format!("/profile/identities/{identity_id}/unlink")).await
}

fn identity_ids(app: &TestApp, user: &serde_json::Value) -> Vec<i64> {
    app.db.identity_ids(user["id"].as_i64().unwrap())
}

on_both_backends! {
    async fn a_signed_in_user_links_and_unlinks_another_account(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        let browser = &app.browser;
        app.sign_in_github(browser, "github").await;
        let me = browser.me().await.unwrap();
        let page = browser.get("/profile").await.text().await.unwrap();
        assert!(
            page.contains(r#"<form method="post" action="/authorize/corp?next=%2Fprofile">"#),
            "a link button (a form) per provider: {page}"
        );

        let res = link_oidc(&app, browser, "second-account").await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/profile");
        let after = browser.me().await.unwrap();
        assert_eq!(after["id"], me["id"], "still the same user");
        let providers: Vec<_> = after["identities"].as_array().unwrap().iter().map(|i| i["provider"].clone()).collect();
        assert_eq!(providers, ["github", "corp"]);
        assert_eq!(app.db.counts(), (1, 2));

        // Unlink one; the last one stays.
        let ids = identity_ids(&app, &me);
        let res = unlink(browser, &ids[0].into()).await;
        assert_eq!(res.status(), 303);
        assert_eq!(browser.me().await.unwrap()["identities"].as_array().unwrap().len(), 1);
        let res = unlink(browser, &ids[1].into()).await;
        assert_eq!(res.status(), 409);
        assert!(res.text().await.unwrap().contains("only way to sign in"));
        assert_eq!(app.db.counts(), (1, 1));
    }

    async fn a_signed_in_get_of_authorize_signs_in_and_never_links(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        let browser = &app.browser;
        app.sign_in_github(browser, "github").await;
        let octocat = browser.me().await.unwrap();
        // What a link or an image on another site can make a signed-in browser do.
        let res = app.sign_in_oidc(browser, "corp", "somebody-else").await;
        assert_eq!(res.status(), 303);
        let now = browser.me().await.unwrap();
        assert_ne!(now["id"], octocat["id"], "an ordinary sign-in, as the account that came back");
        assert_eq!(identity_ids(&app, &octocat).len(), 1, "nothing was linked to the signed-in user");
        assert_eq!(app.db.counts(), (2, 2));
    }

    async fn an_unverified_or_untrusted_email_never_replaces_a_verified_one(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        let browser = &app.browser;
        app.sign_in_github(browser, "github").await;
        let me = browser.me().await.unwrap();
        assert_eq!(me["email_verified"], true, "GitHub's verified primary email: {me}");
        let verified_email = me["email"].clone();

        // corp is not trusted to verify emails: its "verified" admin address proves nothing.
        link_oidc(&app, browser, "admin@corp.example").await;
        assert_eq!(browser.post("/logout").await.status(), 303);
        assert_eq!(app.sign_in_oidc(browser, "corp", "admin@corp.example").await.status(), 303);
        let after = browser.me().await.unwrap();
        assert_eq!(after["id"], me["id"], "the same user, through the linked identity");
        assert_eq!((&after["email"], &after["email_verified"]), (&verified_email, &serde_json::json!(true)));

        // A user known only through an untrusted provider has an email, flagged unverified.
        let other = app.new_browser();
        assert_eq!(app.sign_in_oidc(&other, "corp", "unverified+dana@example.test").await.status(), 303);
        let dana = other.me().await.unwrap();
        assert_eq!((&dana["email"], &dana["email_verified"]), (&serde_json::json!("dana@example.test"), &serde_json::json!(false)));
        let page = other.get("/profile").await.text().await.unwrap();
        assert!(page.contains("(not verified)"), "the profile says so");
    }

    async fn an_account_linked_to_another_user_is_refused(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        // Someone signed up with corp as "taken".
        app.sign_in_oidc(&app.new_browser(), "corp", "taken").await;
        // octocat, signed in with GitHub, tries to link that same corp account.
        let browser = app.new_browser();
        app.sign_in_github(&browser, "github").await;
        let res = link_oidc(&app, &browser, "taken").await;
        assert_eq!(res.status(), 409);
        assert!(res.text().await.unwrap().contains("already linked to another user"));
        assert_eq!(browser.me().await.unwrap()["identities"].as_array().unwrap().len(), 1, "no silent merge");
        assert_eq!(app.db.counts(), (2, 2));
    }

    async fn someone_elses_identity_cannot_be_unlinked(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).oidc("corp")).await;
        let other = app.new_browser();
        app.sign_in_oidc(&other, "corp", "other").await;
        let other_id = identity_ids(&app, &other.me().await.unwrap())[0];
        let browser = app.new_browser();
        app.sign_in_github(&browser, "github").await;
        link_oidc(&app, &browser, "mine").await;
        assert_eq!(unlink(&browser, &other_id.into()).await.status(), 404);
        assert_eq!(app.db.counts(), (2, 3));
    }

    async fn linking_by_email_can_be_turned_off(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(
            AppOptions::new(backend)
                .github("github", &github)
                .oidc_with("corp", vec![("TRUST_EMAIL", "true".into())])
                .var("LINK_ACCOUNTS_BY_EMAIL", "false"),
        )
        .await;
        let first = app.new_browser();
        app.sign_in_github(&first, "github").await;
        let second = app.new_browser();
        assert_eq!(app.sign_in_oidc(&second, "corp", "octocat@example.test").await.status(), 303);
        assert_ne!(first.me().await.unwrap()["id"], second.me().await.unwrap()["id"]);
        assert_eq!(app.db.counts(), (2, 2));
    }
}

#[actix_web::test]
async fn linking_needs_a_same_origin_post_from_a_signed_in_user() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).oidc("corp")).await;
    let signed_out = app.new_browser().post("/authorize/corp").await;
    assert_eq!(signed_out.status(), 303);
    assert!(location(&signed_out).starts_with("/login?next="), "signed out: to the sign-in page");
    app.sign_in_github(&app.browser, "github").await;
    for (header, value) in [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")] {
        let res =
            app.browser.client.post(app.browser.url("/authorize/corp")).header(header, value).send().await.unwrap();
        assert_eq!(res.status(), 403, "{header}: {value}");
    }
}

#[actix_web::test]
async fn unlink_and_sign_out_refuse_cross_site_posts() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).oidc("corp")).await;
    let browser = &app.browser;
    app.sign_in_github(browser, "github").await;
    link_oidc(&app, browser, "x").await;
    let ids = identity_ids(&app, &browser.me().await.unwrap());
    for path in [format!("/profile/identities/{}/unlink", ids[0]), "/logout".to_string()] {
        for (header, value) in [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")] {
            let res = browser.client.post(browser.url(&path)).header(header, value).send().await.unwrap();
            assert_eq!(res.status(), 403, "{path} with {header}: {value}");
        }
    }
    assert_eq!(browser.me().await.unwrap()["identities"].as_array().unwrap().len(), 2, "nothing changed");
    // The same posts from our own origin work.
    let res = browser
        .client
        .post(browser.url("/logout"))
        .header("Origin", &app.addr)
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(browser.me().await, Err(401));
}

/// Two unlinks of a user's last two identities, at the same moment, on PostgreSQL (whose
/// transactions do not serialise writers the way SQLite's do): one of them must lose.
#[actix_web::test]
async fn concurrent_unlinks_always_leave_one_identity() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Postgres).github("github", &github)).await;
    let (laptop, phone) = (app.new_browser(), app.new_browser());
    app.sign_in_github(&laptop, "github").await;
    app.sign_in_github(&phone, "github").await;
    let user = laptop.me().await.unwrap()["id"].as_i64().unwrap();
    for round in 0..15 {
        app.db.execute(&format!(
            "INSERT INTO identities (user_id, provider, subject, email_verified, created_at, updated_at) \
             VALUES ({user}, 'github', 'extra-{round}', FALSE, now(), now())"
        ));
        let ids = app.db.identity_ids(user);
        assert_eq!(ids.len(), 2, "round {round}");
        let (a, b) = futures_util::future::join(
            laptop.post(&format!("/profile/identities/{}/unlink", ids[0])),
            phone.post(&format!("/profile/identities/{}/unlink", ids[1])),
        )
        .await;
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "round {round}: one unlink wins, the other is refused");
        assert_eq!(app.db.identity_ids(user).len(), 1, "round {round}: one identity remains");
    }
}
