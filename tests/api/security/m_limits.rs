//! M. Denial of service and size limits (cases 65–67).

use super::*;

#[actix_web::test]
async fn case_65_pending_flows_are_capped_and_authorize_is_rate_limited() {
    let op = crate::scripted_op::ScriptedOp::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op")).var("RATE_LIMIT_PER_MINUTE", "20")).await;
    let browser = app.new_browser();
    let mut limited = None;
    for i in 0..40 {
        let res = browser.get("/authorize/op").await;
        if res.status() == 429 {
            limited = Some((i, res));
            break;
        }
        for cookie in set_cookie_headers(&res) {
            assert!(cookie.len() < 4096, "the session cookie stays under 4 KB ({} bytes)", cookie.len());
        }
    }
    let (after, res) = limited.expect("a 429 within 40 requests at 20 per minute");
    assert!(after >= 20);
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
}

#[actix_web::test]
async fn case_66_a_callback_flood_makes_no_token_requests() {
    let rig = rig(Backend::Sqlite).await;
    let mut statuses = std::collections::BTreeSet::new();
    for i in 0..80 {
        let res = rig.app.browser.get(&format!("/callback/op?code=c{i}&state=s{i}")).await;
        statuses.insert(res.status().as_u16());
    }
    assert_eq!(rig.op.calls().token, 0);
    assert!(statuses.contains(&429), "the per-client limit applies: {statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, 400 | 429)), "{statuses:?}");
}

#[actix_web::test]
async fn case_67_oversized_requests_get_a_quick_4xx() {
    let rig = rig(Backend::Sqlite).await;
    let b = &rig.app.browser;
    let long_uri = format!("/login?next=/{}", "a".repeat(40_000));
    let big_cookie = format!("gatehouse={}", "x".repeat(40_000));
    let many_cookies = (0..200).map(|i| format!("c{i}=v")).collect::<Vec<_>>().join("; ");
    let responses = [
        b.client.get(b.url(&long_uri)).send().await,
        b.client.get(b.url("/api/me")).header("Cookie", big_cookie).send().await,
        b.client.get(b.url("/api/me")).header("Cookie", many_cookies).send().await,
        b.client.post(b.url("/logout")).body(vec![b'x'; 64 * 1024]).send().await,
    ];
    for (i, res) in responses.into_iter().enumerate() {
        // A reset connection is a refusal too; a 5xx or a panic is not.
        if let Ok(res) = res {
            assert!(res.status().as_u16() < 500, "request {i}: {}", res.status());
        }
    }
    assert_eq!(b.get("/healthz").await.status(), 200, "still serving");
}
