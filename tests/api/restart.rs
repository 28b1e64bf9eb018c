//! The remember-me cookie survives a server restart with the same SESSION_KEY.

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn still_signed_in_after_a_restart(backend: Backend) {
        let github = GithubStandIn::start();
        let mut app = spawn_app(AppOptions::new(backend).github("github", &github)).await;
        app.sign_in_github(&app.browser, "github").await;
        let before = app.browser.me().await.unwrap();

        app.restart().await;
        assert_eq!(app.browser.me().await.unwrap(), before);
        assert_eq!(app.browser.get("/profile").await.status(), 200);
    }
}

#[actix_web::test]
async fn a_different_session_key_signs_everyone_out() {
    let github = GithubStandIn::start();
    let mut app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    app.sign_in_github(&app.browser, "github").await;
    app.vars.insert("SESSION_KEY".into(), "another-key-".repeat(8));
    app.restart().await;
    assert_eq!(app.browser.me().await, Err(401));
    assert_eq!(app.browser.get("/").await.status(), 200, "a foreign cookie is simply ignored");
}
