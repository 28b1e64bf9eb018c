//! One behaviour suite run against every session store: cookie, Redis and the database
//! (on SQLite and PostgreSQL).

use std::time::Duration;

use crate::helpers::*;

fn session_cookie(res: &reqwest::Response) -> String {
    session_set_cookie(res).expect("a session cookie")
}

async fn replay(app: &TestApp, cookie: &str) -> u16 {
    let stranger = app.new_browser();
    stranger.client.get(stranger.url("/api/me")).header("Cookie", cookie).send().await.unwrap().status().as_u16()
}

async fn store_suite(store: &str, backend: Backend) {
    let github = GithubStandIn::start();
    let mut app = spawn_app(AppOptions::new(backend).github("github", &github).session_store(store)).await;

    let res = app.sign_in_github(&app.browser, "github").await;
    let cookie = session_cookie(&res);
    let me = app.browser.me().await.expect("signed in");
    if store != "cookie" {
        assert!(cookie.len() < 200, "{store}: the cookie holds only a key ({} bytes)", cookie.len());
    }

    // Remembered across a restart.
    app.restart().await;
    assert_eq!(app.browser.me().await.unwrap(), me, "{store}");
    assert_eq!(replay(&app, &cookie).await, 200, "{store}: a copy works while the session lives");

    // Sign-out: server-side stores refuse the copied cookie from now on.
    assert_eq!(app.browser.post("/logout").await.status(), 303);
    assert_eq!(app.browser.me().await, Err(401));
    let expected = if store == "cookie" { 200 } else { 401 };
    assert_eq!(replay(&app, &cookie).await, expected, "{store}: replay after sign-out");
}

#[actix_web::test]
async fn cookie_store() {
    // The known limit of the cookie store, kept visible: a copy outlives sign-out.
    store_suite("cookie", Backend::Sqlite).await;
}

#[actix_web::test]
async fn redis_store() {
    store_suite("redis", Backend::Sqlite).await;
}

#[actix_web::test]
async fn database_store_on_sqlite() {
    store_suite("database", Backend::Sqlite).await;
}

#[actix_web::test]
async fn database_store_on_postgres() {
    store_suite("database", Backend::Postgres).await;
}

#[actix_web::test]
async fn deleting_a_user_ends_their_database_sessions() {
    let github = GithubStandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Postgres).github("github", &github).var("SESSION_STORE", "database")).await;
    app.sign_in_github(&app.browser, "github").await;
    assert!(app.browser.me().await.is_ok());
    app.db.execute("DELETE FROM users");
    assert_eq!(app.db.count("sessions"), 0, "the user's sessions went with the user");
    // A change made in SQL reaches the in-memory account (and session) copies through NOTIFY,
    // within moments: the account being gone is enough to refuse the session.
    let signed_out = eventually(Duration::from_secs(1), async || app.browser.me().await == Err(401)).await;
    assert!(signed_out.is_some(), "still signed in a second after the user was deleted");
}

#[actix_web::test]
async fn an_idle_session_expires() {
    let github = GithubStandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).var("SESSION_IDLE_MINUTES", "5")).await;
    app.sign_in_github(&app.browser, "github").await;
    let id = app.browser.me().await.unwrap()["id"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    for (idle_secs, expected) in [(240, 200), (360, 401)] {
        let sealed = seal_session(&[
            ("_gh.uid", serde_json::json!(id.to_string())),
            ("_gh.issued_ms", serde_json::json!((now - 3600) * 1000)),
            ("_gh.seen", serde_json::json!(now - idle_secs)),
        ]);
        assert_eq!(replay(&app, &format!("gatehouse={sealed}")).await, expected, "idle for {idle_secs} s");
        // The same in a cookie from before the short state names: its last visit is kept.
        let legacy = seal_session(&[
            ("actix_identity.user_id", serde_json::json!(id.to_string())),
            ("actix_identity.logged_in_at", serde_json::json!(now - 3600)),
            ("actix_identity.last_visited_at", serde_json::json!(now - idle_secs)),
        ]);
        assert_eq!(replay(&app, &format!("gatehouse={legacy}")).await, expected, "idle for {idle_secs} s (old names)");
    }
}

/// /profile on a server-side store: the user's browsers, each with "sign out", and "sign out
/// everywhere".
async fn session_list_suite(store: &str) {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Postgres).github("github", &github).session_store(store)).await;
    let laptop = app.new_browser();
    let phone = app.new_browser();
    let tablet = app.new_browser();
    for b in [&laptop, &phone, &tablet] {
        app.sign_in_github(b, "github").await;
    }
    let page = laptop.get("/profile").await.text().await.unwrap();
    assert_eq!(page.matches("/end\"").count(), 2, "two other sessions, each with a sign-out button");
    assert!(page.contains("(this browser)"));
    assert_eq!(page.matches("signed in 20").count(), 3, "when each browser signed in: {page}");

    // End the phone's session from the laptop.
    let ids: Vec<String> = page
        .split("action=\"/profile/sessions/")
        .skip(1)
        .filter_map(|s| s.split('/').next().map(str::to_string))
        .filter(|id| id.len() == 64)
        .collect();
    let before = (phone.me().await.is_ok(), tablet.me().await.is_ok());
    assert_eq!(before, (true, true));
    for id in &ids {
        assert_eq!(laptop.post(&format!("/profile/sessions/{id}/end")).await.status(), 303);
    }
    assert_eq!((phone.me().await, tablet.me().await), (Err(401), Err(401)));
    assert!(laptop.me().await.is_ok(), "this browser stays signed in");
    assert_eq!(laptop.post(&format!("/profile/sessions/{}/end", ids[0])).await.status(), 404, "already gone");

    // A browser that signs out by itself leaves the list at once (the list is cached for 2 s).
    app.sign_in_github(&tablet, "github").await;
    assert_eq!(laptop.get("/profile").await.text().await.unwrap().matches("/end\"").count(), 1);
    assert_eq!(tablet.post("/logout").await.status(), 303);
    assert_eq!(laptop.get("/profile").await.text().await.unwrap().matches("/end\"").count(), 0);

    // Everywhere, this browser included.
    app.sign_in_github(&phone, "github").await;
    assert_eq!(laptop.post("/profile/sessions/end-all").await.status(), 303);
    assert_eq!((laptop.me().await, phone.me().await), (Err(401), Err(401)));
    assert!(laptop.get("/").await.text().await.unwrap().contains("signed out on every device"));
}

#[actix_web::test]
async fn the_profile_lists_database_sessions_and_signs_them_out() {
    session_list_suite("database").await;
}

#[actix_web::test]
async fn the_profile_lists_redis_sessions_and_signs_them_out() {
    session_list_suite("redis").await;
}

#[actix_web::test]
async fn deleting_a_user_ends_their_redis_sessions() {
    use redis::AsyncCommands;
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Postgres)
            .github("github", &github)
            .var("SESSION_STORE", "redis")
            .var("REDIS_URL", redis_url()),
    )
    .await;
    let (laptop, phone) = (app.new_browser(), app.new_browser());
    app.sign_in_github(&laptop, "github").await;
    app.sign_in_github(&phone, "github").await;
    let user = laptop.me().await.unwrap()["id"].as_i64().unwrap();
    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let index = format!("{}:user-sessions:{user}", app.vars["REDIS_KEY_PREFIX"]);
    let keys: Vec<String> = redis.zrange(&index, 0, -1).await.unwrap();
    assert_eq!(keys.len(), 2, "both browsers are indexed under the user");

    assert_eq!(laptop.post("/profile/delete").await.status(), 303);
    assert_eq!(phone.me().await, Err(401));
    let left: usize = redis.exists(&keys).await.unwrap();
    assert_eq!(left, 0, "the sessions themselves are gone from Redis");
    assert!(!redis.exists::<_, bool>(&index).await.unwrap(), "and so is the index");
}
