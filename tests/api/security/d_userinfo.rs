//! D. UserInfo (cases 21–23).

use serde_json::json;

use super::*;
use crate::on_both_backends;
use crate::scripted_op::Plan;

fn userinfo(status: u16, content_type: &'static str, body: Vec<u8>) -> impl FnOnce(&mut Plan) {
    move |p: &mut Plan| p.userinfo_answer = Some((status, content_type, body))
}

on_both_backends! {
    async fn case_21_22_userinfo_subject_and_transport_errors(backend: Backend) {
        let rig = rig(backend).await;
        let cases: Vec<(&str, u16, &'static str, Vec<u8>)> = vec![
            ("21 sub missing", 200, "application/json", json!({"name": "x"}).to_string().into_bytes()),
            ("21 another sub", 200, "application/json", json!({"sub": "someone-else"}).to_string().into_bytes()),
            ("22 401 invalid_token", 401, "application/json", b"{}".to_vec()),
            ("22 500", 500, "text/plain", b"boom".to_vec()),
            ("22 HTML with 200", 200, "text/html", b"<html>hi</html>".to_vec()),
            ("22 truncated JSON", 200, "application/json", b"{\"sub\": \"scr".to_vec()),
            ("22 10 MB body", 200, "application/json", vec![b' '; 10 << 20]),
            ("22 a redirect", 302, "text/plain", Vec::new()),
        ];
        for (why, status, ct, body) in cases {
            rig.op.plan(|p| *p = Plan::default());
            rig.op.plan(userinfo(status, ct, body));
            let calls = rig.assert_refused(502, why).await;
            assert_eq!(calls.userinfo, 1, "{why}");
        }
    }
}

#[actix_web::test]
async fn case_21_the_access_token_goes_in_the_bearer_header_only() {
    let rig = rig(Backend::Sqlite).await;
    assert_eq!(rig.attempt().await.1.status(), 303);
    let request = rig.op.seen().into_iter().find(|r| r.path == "/userinfo").unwrap();
    assert!(request.authorization.as_deref().is_some_and(|a| a.starts_with("Bearer scripted-access-")));
    assert!(!request.query.contains("access_token") && request.body.is_empty());
}

#[actix_web::test]
async fn case_23_hostile_claim_values_are_cleaned_before_they_are_stored() {
    let rig = rig(Backend::Postgres).await;
    rig.op.plan(userinfo(
        200,
        "application/json",
        json!({"sub": "scripted-user-1", "name": "Eve\u{0}\u{202e}lyn", "email": format!("{}@x.test", "a".repeat(10_000)),
               "picture": "javascript:alert(1)"})
        .to_string()
        .into_bytes(),
    ));
    let (browser, res) = rig.attempt().await;
    assert_eq!(res.status(), 303, "NUL in a name must not reach PostgreSQL as a 500");
    let me = browser.me().await.unwrap();
    assert_eq!(me["name"], "Evelyn", "control and bidi characters removed");
    assert_eq!(me["avatar_url"], serde_json::Value::Null, "only https avatars");
    assert!(me["email"].as_str().is_none_or(|e| e.len() <= 320), "the 10 KB userinfo email was dropped");
}

/// `email_verified` as providers really send it: `true` or the string `"true"` (Amazon Cognito,
/// some Keycloak and Okta mappers) is verified; anything else is unverified, never a 502.
#[actix_web::test]
async fn case_23_email_verified_true_or_the_string_true_and_nothing_else() {
    let cases =
        [(json!("true"), true), (json!(true), true), (json!("false"), false), (json!(1), false), (json!("yes"), false)];
    for (verified, expected) in cases {
        let rig = rig(Backend::Sqlite).await;
        rig.op.plan(|p| p.claims.push(("email_verified", json!(false))));
        rig.op.plan(userinfo(
            200,
            "application/json",
            json!({"sub": "scripted-user-1", "email": "v@x.test", "email_verified": verified}).to_string().into_bytes(),
        ));
        let (browser, res) = rig.attempt().await;
        assert_eq!(res.status(), 303, "userinfo {verified}");
        let me = browser.me().await.unwrap();
        assert_eq!(me["identities"][0]["email_verified"], expected, "userinfo {verified}");
    }
    // In the signed ID token (no userinfo override): the strings "true" and "false".
    for (verified, expected) in [(json!("true"), true), (json!("false"), false)] {
        let rig = rig(Backend::Sqlite).await;
        rig.op.plan(|p| p.claims.push(("email_verified", verified.clone())));
        rig.op.plan(userinfo(200, "application/json", json!({"sub": "scripted-user-1"}).to_string().into_bytes()));
        let (browser, res) = rig.attempt().await;
        assert_eq!(res.status(), 303, "ID token {verified}");
        let me = browser.me().await.unwrap();
        assert_eq!(me["identities"][0]["email_verified"], expected, "ID token {verified}");
    }
    // The known limit: openidconnect types the claim before the signature is checked, so any
    // other value in a signed ID token is a malformed token (502), not an unverified email.
    let rig = rig(Backend::Sqlite).await;
    rig.op.plan(|p| p.claims.push(("email_verified", json!("yes"))));
    let (browser, res) = rig.attempt().await;
    assert_eq!(res.status(), 502, "ID token \"yes\"");
    assert_eq!(browser.me().await, Err(401));
}
