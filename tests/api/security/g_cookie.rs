//! G. Session cookie (cases 37–42) and H. logout (43–46).

use super::*;

#[actix_web::test]
async fn case_38_sign_in_replaces_the_pre_login_session() {
    let rig = rig(Backend::Sqlite).await;
    let browser = rig.app.new_browser();
    let res = browser.get("/authorize/op").await;
    let planted = set_cookie_headers(&res).into_iter().next().unwrap();
    let planted_value = planted.split(';').next().unwrap().to_string();
    let callback = location(&browser.get(&location(&res)).await);
    let res = browser.get(&callback).await;
    let signed_in = set_cookie_headers(&res).into_iter().next().unwrap();
    assert_ne!(signed_in.split(';').next().unwrap(), planted_value, "a new session value at sign-in");
    // The pre-login cookie alone is not a session.
    let other = rig.app.new_browser();
    let res = other.client.get(other.url("/api/me")).header("Cookie", &planted_value).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[actix_web::test]
async fn case_39_forged_or_damaged_cookies_are_signed_out_not_errors() {
    let rig = rig(Backend::Sqlite).await;
    let (browser, _) = rig.attempt().await;
    let res = browser.get("/api/me").await;
    assert_eq!(res.status(), 200);
    let good = {
        let res = browser.get("/authorize/op").await; // any response that rewrites the cookie
        set_cookie_headers(&res)
            .into_iter()
            .next()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string()
    };
    let mut flipped = good.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for value in
        [flipped, good[..good.len() / 2].to_string(), String::new(), "x".repeat(5000), "%%%not-base64%%%".into()]
    {
        let stranger = rig.app.new_browser();
        let res = stranger
            .client
            .get(stranger.url("/api/me"))
            .header("Cookie", format!("gatehouse={value}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{}", &value[..value.len().min(20)]);
    }
}

#[actix_web::test]
async fn case_41_a_deleted_user_is_signed_out_on_the_next_request() {
    let rig = rig(Backend::Sqlite).await;
    let (browser, _) = rig.attempt().await;
    assert!(browser.me().await.is_ok());
    // Deleted behind the app's back (an admin with SQL): the account cache hears of it within
    // one poll of the database (50 ms); deletion through the app is immediate (account_cache.rs).
    rig.app.db.execute("DELETE FROM users");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(browser.me().await, Err(401));
    assert_eq!(location(&browser.get("/profile").await), "/login?next=%2Fprofile");
}

#[actix_web::test]
async fn case_41_the_absolute_lifetime_is_enforced_whatever_the_cookie_says() {
    let rig = rig(Backend::Sqlite).await;
    let (browser, _) = rig.attempt().await;
    let id = browser.me().await.unwrap()["id"].as_i64().unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    // SESSION_TTL_DAYS is 30: a day before the deadline works, a day after does not, and a
    // session without a sign-in time was not signed in by gatehouse.
    for (issued, expected) in [(Some(29), 200), (Some(31), 401), (None, 401)] {
        let mut state = vec![("_gh.uid", serde_json::json!(id.to_string()))];
        if let Some(days_ago) = issued {
            state.push(("_gh.issued_ms", serde_json::json!(now_ms - days_ago * 86_400_000)));
        }
        let res = rig
            .app
            .browser
            .client
            .get(rig.app.browser.url("/api/me"))
            .header("Cookie", format!("gatehouse={}", seal_session(&state)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "signed in {issued:?} days ago");
    }
}

#[actix_web::test]
async fn case_41_a_session_from_before_the_short_state_names_stays_signed_in_within_its_lifetime() {
    let rig = rig(Backend::Sqlite).await;
    let (browser, _) = rig.attempt().await;
    let id = browser.me().await.unwrap()["id"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    // The layout of a cookie written before the upgrade: actix-identity's default names, and
    // its login time as the only sign-in time (sessions older than `gatehouse.issued_ms`).
    for (days_ago, expected) in [(29, 200), (31, 401)] {
        let sealed = seal_session(&[
            ("actix_identity.user_id", serde_json::json!(id.to_string())),
            ("actix_identity.logged_in_at", serde_json::json!(now - days_ago * 86_400)),
            ("gatehouse.provider", serde_json::json!("op")),
        ]);
        let stranger = rig.app.new_browser();
        let cookie = format!("gatehouse={sealed}");
        let res = stranger.client.get(stranger.url("/api/me")).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(res.status(), expected, "signed in {days_ago} days ago");
        if expected == 200 {
            // Renamed on the way: the cookie comes back in the new layout, and works.
            let renewed = session_set_cookie(&res).expect("the renamed state is written back");
            let state = unseal_session(renewed.trim_start_matches("gatehouse=")).expect("it opens");
            assert!(state.contains("_gh.uid") && state.contains("_gh.issued_ms") && state.contains("_gh.provider"));
            assert!(!state.contains("actix_identity") && !state.contains("gatehouse."), "{state}");
            let again = stranger.client.get(stranger.url("/api/me")).header("Cookie", &renewed).send().await.unwrap();
            assert_eq!(again.status(), 200);
        }
    }
}

#[actix_web::test]
async fn case_45_46_logout_method_idempotence_and_caching() {
    let rig = rig(Backend::Sqlite).await;
    let browser = rig.app.new_browser();
    let res = browser.post("/logout?next=https://evil.example").await;
    assert_eq!(res.status(), 303, "signed out already: no error");
    assert_eq!(location(&res), "/", "a next on logout is ignored");
    let (browser, _) = rig.attempt().await;
    for path in ["/profile", "/api/me"] {
        assert_eq!(browser.get(path).await.headers()["cache-control"], "no-store", "{path}");
    }
}
