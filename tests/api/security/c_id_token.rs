//! C. ID token validation (cases 11–20). Every bad token: FAIL400 or FAIL502, NOSESS, NODB,
//! and no userinfo request after it.

use serde_json::{Value, json};

use super::*;
use crate::on_both_backends;
use crate::scripted_op::{CLIENT_ID, CLIENT_SECRET, Plan, Signer};

/// A change to the provider's plan.
type Change = Box<dyn Fn(&mut Plan)>;

/// Each plan must be refused without a userinfo call.
async fn refused(rig: &Rig, cases: Vec<(&str, Change)>) {
    for (why, change) in cases {
        rig.op.plan(|p| *p = Plan::default());
        rig.op.plan(|p| change(p));
        let status = {
            let before = rig.op.calls();
            let (browser, res) = rig.attempt().await;
            let status = res.status().as_u16();
            assert!(matches!(status, 400 | 502), "{why}: got {status}");
            assert_eq!(browser.me().await, Err(401), "{why}: NOSESS");
            assert_eq!(rig.op.calls().userinfo, before.userinfo, "{why}: no userinfo after a bad ID token");
            status
        };
        let _ = status;
    }
    assert_eq!(rig.app.db.counts(), (0, 0), "NODB");
    rig.op.plan(|p| *p = Plan::default());
}

fn claim(name: &'static str, value: Value) -> Change {
    Box::new(move |p: &mut Plan| p.claims.push((name, value.clone())))
}

fn header(name: &'static str, value: Value) -> Change {
    Box::new(move |p: &mut Plan| p.header.push((name, value.clone())))
}

on_both_backends! {
    async fn case_11_12_13_bad_signatures_algorithms_and_header_keys(backend: Backend) {
        let rig = rig(backend).await;
        let public_key = serde_json::to_string(&rig.op_jwks_key()).unwrap().into_bytes();
        refused(&rig, vec![
            ("11 signed by a key not in the JWKS", Box::new(|p: &mut Plan| p.signer = Signer::Foreign)),
            ("12 alg none, empty signature", Box::new(|p: &mut Plan| { p.signer = Signer::Unsigned; p.header.push(("alg", json!("none"))); })),
            ("12 HS256 with our client secret", Box::new(|p: &mut Plan| { p.signer = Signer::Hs256(CLIENT_SECRET.as_bytes().to_vec()); p.header.push(("alg", json!("HS256"))); })),
            ("12 HS256 with the RSA public key", Box::new(move |p: &mut Plan| { p.signer = Signer::Hs256(public_key.clone()); p.header.push(("alg", json!("HS256"))); })),
            ("12 an alg outside the allow-list", Box::new(|p: &mut Plan| p.header.push(("alg", json!("ES512"))))),
            ("13 attacker key in a jwk header", Box::new(|p: &mut Plan| { p.signer = Signer::Foreign; p.header.push(("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}))); })),
            ("13 jku pointing at the attacker", Box::new(|p: &mut Plan| { p.signer = Signer::Foreign; p.header.push(("jku", json!("http://127.0.0.1:9/attacker-jwks"))); })),
            ("13 x5u pointing at the attacker", Box::new(|p: &mut Plan| { p.signer = Signer::Foreign; p.header.push(("x5u", json!("http://127.0.0.1:9/attacker-cert"))); })),
            ("20 crit header naming an unknown extension", header("crit", json!(["urn:example:unknown"]))),
        ]).await;
        assert!(!rig.op.seen().iter().any(|r| r.path.contains("attacker")), "jku/x5u are never fetched");
    }

    async fn case_14_15_issuer_audience_and_azp(backend: Backend) {
        let rig = rig(backend).await;
        let iss = rig.op.issuer.clone();
        refused(&rig, vec![
            ("14 iss of another provider", claim("iss", json!("https://accounts.google.com"))),
            ("14 iss with a trailing slash", claim("iss", json!(format!("{iss}/")))),
            ("14 iss with another case", claim("iss", json!(iss.to_uppercase()))),
            ("14 iss missing", claim("iss", Value::Null)),
            ("15 aud missing", claim("aud", Value::Null)),
            ("15 aud another client", claim("aud", json!("another-client"))),
            ("15 aud with an untrusted extra", claim("aud", json!([CLIENT_ID, "untrusted"]))),
            ("15 aud empty", claim("aud", json!(""))),
            ("15 aud a number", claim("aud", json!(42))),
            ("15 azp another client", claim("azp", json!("another-client"))),
        ]).await;
        // aud as a one-element array is fine.
        rig.op.plan(|p| p.claims.push(("aud", json!([CLIENT_ID]))));
        assert_eq!(rig.attempt().await.1.status(), 303);
    }

    async fn case_16_17_18_time_nonce_and_subject(backend: Backend) {
        let rig = rig(backend).await;
        let now = chrono::Utc::now().timestamp();
        refused(&rig, vec![
            ("16 exp in the past", claim("exp", json!(now - 600))),
            ("16 exp missing", claim("exp", Value::Null)),
            ("16 exp a string", claim("exp", json!("tomorrow"))),
            ("16 exp negative", claim("exp", json!(-1))),
            ("16 exp beyond i64", claim("exp", json!(1e30))),
            ("16 iat missing", claim("iat", Value::Null)),
            ("16 iat in the future", claim("iat", json!(now + 3600))),
            ("16 iat too old", claim("iat", json!(now - 86_400))),
            ("16 nbf in the future", claim("nbf", json!(now + 3600))),
            ("17 nonce missing", claim("nonce", Value::Null)),
            ("17 nonce of another flow", claim("nonce", json!("another-flows-nonce"))),
            ("18 sub missing", claim("sub", Value::Null)),
            ("18 sub empty", claim("sub", json!(""))),
            ("18 sub a number", claim("sub", json!(12345))),
            ("18 sub too long", claim("sub", json!("s".repeat(256)))),
            ("18 sub with NUL", claim("sub", json!("a\u{0}b"))),
        ]).await;
    }

    /// Times as RFC 3339 strings (accepted for Auth0's `updated_at`, and so for `exp`, `iat` and
    /// `auth_time` too) are held to the same rules as seconds, in UTC whatever their offset.
    async fn case_16_times_as_dates_are_checked_like_seconds(backend: Backend) {
        let rig = rig(backend).await;
        let at = |offset: i64| (chrono::Utc::now() + chrono::Duration::seconds(offset)).to_rfc3339();
        let now = chrono::Utc::now();
        // 10 minutes ago in UTC, written at +14:00: its local time reads as the future.
        let past_in_kiribati = (now - chrono::Duration::minutes(10))
            .with_timezone(&chrono::FixedOffset::east_opt(14 * 3600).unwrap())
            .to_rfc3339();
        refused(&rig, vec![
            ("16 exp a past date", claim("exp", json!(at(-600)))),
            ("16 exp a past date at +14:00", claim("exp", json!(past_in_kiribati))),
            ("16 iat a date an hour ahead", claim("iat", json!(at(3600)))),
            ("16 nbf a date", claim("nbf", json!(at(-60)))),
            ("16 exp not a date", claim("exp", json!("2026-13-45T25:61:00Z"))),
        ]).await;
        rig.op.plan(|p| p.claims = vec![("exp", json!(at(300))), ("iat", json!(at(0))), ("updated_at", json!(at(-86_400)))]);
        assert_eq!(rig.attempt().await.1.status(), 303, "dates in range sign in");
    }
}

#[actix_web::test]
async fn case_19_keys_kid_rotation_and_junk() {
    let rig = rig(Backend::Sqlite).await;
    // (a) no kid, one key in the JWKS: accepted.
    rig.op.plan(|p| p.header.push(("kid", Value::Null)));
    assert_eq!(rig.attempt().await.1.status(), 303, "19a");
    // (e) junk keys beside the real one are ignored.
    rig.op.plan(|p| {
        *p = Plan::default();
        p.extra_jwks_keys = vec![
            json!({"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": "AAAA"}),
            json!({"kty": "made-up", "kid": "x"}),
            json!({"kty": "RSA", "kid": "no-n", "e": "AQAB"}),
        ];
    });
    let fresh = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(rig.op.env("op"))).await;
    assert_eq!(sign_in_auto(&fresh.new_browser(), "op").await.status(), 303, "19e");
}

#[actix_web::test]
async fn case_19d_unknown_kid_refetches_once_and_is_rate_limited() {
    let rig = rig(Backend::Sqlite).await;
    assert_eq!(rig.attempt().await.1.status(), 303);
    rig.op.plan(|p| p.header.push(("kid", json!("nobody-knows"))));
    let jwks_before = rig.op.calls().jwks;
    for _ in 0..5 {
        let (_, res) = rig.attempt().await;
        assert_eq!(res.status(), 400);
    }
    assert_eq!(rig.op.calls().jwks, jwks_before + 1, "a stream of unknown kids costs one JWKS fetch");
}

#[actix_web::test]
async fn case_20_malformed_tokens_and_token_responses() {
    let rig = rig(Backend::Sqlite).await;
    let raw = |s: String| -> Change { Box::new(move |p: &mut Plan| p.raw_id_token = Some(s.clone())) };
    let answer = |status: u16, body: Value| -> Change {
        Box::new(move |p: &mut Plan| p.token_answer = Some((status, "application/json", body.to_string().into_bytes())))
    };
    refused(
        &rig,
        vec![
            ("two segments", raw("eyJhbGciOiJSUzI1NiJ9.e30".into())),
            ("four segments", raw("a.b.c.d".into())),
            ("a JWE (five segments)", raw("a.b.c.d.e".into())),
            ("not base64url", raw("!!!.???.***".into())),
            ("header not JSON", raw(format!("{}.e30.", "bm90IGpzb24"))),
            ("payload a JSON array", raw("eyJhbGciOiJSUzI1NiJ9.W10.c2ln".into())),
            ("a 1 MB signature", raw(format!("eyJhbGciOiJSUzI1NiJ9.e30.{}", "A".repeat(1 << 20)))),
            ("no id_token", answer(200, json!({"access_token": "a", "token_type": "Bearer"}))),
            ("token_type MAC", answer(200, json!({"access_token": "a", "token_type": "mac", "id_token": "x.y.z"}))),
            ("access_token missing", answer(200, json!({"token_type": "Bearer", "id_token": "x.y.z"}))),
            ("access_token a number", answer(200, json!({"access_token": 5, "token_type": "Bearer"}))),
        ],
    )
    .await;
}

impl Rig {
    /// The OP's published key, as JSON (for the HS256-with-public-key confusion).
    fn op_jwks_key(&self) -> Value {
        use openidconnect::PrivateSigningKey;
        let key =
            openidconnect::core::CoreRsaPrivateSigningKey::from_pem(include_str!("../../fixtures/op-key-1.pem"), None)
                .unwrap();
        serde_json::to_value(key.as_verification_key()).unwrap()
    }
}

#[actix_web::test]
async fn case_19f_an_unknown_kid_while_the_jwks_endpoint_is_down_is_502() {
    let rig = rig(Backend::Sqlite).await;
    assert_eq!(rig.attempt().await.1.status(), 303, "metadata fetched and cached");
    rig.op.metadata_down(true);
    rig.op.plan(|p| p.header.push(("kid", json!("rotated-away"))));
    let (browser, res) = rig.attempt().await;
    assert_eq!(res.status(), 502);
    assert_eq!(browser.me().await, Err(401));
    assert_eq!(rig.op.calls().userinfo, 1, "only the first, good sign-in called userinfo");
}
