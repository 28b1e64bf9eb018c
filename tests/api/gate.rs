//! gatehouse as a gate beside a reverse proxy: `/verify` (nginx `auth_request`) and
//! `/forward-auth` (Caddy, Traefik), the identity headers, and who may come in.

use crate::helpers::*;
use crate::oidc_provider::AtProvider;

/// An OIDC provider whose verified emails count (`TRUST_EMAIL`), as the rules need.
fn gated(backend: Backend) -> AppOptions<'static> {
    AppOptions::new(backend).oidc_with("corp", vec![("TRUST_EMAIL", "true".into())])
}

async fn verify(browser: &Browser, query: &str) -> reqwest::Response {
    browser.get(&format!("/verify{query}")).await
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

#[actix_web::test]
async fn verify_says_401_signed_out_and_200_with_the_identity_signed_in() {
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let browser = app.new_browser();
    let res = verify(&browser, "").await;
    assert_eq!(res.status(), 401, "signed out");
    assert!(res.headers().get("location").is_none(), "nginx accepts no redirect from an auth subrequest");
    assert!(header(&res, "x-auth-request-user").is_none());
    // nginx reads only the head of an auth subrequest's answer: a body would cost it its
    // kept-alive connection to gatehouse, on every signed-out request.
    assert!(res.bytes().await.unwrap().is_empty(), "the 401 is empty");

    app.sign_in_oidc(&browser, "corp", "alice").await;
    let id = browser.me().await.unwrap()["id"].to_string();
    let res = verify(&browser, "").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-auth-request-user"), Some(id.as_str()));
    assert_eq!(header(&res, "x-auth-request-email"), Some("alice@example.test"));
    assert_eq!(header(&res, "x-auth-request-name"), Some("Alice"));
    assert_eq!(header(&res, "cache-control"), Some("no-store"));
    assert!(res.bytes().await.unwrap().is_empty(), "an empty body");
}

/// A yes is for the proxy alone (nginx and Caddy never show it to the browser): it carries no
/// page headers for the proxy to parse on every request it guards. Everything else does.
#[actix_web::test]
async fn a_yes_carries_no_page_headers_but_every_other_answer_does() {
    const PAGE_ONLY: [&str; 5] =
        ["content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy", "pragma"];
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let browser = app.new_browser();
    let signed_out = verify(&browser, "").await;
    app.sign_in_oidc(&browser, "corp", "alice").await;
    let refused = verify(&browser, "?allowed_groups=admins").await;
    let profile = browser.get("/profile").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "content-length"), Some("0"), "the 403 is empty, as the 401 is");
    for (what, status, res) in [("signed out", 401, signed_out), ("refused", 403, refused), ("a page", 200, profile)] {
        assert_eq!(res.status(), status, "{what}");
        for name in PAGE_ONLY {
            assert!(header(&res, name).is_some(), "{what}: {name}");
        }
    }
    for path in ["/verify", "/forward-auth"] {
        let yes = browser.get(path).await;
        assert_eq!(yes.status(), 200, "{path}");
        assert_eq!(header(&yes, "cache-control"), Some("no-store"), "{path}");
        for name in PAGE_ONLY {
            assert!(header(&yes, name).is_none(), "{path}: {name}");
        }
    }
}

#[actix_web::test]
async fn an_unverified_email_is_never_handed_to_the_app() {
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let browser = app.new_browser();
    app.sign_in_oidc(&browser, "corp", "unverified+carol@shared.test").await;
    let res = verify(&browser, "").await;
    assert_eq!(res.status(), 200, "no rules: anyone signed in");
    assert!(header(&res, "x-auth-request-user").is_some());
    // Present and empty, so a proxy that copies only the headers it gets (Caddy) overwrites a
    // client's own copy.
    assert_eq!(header(&res, "x-auth-request-email"), Some(""), "the email was not verified");
}

/// The gate answers a signed-in, allowed request before the session layers (cookie store,
/// `gate::fast_yes`); everything else is the full path's. Each request below is one where the
/// two could part: the answer and whether a new cookie comes with it must be the full path's,
/// through `/verify` and `/forward-auth` alike, and `/metrics` says which one answered.
#[actix_web::test]
async fn the_gates_quick_yes_answers_exactly_as_the_full_path() {
    let app = spawn_app(gated(Backend::Sqlite).var("SESSION_IDLE_MINUTES", "5")).await;
    app.sign_in_oidc(&app.browser, "corp", "alice").await;
    let id = app.browser.me().await.unwrap()["id"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    let signed_in = |issued: i64, seen: i64| {
        seal_session(&[
            ("_gh.uid", serde_json::json!(id.to_string())),
            ("_gh.issued_ms", serde_json::json!(issued * 1000)),
            ("_gh.seen", serde_json::json!(seen)),
        ])
    };
    let fresh = signed_in(now - 600, now - 5);
    let state = |uids: &[&str], extra: &str| {
        let uids: String = uids.iter().map(|u| format!(r#""_gh.uid":"\"{u}\"","#)).collect();
        format!(r#"{{{uids}"_gh.issued_ms":"{}","_gh.seen":"{}"{extra}}}"#, (now - 600) * 1000, now - 5)
    };
    let raw = |uids: &[&str], extra: &str| format!("gatehouse={}", seal_state(&state(uids, extra)));
    let me = id.to_string();
    let (me, nobody) = (me.as_str(), "987654321");
    let legacy = seal_session(&[
        ("actix_identity.user_id", serde_json::json!(id.to_string())),
        ("actix_identity.logged_in_at", serde_json::json!(now - 600)),
        ("actix_identity.last_visited_at", serde_json::json!(now - 5)),
    ]);
    let cookie = format!("gatehouse={fresh}");
    struct Case<'a> {
        what: &'a str,
        method: &'a str,
        query: &'a str,
        headers: Vec<(&'a str, String)>,
        status: u16,
        new_cookie: bool,
        quick: bool,
    }
    let get = |what, cookie: String, status, new_cookie, quick| Case {
        what,
        method: "GET",
        query: "",
        headers: vec![("cookie", cookie)],
        status,
        new_cookie,
        quick,
    };
    let cases = vec![
        get("signed in, last seen moments ago", cookie.clone(), 200, false, true),
        get("among other cookies", format!("theme=dark; {cookie}; lang=en"), 200, false, true),
        get(
            "a visit due to be noted (a write)",
            format!("gatehouse={}", signed_in(now - 600, now - 120)),
            200,
            true,
            false,
        ),
        get(
            "idle for longer than the limit",
            format!("gatehouse={}", signed_in(now - 600, now - 360)),
            401,
            false,
            false,
        ),
        get("past its lifetime", format!("gatehouse={}", signed_in(now - 31 * 86_400, now - 5)), 401, false, false),
        get("signed in in the future", format!("gatehouse={}", signed_in(now + 3600, now - 5)), 401, false, false),
        get(
            "no sign-in time",
            format!("gatehouse={}", seal_session(&[("_gh.uid", serde_json::json!(me))])),
            401,
            false,
            false,
        ),
        get("written by the names from before the rename (a write)", format!("gatehouse={legacy}"), 200, true, false),
        get(
            "both layouts: the old one counts, whole (it has no sign-in time)",
            raw(&[me], r#","actix_identity.user_id":"\"987654321\"""#),
            401,
            false,
            false,
        ),
        get("a user id that is not a number", raw(&["alice"], ""), 401, false, false),
        get("a user who does not exist", raw(&[nobody], ""), 401, false, false),
        get(
            "a value that is not a string (actix-session reads no session)",
            raw(&[me], r#","_gh.x":5"#),
            401,
            false,
            false,
        ),
        get("a repeated user id: the last counts", raw(&[nobody, me], ""), 200, false, true),
        get("a repeated user id: the last counts (2)", raw(&[me, nobody], ""), 401, false, false),
        get("a second session cookie: the first counts", format!("gatehouse=forged; {cookie}"), 401, false, false),
        get("a second session cookie: the first counts (2)", format!("{cookie}; gatehouse=forged"), 200, false, true),
        get("a percent-encoded name (the full path decodes it)", format!("gatehous%65={fresh}"), 200, false, false),
        get("a quoted value (the full path unquotes it)", format!("gatehouse=\"{fresh}\""), 200, false, false),
        get(
            "sealed for another cookie's name",
            format!("gatehouse={}", seal_state_as("other", &state(&[me], ""))),
            401,
            false,
            false,
        ),
        Case {
            what: "a forged identity header beside a good session",
            headers: vec![("cookie", cookie.clone()), ("x-auth-request-user", "1".into())],
            ..get("", String::new(), 403, false, false)
        },
        Case {
            what: "a rule this user does not meet",
            query: "?allowed_emails=bob@example.test",
            ..get("", cookie.clone(), 403, false, false)
        },
        Case {
            what: "a rule that cannot be read",
            query: "?allowed_x=1",
            ..get("", cookie.clone(), 403, false, false)
        },
        Case {
            what: "a rule this user meets",
            query: "?allowed_email_domains=example.test",
            ..get("", cookie.clone(), 200, false, true)
        },
        Case { what: "HEAD", method: "HEAD", ..get("", cookie.clone(), 404, false, false) },
        Case { what: "POST", method: "POST", ..get("", cookie.clone(), 404, false, false) },
    ];
    let stranger = app.new_browser();
    // The headers of a yes, but for those that differ from one answer to the next.
    let yes_headers = |res: &reqwest::Response| -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .filter(|(name, _)| !["date", "set-cookie", "x-auth-request-assertion"].contains(&name.as_str()))
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        headers.sort();
        headers
    };
    for path in ["/verify", "/forward-auth"] {
        let (mut quick_yes, mut full_yes) = (None, None);
        for case in &cases {
            let before = metric(&app, "gatehouse_gate_quick_yes_total").await;
            let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
            let mut req = stranger.client.request(method, stranger.url(&format!("{path}{}", case.query)));
            for (name, value) in &case.headers {
                req = req.header(*name, value);
            }
            let res = req.send().await.unwrap();
            let what = format!("{} {path}{}: {}", case.method, case.query, case.what);
            assert_eq!(res.status().as_u16(), case.status, "{what}");
            assert_eq!(session_set_cookie(&res).is_some(), case.new_cookie, "{what}: a new cookie?");
            if case.status == 200 {
                assert_eq!(header(&res, "x-auth-request-user"), Some(me), "{what}");
            }
            match (case.status, case.quick) {
                (200, true) => quick_yes = Some(yes_headers(&res)),
                (200, false) => full_yes = Some(yes_headers(&res)),
                _ => {}
            }
            let quick = metric(&app, "gatehouse_gate_quick_yes_total").await - before;
            assert_eq!(quick, f64::from(u8::from(case.quick)), "{what}: answered before the session layers?");
        }
        let (quick_yes, full_yes) = (quick_yes.unwrap(), full_yes.unwrap());
        assert_eq!(quick_yes, full_yes, "{path}: a quick yes carries what the full path's does");
        assert!(quick_yes.iter().any(|(name, value)| name == "cache-control" && value == "no-store"), "{quick_yes:?}");
    }
}

/// An app that mounts gatehouse and registers a route of its own at gatehouse's `/verify` path
/// first keeps it: the quick yes answers only where gatehouse's route is the one that matches.
#[actix_web::test]
async fn an_apps_own_route_at_the_gates_path_keeps_it() {
    use actix_web::web;
    let app = spawn_app(AppOptions::new(Backend::Sqlite).oidc("corp")).await;
    let (listener, addr, mut vars) = mounting_app_listener(&app);
    let (id, secret) = OidcServer::shared().register_client(&format!("{addr}/callback/corp")).await;
    vars.insert("OAUTH_CORP_CLIENT_ID".into(), id);
    vars.insert("OAUTH_CORP_CLIENT_SECRET".into(), secret);
    serve_mounting_app(&vars, listener, |cfg| {
        cfg.route("/verify", web::get().to(|| async { "the app's own page" }));
    })
    .await;
    let b = Browser::new(&addr);
    let res = b.get("/authorize/corp").await;
    let callback =
        complete_at_provider(&b.client, &location(&res), &b.url("/callback/"), AtProvider::LogIn("ada")).await;
    b.get(&callback).await;
    assert!(b.me().await.is_ok(), "signed in");

    let quick = async || {
        let text = b.get("/metrics").await.text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix("gatehouse_gate_quick_yes_total ")?.parse::<u64>().ok()).unwrap()
    };
    let before = quick().await;
    let res = b.get("/verify").await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "x-auth-request-user").is_none(), "no identity on the app's own page");
    assert_eq!(res.text().await.unwrap(), "the app's own page");
    assert_eq!(quick().await, before);
    let res = b.get("/forward-auth").await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "x-auth-request-user").is_some(), "gatehouse's own route, quick");
    assert_eq!(quick().await, before + 1);
}

#[actix_web::test]
async fn a_request_carrying_identity_headers_of_its_own_is_refused() {
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let browser = app.new_browser();
    app.sign_in_oidc(&browser, "corp", "alice").await;
    for (name, value) in [
        ("X-Auth-Request-User", "1"),
        ("X-Auth-Request-Email", "boss@example.test"),
        ("x-auth-request-assertion", "e30.e30."),
        ("X-Auth-Request-Groups", "admins"),
    ] {
        for path in ["/verify", "/forward-auth"] {
            let res = browser.client.get(browser.url(path)).header(name, value).send().await.unwrap();
            assert_eq!(res.status(), 403, "{path} with {name}");
            assert!(header(&res, "x-auth-request-user").is_none());
        }
    }
    let res = app.new_browser().client.get(format!("{}/verify", app.addr)).header("X-Auth-Request-User", "1").send();
    assert_eq!(res.await.unwrap().status(), 403, "signed out too");
}

#[actix_web::test]
async fn a_location_rule_that_is_repeated_or_misspelt_refuses() {
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let browser = app.new_browser();
    app.sign_in_oidc(&browser, "corp", "alice").await;
    for query in [
        "?allowed_emails=bob@example.test&allowed_emails=alice@example.test",
        "?allowed_email=alice@example.test",
        "?allowed_domains=example.test",
    ] {
        assert_eq!(verify(&browser, query).await.status(), 403, "{query}");
    }
    assert_eq!(verify(&browser, "?rd=%2F&allowed_email_domains=example.test").await.status(), 200, "other parameters");
}

crate::on_both_backends! {
    /// A person the rules do not name sees a 403 page, and nothing is written.
    async fn refused_at_sign_in(backend: Backend) {
        let app = spawn_app(gated(backend).var("ALLOWED_EMAIL_DOMAINS", "example.test")).await;
        let browser = app.new_browser();
        let res = app.sign_in_oidc(&browser, "corp", "mallory@evil.test").await;
        assert_eq!(res.status(), 403);
        let page = res.text().await.unwrap();
        assert!(page.contains("may not sign in here"), "{page}");
        assert!(!page.contains("ALLOWED_") && !page.contains("evil.test"), "no internals: {page}");
        assert_eq!(app.db.counts(), (0, 0), "no user, no identity");
        assert_eq!(browser.me().await, Err(401), "no session");

        // An unverified claim to an allowed address is no better.
        let res = app.sign_in_oidc(&app.new_browser(), "corp", "unverified+alice@example.test").await;
        assert_eq!(res.status(), 403);
        assert_eq!(app.db.counts(), (0, 0));

        let alice = app.new_browser();
        assert_eq!(app.sign_in_oidc(&alice, "corp", "alice").await.status(), 303, "a named person");
        assert_eq!(verify(&alice, "").await.status(), 200);
    }

}

/// A returning user the rules no longer name is refused at sign-in too, and the refused sign-in
/// changes nothing.
#[actix_web::test]
async fn a_returning_user_the_rules_no_longer_name_is_refused() {
    let mut app = spawn_app(gated(Backend::Postgres)).await;
    app.sign_in_oidc(&app.new_browser(), "corp", "alice").await;
    assert_eq!(app.db.counts(), (1, 1));
    app.vars.insert("ALLOWED_EMAIL_DOMAINS".into(), "example.com".into());
    app.restart().await;
    let browser = app.new_browser();
    assert_eq!(app.sign_in_oidc(&browser, "corp", "alice").await.status(), 403);
    assert_eq!(browser.me().await, Err(401), "no session");
    assert_eq!(app.db.counts(), (1, 1));
}

#[actix_web::test]
async fn an_unreadable_allowed_emails_file_stops_the_start() {
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let mut vars = app.vars.clone();
    vars.insert("ALLOWED_EMAILS_FILE".into(), "/nonexistent/allowed-emails.txt".into());
    let settings = gatehouse::Settings::from_vars(&vars).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let Err(e) = gatehouse::startup::Application::build_with_listener(settings, listener).await else {
        panic!("a rule file that cannot be read must stop the start")
    };
    assert!(e.to_string().contains("ALLOWED_EMAILS_FILE=/nonexistent/allowed-emails.txt"), "{e}");
}

#[actix_web::test]
async fn a_rule_changed_at_restart_holds_from_the_next_request() {
    let mut app = spawn_app(gated(Backend::Sqlite)).await;
    let browser = app.new_browser();
    app.sign_in_oidc(&browser, "corp", "alice").await;
    assert_eq!(verify(&browser, "").await.status(), 200);

    app.vars.insert("ALLOWED_EMAILS".into(), "bob@example.test".into());
    app.restart().await;
    assert_eq!(verify(&browser, "").await.status(), 403, "signed in, no longer allowed");
    assert_eq!(browser.me().await.map(|_| ()), Ok(()), "still signed in to gatehouse itself");
}

#[actix_web::test]
async fn each_location_may_ask_for_more() {
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let browser = app.new_browser();
    app.sign_in_oidc(&browser, "corp", "alice").await;
    for (query, status) in [
        ("?allowed_email_domains=example.test", 200),
        ("?allowed_emails=bob@example.test,alice@example.test", 200),
        ("?allowed_emails=ALICE@example.test&allowed_email_domains=example.test", 200),
        ("?allowed_emails=bob@example.test", 403),
        ("?allowed_email_domains=example.com", 403),
        ("?allowed_emails=alice@example.test&allowed_email_domains=example.com", 403),
        ("?allowed_emails=", 403),
    ] {
        assert_eq!(verify(&browser, query).await.status(), status, "{query}");
    }
}

#[actix_web::test]
async fn the_allowed_emails_file_is_read_again_on_sighup() {
    let dir = TempDir::new();
    let file = dir.0.join("allowed-emails.txt");
    std::fs::write(&file, "# who may come in\nalice@example.test\n").unwrap();
    let app = spawn_app(gated(Backend::Sqlite).var("ALLOWED_EMAILS_FILE", file.display().to_string())).await;
    let browser = app.new_browser();
    assert_eq!(app.sign_in_oidc(&browser, "corp", "alice").await.status(), 303);
    assert_eq!(verify(&browser, "").await.status(), 200);

    std::fs::write(&file, "bob@example.test\n").unwrap();
    assert_eq!(verify(&browser, "").await.status(), 200, "read at start and on SIGHUP only");
    let hup = std::process::Command::new("kill").args(["-HUP", &std::process::id().to_string()]).status().unwrap();
    assert!(hup.success());
    let reread = eventually(std::time::Duration::from_secs(5), async || verify(&browser, "").await.status() == 403);
    assert!(reread.await.is_some(), "SIGHUP re-reads the file");
}

mod forward_auth {
    use super::*;

    const ORIGINAL: &str = "https://app.example.test/reports?year=2026&q=a%20b";

    /// What Caddy's `forward_auth` sends about the original request.
    async fn ask(browser: &Browser, method: &str, accept: &str) -> reqwest::Response {
        browser
            .client
            .get(browser.url("/forward-auth"))
            .header("X-Forwarded-Method", method)
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "app.example.test")
            .header("X-Forwarded-Uri", "/reports?year=2026&q=a%20b")
            .header("Accept", accept)
            .send()
            .await
            .unwrap()
    }

    const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

    #[actix_web::test]
    async fn a_signed_out_browser_is_sent_to_sign_in_and_back_to_the_exact_url() {
        let app = spawn_app(
            gated(Backend::Sqlite)
                .var("TRUSTED_PROXIES", "127.0.0.1")
                .var("ALLOWED_REDIRECT_HOSTS", "app.example.test"),
        )
        .await;
        let browser = app.new_browser();
        let res = ask(&browser, "GET", HTML).await;
        assert_eq!(res.status(), 302);
        let login = location(&res);
        assert_eq!(login, format!("{}/login?next={}", app.addr, enc(ORIGINAL)));

        // The sign-in page carries `next` on; the provider's round trip ends on the original URL.
        let next = query_param(&login, "next").unwrap();
        assert_eq!(next, ORIGINAL);
        let callback = app.oidc_callback_url(&browser, "corp", &next, AtProvider::LogIn("alice")).await;
        let res = browser.get(&callback).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), ORIGINAL, "back on the exact original URL");

        let res = ask(&browser, "GET", HTML).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "x-auth-request-email"), Some("alice@example.test"));
    }

    /// The proxy names the original host; a host gatehouse may not send browsers to ends on `/`.
    #[actix_web::test]
    async fn an_original_host_that_is_not_allowed_ends_on_the_home_page() {
        let app = spawn_app(gated(Backend::Sqlite).var("TRUSTED_PROXIES", "127.0.0.1")).await;
        let browser = app.new_browser();
        let res = ask(&browser, "GET", HTML).await;
        assert_eq!(res.status(), 302);
        let next = query_param(&location(&res), "next").unwrap();
        assert_eq!(next, ORIGINAL, "the login page is told the truth");
        let callback = app.oidc_callback_url(&browser, "corp", &next, AtProvider::LogIn("alice")).await;
        let res = browser.get(&callback).await;
        assert_eq!(location(&res), "/", "app.example.test is not in ALLOWED_REDIRECT_HOSTS");
    }

    #[actix_web::test]
    async fn anything_but_a_browser_get_gets_401_json() {
        let app = spawn_app(gated(Backend::Sqlite).var("TRUSTED_PROXIES", "127.0.0.1")).await;
        let browser = app.new_browser();
        for (method, accept) in [("POST", HTML), ("GET", "application/json"), ("DELETE", "*/*")] {
            let res = ask(&browser, method, accept).await;
            assert_eq!(res.status(), 401, "{method} {accept}");
            assert!(res.headers().get("location").is_none());
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"], "Unauthorized");
        }
    }

    #[actix_web::test]
    async fn an_untrusted_peer_cannot_name_the_original_request() {
        let app = spawn_app(gated(Backend::Sqlite)).await;
        let res = ask(&app.new_browser(), "GET", HTML).await;
        assert_eq!(res.status(), 401, "X-Forwarded-* from a peer not in TRUSTED_PROXIES is not believed");
    }

    #[actix_web::test]
    async fn a_person_the_rules_refuse_gets_a_403_page() {
        let app = spawn_app(gated(Backend::Sqlite).var("TRUSTED_PROXIES", "127.0.0.1")).await;
        let browser = app.new_browser();
        app.sign_in_oidc(&browser, "corp", "alice").await;
        let res = browser
            .client
            .get(browser.url("/forward-auth?allowed_email_domains=example.com"))
            .header("Accept", HTML)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("may not use this site"));
    }
}

#[actix_web::test]
async fn cookie_domain_shares_the_session_cookie_with_subdomains() {
    let app = spawn_app(gated(Backend::Sqlite)).await;
    let port = app.addr.rsplit(':').next().unwrap().to_string();
    let mut app = app;
    app.vars.insert("PUBLIC_URL".into(), format!("http://auth.gate.localhost:{port}"));
    app.vars.insert("COOKIE_DOMAIN".into(), "gate.localhost".into());
    app.restart().await;

    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = reqwest::Client::builder()
        .resolve("auth.gate.localhost", addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(format!("http://auth.gate.localhost:{port}/authorize/corp")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let cookie = set_cookie_headers(&res).into_iter().find(|c| c.starts_with("gatehouse=")).expect("a session cookie");
    assert!(cookie.contains("Domain=gate.localhost"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

/// On https the shared cookie is `__Secure-` (browsers refuse it without TLS); `__Host-` would
/// forbid the `Domain`.
#[actix_web::test]
async fn on_https_the_shared_cookie_is_secure_prefixed() {
    let mut app = spawn_app(gated(Backend::Sqlite)).await;
    let port = app.addr.rsplit(':').next().unwrap().to_string();
    app.vars.insert("PUBLIC_URL".into(), "https://auth.example.test".into());
    app.vars.insert("COOKIE_DOMAIN".into(), "example.test".into());
    app.restart().await;
    // TLS ends at the proxy; gatehouse itself is reached over loopback.
    let res = app.new_browser().get(&format!("http://127.0.0.1:{port}/authorize/corp")).await;
    assert_eq!(res.status(), 303);
    let cookie = set_cookie_headers(&res).into_iter().find(|c| c.contains("gatehouse=")).expect("a session cookie");
    assert!(cookie.starts_with("__Secure-gatehouse="), "{cookie}");
    assert!(cookie.contains("Domain=example.test") && cookie.contains("Secure"), "{cookie}");
}

mod assertion {
    use super::*;

    /// Checks `token` with `jose` (tests/oidc-provider/verify-assertion.mjs), as an upstream would.
    fn verified_by_jose(app: &TestApp, token: &str) -> Result<serde_json::Value, String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider");
        let out = std::process::Command::new("node")
            .current_dir(&dir)
            .args(["verify-assertion.mjs", &format!("{}/.well-known/jwks.json", app.addr), &app.addr, token])
            .output()
            .expect("node runs");
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).expect("JSON from the verifier"))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    async fn assertion_of(browser: &Browser) -> String {
        let res = verify(browser, "").await;
        assert_eq!(res.status(), 200);
        header(&res, "x-auth-request-assertion").expect("an assertion").to_string()
    }

    #[actix_web::test]
    async fn an_upstream_verifies_the_assertion_with_the_published_keys() {
        let app = spawn_app(gated(Backend::Sqlite)).await;
        let browser = app.new_browser();
        app.sign_in_oidc(&browser, "corp", "alice").await;
        let id = browser.me().await.unwrap()["id"].as_i64().unwrap();
        let token = assertion_of(&browser).await;

        let seen = verified_by_jose(&app, &token).expect("jose accepts it");
        let (header, claims) = (&seen["header"], &seen["claims"]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(claims["iss"], app.addr.as_str());
        assert_eq!(claims["sub"], id.to_string());
        assert_eq!(claims["email"], "alice@example.test");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["name"], "Alice");
        assert_eq!(claims["groups"], serde_json::json!([]));
        let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
        assert!(exp - iat <= 60 && exp > chrono::Utc::now().timestamp(), "iat {iat}, exp {exp}");

        let jwks: serde_json::Value = app.new_browser().get("/.well-known/jwks.json").await.json().await.unwrap();
        let published = jwks["keys"].as_array().unwrap();
        assert_eq!(published.len(), 1);
        assert!(published[0].get("d").is_none(), "no private part is published");
        assert_eq!(published[0]["kid"], header["kid"]);
    }

    #[actix_web::test]
    async fn a_tampered_or_foreign_assertion_is_refused() {
        let app = spawn_app(gated(Backend::Sqlite)).await;
        let browser = app.new_browser();
        app.sign_in_oidc(&browser, "corp", "alice").await;
        let token = assertion_of(&browser).await;
        let parts: Vec<&str> = token.split('.').collect();

        // Claims rewritten to another user, signature kept.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = "1".into();
        claims["email"] = "boss@example.test".into();
        let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
        assert!(verified_by_jose(&app, &forged).is_err(), "a rewritten assertion");
        // `alg: none`.
        let none = format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        assert!(verified_by_jose(&app, &none).is_err(), "an unsigned assertion");
        // Another deployment's key (its own SESSION_KEY and database).
        let other = spawn_app(gated(Backend::Sqlite)).await;
        let theirs = other.new_browser();
        other.sign_in_oidc(&theirs, "corp", "alice").await;
        assert!(verified_by_jose(&app, &assertion_of(&theirs).await).is_err(), "signed by another deployment");
    }

    /// Every instance signs with the key in the database, and keeps it across restarts.
    #[actix_web::test]
    async fn every_instance_signs_with_the_same_key() {
        let mut app = spawn_app(gated(Backend::Postgres)).await;
        let browser = app.new_browser();
        app.sign_in_oidc(&browser, "corp", "alice").await;
        let kid = |token: &str| {
            use base64::Engine;
            let header =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
            serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"].clone()
        };
        let first = kid(&assertion_of(&browser).await);

        // A second instance (same database and SESSION_KEY): cookies are per host, not per
        // port, so this browser's session reaches it too.
        let sibling = app.start_sibling().await;
        let res = browser.get(&format!("{sibling}/verify")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(kid(header(&res, "x-auth-request-assertion").unwrap()), first, "the sibling signs with it too");

        app.restart().await;
        assert_eq!(kid(&assertion_of(&browser).await), first, "the same key after a restart");
        assert_eq!(app.db.count("signing_keys"), 1);
    }
}

mod groups {
    use super::*;
    use crate::github_standin::GithubStandIn;
    use crate::scripted_op::ScriptedOp;

    /// An OpenID Provider whose ID tokens say which groups the person is in.
    fn op_with_groups(groups: serde_json::Value) -> ScriptedOp {
        let op = ScriptedOp::start();
        op.plan(|p| p.claims = vec![("groups", groups)]);
        op
    }

    #[actix_web::test]
    async fn groups_from_the_id_token_reach_me_the_headers_and_the_assertion() {
        let op = op_with_groups(serde_json::json!(["staff", "Admins", "staff", 7]));
        let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(set_var(
            op.env("op"),
            "OAUTH_OP_CLAIM_GROUPS",
            "/groups",
        )))
        .await;
        let browser = app.new_browser();
        assert_eq!(sign_in_auto(&browser, "op").await.status(), 303);
        let me = browser.me().await.unwrap();
        // Named with the provider that says so: another provider's `staff` is another group.
        assert_eq!(me["groups"], serde_json::json!(["op:Admins", "op:staff"]), "sorted, once each, strings only");
        assert_eq!(me["identities"][0]["groups"], serde_json::json!(["Admins", "staff"]));

        let res = verify(&browser, "").await;
        assert_eq!(header(&res, "x-auth-request-groups"), Some("op:Admins,op:staff"));
        for (query, status) in [
            ("?allowed_groups=op:Admins", 200),
            ("?allowed_groups=op:ops,op:staff", 200),
            ("?allowed_groups=Admins", 403),
            ("?allowed_groups=corp:Admins", 403),
            ("?allowed_groups=op:admins", 403),
            ("?allowed_groups=op:Admins&allowed_email_domains=example.test", 403),
        ] {
            assert_eq!(verify(&browser, query).await.status(), status, "{query}");
        }
    }

    crate::on_both_backends! {
    /// `OAUTH_{NAME}_ALLOWED_GROUPS`: checked at sign-in (nothing written when refused) and on
    /// every gate request, from the groups refreshed at each sign-in.
    async fn provider_groups_decide_who_signs_in(backend: Backend) {
        let op = op_with_groups(serde_json::json!(["staff"]));
        let env =
            set_var(set_var(op.env("op"), "OAUTH_OP_CLAIM_GROUPS", "/groups"), "OAUTH_OP_ALLOWED_GROUPS", "Admins,ops");
        let app = spawn_app(AppOptions::new(backend).provider_env(env)).await;
        let browser = app.new_browser();
        let res = sign_in_auto(&browser, "op").await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("may not sign in here"));
        assert_eq!(app.db.counts(), (0, 0), "nothing written");

        op.plan(|p| p.claims = vec![("groups", serde_json::json!(["ops"]))]);
        assert_eq!(sign_in_auto(&browser, "op").await.status(), 303);
        assert_eq!(verify(&browser, "").await.status(), 200);
        assert_eq!(app.db.counts(), (1, 1));

        // Left the group: the next sign-in is refused, and what it learnt is kept, so the gate
        // refuses the sessions already signed in too, from the next request on.
        op.plan(|p| p.claims = vec![("groups", serde_json::json!([]))]);
        let other = app.new_browser();
        assert_eq!(sign_in_auto(&other, "op").await.status(), 403);
        assert_eq!(other.me().await, Err(401));
        assert_eq!(browser.me().await.unwrap()["groups"], serde_json::json!([]));
        assert_eq!(verify(&browser, "").await.status(), 403, "the earlier session no longer passes the gate");
        assert_eq!(app.db.counts(), (1, 1), "nothing new was written");
    }
    }

    #[actix_web::test]
    async fn github_orgs_and_teams_decide_who_signs_in() {
        let github = GithubStandIn::start();
        let env = set_var(github.env("github"), "OAUTH_GITHUB_ALLOWED_TEAMS", "Acme/Platform");
        let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;

        github.memberships(&["acme"], &[("acme", "web")]);
        let browser = app.new_browser();
        assert_eq!(app.sign_in_github(&browser, "github").await.status(), 403, "not in acme/platform");
        assert!(
            github.last_scope().split([' ', ',']).any(|s| s == "read:org"),
            "read:org asked for: {}",
            github.last_scope()
        );
        assert_eq!(app.db.counts(), (0, 0));

        github.memberships(&["acme"], &[("acme", "platform"), ("acme", "web")]);
        assert_eq!(app.sign_in_github(&browser, "github").await.status(), 303);
        let res = verify(&browser, "").await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "x-auth-request-groups"), Some("github:acme,github:acme/platform,github:acme/web"));
    }

    #[actix_web::test]
    async fn github_asks_for_read_org_only_when_a_rule_needs_it() {
        let github = GithubStandIn::start();
        let app = spawn_app(AppOptions::new(Backend::Sqlite).github("github", &github)).await;
        github.memberships(&["acme"], &[]);
        let browser = app.new_browser();
        assert_eq!(app.sign_in_github(&browser, "github").await.status(), 303);
        assert!(!github.last_scope().contains("read:org"), "{}", github.last_scope());
        assert_eq!(browser.me().await.unwrap()["groups"], serde_json::json!([]), "not read without a rule");
    }

    #[actix_web::test]
    async fn github_orgs_admit_members() {
        let github = GithubStandIn::start();
        let env = set_var(github.env("github"), "OAUTH_GITHUB_ALLOWED_ORGS", "acme");
        let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
        github.memberships(&["other"], &[]);
        assert_eq!(app.sign_in_github(&app.new_browser(), "github").await.status(), 403);
        github.memberships(&["other", "ACME"], &[]);
        assert_eq!(
            app.sign_in_github(&app.new_browser(), "github").await.status(),
            303,
            "logins compare ignoring case"
        );
    }
}
