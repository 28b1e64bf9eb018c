//! E. Account linking, email and user creation (cases 24–30).

use serde_json::json;

use super::*;
use crate::on_both_backends;

on_both_backends! {
    async fn case_24_the_key_is_issuer_and_subject_never_the_email(backend: Backend) {
        let rig = rig(backend).await;
        let (victim, _) = rig.attempt().await;
        let victim_id = victim.me().await.unwrap()["id"].clone();
        // Same provider, another subject claiming the victim's email: a separate user.
        rig.op.subject("attacker-sub");
        let (attacker, res) = rig.attempt().await;
        assert_eq!(res.status(), 303);
        assert_ne!(attacker.me().await.unwrap()["id"], victim_id);
        // The victim's email changes at the provider: still the victim.
        rig.op.subject("scripted-user-1");
        rig.op.plan(|p| p.claims.push(("email", json!("new-address@example.test"))));
        let (again, _) = rig.attempt().await;
        assert_eq!(again.me().await.unwrap()["id"], victim_id);
    }

    async fn case_28_two_first_sign_ins_at_once_make_one_user(backend: Backend) {
        let rig = rig(backend).await;
        let a = rig.app.new_browser();
        let b = rig.app.new_browser();
        let (ca, cb) = (callback_for(&a).await, callback_for(&b).await);
        let (ra, rb) = futures_util::future::join(a.get(&ca), b.get(&cb)).await;
        assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (303, 303));
        assert_eq!(a.me().await.unwrap()["id"], b.me().await.unwrap()["id"]);
        assert_eq!(rig.app.db.counts(), (1, 1));
    }
}

#[test]
fn case_27_lookalike_emails_do_not_compare_equal() {
    // Linking compares lower-cased emails, nothing more: a fullwidth @ or a Cyrillic letter is
    // another address and never matches.
    let victim = "victim@x.com";
    for lookalike in ["victim＠x.com", "vіctim@x.com", "victim@x.com.", "victim+tag@x.com"] {
        assert_ne!(lookalike.to_lowercase(), victim.to_lowercase(), "{lookalike}");
    }
    assert_eq!("Victim@X.com".to_lowercase(), victim);
}

#[actix_web::test]
async fn case_29_a_database_outage_mid_sign_in_writes_nothing_and_signs_nobody_in() {
    let rig = rig(Backend::Postgres).await;
    let browser = rig.app.new_browser();
    let res = browser.get("/authorize/op").await;
    let callback = location(&browser.get(&location(&res)).await);
    rig.app.db.drop_now();
    let res = browser.get(&callback).await;
    assert_eq!(res.status(), 503);
    let page = res.text().await.unwrap();
    assert!(!page.contains("SQL") && !page.contains("database \""), "no internals: {page}");
    assert_eq!(browser.me().await.err(), Some(401));
}

async fn callback_for(browser: &Browser) -> String {
    let res = browser.get("/authorize/op").await;
    location(&browser.get(&location(&res)).await)
}
