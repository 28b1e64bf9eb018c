//! Provider tokens for the app (`OAUTH_{NAME}_STORE_TOKENS`): kept sealed, handed out valid,
//! refreshed once however many callers ask at the same moment, and a refused refresh asks the
//! person to authorize again.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;
use crate::oauth2_standin::OAuth2StandIn;

const TOKEN_KEY: &str = "7f3a9c1e5b2d8f4a6c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";

/// A generic OAuth2 provider `acme` on the stand-in that keeps its tokens.
fn keeping(standin: &OAuth2StandIn) -> Vec<(String, String)> {
    let mut env = standin.env("acme", "oauth2", "generic");
    for (k, v) in [
        ("CLAIM_ID", "/data/uid"),
        ("CLAIM_EMAIL", "/data/mail"),
        ("CLAIM_NAME", "/data/display"),
        ("STORE_TOKENS", "true"),
    ] {
        env = set_var(env, &format!("OAUTH_ACME_{k}"), v);
    }
    env
}

async fn token_of(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let res = client.get(format!("{base}/api/token/acme")).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// The token the provider issued at sign-in is handed out as it is while it is valid; in the
/// database it is sealed (neither token appears in the row); other sites, signed-out visitors
/// and providers that keep nothing get nothing.
#[actix_web::test]
async fn a_kept_token_is_sealed_at_rest_and_handed_out() {
    let standin = OAuth2StandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(keeping(&standin)).var("TOKEN_KEY", TOKEN_KEY)).await;
    assert_eq!(sign_in_auto(&app.browser, "acme").await.status(), 303);

    let (status, token) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!(status, 200, "{token}");
    let access = token["access_token"].as_str().unwrap().to_string();
    assert!(standin.issued(&access), "not the provider's token: {access}");
    assert_eq!(token["token_type"], "Bearer");
    let expires_at = token["expires_at"].as_i64().unwrap();
    assert!((expires_at - chrono::Utc::now().timestamp() - 3600).abs() < 30);

    let rows =
        app.db.texts("SELECT access_token || ' ' || COALESCE(refresh_token, '') AS t FROM provider_tokens").join("\n");
    assert!(!rows.is_empty(), "no row kept");
    assert!(!rows.contains(&access) && !rows.contains("o2refresh"), "a token is kept in the clear: {rows}");

    let res = app
        .browser
        .client
        .get(format!("{}/api/token/acme", app.addr))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "another site read the token");
    assert_eq!(app.new_browser().get("/api/token/acme").await.status(), 401);
    assert_eq!(token_of(&app.browser.client, &app.addr).await.0, 200);
    assert_eq!(app.browser.get("/api/token/github").await.status(), 404);
    assert_eq!(standin.refresh_calls(), 0, "a valid token was refreshed");
}

/// A token that expires within a minute is refreshed before it is handed out. Fifty callers at
/// once, on two instances, cause exactly one refresh at the provider, and all get its token.
/// The provider rotates refresh tokens: the next refresh works with the rotated one.
#[actix_web::test]
async fn fifty_callers_on_two_instances_cause_one_refresh() {
    let standin = OAuth2StandIn::start();
    standin.expires_in(30, 3600);
    standin.refresh_delay(Duration::from_millis(300));
    let app = spawn_app(
        AppOptions::new(Backend::Postgres)
            .provider_env(keeping(&standin))
            .var("TOKEN_KEY", TOKEN_KEY)
            .session_store("database"),
    )
    .await;
    let sibling = app.start_sibling().await;
    let res = sign_in_auto(&app.browser, "acme").await;
    let cookie = session_set_cookie(&res).expect("a session cookie");

    let callers: Vec<_> = (0..50)
        .map(|i| {
            let base = if i % 2 == 0 { app.addr.clone() } else { sibling.clone() };
            let cookie = cookie.clone();
            actix_web::rt::spawn(async move {
                let res = reqwest::Client::new()
                    .get(format!("{base}/api/token/acme"))
                    .header("Cookie", cookie)
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for caller in callers {
        let (status, token) = caller.await.unwrap();
        assert_eq!(status, 200, "{token}");
        tokens.insert(token["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(standin.refresh_calls(), 1, "the provider was asked more than once");
    assert_eq!(tokens.len(), 1, "callers got different tokens: {tokens:?}");
    assert!(standin.issued(tokens.iter().next().unwrap()));

    // The provider rotated the refresh token: the next refresh works only with the new one.
    app.db.execute("UPDATE provider_tokens SET expires_at = expires_at - INTERVAL '1 hour'");
    let (status, token) = token_of(&app.browser.client, &sibling).await;
    assert_eq!(status, 200, "the rotated refresh token was not kept: {token}");
    assert_eq!(standin.refresh_calls(), 2);
    assert!(!tokens.contains(token["access_token"].as_str().unwrap()));
}

/// The provider refuses the refresh token (the person revoked the app): the token is marked
/// unusable and callers are sent to authorize again, without asking the provider each time.
/// Authorizing again keeps fresh tokens.
#[actix_web::test]
async fn a_refused_refresh_asks_to_authorize_again() {
    let standin = OAuth2StandIn::start();
    standin.expires_in(30, 3600);
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(keeping(&standin)).var("TOKEN_KEY", TOKEN_KEY)).await;
    assert_eq!(sign_in_auto(&app.browser, "acme").await.status(), 303);
    standin.refuse_refresh(true);

    let (status, body) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "reauthorize");
    assert_eq!(body["authorize_url"], "/authorize/acme");
    assert_eq!(token_of(&app.browser.client, &app.addr).await.0, 409);
    assert_eq!(standin.refresh_calls(), 1, "a refused refresh token was tried again");

    standin.refuse_refresh(false);
    standin.expires_in(3600, 3600);
    assert_eq!(sign_in_auto(&app.browser, "acme").await.status(), 303);
    let (status, body) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!(status, 200, "{body}");
}

/// The library call: an app of its own, with gatehouse mounted in, asks for the signed-in
/// user's token in its own handler (`gatehouse::provider_token`), and gets the provider's
/// token; signed out, the error answers 401 JSON by itself.
#[actix_web::test]
async fn an_app_of_its_own_gets_the_token_in_its_handler() {
    use actix_web::{HttpRequest, HttpResponse, web};
    use gatehouse::{ProviderTokenError, provider_token};

    async fn call_the_api(req: HttpRequest) -> Result<HttpResponse, ProviderTokenError> {
        let token = provider_token(&req, "acme").await?;
        Ok(HttpResponse::Ok().body(format!("called the API with {}", token.access_token)))
    }

    let standin = OAuth2StandIn::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(keeping(&standin)).var("TOKEN_KEY", TOKEN_KEY)).await;
    let (listener, addr, vars) = mounting_app_listener(&app);
    serve_mounting_app(&vars, listener, |cfg| {
        cfg.route("/call-the-api", web::get().to(call_the_api));
    })
    .await;

    let browser = Browser::new(&addr);
    let res = browser.get("/call-the-api").await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unauthorized");
    assert_eq!(sign_in_auto(&browser, "acme").await.status(), 303);
    let body = browser.get("/call-the-api").await.text().await.unwrap();
    let token = body.strip_prefix("called the API with ").expect(&body);
    assert!(standin.issued(token), "not the provider's token: {token}");
}

/// A provider having a bad moment (`temporarily_unavailable`) does not kill the token: the kept
/// one is handed out while it has not expired, and the next refresh works. A sign-in whose
/// answer carries no refresh token (Google after the first consent) keeps the one held.
#[actix_web::test]
async fn a_passing_provider_error_and_a_sign_in_without_refresh_token_keep_the_token_alive() {
    let standin = OAuth2StandIn::start();
    standin.expires_in(30, 30);
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(keeping(&standin)).var("TOKEN_KEY", TOKEN_KEY)).await;
    assert_eq!(sign_in_auto(&app.browser, "acme").await.status(), 303);
    let (_, signed_in) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!(standin.refresh_calls(), 1);

    standin.refresh_error(Some("temporarily_unavailable"));
    let (status, body) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!(status, 200, "a still-valid token was withheld: {body}");
    standin.refresh_error(None);
    let (status, body) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!((status, standin.refresh_calls()), (200, 3), "the token was given up after a passing error: {body}");
    assert_ne!(body["access_token"], signed_in["access_token"]);

    standin.no_refresh_on_sign_in(true);
    assert_eq!(sign_in_auto(&app.browser, "acme").await.status(), 303);
    let (status, body) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!(status, 200, "the refresh token held was dropped by a sign-in without one: {body}");
    assert_eq!(standin.refresh_calls(), 4);
}

/// Azure AD v1.0 and Entra B2C send `"expires_in": "3600"`. On a plain OAuth2 provider both the
/// code grant's and the refresh grant's answer are read: the 30 s token from sign-in is due for
/// a refresh (so its lifetime was read), and the refreshed one lives an hour.
#[actix_web::test]
async fn expires_in_as_a_string_dates_tokens_from_the_code_and_the_refresh_grant() {
    let standin = OAuth2StandIn::start();
    standin.expires_in(30, 3600);
    standin.expires_in_as_text();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(keeping(&standin)).var("TOKEN_KEY", TOKEN_KEY)).await;
    assert_eq!(sign_in_auto(&app.browser, "acme").await.status(), 303);
    let (status, token) = token_of(&app.browser.client, &app.addr).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(standin.refresh_calls(), 1, "the sign-in's token was dated and found due");
    let expires_at = token["expires_at"].as_i64().unwrap();
    assert!((expires_at - chrono::Utc::now().timestamp() - 3600).abs() < 30, "{token}");
}
