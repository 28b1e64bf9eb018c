//! The whole journey in a real browser: Debian's Chromium driven through chromedriver
//! (WebDriver, fantoccini), against the real OpenID Provider. Saves screenshots of the sign-in
//! and profile pages, light and dark, under `target/screenshots/`, and runs axe-core in the
//! same browser on each page.
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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use helpers::*;

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) must be installed; scripts/test.sh installs it");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { child, url }
    }

    /// A browser on `profile` (a user-data-dir kept across sessions, like a person's browser).
    async fn browser(&self, profile: &Path, dark: bool) -> Client {
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--window-size=900,1000".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        if dark {
            args.push("--force-dark-mode".into());
            args.push("--blink-settings=preferredColorScheme=0".into());
        }
        let caps = serde_json::json!({"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}});
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(name), png).unwrap();
}

async fn path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_string()
}

async fn text(client: &Client) -> String {
    client.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
}

/// Waits until the browser is back on the app at `path`.
async fn wait_for_path(client: &Client, app: &TestApp, want: &str) {
    let started = Instant::now();
    loop {
        let url = client.current_url().await.unwrap();
        if url.as_str().starts_with(&app.addr) && url.path() == want {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "stuck at {url}, waiting for {want}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs axe-core on the current page; fails on serious or critical violations.
async fn assert_accessible(client: &Client, page: &str) {
    let axe = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core: run `npm ci --prefix tests/browser` (scripts/test.sh does)");
    client.execute(&format!("{axe}\nreturn true;"), vec![]).await.unwrap();
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help}))));",
            vec![],
        )
        .await
        .unwrap();
    let serious: Vec<_> = result
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "{page}: accessibility violations {serious:#?}");
}

/// At a 320 px wide viewport nothing scrolls sideways and nothing on the page sticks out of
/// the screen.
async fn assert_fits_a_phone(client: &Client, screenshot: &str) {
    let (w, h) = client.get_window_size().await.unwrap();
    client.set_window_size(320, 640).await.unwrap();
    let check = client
        .execute(
            "const all = [...document.querySelectorAll('body *')];
             const edge = e => e.getBoundingClientRect().right;
             const culprit = all.reduce((a, b) => edge(b) > edge(a) ? b : a);
             return {inner: window.innerWidth, scroll: document.documentElement.scrollWidth, widest: edge(culprit),
                     culprit: culprit.outerHTML.slice(0, 120)};",
            vec![],
        )
        .await
        .unwrap();
    let (inner, scroll, widest) =
        (check["inner"].as_f64().unwrap(), check["scroll"].as_f64().unwrap(), check["widest"].as_f64().unwrap());
    // Headless Chromium may keep a minimum window width; the page must fit whatever it got.
    assert!(inner <= 500.0, "the narrow viewport was applied: {inner}");
    assert!(
        scroll <= inner && widest <= inner,
        "fits {inner} px: scroll width {scroll}, widest element edge {widest}: {}",
        check["culprit"]
    );
    save_screenshot(client, screenshot).await;
    client.set_window_size(w as u32, h as u32).await.unwrap();
}

/// At the provider: log in as `login` and consent.
async fn log_in_at_provider(client: &Client, login: &str) {
    let field = client.wait().for_element(Locator::Css("input[name=login]")).await.unwrap();
    field.send_keys(login).await.unwrap();
    client.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("any password").await.unwrap();
    client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    // Consent: wait for that page (not the login page's button, which may still be there).
    client.wait().for_element(Locator::Css("input[name=prompt][value=consent]")).await.unwrap();
    client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
}

#[actix_web::test]
async fn a_person_signs_in_stays_signed_in_and_signs_out() {
    // Google (played by the scripted OP) and GitHub (the stand-in) beside the real OP, so the
    // screenshots show the branded buttons.
    let google = scripted_op::ScriptedOp::start();
    let github = GithubStandIn::start();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .provider_env(set_var(google.env("google"), "OAUTH_GOOGLE_KIND", "google"))
            .github("github", &github)
            .oidc_with("oidc", vec![("LABEL", "Example SSO".into())]),
    )
    .await;
    let driver = Driver::start().await;
    let profile = TempDir::new();

    let browser = driver.browser(&profile.0, false).await;
    // Signed out, the profile asks to sign in.
    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    assert_eq!(path(&browser).await, "/login");
    save_screenshot(&browser, "login-light.png").await;
    assert_accessible(&browser, "/login").await;
    assert_fits_a_phone(&browser, "login-phone.png").await;

    // The provider button, the provider's real login and consent pages, and back.
    browser.find(Locator::Css("a[data-provider=oidc]")).await.unwrap().click().await.unwrap();
    log_in_at_provider(&browser, "ada.lovelace").await;
    wait_for_path(&browser, &app, "/profile").await;
    let page = text(&browser).await;
    assert!(page.contains("Ada Lovelace") && page.contains("ada.lovelace@example.test"), "{page}");
    save_screenshot(&browser, "profile-light.png").await;
    assert_accessible(&browser, "/profile").await;

    // Close the browser and open it again on the same profile: still signed in (remember-me).
    browser.close().await.unwrap();
    let browser = driver.browser(&profile.0, false).await;
    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    assert_eq!(path(&browser).await, "/profile", "the session survived closing the browser");

    // Sign out; the profile asks to sign in again.
    browser.find(Locator::Css(".actions button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_path(&browser, &app, "/").await;
    assert!(text(&browser).await.contains("You have been signed out."));
    assert_accessible(&browser, "/ (signed out)").await;
    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    assert_eq!(path(&browser).await, "/login");
    browser.close().await.unwrap();

    // Dark: the same pages with prefers-color-scheme: dark.
    let dark_profile = TempDir::new();
    let browser = driver.browser(&dark_profile.0, true).await;
    browser.goto(&format!("{}/login", app.addr)).await.unwrap();
    let dark = browser.execute("return matchMedia('(prefers-color-scheme: dark)').matches", vec![]).await.unwrap();
    assert_eq!(dark, serde_json::json!(true), "the dark run really is dark");
    save_screenshot(&browser, "login-dark.png").await;
    assert_accessible(&browser, "/login (dark)").await;
    browser.find(Locator::Css("a[data-provider=oidc]")).await.unwrap().click().await.unwrap();
    log_in_at_provider(&browser, "ada.lovelace").await;
    wait_for_path(&browser, &app, "/").await;
    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    save_screenshot(&browser, "profile-dark.png").await;
    assert_accessible(&browser, "/profile (dark)").await;
    browser.close().await.unwrap();
}

/// A long name and an email without a break anywhere still fit a 320 px screen on /profile.
#[actix_web::test]
async fn the_profile_fits_a_phone_with_a_long_email() {
    let github = GithubStandIn::start();
    let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github).oidc("oidc")).await;
    let driver = Driver::start().await;
    let profile = TempDir::new();
    let browser = driver.browser(&profile.0, false).await;
    browser.goto(&format!("{}/login", app.addr)).await.unwrap();
    browser.find(Locator::Css("a[data-provider=oidc]")).await.unwrap().click().await.unwrap();
    log_in_at_provider(
        &browser,
        "maximilianalexanderbartholomewvonundzuhohenstein@averyveryverylongsubdomain.example.test",
    )
    .await;
    wait_for_path(&browser, &app, "/").await;
    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    assert!(text(&browser).await.contains("averyveryverylongsubdomain"), "the long email is on the page");
    assert_fits_a_phone(&browser, "profile-phone.png").await;
    browser.close().await.unwrap();
}

/// The README's first command, as a newcomer meets it: nothing configured, "Sign in with Demo",
/// a name and an email typed into the demo provider's form, signed in — and remembered.
#[actix_web::test]
async fn a_newcomer_signs_in_through_the_demo_provider() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).var("DEMO_SIGN_IN", "auto")).await;
    let driver = Driver::start().await;
    let profile = TempDir::new();
    let browser = driver.browser(&profile.0, false).await;
    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    assert_eq!(path(&browser).await, "/login");
    assert!(text(&browser).await.contains("Demo sign-in is on"), "the notice");
    browser.find(Locator::Css("a[data-provider=demo]")).await.unwrap().click().await.unwrap();

    let name = browser.wait().for_element(Locator::Css("input[name=name]")).await.unwrap();
    assert_eq!(path(&browser).await, "/demo-idp/authorize");
    save_screenshot(&browser, "demo-light.png").await;
    assert_accessible(&browser, "/demo-idp/authorize").await;
    name.send_keys("Katherine Johnson").await.unwrap();
    browser.find(Locator::Css("input[name=email]")).await.unwrap().send_keys("katherine@example.test").await.unwrap();
    browser.find(Locator::Css(".demo-form button[type=submit]")).await.unwrap().click().await.unwrap();

    wait_for_path(&browser, &app, "/profile").await;
    let page = text(&browser).await;
    assert!(page.contains("Katherine Johnson") && page.contains("katherine@example.test"), "{page}");
    browser.close().await.unwrap();

    // Closed and opened again on the same profile: still signed in.
    let browser = driver.browser(&profile.0, false).await;
    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    assert_eq!(path(&browser).await, "/profile", "remembered across a browser restart");
    browser.close().await.unwrap();
}

#[actix_web::test]
async fn cancelling_at_the_provider_says_so() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc("oidc")).await;
    let driver = Driver::start().await;
    let profile = TempDir::new();
    let browser = driver.browser(&profile.0, false).await;
    browser.goto(&format!("{}/login", app.addr)).await.unwrap();
    browser.find(Locator::Css("a[data-provider=oidc]")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("a[href$='/abort']")).await.unwrap().click().await.unwrap();
    wait_for_path(&browser, &app, "/callback/oidc").await;
    let page = text(&browser).await;
    assert!(page.contains("Sign-in with Oidc was cancelled."), "{page}");
    save_screenshot(&browser, "cancelled-light.png").await;
    assert_accessible(&browser, "cancelled").await;
    browser.close().await.unwrap();
}

/// Sign in with Apple in a real browser: Apple's page (the stand-in, on `localhost`, another
/// site than the app on `127.0.0.1`) posts the answer back cross-site, so Chromium sends no
/// `SameSite=Lax` session cookie with it; the sign-in still completes, in this browser's
/// session, with the name Apple sent. The session cookie stays `SameSite=Lax`.
#[actix_web::test]
async fn signing_in_with_apple_survives_the_cross_site_form_post() {
    let apple = apple_standin::AppleStandIn::start("localhost");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple"))).await;
    let driver = Driver::start().await;
    let profile = TempDir::new();
    let browser = driver.browser(&profile.0, false).await;

    browser.goto(&format!("{}/profile", app.addr)).await.unwrap();
    assert_eq!(path(&browser).await, "/login");
    save_screenshot(&browser, "login-apple.png").await;
    assert_accessible(&browser, "/login (Apple)").await;
    browser.find(Locator::Css("a[data-provider=apple]")).await.unwrap().click().await.unwrap();
    let button = browser.wait().for_element(Locator::Css("#continue")).await.unwrap();
    let at = browser.current_url().await.unwrap();
    assert_eq!(at.host_str(), Some("localhost"), "Apple's page is on another site: {at}");
    button.click().await.unwrap();

    wait_for_path(&browser, &app, "/profile").await;
    let page = text(&browser).await;
    assert!(page.contains("Ada Lovelace") && page.contains("ada@example.test"), "{page}");
    let cookies = browser.get_all_cookies().await.unwrap();
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert_eq!(format!("{:?}", cookie.same_site()), "Some(Lax)", "{}", cookie.name());
    }
    assert!(apple.refusals().is_empty(), "{:?}", apple.refusals());
    browser.close().await.unwrap();
}
