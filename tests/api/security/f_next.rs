//! F. Redirects and `next` (cases 31–36).

use super::*;

#[actix_web::test]
async fn case_32_34_open_redirect_and_malformed_next_fall_back_to_root() {
    let rig = rig(Backend::Sqlite).await;
    let corpus = [
        "https%3A%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "%2F%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%5C%2Fevil.example",
        "%2F%20%2Fevil.example",
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F.%2F%5Cevil.example",
        "http%3Aevil.example",
        "https%3A%2F%5Cevil.example",
        "javascript%3Aalert(1)",
        "data%3Atext%2Fhtml%2C%3Cscript%3E",
        "%2F%2Fevil.example%40ourhost",
        "%zz",
        "%",
        "%ff",
        "%00",
    ];
    for next in corpus {
        let browser = rig.app.new_browser();
        let res = browser.get(&format!("/authorize/op?next={next}")).await;
        assert_eq!(res.status(), 303, "{next}: a bad next never refuses the sign-in");
        let callback = location(&browser.get(&location(&res)).await);
        let res = browser.get(&callback).await;
        assert_eq!(location(&res), "/", "{next}");
    }
    // 10 KB, and next given twice.
    let browser = rig.app.new_browser();
    let res = browser.get(&format!("/authorize/op?next=/{}&next=/b", "a".repeat(10_000))).await;
    let callback = location(&browser.get(&location(&res)).await);
    assert_eq!(location(&browser.get(&callback).await), "/");
}

#[actix_web::test]
async fn case_36_host_and_forwarded_headers_never_change_the_redirect_uri() {
    let rig = rig(Backend::Sqlite).await;
    let res = rig
        .app
        .browser
        .client
        .get(rig.app.browser.url("/authorize/op"))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "http")
        .send()
        .await
        .unwrap();
    let to = location(&res);
    assert_eq!(query_param(&to, "redirect_uri"), Some(format!("{}/callback/op", rig.app.addr)));
}
