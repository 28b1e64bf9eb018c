//! The demo provider: with nothing configured, the first command signs a newcomer in through
//! an OpenID Provider built into gatehouse, by gatehouse's ordinary OIDC code.

use crate::helpers::*;

/// The hidden and visible fields of the first `<form>` in `html` whose fields include `marker`.
fn form_fields(html: &str, marker: &str) -> (String, Vec<(String, String)>) {
    let form = html.split("<form").skip(1).find(|f| f.contains(marker)).expect("the form");
    let form = form.split("</form>").next().unwrap();
    let attr = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\"")).nth(1).and_then(|v| v.split('"').next()).map(|v| v.replace("&amp;", "&"))
    };
    let action = attr(form, "action").expect("an action");
    let fields = form
        .split("<input")
        .skip(1)
        .filter_map(|input| Some((attr(input, "name")?, attr(input, "value").unwrap_or_default())))
        .collect();
    (action, fields)
}

async fn demo_app(extra: Vec<(&'static str, String)>) -> TestApp {
    let mut opts = AppOptions::new(Backend::Sqlite).var("DEMO_SIGN_IN", "auto");
    for (k, v) in extra {
        opts = opts.var(k, v);
    }
    spawn_app(opts).await
}

/// Authorize, fill in the demo provider's form as `name` / `email`, and come back.
async fn sign_in_as(app: &TestApp, b: &Browser, name: &str, email: &str, next: &str) -> reqwest::Response {
    let res = b.get(&format!("/authorize/demo?next={}", enc(next))).await;
    assert_eq!(res.status(), 303, "authorize");
    let at_provider = location(&res);
    assert!(at_provider.starts_with(&format!("{}/demo-idp/authorize?", app.addr)), "{at_provider}");
    let page = b.get(&at_provider).await.text().await.unwrap();
    assert!(page.contains(r#"name="name""#) && page.contains(r#"name="email""#), "a form with name and email: {page}");
    assert!(page.contains("anyone can be anyone"), "the notice is on the provider's page too");
    let (action, mut fields) = form_fields(&page, r#"id="name""#);
    fields.retain(|(k, _)| k != "name" && k != "email");
    fields.push(("name".into(), name.into()));
    fields.push(("email".into(), email.into()));
    let res = b.client.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(res.status(), 303, "the demo provider approves");
    let callback = location(&res);
    assert!(callback.starts_with(&format!("{}/callback/demo?", app.addr)), "{callback}");
    b.get(&callback).await
}

#[actix_web::test]
async fn with_nothing_configured_a_newcomer_signs_in_through_the_demo_provider() {
    let app = demo_app(Vec::new()).await;
    let b = &app.browser;
    let login = b.get("/login").await.text().await.unwrap();
    assert!(login.contains("Sign in with Demo"), "{login}");
    assert!(login.contains("Demo sign-in is on") && login.contains("anyone can be anyone"), "the notice");

    let res = sign_in_as(&app, b, "Dana Scully", "Dana@Example.test", "/profile").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/profile", "back where the visitor was going");
    let me = b.me().await.expect("signed in");
    assert_eq!(me["name"], "Dana Scully");
    assert_eq!(me["email"], "dana@example.test");
    assert_eq!(me["email_verified"], false, "nobody checked: never a verified email");
    let profile = b.get("/profile").await.text().await.unwrap();
    assert!(profile.contains("Dana Scully") && profile.contains("Demo sign-in is on"), "{profile}");

    // Remembered: the same person next time is the same account.
    assert_eq!(b.post("/logout").await.status(), 303);
    sign_in_as(&app, b, "Dana Scully", "dana@example.test", "/").await;
    assert_eq!(b.me().await.unwrap()["id"], me["id"]);
    assert_eq!(app.db.counts(), (1, 1));
}

#[actix_web::test]
async fn the_demo_page_offers_sample_people_in_one_click() {
    let app = demo_app(Vec::new()).await;
    let b = &app.browser;
    let res = b.get("/authorize/demo").await;
    let page = b.get(&location(&res)).await.text().await.unwrap();
    let (action, fields) = form_fields(&page, "Grace Hopper");
    let res = b.client.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(b.get(&location(&res)).await.status(), 303);
    assert_eq!(b.me().await.unwrap()["name"], "Grace Hopper");
}

/// Anyone can claim any email there, so a demo sign-in never joins an account by email: one
/// whose email a trusted provider verified is refused, and nothing is written.
#[actix_web::test]
async fn the_demo_provider_is_never_trusted_for_email_linking() {
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .github("github", &github)
            .provider_env(vec![("OAUTH_DEMO_KIND".into(), "demo".into())])
            .var("DEMO_SIGN_IN", "auto"),
    )
    .await;
    app.sign_in_github(&app.browser, "github").await;
    let octocat = app.browser.me().await.unwrap();
    let email = octocat["email"].as_str().unwrap().to_string();
    let other = app.new_browser();
    let res = sign_in_as(&app, &other, "Not Octocat", &email, "/").await;
    assert_eq!(res.status(), 409, "the demo cannot claim a verified account's email");
    assert!(res.text().await.unwrap().contains("GitHub"), "the page says which provider to use");
    assert_eq!(other.me().await, Err(401));
    assert_eq!(app.db.counts(), (1, 1), "nothing written");
    // With an email nobody holds, the demo makes an account of its own.
    sign_in_as(&app, &other, "Someone New", "new@example.test", "/").await;
    assert_ne!(other.me().await.unwrap()["id"], octocat["id"]);
}

/// Named explicitly beside real providers it is offered too; with a real provider configured
/// and nothing named, it stays off.
#[actix_web::test]
async fn the_demo_provider_stays_off_once_a_real_provider_is_configured() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).var("DEMO_SIGN_IN", "auto")).await;
    let login = app.browser.get("/login").await.text().await.unwrap();
    assert!(!login.contains("Sign in with Demo") && !login.contains("Demo sign-in is on"), "{login}");
    assert_eq!(app.browser.get("/demo-idp/.well-known/openid-configuration").await.status(), 404);
}

/// Whatever the settings, the demo provider answers only direct requests from this machine: a
/// request through a proxy (or from another machine) cannot use it to sign in as anyone.
#[actix_web::test]
async fn the_demo_provider_answers_only_this_machine_directly() {
    let app = demo_app(Vec::new()).await;
    let discovery = "/demo-idp/.well-known/openid-configuration";
    assert_eq!(app.browser.get(discovery).await.status(), 200);
    for (header, value) in
        [("X-Forwarded-For", "192.0.2.7"), ("Forwarded", "for=192.0.2.7"), ("X-Real-IP", "192.0.2.7")]
    {
        let res = app.browser.client.get(app.browser.url(discovery)).header(header, value).send().await.unwrap();
        assert_eq!(res.status(), 400, "{header}");
    }
}
