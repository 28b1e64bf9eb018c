//! SIGTERM, as an orchestrator sends it before replacing an instance: the process stops taking
//! new connections, lets the requests in flight finish, and exits cleanly.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;
use crate::scripted_op::ScriptedOp;

/// The release-independent binary cargo built for this test run.
fn start_binary(op: &ScriptedOp, db: &TempDir, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", format!("sqlite://{}/gatehouse.db", db.0.display()))
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("SESSION_KEY", SESSION_KEY)
        .env("RUST_LOG", "warn")
        .env("OAUTH_PROVIDERS", "op")
        .envs(op.env("op"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the gatehouse binary starts")
}

#[actix_web::test]
async fn sigterm_finishes_the_sign_in_in_flight_then_exits() {
    let op = ScriptedOp::start();
    op.plan(|p| p.token_delay = Some(Duration::from_millis(1500)));
    let db = TempDir::new();
    let port = free_port();
    let mut child = start_binary(&op, &db, port);
    let browser = Browser::new(&format!("http://127.0.0.1:{port}"));
    assert!(
        eventually(Duration::from_secs(20), async || browser.client.get(browser.url("/healthz")).send().await.is_ok())
            .await
            .is_some(),
        "the binary never answered"
    );

    // The browser is at the callback when the orchestrator says stop.
    let res = browser.get("/authorize/op").await;
    let at_provider = browser.get(&location(&res)).await;
    let callback = location(&at_provider);
    let in_flight = actix_web::rt::spawn(async move { browser.get(&callback).await });
    assert!(
        eventually(Duration::from_secs(5), async || op.calls().token == 1).await.is_some(),
        "the callback never reached the provider"
    );
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());

    // No new connections, while the old request is still waiting on the provider.
    let refused = eventually(Duration::from_secs(1), async || {
        actix_web::rt::net::TcpStream::connect(("127.0.0.1", port)).await.is_err()
    })
    .await;
    assert!(refused.is_some(), "still accepting connections after SIGTERM");

    let res = in_flight.await.unwrap();
    assert_eq!(res.status(), 303, "the sign-in in flight completed");
    assert_eq!(location(&res), "/");
    assert!(set_cookie_headers(&res).iter().any(|c| c.starts_with("gatehouse=")), "with its session cookie");

    let status = actix_web::rt::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit status {status}");
}
