//! Sessions that were ended stay ended, writes happen only when something changed, anonymous
//! sessions are short-lived in every store, and the cookie fits in a browser whatever the
//! visitor does.

use std::time::Duration;

use redis::AsyncCommands;

use crate::helpers::*;

fn store_opts<'a>(store: &'a str, backend: Backend, github: &'a GithubStandIn) -> AppOptions<'a> {
    AppOptions::new(backend).github("github", github).session_store(store)
}

/// The attacker's view: a stolen (or just busy) cookie keeps many requests in flight — sign-ins
/// that write a pending flow, reads that note the visit — while its owner signs out everywhere
/// from another browser. Every cookie any of those requests handed out afterwards must be refused.
async fn ended_sessions_stay_ended(store: &str, backend: Backend) {
    let github = GithubStandIn::start();
    // A one-minute idle limit notes a visit once the noted one is 6 s old (the first round waits
    // that long, so its reads write too).
    let app = spawn_app(
        store_opts(store, backend, &github).var("SESSION_IDLE_MINUTES", "1").var("RATE_LIMIT_PER_MINUTE", "0"),
    )
    .await;
    let owner = app.new_browser();
    app.sign_in_github(&owner, "github").await;

    let (mut handed_out, mut racing_cookies, mut racing_visits) = (Vec::new(), 0, 0);
    for round in 0..16 {
        let stolen = app.new_browser();
        let res = app.sign_in_github(&stolen, "github").await;
        let cookie = session_set_cookie(&res).expect("a session cookie");
        if round == 0 {
            actix_web::rt::time::sleep(Duration::from_millis(6_100)).await;
        }
        let requests: Vec<_> = (0..32)
            .map(|i| {
                // Not following redirects: a sign-in's answer is the one that wrote the session.
                let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
                let url = app.addr.clone();
                let cookie = cookie.clone();
                // Half start a sign-in (which writes a pending flow), half just read.
                let path = if i % 2 == 0 { "/authorize/github" } else { "/api/me" };
                actix_web::rt::spawn(async move {
                    let res = client.get(format!("{url}{path}")).header("Cookie", cookie).send().await.unwrap();
                    (path, res.status().as_u16(), session_set_cookie(&res))
                })
            })
            .collect();
        actix_web::rt::time::sleep(Duration::from_millis(round % 8)).await;
        assert_eq!(owner.post("/profile/sessions/end-all").await.status(), 303, "{store}");
        app.sign_in_github(&owner, "github").await;
        for request in requests {
            let (path, status, set_cookie) = request.await.unwrap();
            assert!(status < 500, "{store}: a request racing the sign-out answered {status}");
            racing_cookies += usize::from(set_cookie.is_some());
            racing_visits += usize::from(set_cookie.is_some() && path == "/api/me");
            handed_out.extend(set_cookie);
        }
        handed_out.push(cookie);
    }
    assert!(racing_cookies > 0, "{store}: none of the racing requests wrote its session");
    assert!(racing_visits > 0, "{store}: no racing read noted its visit");
    for cookie in &handed_out {
        let res =
            reqwest::Client::new().get(format!("{}/api/me", app.addr)).header("Cookie", cookie).send().await.unwrap();
        assert_eq!(res.status(), 401, "{store}: a cookie handed out while the session was ended still signs in");
    }
}

#[actix_web::test]
async fn database_sessions_ended_elsewhere_stay_ended_on_sqlite() {
    ended_sessions_stay_ended("database", Backend::Sqlite).await;
}

#[actix_web::test]
async fn database_sessions_ended_elsewhere_stay_ended_on_postgres() {
    ended_sessions_stay_ended("database", Backend::Postgres).await;
}

#[actix_web::test]
async fn redis_sessions_ended_elsewhere_stay_ended() {
    ended_sessions_stay_ended("redis", Backend::Sqlite).await;
}

/// The same race made certain: a signed-in browser's request is held up at the provider (a
/// callback whose token request takes 600 ms, then fails) while the user signs out everywhere
/// from another browser. The request changed the session (it took its pending flow), so it
/// writes it when it ends: it must end signed out.
async fn a_request_outliving_the_sign_out_ends_signed_out(store: &str) {
    use crate::scripted_op::ScriptedOp;
    let op = ScriptedOp::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op")).session_store(store)).await;
    let (owner, stolen) = (app.new_browser(), app.new_browser());
    assert_eq!(sign_in_auto(&owner, "op").await.status(), 303);
    assert_eq!(sign_in_auto(&stolen, "op").await.status(), 303);
    let res = stolen.get("/authorize/op").await;
    let callback = location(&stolen.get(&location(&res)).await);
    op.plan(|p| {
        p.token_delay = Some(Duration::from_millis(600));
        p.token_answer = Some((400, "application/json", br#"{"error":"invalid_grant"}"#.to_vec()));
    });
    let slow = {
        let (client, url) = (stolen.client.clone(), callback.clone());
        actix_web::rt::spawn(async move { client.get(url).send().await.unwrap() })
    };
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(owner.post("/profile/sessions/end-all").await.status(), 303);
    let res = slow.await.unwrap();
    assert!(res.status().is_client_error(), "{store}: the failed callback answered {}", res.status());
    assert_eq!(
        stolen.me().await,
        Err(401),
        "{store}: the request that outlived the sign-out signed the browser in again"
    );
    if let Some(cookie) = session_set_cookie(&res) {
        let res =
            reqwest::Client::new().get(format!("{}/api/me", app.addr)).header("Cookie", cookie).send().await.unwrap();
        assert_eq!(res.status(), 401, "{store}");
    }
}

#[actix_web::test]
async fn a_database_request_outliving_the_sign_out_ends_signed_out() {
    a_request_outliving_the_sign_out_ends_signed_out("database").await;
}

#[actix_web::test]
async fn a_redis_request_outliving_the_sign_out_ends_signed_out() {
    a_request_outliving_the_sign_out_ends_signed_out("redis").await;
}

/// A signed-in visitor reading pages costs reads only.
async fn page_views_write_nothing(store: &str) {
    let github = GithubStandIn::start();
    let app = spawn_app(store_opts(store, Backend::Sqlite, &github)).await;
    app.sign_in_github(&app.browser, "github").await;
    app.browser.get("/").await; // takes nothing: there is no notice pending
    let before = metric(&app, "gatehouse_session_store_writes_total").await;
    assert!(before >= 1.0, "{store}: signing in wrote the session");
    for path in ["/", "/", "/profile", "/api/me", "/login", "/", "/static/style.css"] {
        assert!(app.browser.get(path).await.status().as_u16() < 400, "{store}: {path}");
    }
    assert_eq!(metric(&app, "gatehouse_session_store_writes_total").await, before, "{store}: page views wrote");

    // A notice is written once and taken once.
    assert_eq!(app.browser.post("/logout").await.status(), 303);
    let after_logout = metric(&app, "gatehouse_session_store_writes_total").await;
    assert!(app.browser.get("/").await.text().await.unwrap().contains("signed out"));
    app.browser.get("/").await;
    assert_eq!(metric(&app, "gatehouse_session_store_writes_total").await, after_logout + 1.0, "{store}");
}

#[actix_web::test]
async fn signed_in_page_views_write_nothing_to_the_database_store() {
    page_views_write_nothing("database").await;
}

#[actix_web::test]
async fn signed_in_page_views_write_nothing_to_redis() {
    page_views_write_nothing("redis").await;
}

/// With an idle limit a visit is noted at most once a minute: within the minute after the
/// sign-in, pages and the gate's `/verify` write nothing and hand out no new cookie.
async fn with_an_idle_limit_visits_within_a_minute_write_nothing(store: &str) {
    let github = GithubStandIn::start();
    let app = spawn_app(store_opts(store, Backend::Sqlite, &github).var("SESSION_IDLE_MINUTES", "60")).await;
    app.sign_in_github(&app.browser, "github").await;
    app.browser.get("/").await;
    let before = metric(&app, "gatehouse_session_store_writes_total").await;
    for path in ["/", "/profile", "/api/me", "/verify", "/verify", "/"] {
        let res = app.browser.get(path).await;
        assert!(res.status().as_u16() < 400, "{store}: {path}");
        assert_eq!(session_set_cookie(&res), None, "{store}: {path} handed out a new cookie");
    }
    assert_eq!(metric(&app, "gatehouse_session_store_writes_total").await, before, "{store}: visits wrote");
}

#[actix_web::test]
async fn with_an_idle_limit_visits_within_a_minute_write_nothing_to_the_database_store() {
    with_an_idle_limit_visits_within_a_minute_write_nothing("database").await;
}

#[actix_web::test]
async fn with_an_idle_limit_visits_within_a_minute_hand_out_no_new_cookie() {
    with_an_idle_limit_visits_within_a_minute_write_nothing("cookie").await;
}

fn max_age(res: &reqwest::Response) -> i64 {
    let cookie = set_cookie_headers(res).into_iter().find(|c| c.starts_with("gatehouse=")).expect("a session cookie");
    cookie
        .split(';')
        .find_map(|a| a.trim().strip_prefix("Max-Age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Max-Age: {cookie}"))
}

const FIFTEEN_MINUTES: i64 = 15 * 60;
const THIRTY_DAYS: i64 = 30 * 86_400;

/// Seconds the session behind `cookie` has left, as the store itself keeps it.
async fn stored_ttl(app: &TestApp, store: &str, cookie: &str) -> i64 {
    let key = unseal_session(cookie.trim_start_matches("gatehouse=")).expect("the cookie opens");
    match store {
        "redis" => {
            let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
            redis.ttl(&key).await.unwrap()
        }
        _ => {
            use sha2::Digest;
            let id: String = sha2::Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            app.db.seconds_left(&id)
        }
    }
}

async fn anonymous_sessions_are_short_lived(store: &str, backend: Backend) {
    let github = GithubStandIn::start();
    let app = spawn_app(store_opts(store, backend, &github)).await;
    let res = app.browser.get("/authorize/github").await;
    assert_eq!(res.status(), 303);
    assert!(max_age(&res) <= FIFTEEN_MINUTES, "{store}: the browser keeps a pending sign-in for {}", max_age(&res));
    if store != "cookie" {
        let cookie = session_set_cookie(&res).unwrap();
        let left = stored_ttl(&app, store, &cookie).await;
        assert!((1..=FIFTEEN_MINUTES).contains(&left), "{store}: the store keeps a pending sign-in for {left} s");
    }

    // Signing in gives the session its full lifetime.
    let res = browser_finish_github(&app).await;
    assert!(max_age(&res) > THIRTY_DAYS - 60, "{store}: a signed-in cookie lives {}", max_age(&res));
    if store != "cookie" {
        let cookie = session_set_cookie(&res).unwrap();
        let left = stored_ttl(&app, store, &cookie).await;
        assert!(left > THIRTY_DAYS - 60, "{store}: the store keeps a signed-in session for {left} s");
    }

    // A signed-out browser's notice is anonymous again.
    let res = app.browser.post("/logout").await;
    assert!(max_age(&res) <= FIFTEEN_MINUTES, "{store}: after sign-out the cookie lives {}", max_age(&res));
}

/// The rest of a GitHub sign-in whose `/authorize` the browser already visited.
async fn browser_finish_github(app: &TestApp) -> reqwest::Response {
    let res = app.browser.get("/authorize/github").await;
    let res = app.browser.get(&location(&res)).await;
    app.browser.get(&location(&res)).await
}

#[actix_web::test]
async fn anonymous_cookie_sessions_are_short_lived() {
    anonymous_sessions_are_short_lived("cookie", Backend::Sqlite).await;
}

#[actix_web::test]
async fn anonymous_redis_sessions_are_short_lived() {
    anonymous_sessions_are_short_lived("redis", Backend::Sqlite).await;
}

#[actix_web::test]
async fn anonymous_database_sessions_are_short_lived_on_sqlite() {
    anonymous_sessions_are_short_lived("database", Backend::Sqlite).await;
}

#[actix_web::test]
async fn anonymous_database_sessions_are_short_lived_on_postgres() {
    anonymous_sessions_are_short_lived("database", Backend::Postgres).await;
}

/// Whatever `next` a visitor sends and however many sign-ins they start, the cookie stays
/// under the browser's 4,096-byte limit and `/authorize` never fails; the newest flow still
/// completes, landing at its `next` when that fitted and at `/` when it did not.
#[actix_web::test]
async fn the_session_cookie_stays_under_the_browser_limit() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
    let b = &app.browser;
    for (starts, next_len) in [(2, 2_000), (5, 500), (6, 2_040), (3, 60)] {
        let next = format!("/{}", "n".repeat(next_len - 1));
        let mut last = None;
        for _ in 0..starts {
            let res = b.get(&format!("/authorize/github?next={next}")).await;
            assert_eq!(res.status(), 303, "next of {next_len} bytes");
            for cookie in set_cookie_headers(&res) {
                assert!(cookie.len() < 4_096, "a {}-byte Set-Cookie (next of {next_len} bytes)", cookie.len());
            }
            last = Some(location(&res));
        }
        let res = b.get(&last.unwrap()).await;
        let done = b.get(&location(&res)).await;
        assert_eq!(done.status(), 303, "the newest sign-in completes (next of {next_len} bytes)");
        let landed = location(&done);
        assert!(landed == next || landed == "/", "landed at {landed}");
        if next_len <= 500 {
            assert_eq!(landed, next, "a next that fits is kept");
        }
        assert_eq!(b.post("/logout").await.status(), 303);
    }
}

/// A session whose stored state does not parse (an older format, a hand edit) is a fresh
/// session, as actix-session treats it — not a store outage that locks the browser out.
#[actix_web::test]
async fn an_unreadable_stored_session_starts_afresh() {
    let github = GithubStandIn::start();
    let app = spawn_app(store_opts("database", Backend::Sqlite, &github)).await;
    app.sign_in_github(&app.browser, "github").await;
    app.db.execute("UPDATE sessions SET state = 'not json'");
    assert_eq!(app.browser.me().await, Err(401), "signed out, not 503");
    assert_eq!(app.browser.get("/").await.status(), 200);
    assert_eq!(app.sign_in_github(&app.browser, "github").await.status(), 303, "and can sign in again");
}
