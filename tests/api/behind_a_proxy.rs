//! Deployed behind a reverse proxy on the same host: `/metrics` stays private, rate limits key
//! the real client (an IPv6 client by its /64), and a missing `TRUSTED_PROXIES` is pointed out.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> u16 {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut req = client.get(format!("{}{path}", app.addr));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[actix_web::test]
async fn metrics_through_an_untrusted_proxy_are_refused() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite)).await;
    assert_eq!(get_with(&app, "/metrics", &[]).await, 200, "loopback, directly");
    for header in [
        ("X-Forwarded-For", "203.0.113.5"),
        ("Forwarded", "for=203.0.113.5;proto=https"),
        ("X-Real-IP", "203.0.113.5"),
        ("X-Forwarded-For", "127.0.0.1"),
    ] {
        assert_eq!(get_with(&app, "/metrics", &[header]).await, 404, "{header:?}: a proxy on this host");
    }
}

#[actix_web::test]
async fn metrics_through_a_trusted_proxy_count_as_from_its_client() {
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite).var("TRUSTED_PROXIES", "127.0.0.1").var("METRICS_ALLOW", "10.0.0.0/8"),
    )
    .await;
    assert_eq!(get_with(&app, "/metrics", &[("X-Forwarded-For", "10.1.2.3")]).await, 200, "an allowed client");
    assert_eq!(get_with(&app, "/metrics", &[("X-Forwarded-For", "203.0.113.5")]).await, 404, "the public");
    assert_eq!(get_with(&app, "/metrics", &[("X-Real-IP", "10.1.2.3")]).await, 404, "the proxy names nobody");
}

/// A trusted proxy that passes the client's own `X-Forwarded-For` along (it sets only
/// `X-Real-IP`): the client cannot claim to be loopback, and default METRICS_ALLOW is loopback.
#[actix_web::test]
async fn a_client_cannot_claim_to_be_loopback_through_a_trusted_proxy() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).var("TRUSTED_PROXIES", "127.0.0.1")).await;
    for claimed in ["::1", "127.0.0.2", "127.0.0.1", "::ffff:127.0.0.1"] {
        let headers = [("X-Real-IP", "203.0.113.5"), ("X-Forwarded-For", claimed)];
        assert_eq!(get_with(&app, "/metrics", &headers).await, 404, "claimed {claimed}");
    }
    assert_eq!(get_with(&app, "/metrics", &[]).await, 200, "loopback itself, directly");
}

#[actix_web::test]
async fn metrics_bind_addr_serves_metrics_on_their_own_listener_only() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).var("METRICS_BIND_ADDR", "127.0.0.1:0")).await;
    let metrics = app.metrics_addr.clone().expect("a metrics listener");
    let res = reqwest::get(format!("{metrics}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("gatehouse_session_store_writes_total"));
    assert!(text.contains("gatehouse_gate_quick_yes_total 0"), "the gate's quick yeses there too: {text}");
    assert_eq!(get_with(&app, "/metrics", &[]).await, 404, "the main listener serves none");
    assert_eq!(reqwest::get(format!("{metrics}/login")).await.unwrap().status(), 404, "and it serves nothing else");
}

/// Behind a trusted proxy, an IPv6 client owns its whole /64: fresh addresses in it share
/// one budget; another /64 has its own.
#[actix_web::test]
async fn ipv6_clients_are_limited_by_their_64() {
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .github("github", &github)
            .var("TRUSTED_PROXIES", "127.0.0.1")
            .var("RATE_LIMIT_PER_MINUTE", "3"),
    )
    .await;
    for n in 1..=3 {
        let addr = format!("2001:db8:1:2::{n}");
        assert_eq!(get_with(&app, "/authorize/github", &[("X-Forwarded-For", &addr)]).await, 303, "{addr}");
    }
    let fresh = [("X-Forwarded-For", "2001:db8:1:2:ffff:ffff:ffff:9")];
    assert_eq!(get_with(&app, "/authorize/github", &fresh).await, 429, "a fresh address in the same /64");
    let other = [("X-Forwarded-For", "2001:db8:1:3::1")];
    assert_eq!(get_with(&app, "/authorize/github", &other).await, 303, "another /64");
}

/// The real binary, as deployed behind TLS with `TRUSTED_PROXIES` forgotten: a warning at start
/// naming the variable, and one (only one) when the first proxied request arrives.
#[actix_web::test]
async fn a_forgotten_trusted_proxies_is_pointed_out() {
    let db = TempDir::new();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}/gatehouse.db", db.0.display()))
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", "https://gatehouse.example.test")
        .env("SESSION_KEY", SESSION_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gatehouse binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let up = eventually(Duration::from_secs(20), async || client.get(format!("{base}/healthz")).send().await.is_ok());
    assert!(up.await.is_some(), "the binary never answered");
    for _ in 0..3 {
        client.get(format!("{base}/login")).header("X-Forwarded-For", "203.0.113.5").send().await.unwrap();
    }
    let mut lines: Vec<String> = Vec::new();
    let warned = eventually(Duration::from_secs(10), async || {
        lines.extend(rx.try_iter());
        lines.iter().any(|l| l.contains("carries X-Forwarded-For"))
    })
    .await;
    assert!(warned.is_some(), "no warning about the proxied request: {lines:#?}");
    // Three more proxied requests: still one warning.
    for _ in 0..3 {
        client.get(format!("{base}/login")).header("X-Forwarded-For", "203.0.113.5").send().await.unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    // Everything it wrote, up to the end of its stderr.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        lines.push(line);
    }
    let at_start = lines.iter().filter(|l| l.contains("PUBLIC_URL is https") && l.contains("TRUSTED_PROXIES")).count();
    let at_run = lines.iter().filter(|l| l.contains("carries X-Forwarded-For")).count();
    assert_eq!((at_start, at_run), (1, 1), "{lines:#?}");
}
