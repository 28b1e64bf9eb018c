//! I. Provider errors, timeouts and malformed responses (cases 47–52).

use serde_json::json;

use super::*;
use crate::scripted_op::Plan;

async fn callback_url(browser: &Browser) -> String {
    let res = browser.get("/authorize/op").await;
    location(&browser.get(&location(&res)).await)
}

#[actix_web::test]
async fn case_47_error_responses_are_generic_and_escaped() {
    let rig = rig(Backend::Sqlite).await;
    let browser = rig.app.new_browser();
    let state = query_param(&callback_url(&browser).await, "state").unwrap();
    let res = browser
        .get(&format!(
            "/callback/op?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_uri=javascript%3Aalert(1)&state={state}"
        ))
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("was cancelled"));
    assert!(!page.contains("<script>alert") && !page.contains("javascript:"), "{page}");
    // Without a valid state: the same generic page, not attributed to the provider.
    let res = rig.app.new_browser().get("/callback/op?error=access_denied&state=forged").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not valid or was already used"));
    assert_eq!(rig.op.calls().token, 0);
}

#[actix_web::test]
async fn case_48_bad_code_shapes_make_no_token_request() {
    let rig = rig(Backend::Sqlite).await;
    for code in ["", "&code=", &format!("&code={}", "c".repeat(10_000)), "&code=a&code=b", "&code=a&error=x"] {
        let browser = rig.app.new_browser();
        let callback = callback_url(&browser).await;
        let state = query_param(&callback, "state").unwrap();
        let res = browser.get(&format!("/callback/op?state={state}{code}")).await;
        assert_eq!(res.status(), 400, "{code:.40}");
    }
    assert_eq!(rig.op.calls().token, 0, "NOTOKEN");
}

#[actix_web::test]
async fn case_49_token_endpoint_refusals() {
    let rig = rig(Backend::Sqlite).await;
    let cases = [
        (400, json!({"error": "invalid_grant", "error_description": "<b>expired</b>\r\nInjected: yes"}), 400),
        (401, json!({"error": "invalid_client"}), 502),
    ];
    for (status, body, expected) in cases {
        rig.op.plan(|p| p.token_answer = Some((status, "application/json", body.to_string().into_bytes())));
        let (_, res) = rig.attempt().await;
        assert_eq!(res.status(), expected, "{body}");
        let page = res.text().await.unwrap();
        assert!(!page.contains("<b>expired") && !page.contains("Injected"), "not reflected");
    }
    // Client authentication is client_secret_basic.
    rig.op.plan(|p| *p = Plan::default());
    rig.attempt().await;
    let token = rig.op.seen().into_iter().rfind(|r| r.path == "/token").unwrap();
    assert_eq!(token.method, "POST");
    assert!(token.authorization.unwrap().starts_with("Basic "));
    assert!(!token.body.contains("client_secret"));
}

#[actix_web::test]
async fn case_51_malformed_200_answers_are_502() {
    let rig = rig(Backend::Sqlite).await;
    let answers: Vec<(u16, &'static str, Vec<u8>)> = vec![
        (200, "text/html", b"<html>not json</html>".to_vec()),
        (200, "application/json", Vec::new()),
        (200, "application/json", b"{\"access_token\": \"a".to_vec()),
        (200, "application/json", b"[]".to_vec()),
        (
            200,
            "application/json",
            b"{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":\"abc\"}".to_vec(),
        ),
        (200, "application/json", vec![b' '; 10 << 20]),
        (302, "text/plain", Vec::new()),
    ];
    for answer in answers {
        let what = format!("{} {:.30}", answer.0, String::from_utf8_lossy(&answer.2));
        rig.op.plan(|p| p.token_answer = Some(answer));
        let (browser, res) = rig.attempt().await;
        assert_eq!(res.status(), 502, "{what}");
        assert_eq!(browser.me().await, Err(401));
    }
    assert_eq!(rig.op.calls().userinfo, 0);
}

#[actix_web::test]
async fn case_52_rfc_9207_issuer_in_the_authorization_response() {
    let rig = rig(Backend::Sqlite).await;
    rig.op.plan(|p| p.iss_parameter = true);
    // Fresh metadata that advertises the parameter.
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(rig.op.env("op"))).await;
    assert_eq!(sign_in_auto(&app.new_browser(), "op").await.status(), 303, "the right iss is accepted");
    let issuer = rig.op.issuer.clone();
    for (why, change) in [
        ("missing", None),
        ("another issuer", Some("https://accounts.google.com".to_string())),
        ("trailing slash", Some(format!("{issuer}/"))),
    ] {
        let browser = app.new_browser();
        let res = browser.get("/authorize/op").await;
        let callback = location(&browser.get(&location(&res)).await);
        let tampered = match &change {
            None => {
                let mut u = url::Url::parse(&callback).unwrap();
                let pairs: Vec<_> = u
                    .query_pairs()
                    .filter(|(k, _)| k != "iss")
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
                u.to_string()
            }
            Some(iss) => with_param(&callback, "iss", iss),
        };
        let before = rig.op.calls().token;
        let res = browser.get(&tampered).await;
        assert_eq!(res.status(), 400, "{why}");
        assert_eq!(rig.op.calls().token, before, "{why}: rejected before any token request");
    }
}

#[actix_web::test]
async fn case_50_a_tls_failure_is_a_gateway_error_never_a_downgrade() {
    // An https token URL on a port that speaks plain HTTP: the handshake fails.
    let github = GithubStandIn::start();
    let plain = github.base.trim_start_matches("http://").to_string();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .github("github", &github)
            .var("OAUTH_GITHUB_TOKEN_URL", format!("https://{plain}/login/oauth/access_token")),
    )
    .await;
    let callback = app.github_callback_url(&app.browser, "github", "/").await;
    let res = app.browser.get(&callback).await;
    assert!(matches!(res.status().as_u16(), 502 | 503), "{}", res.status());
    assert_eq!(github.calls().0, 0, "no plain-http retry");
    assert_eq!(app.browser.me().await, Err(401));
}

#[actix_web::test]
async fn case_66_a_hanging_provider_does_not_block_other_requests() {
    let rig = rig(Backend::Sqlite).await;
    rig.op.script(crate::scripted_op::Script::TokenSlow);
    let browser = rig.app.new_browser();
    let res = browser.get("/authorize/op").await;
    let callback = location(&browser.get(&location(&res)).await);
    let hanging = browser.get(&callback);
    let others = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let started = std::time::Instant::now();
        for _ in 0..20 {
            assert_eq!(rig.app.new_browser().get("/login").await.status(), 200);
        }
        started.elapsed()
    };
    let (res, elapsed) = futures_util::future::join(hanging, others).await;
    assert!(elapsed < std::time::Duration::from_secs(2), "/login stayed fast while a callback hung: {elapsed:?}");
    assert_eq!(res.status(), 504);
}
