//! Checklist group N (cases 68–70): a canary sweep over everything gatehouse logs at TRACE
//! level during sign-ins that succeed and fail, including the `Debug` output of its
//! configuration and flow types. No client secret, code, token, ID token, PKCE verifier,
//! nonce, state or session cookie may appear.
//!
//! A binary of its own: it installs a capturing logger for the whole process.
#![allow(dead_code, unused_imports)]

#[path = "../providers/apple_standin.rs"]
mod apple_standin;
#[path = "../providers/github_standin.rs"]
mod github_standin;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../providers/oidc_provider.rs"]
mod oidc_provider;
#[path = "../providers/scripted_op.rs"]
mod scripted_op;

use std::sync::Mutex;

use helpers::*;
use scripted_op::{Plan, ScriptedOp, Signer};

static CAPTURED: Mutex<String> = Mutex::new(String::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        // The test's own HTTP client (reqwest, hyper, its cookie jar) is not gatehouse.
        let target = record.target();
        if ["cookie_store", "reqwest", "hyper"].iter().any(|t| target.starts_with(t)) {
            return;
        }
        let line = format!("{} {} {}\n", record.level(), record.target(), record.args());
        CAPTURED.lock().unwrap().push_str(&line);
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

fn cookie_values(res: &reqwest::Response) -> Vec<String> {
    set_cookie_headers(res)
        .iter()
        .filter_map(|c| c.split(';').next()?.split_once('=').map(|(_, v)| v.to_string()))
        .filter(|v| v.len() > 8)
        .collect()
}

#[actix_web::test]
async fn nothing_secret_reaches_the_logs() {
    log::set_logger(&LOGGER).expect("the first logger of this binary");
    log::set_max_level(log::LevelFilter::Trace);

    let op = ScriptedOp::start();
    let github = GithubStandIn::start();
    const TOKEN_KEY: &str = "c4n4ry-t0ken-key-5f1e9a7c3b2d8e6f4a0c1b3d5e7f9a2c4b6d8e0f1a3c5e7b9d";
    let mut env = set_var(op.env("op"), "OAUTH_OP_STORE_TOKENS", "true");
    env = set_var(env, "OAUTH_OP_LOGOUT", "provider");
    let apple = apple_standin::AppleStandIn::start("127.0.0.1");
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .provider_env(env)
            .github("github", &github)
            .provider_env(set_var(apple.env("apple"), "OAUTH_APPLE_STORE_TOKENS", "true"))
            .var("TOKEN_KEY", TOKEN_KEY),
    )
    .await;
    let mut canaries: Vec<String> = vec![
        TOKEN_KEY.into(),
        scripted_op::CLIENT_SECRET.into(),
        github_standin::CLIENT_SECRET.into(),
        SESSION_KEY.into(),
        "scripted-access-".into(),
        "scripted-code-".into(),
        "gho_test".into(),
        "ghcode".into(),
        // The base64url of {"alg":"RS256", … : the start of every ID token we mint.
        "eyJhbGciOiJSUzI1NiIs".into(),
    ];

    // A success, then the failure paths: token 400 and 401, userinfo 500, a bad ID token.
    let mut attempts = vec![Plan::default()];
    for change in [
        (|p: &mut Plan| p.token_answer = Some((400, "application/json", br#"{"error":"invalid_grant"}"#.to_vec())))
            as fn(&mut Plan),
        |p| p.token_answer = Some((401, "application/json", br#"{"error":"invalid_client"}"#.to_vec())),
        |p| p.userinfo_answer = Some((500, "text/plain", b"boom".to_vec())),
        |p| p.signer = Signer::Foreign,
    ] {
        let mut plan = Plan::default();
        change(&mut plan);
        attempts.push(plan);
    }
    for plan in attempts {
        op.plan(|p| *p = plan);
        let browser = app.new_browser();
        let res = browser.get("/authorize/op").await;
        canaries.extend(cookie_values(&res));
        let callback = location(&browser.get(&location(&res)).await);
        let res = browser.get(&callback).await;
        canaries.extend(cookie_values(&res));
        browser.get("/api/me").await;
    }
    // The kept token handed to the app, sign-out (with LOGOUT=provider) and back-channel
    // logout tokens, good, replayed and bad.
    let browser = app.new_browser();
    op.plan(|p| *p = Plan::default());
    let res = sign_in_auto(&browser, "op").await;
    canaries.extend(cookie_values(&res));
    assert_eq!(browser.get("/api/token/op").await.status(), 200);
    browser.post("/logout").await;
    let good = op.logout_token(|_, _| {}, Signer::Normal);
    let bad = op.logout_token(|_, c| c["aud"] = serde_json::json!("someone-else"), Signer::Normal);
    for token in [&good, &good, &bad] {
        reqwest::Client::new()
            .post(format!("{}/backchannel-logout/op", app.addr))
            .form(&[("logout_token", token.as_str())])
            .send()
            .await
            .unwrap();
        canaries.push(token.clone());
    }

    // GitHub too, with its 200-with-error quirk.
    let browser = app.new_browser();
    let res = app.sign_in_github(&browser, "github").await;
    canaries.extend(cookie_values(&res));
    let callback = app.github_callback_url(&app.new_browser(), "github", "/").await;
    app.new_browser().get(&with_param(&callback, "code", "wrong")).await;

    // Apple: the form post, its sealed resume step (also replayed), the kept token. The
    // minted client secrets, codes, tokens and the name Apple posts are all canaries.
    let browser = app.new_browser();
    let (action, fields) = apple_form(&browser).await;
    let resume = resume_url(post_from_apple(&action, &fields).await).await;
    let res = browser.get(&resume).await;
    assert_eq!(res.status(), 303, "the Apple sign-in");
    canaries.extend(cookie_values(&res));
    app.new_browser().get(&resume).await;
    assert_eq!(browser.get("/api/token/apple").await.status(), 200);
    canaries.push(query_param(&resume, "resume").unwrap());
    canaries.extend(fields.into_iter().map(|(_, v)| v));
    canaries.extend(apple.secrets());
    canaries.extend(["apple-access-".into(), "apple-refresh-".into(), "Lovelace".into()]);
    // Apple's failures: Cancel, a form post without a state, a code sent as a plain GET.
    let (cancel_action, cancel) = apple_page_form(&app.new_browser(), "cancel").await;
    post_like_apple(&app.new_browser(), &cancel_action, &cancel).await;
    post_from_apple(&action, &[("code".into(), "apple-code-forged".into())]).await;
    let browser = app.new_browser();
    let (_, fields) = apple_form(&browser).await;
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
    browser.get(&format!("{action}?{query}")).await;
    canaries.extend(fields.into_iter().map(|(_, v)| v));

    // Everything the provider saw is secret: state, nonce, challenge, code, verifier.
    for request in op.seen() {
        for (k, v) in url::form_urlencoded::parse(request.query.as_bytes())
            .chain(url::form_urlencoded::parse(request.body.as_bytes()))
        {
            if matches!(&*k, "state" | "nonce" | "code" | "code_verifier" | "code_challenge") {
                canaries.push(v.into_owned());
            }
        }
        if let Some(auth) = request.authorization {
            canaries.push(auth.split(' ').nth(1).unwrap_or_default().to_string());
        }
    }

    // What a careless `debug!("{:?}", …)` would print.
    let settings = gatehouse::config::Settings::from_vars(&app.vars).unwrap();
    log::debug!("settings: {settings:?}");
    // (A sign-in flow's own Debug is checked by a unit test in `signin::flow`.)

    let logs = CAPTURED.lock().unwrap().clone();
    assert!(logs.lines().count() > 20, "the capture works: {logs}");
    assert!(logs.contains("sign-in provider=op outcome=created"), "a success is logged: {logs}");
    assert!(logs.contains("WARN gatehouse::routes::callback sign-in failed provider=op"), "failures are logged");
    for canary in canaries.iter().filter(|c| c.len() >= 6) {
        if let Some(line) = logs.lines().find(|l| l.contains(canary.as_str())) {
            panic!("a secret ({canary:.12}…) reached the log: {line}");
        }
    }
    for line in logs.lines().filter(|l| l.contains("/callback/")) {
        assert!(!line.contains("code=") && !line.contains("state="), "the access log keeps no query: {line}");
    }
}
