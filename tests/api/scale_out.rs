//! Several instances, readiness and metrics.

use crate::helpers::*;

#[actix_web::test]
async fn two_instances_share_sessions_and_sign_out_reaches_both() {
    let github = GithubStandIn::start();
    let a = spawn_app(
        AppOptions::new(Backend::Postgres)
            .github("github", &github)
            .var("SESSION_STORE", "redis")
            .var("REDIS_URL", redis_url()),
    )
    .await;
    let b = a.start_sibling().await;
    let browser = &a.browser;
    let res = a.sign_in_github(browser, "github").await;
    let cookie = set_cookie_headers(&res).into_iter().find(|c| c.starts_with("gatehouse=")).unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();

    // Signed in on A, the same browser is signed in on B.
    let on_b = browser.client.get(format!("{b}/api/me")).send().await.unwrap();
    assert_eq!(on_b.status(), 200);
    assert_eq!(on_b.json::<serde_json::Value>().await.unwrap(), browser.me().await.unwrap());

    // Signed out on B: A refuses the old cookie too.
    let res = browser.client.post(format!("{b}/logout")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let stranger = a.new_browser();
    let replay = stranger.client.get(stranger.url("/api/me")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(replay.status(), 401);
}

#[actix_web::test]
async fn readiness_checks_the_database_and_the_session_store() {
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).var("SESSION_STORE", "redis").var("REDIS_URL", redis_url())).await;
    let res = app.browser.get("/readyz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"database": "ok", "session_store": "ok"})
    );

    let pg = spawn_app(AppOptions::new(Backend::Postgres).var("SESSION_STORE", "database")).await;
    assert_eq!(pg.browser.get("/readyz").await.status(), 200);
    pg.db.drop_now();
    let res = pg.browser.get("/readyz").await;
    assert_eq!(res.status(), 503);
}

#[actix_web::test]
async fn metrics_count_sign_ins_and_errors_for_allowed_addresses_only() {
    let github = GithubStandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).var("SESSION_STORE", "database")).await;
    app.sign_in_github(&app.new_browser(), "github").await;
    app.new_browser().get("/callback/github?code=x&state=y").await;

    let text = app.browser.get("/metrics").await.text().await.unwrap();
    assert!(text.contains(r#"gatehouse_sign_ins_total{provider="github",outcome="created"} 1"#), "{text}");
    assert!(text.contains(r#"gatehouse_provider_errors_total{provider="github",kind="unknown_state"} 1"#), "{text}");
    assert!(text.contains("gatehouse_callback_seconds_count 2"), "{text}");
    assert!(text.contains("gatehouse_active_sessions 1"), "{text}");

    let closed = spawn_app(AppOptions::new(Backend::Sqlite).var("METRICS_ALLOW", "10.0.0.0/8")).await;
    assert_eq!(closed.browser.get("/metrics").await.status(), 404, "not for addresses outside METRICS_ALLOW");
}
