//! Several instances, readiness and metrics.

use std::time::{Duration, Instant};

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

/// The database store's sessions are served from memory on PostgreSQL. An instance that holds a
/// copy still refuses a session ended elsewhere within moments: by another instance's sign-out,
/// or by an admin deleting the row in SQL (the `NOTIFY` reaches every instance's listener).
#[actix_web::test]
async fn database_sessions_served_from_memory_end_on_every_instance_within_moments() {
    let github = GithubStandIn::start();
    let a = spawn_app(AppOptions::new(Backend::Postgres).github("github", &github).session_store("database")).await;
    let b = a.start_sibling().await;
    let me_on_b = |cookie: String| {
        let b = b.clone();
        let stranger = a.new_browser();
        async move {
            let res = stranger.client.get(format!("{b}/api/me")).header("Cookie", cookie).send().await.unwrap();
            res.status().as_u16()
        }
    };
    // Polls B until it refuses `cookie`; how long that took.
    let refused_within = |cookie: String, limit: Duration| {
        let me_on_b = &me_on_b;
        async move {
            let started = Instant::now();
            while me_on_b(cookie.clone()).await != 401 {
                assert!(started.elapsed() < limit, "B still accepted the ended session after {limit:?}");
                actix_web::rt::time::sleep(Duration::from_millis(2)).await;
            }
            started.elapsed()
        }
    };

    // Signed in on A, then read on B until B serves it from memory (once B's listener has heard
    // its own probe come back).
    let laptop = a.new_browser();
    let cookie = session_set_cookie(&a.sign_in_github(&laptop, "github").await).expect("a session cookie");
    let from_memory = eventually(Duration::from_secs(5), async || {
        assert_eq!(me_on_b(cookie.clone()).await, 200);
        let metrics = reqwest::get(format!("{b}/metrics")).await.unwrap().text().await.unwrap();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(r#"gatehouse_session_cache_lookups_total{result="hit"} "#))
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|hits| hits > 0)
    })
    .await;
    assert!(from_memory.is_some(), "B never served the session from memory");

    // Signed out on A: B refuses its copy of the cookie.
    assert_eq!(laptop.post("/logout").await.status(), 303);
    let after_sign_out = refused_within(cookie, Duration::from_secs(1)).await;

    // An admin ends a session in SQL: B refuses it too.
    let phone = a.new_browser();
    let cookie = session_set_cookie(&a.sign_in_github(&phone, "github").await).expect("a session cookie");
    assert_eq!(me_on_b(cookie.clone()).await, 200);
    assert_eq!(me_on_b(cookie.clone()).await, 200, "now from B's memory");
    a.db.execute("DELETE FROM sessions");
    let after_delete = refused_within(cookie, Duration::from_secs(1)).await;
    assert_eq!(phone.me().await, Err(401), "A refuses it as well");
    eprintln!(
        "ended session refused on the other instance after {after_sign_out:?} (sign-out) and {after_delete:?} (SQL)"
    );
}
