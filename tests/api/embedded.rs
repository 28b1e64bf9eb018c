//! The library: `examples/embedded.rs`, a notes app of its own with gatehouse mounted in,
//! driven black-box like the service — signed in through the real OpenID Provider.

use std::net::TcpListener;

use gatehouse::Settings;

use crate::helpers::*;

#[allow(dead_code)]
#[path = "../../examples/embedded.rs"]
mod notes_app;

/// The example on a random port, with the same variables the service takes.
async fn spawn_example(backend: Backend) -> (TestApp, Browser) {
    // A TestApp for its database, provider registration and variables; the example runs
    // beside it on those same variables, on its own listener and PUBLIC_URL.
    let app = spawn_app(AppOptions::new(backend).oidc("corp")).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut vars = app.vars.clone();
    vars.insert("PUBLIC_URL".into(), addr.clone());
    let op = OidcServer::shared();
    let (id, secret) = op.register_client(&format!("{addr}/callback/corp")).await;
    vars.insert("OAUTH_CORP_CLIENT_ID".into(), id);
    vars.insert("OAUTH_CORP_CLIENT_SECRET".into(), secret);
    let settings = Settings::from_vars(&vars).expect("valid settings");
    let server = notes_app::start(settings, listener).await.expect("the example starts");
    actix_web::rt::spawn(server);
    (app, Browser::new(&addr))
}

crate::on_both_backends! {
    async fn the_embedded_notes_app_guards_its_own_handlers(backend: Backend) {
        let (_app, b) = spawn_example(backend).await;

        // Its own public page, and its own guarded page and API, signed out.
        let home = b.get("/").await;
        assert_eq!(home.status(), 200);
        assert!(home.text().await.unwrap().contains("to keep notes"), "the app's own home page");
        let res = b.get("/dashboard").await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/login?next=%2Fdashboard");
        let res = b.get("/api/notes").await;
        assert_eq!(res.status(), 401);
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"], "unauthenticated");

        // gatehouse's own routes at the same paths as the service.
        assert_eq!(b.get("/login").await.status(), 200);
        assert_eq!(b.get("/healthz").await.status(), 200);
        assert_eq!(b.get("/readyz").await.status(), 200);
        assert_eq!(b.get("/api/me").await.status(), 401);

        // Signed in through the real OpenID Provider, back where the guard sent it from.
        let res = b.get("/authorize/corp?next=%2Fdashboard").await;
        let callback = complete_at_provider(&b.client, &location(&res), &b.url("/callback/"), AtProvider::LogIn("ada.lovelace")).await;
        let res = b.get(&callback).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/dashboard");
        let page = b.get("/dashboard").await.text().await.unwrap();
        assert!(page.contains("Ada Lovelace's dashboard"), "{page}");
        assert_eq!(b.me().await.unwrap()["name"], "Ada Lovelace");
        assert_eq!(b.get("/profile").await.status(), 200);

        // Its own table, in gatehouse's database, per user.
        assert_eq!(b.get("/api/notes").await.json::<serde_json::Value>().await.unwrap(), serde_json::json!([]));
        for text in ["first", "second"] {
            let res = b.client.post(b.url("/api/notes")).json(&serde_json::json!({"text": text})).send().await.unwrap();
            assert_eq!(res.status(), 201);
        }
        let notes: serde_json::Value = b.get("/api/notes").await.json().await.unwrap();
        let bodies: Vec<&str> = notes.as_array().unwrap().iter().map(|n| n["body"].as_str().unwrap()).collect();
        assert_eq!(bodies, ["first", "second"]);

        // Signed out: guarded again.
        assert_eq!(b.post("/logout").await.status(), 303);
        assert_eq!(b.get("/api/notes").await.status(), 401);
    }
}

/// `JSON_PATHS` decides which path prefixes are an API (default `/api/`): there a signed-out
/// request gets a 401 JSON, elsewhere a redirect — by route, never by `Accept`.
#[actix_web::test]
async fn json_refusals_follow_json_paths() {
    let app = spawn_app(AppOptions::new(Backend::Sqlite)).await;
    assert_eq!(app.browser.get("/profile").await.status(), 303, "a page");
    assert_eq!(app.browser.get("/api/me").await.status(), 401, "the API");

    let app = spawn_app(AppOptions::new(Backend::Sqlite).var("JSON_PATHS", "/profile")).await;
    assert_eq!(app.browser.get("/profile").await.status(), 401, "a path named in JSON_PATHS");
    assert_eq!(app.browser.get("/api/me").await.status(), 401, "gatehouse's own API stays JSON");
}
