//! Providers that are down, slow or unusable never take the service down with them.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::helpers::*;

#[actix_web::test]
async fn an_issuer_that_is_down_at_start_works_once_it_comes_up() {
    let op_port = free_port();
    let issuer = format!("http://127.0.0.1:{op_port}");
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).provider_env(vec![
        ("OAUTH_LATE_KIND".into(), "oidc".into()),
        ("OAUTH_LATE_ISSUER".into(), issuer.clone()),
        ("OAUTH_LATE_CLIENT_ID".into(), "late-client".into()),
        ("OAUTH_LATE_CLIENT_SECRET".into(), "late-secret".into()),
    ]))
    .await;

    // Up and serving, with the other provider working.
    assert_eq!(app.browser.get("/healthz").await.status(), 200);
    let res = app.browser.get("/authorize/late").await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("Late is temporarily unavailable"));
    // Having failed, the provider is shown as unavailable rather than as a dead link.
    let page = app.browser.get("/login").await.text().await.unwrap();
    assert!(page.contains("/authorize/github"), "the other provider is offered");
    assert!(!page.contains("/authorize/late") && page.contains("temporarily unavailable"), "{page}");
    // A real disabled control, which assistive technology announces as such.
    assert!(page.contains(r#"<button type="button" disabled class="provider provider-oidc unavailable""#), "{page}");
    assert_eq!(app.sign_in_github(&app.new_browser(), "github").await.status(), 303);

    // The issuer comes up; sign-in starts working within 30 s, without a restart.
    let _op = OidcServer::start(
        op_port,
        &[serde_json::json!({
            "client_id": "late-client",
            "client_secret": "late-secret",
            "redirect_uris": [format!("{}/callback/late", app.addr)],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        })],
    );
    // Nobody clicks anything: the background refresh brings the button back by itself.
    let started = Instant::now();
    loop {
        let page = app.browser.get("/login").await.text().await.unwrap();
        if page.contains("/authorize/late") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still unavailable after 30 s");
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
    let page = app.browser.get("/login").await.text().await.unwrap();
    assert!(page.contains("/authorize/late"), "the button is back");
    let browser = app.new_browser();
    assert_eq!(app.sign_in_oidc(&browser, "late", "grace").await.status(), 303);
    assert_eq!(browser.me().await.unwrap()["name"], "Grace");
}

#[actix_web::test]
async fn an_unreachable_token_endpoint_is_503_and_a_silent_one_504() {
    let github = GithubStandIn::start();
    let dead_port = free_port();
    // Accepts connections but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    for (port, expected) in [(dead_port, 503), (silent_port, 504)] {
        let app = spawn_app(
            AppOptions::new(Backend::Sqlite)
                .github("github", &github)
                .var("OAUTH_GITHUB_TOKEN_URL", format!("http://127.0.0.1:{port}/token")),
        )
        .await;
        let callback = app.github_callback_url(&app.browser, "github", "/").await;
        let started = Instant::now();
        let res = app.browser.get(&callback).await;
        assert_eq!(res.status(), expected);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(app.browser.me().await, Err(401));
        assert_eq!(app.db.counts(), (0, 0));
    }
    drop(silent);
}
