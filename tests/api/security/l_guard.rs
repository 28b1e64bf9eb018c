//! L. Guard bypasses (cases 63–64).

use super::*;

#[actix_web::test]
async fn case_63_64_path_method_and_header_variants_never_reach_protected_bodies() {
    let rig = rig(Backend::Sqlite).await;
    let c = &rig.app.browser.client;
    let url = |p: &str| rig.app.browser.url(p);
    for path in [
        "/profile/",
        "/Profile",
        "//profile",
        "/profile%2f",
        "/profile;x",
        "/./profile",
        "/api/me/",
        "/api/%6de",
        "/api/me?x=/login",
        "/api/me#/login",
    ] {
        let res = c.get(url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        assert!(matches!(status, 302 | 303 | 401 | 404 | 405), "{path}: {status}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Linked accounts") && !body.contains("\"identities\""), "{path}");
    }
    for method in [reqwest::Method::HEAD, reqwest::Method::OPTIONS] {
        for path in ["/profile", "/api/me"] {
            let res = c.request(method.clone(), url(path)).send().await.unwrap();
            assert!(matches!(res.status().as_u16(), 302 | 303 | 401 | 404 | 405), "{method} {path}");
        }
    }
    for (header, value) in [
        ("X-Forwarded-Uri", "/login"),
        ("X-Original-URL", "/login"),
        ("X-Rewrite-URL", "/login"),
        ("X-Forwarded-For", "127.0.0.1"),
        ("User-Agent", "kube-probe/1.29"),
    ] {
        let res = c.get(url("/api/me")).header(header, value).send().await.unwrap();
        assert_eq!(res.status(), 401, "{header}");
    }
}
