//! Signing out reaches every session it should: "sign out everywhere" on every store (the
//! encrypted cookie included), across instances.

use crate::helpers::*;
use crate::on_both_backends;

/// A cookie-store session that is signed in: its browser and a copy of its cookie.
async fn signed_in_copy(app: &TestApp) -> (Browser, String) {
    let browser = app.new_browser();
    let res = app.sign_in_github(&browser, "github").await;
    let cookie = session_set_cookie(&res).expect("a session cookie");
    (browser, cookie)
}

async fn me_with(base: &str, cookie: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/me"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_backends! {
    /// The cookie store has nothing server-side to delete, yet "sign out everywhere" ends every
    /// session signed in before it: other browsers, copied cookies, guarded pages and the gate.
    /// Signing in again afterwards works at once.
    async fn sign_out_everywhere_ends_cookie_sessions(backend: Backend) {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(backend).github("github", &github).session_store("cookie")).await;
        let (laptop, _) = signed_in_copy(&app).await;
        let (phone, copied) = signed_in_copy(&app).await;
        assert_eq!(me_with(&app.addr, &copied).await, 200);
        assert!(laptop.get("/profile").await.text().await.unwrap().contains("/profile/sessions/end-all"),
            "the cookie store offers sign out everywhere too");

        assert_eq!(laptop.post("/profile/sessions/end-all").await.status(), 303);

        assert_eq!(me_with(&app.addr, &copied).await, 401, "a copied cookie outlived sign out everywhere");
        assert_eq!(phone.me().await, Err(401), "another browser stayed signed in");
        assert_eq!(phone.get("/profile").await.status(), 303, "a guarded page let it in");
        assert_eq!(phone.get("/verify").await.status(), 401, "the gate let it in");
        assert_eq!(laptop.me().await, Err(401));

        app.sign_in_github(&laptop, "github").await;
        assert!(laptop.me().await.is_ok(), "a sign-in after the sign-out was refused");
        assert_eq!(me_with(&app.addr, &copied).await, 401, "the old cookie came back with the new sign-in");
    }
}

/// Two instances share the cookie store's key: "sign out everywhere" on one ends the session on
/// the other too, through the database's change notifications.
#[actix_web::test]
async fn sign_out_everywhere_reaches_every_instance() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Postgres).github("github", &github).session_store("cookie")).await;
    let sibling = app.start_sibling().await;
    let (laptop, _) = signed_in_copy(&app).await;
    let (_, copied) = signed_in_copy(&app).await;
    assert_eq!(me_with(&sibling, &copied).await, 200, "the sibling caches the account");

    assert_eq!(laptop.post("/profile/sessions/end-all").await.status(), 303);

    let refused = eventually(std::time::Duration::from_secs(5), async || me_with(&sibling, &copied).await == 401).await;
    assert!(refused.is_some(), "the sibling still lets the ended session in");
}
