//! A. `state` and login CSRF (cases 1–8): most live in `tests/api/state.rs`; these add the
//! cookie-level variants.

use super::*;

#[actix_web::test]
async fn case_3_a_flow_sealed_under_another_key_is_refused() {
    let rig = rig(Backend::Sqlite).await;
    let browser = rig.app.new_browser();
    let res = browser.get("/authorize/op").await;
    let callback = location(&browser.get(&location(&res)).await);
    // Copy the browser's cookie to another deployment with another key.
    let other = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .provider_env(rig.op.env("op"))
            .var("SESSION_KEY", "other-deployment-key-".repeat(4)),
    )
    .await;
    let moved = callback.replace(&rig.app.addr, &other.addr);
    let res = browser.get(&moved).await;
    assert_eq!(res.status(), 400);
    assert_eq!(rig.op.calls().token, 0);
}
