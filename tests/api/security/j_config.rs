//! J. Configuration (cases 53–58); the start-up checks themselves are unit tests in
//! `src/config/tests.rs`.

use super::*;

#[actix_web::test]
async fn case_54_a_discovery_issuer_mismatch_never_reaches_the_authorization_endpoint() {
    let op = crate::scripted_op::ScriptedOp::start();
    let lie = format!("{}/", op.issuer);
    op.plan(|p| p.discovery_issuer = Some(lie));
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(op.env("op"))).await;
    let res = app.browser.get("/authorize/op").await;
    // 502 when this request ran the failing discovery, 503 when the background one just did.
    assert!(matches!(res.status().as_u16(), 502 | 503), "{}", res.status());
    assert!(!op.seen().iter().any(|r| r.path == "/authorize"));
}

#[actix_web::test]
async fn case_58_odd_provider_segments_are_404_without_outbound_calls() {
    let rig = rig(Backend::Sqlite).await;
    let flow_requests =
        || rig.op.seen().iter().filter(|r| matches!(r.path.as_str(), "/authorize" | "/token" | "/userinfo")).count();
    let seen = flow_requests();
    for path in ["/authorize/unknown", "/callback/unknown", "/authorize/%2e%2e", "/authorize/OP", "/authorize/%00"] {
        // Raw, because an HTTP client would normalise `%2e%2e` away.
        let addr = rig.app.addr.clone();
        let status = actix_web::rt::task::spawn_blocking(move || raw_get_status(&addr, path)).await.unwrap();
        assert_eq!(status, 404, "{path}");
    }
    let res = rig.app.browser.get(&format!("/authorize/{}", "p".repeat(2048))).await;
    assert_eq!(res.status(), 404);
    assert_eq!(flow_requests(), seen, "no outbound request");
}

/// Sends `GET path` byte for byte and returns the status code.
fn raw_get_status(addr: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let host = addr.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}
