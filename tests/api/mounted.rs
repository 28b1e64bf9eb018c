//! `PUBLIC_URL` with a path (`http://127.0.0.1:{port}/auth`): every gatehouse route, link,
//! form, redirect URI and guard redirect lives under it, and `next` may still name any local
//! path of the host (`/dashboard`).

use crate::helpers::*;

#[actix_web::test]
async fn every_route_link_and_redirect_follows_the_path() {
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).mounted_at("/auth").oidc("corp").var("APP_NAME", "Acme Notes"))
            .await;
    let b = &app.browser;

    // Routes live under the prefix, and only there.
    for path in ["/auth/login", "/auth/healthz", "/auth/readyz", "/auth/static/style.css", "/auth/"] {
        assert_eq!(b.get(path).await.status(), 200, "{path}");
    }
    let res = b.get("/auth").await;
    assert_eq!((res.status().as_u16(), location(&res)), (303, "/auth/".to_string()), "the bare prefix");
    for path in ["/login", "/static/style.css", "/healthz"] {
        assert_eq!(b.get(path).await.status(), 404, "{path} is the host's, not gatehouse's");
    }

    // Links and forms on the pages, and the name.
    let login = b.get("/auth/login?next=%2Fdashboard").await.text().await.unwrap();
    for needle in [
        r#"href="/auth/static/style.css""#,
        r#"href="/auth/authorize/corp?next=%2Fdashboard""#,
        r#"<a class="brand" href="/auth/">Acme Notes</a>"#,
        "<title>Sign in · Acme Notes</title>",
    ] {
        assert!(login.contains(needle), "{needle} in {login}");
    }
    assert!(!login.contains(r#"="/static"#) && !login.contains("gatehouse"), "nothing points outside: {login}");
    let missing = b.get("/auth/nothing-here").await.text().await.unwrap();
    assert!(missing.contains(r#"href="/auth/login""#) && missing.contains("Acme Notes"), "error pages too");

    // The guard sends a signed-out visitor to the prefixed sign-in page, and back.
    let res = b.get("/auth/profile").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/auth/login?next=%2Fauth%2Fprofile");
    assert_eq!(b.get("/auth/api/me").await.status(), 401, "the API under the prefix answers JSON");

    // Sign in through the real OpenID Provider: the redirect URI carries the prefix, and the
    // browser lands on the host's own /dashboard.
    let res = b.get("/auth/authorize/corp?next=%2Fdashboard").await;
    assert_eq!(res.status(), 303);
    let to_provider = location(&res);
    assert_eq!(
        query_param(&to_provider, "redirect_uri").as_deref(),
        Some(format!("{}/auth/callback/corp", app.addr).as_str())
    );
    let callback = complete_at_provider(
        &b.client,
        &to_provider,
        &format!("{}/auth/callback/", app.addr),
        AtProvider::LogIn("ada.lovelace"),
    )
    .await;
    let res = b.get(&callback).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard", "next may name any local path of the host");
    let me: serde_json::Value = b.get("/auth/api/me").await.json().await.unwrap();
    assert_eq!(me["name"], "Ada Lovelace");

    // Signed in: the profile's forms, and sign-out's redirect.
    let profile = b.get("/auth/profile").await.text().await.unwrap();
    assert!(
        profile.contains(r#"action="/auth/logout""#) && profile.contains(r#"href="/auth/profile/delete""#),
        "{profile}"
    );
    let res = b.post("/auth/logout").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/auth/");
    assert_eq!(b.get("/auth/api/me").await.status(), 401);
}

#[actix_web::test]
async fn the_demo_provider_follows_the_path_too() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite).mounted_at("/auth").var("DEMO_SIGN_IN", "auto")).await;
    let b = &app.browser;
    let res = b.get("/auth/authorize/demo").await;
    assert_eq!(res.status(), 303);
    let at_provider = location(&res);
    assert!(at_provider.starts_with(&format!("{}/auth/demo-idp/authorize?", app.addr)), "{at_provider}");
    let page = b.get(&at_provider).await.text().await.unwrap();
    assert!(page.contains(r#"href="/auth/static/style.css""#), "{page}");
}

#[test]
fn a_path_with_odd_characters_is_refused() {
    let vars: std::collections::HashMap<String, String> =
        [("PUBLIC_URL".to_string(), "http://127.0.0.1:8080/a%20b".to_string())].into();
    let err = gatehouse::Settings::from_vars(&vars).expect_err("refused");
    assert!(err.problems.iter().any(|p| p.starts_with("PUBLIC_URL=")), "{err}");
}

/// `TEMPLATES_DIR` replaces built-in templates by name, with the same variables.
#[actix_web::test]
async fn templates_dir_replaces_built_in_templates() {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("login.html"),
        r#"{% extends "base.html" %}{% block content %}<h1>Welcome to {{ app_name }}</h1>
{% for p in providers %}<a class="mine" href="{{ p.href | safe }}">{{ p.label }}</a>{% endfor %}{% endblock content %}"#,
    )
    .unwrap();
    let app = spawn_app(
        AppOptions::new(Backend::Sqlite)
            .oidc("corp")
            .var("TEMPLATES_DIR", dir.0.display().to_string())
            .var("APP_NAME", "Acme"),
    )
    .await;
    let page = app.browser.get("/login").await.text().await.unwrap();
    assert!(page.contains("<h1>Welcome to Acme</h1>"), "{page}");
    assert!(page.contains(r#"<a class="mine" href="/authorize/corp">Corp</a>"#), "{page}");
    assert!(page.contains(r#"<a class="brand" href="/">Acme</a>"#), "the built-in base.html is kept: {page}");
}

/// Checked at start: a file that is no template of gatehouse's, or one that does not parse, stops
/// it with a message naming the file (and the line).
#[actix_web::test]
async fn templates_dir_is_checked_at_start() {
    let start = |dir: &TempDir| {
        let vars: std::collections::HashMap<String, String> = [
            ("DATABASE_URL".to_string(), format!("sqlite://{}/g.db", dir.0.display())),
            ("TEMPLATES_DIR".to_string(), dir.0.join("t").display().to_string()),
            ("DEMO_SIGN_IN".to_string(), "off".to_string()),
        ]
        .into();
        let settings = gatehouse::Settings::from_vars(&vars).unwrap();
        async move { gatehouse::Gatehouse::new(settings).await.err().map(|e| e.to_string()) }
    };
    let dir = TempDir::new();
    std::fs::create_dir(dir.0.join("t")).unwrap();
    std::fs::write(dir.0.join("t/logn.html"), "typo").unwrap();
    let err = start(&dir).await.expect("refused");
    assert!(err.contains("logn.html") && err.contains("login.html"), "{err}");

    std::fs::remove_file(dir.0.join("t/logn.html")).unwrap();
    std::fs::write(dir.0.join("t/error.html"), "line one\nline two {% if %}\n").unwrap();
    let err = start(&dir).await.expect("refused");
    assert!(err.contains("error.html") && err.contains("2:"), "names the file and line: {err}");
}
