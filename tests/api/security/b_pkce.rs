//! B. PKCE (cases 9–10).

use super::*;
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};

#[test]
fn case_9_rfc_7636_test_vector() {
    let verifier = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    assert_eq!(challenge.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

#[actix_web::test]
async fn case_9_the_authorization_request_carries_no_secrets() {
    let rig = rig(Backend::Sqlite).await;
    let res = rig.app.browser.get("/authorize/op").await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let to = location(&res);
    assert_eq!(query_param(&to, "code_challenge_method").as_deref(), Some("S256"));
    let challenge = query_param(&to, "code_challenge").unwrap();
    assert!(challenge.len() == 43 && !challenge.contains('='));
    for secret in ["code_verifier", "client_secret"] {
        assert_eq!(query_param(&to, secret), None, "{secret} must never be in the URL");
    }
    assert!(!to.contains(crate::scripted_op::CLIENT_SECRET));
}

#[actix_web::test]
async fn case_10_the_token_request_carries_this_flows_verifier() {
    let rig = rig(Backend::Sqlite).await;
    let (_, res) = rig.attempt().await;
    assert_eq!(res.status(), 303);
    let token_request = rig.op.seen().into_iter().find(|r| r.path == "/token").unwrap();
    let verifier = url::form_urlencoded::parse(token_request.body.as_bytes())
        .find(|(k, _)| k == "code_verifier")
        .map(|(_, v)| v.into_owned())
        .expect("a code_verifier");
    assert!(verifier.len() >= 43 && verifier.len() <= 128);
    assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
}

#[actix_web::test]
async fn case_10b_an_injected_code_from_another_flow_is_refused() {
    let rig = rig(Backend::Sqlite).await;
    // The attacker's code, from the attacker's own flow.
    let attacker = rig.app.new_browser();
    let res = attacker.get("/authorize/op").await;
    let attacker_callback = location(&attacker.get(&location(&res)).await);
    let code = query_param(&attacker_callback, "code").unwrap();
    // The victim's flow, with the attacker's code spliced in.
    let victim = rig.app.new_browser();
    let res = victim.get("/authorize/op").await;
    let victim_callback = location(&victim.get(&location(&res)).await);
    let res = victim.get(&with_param(&victim_callback, "code", &code)).await;
    assert_eq!(res.status(), 400, "the OP answers invalid_grant: the verifier is not the attacker's");
    assert_eq!(victim.me().await, Err(401));
    assert_eq!(rig.app.db.counts(), (0, 0));
}

#[actix_web::test]
async fn case_10c_without_pkce_at_the_op_the_nonce_still_refuses_an_injected_code() {
    let rig = rig(Backend::Sqlite).await;
    rig.op.plan(|p| p.pkce_unchecked = true);
    let attacker = rig.app.new_browser();
    let res = attacker.get("/authorize/op").await;
    let code = query_param(&location(&attacker.get(&location(&res)).await), "code").unwrap();
    let victim = rig.app.new_browser();
    let res = victim.get("/authorize/op").await;
    let victim_callback = location(&victim.get(&location(&res)).await);
    let res = victim.get(&with_param(&victim_callback, "code", &code)).await;
    assert_eq!(res.status(), 400, "the ID token carries the attacker's nonce");
    assert_eq!(rig.op.calls().userinfo, 0);
    assert_eq!(victim.me().await, Err(401));
}
