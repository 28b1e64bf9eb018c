//! K. Response headers (cases 59–62).

use super::*;

#[actix_web::test]
async fn case_59_60_61_auth_responses_are_not_cached_framed_or_sniffed() {
    let rig = rig(Backend::Sqlite).await;
    let browser = rig.app.new_browser();
    let mut responses = vec![("/login", browser.get("/login").await)];
    let res = browser.get("/authorize/op").await;
    let callback = location(&browser.get(&location(&res)).await);
    responses.push(("/authorize", res));
    responses.push(("/callback error", rig.app.new_browser().get("/callback/op?state=x&code=y").await));
    responses.push(("/callback", browser.get(&callback).await));
    responses.push(("/profile", browser.get("/profile").await));
    responses.push(("/api/me", browser.get("/api/me").await));
    responses.push(("/logout", browser.post("/logout").await));
    for (what, res) in responses {
        let h = res.headers();
        assert_eq!(h["cache-control"], "no-store", "{what}");
        assert_eq!(h["pragma"], "no-cache", "{what}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{what}");
        if let Some(ct) = h.get("content-type") {
            assert!(ct.to_str().unwrap().contains("charset") || ct == "application/json", "{what}: {ct:?}");
        }
    }
}

#[actix_web::test]
async fn case_61_hsts_on_https() {
    let op = crate::scripted_op::ScriptedOp::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite).provider_env(op.env("op")).var("PUBLIC_URL", "https://gatehouse.test"),
    )
    .await;
    let res = app.browser.get("/login").await;
    assert!(res.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
}

#[actix_web::test]
async fn case_62_guards_answer_by_route_not_by_accept() {
    let rig = rig(Backend::Sqlite).await;
    let c = &rig.app.browser.client;
    let res = c.get(rig.app.browser.url("/api/me")).header("Accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_eq!(res.headers()["content-type"], "application/json");
    let res = c.get(rig.app.browser.url("/profile")).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(res.status(), 303);
    // Signed in, /api/me holds no tokens.
    let (browser, _) = rig.attempt().await;
    let body = browser.get("/api/me").await.text().await.unwrap();
    assert!(!body.contains("scripted-access") && !body.contains("token"), "{body}");
}
