//! Sign in with Apple against a stand-in that behaves like Apple: the callback is a cross-site
//! form `POST` that carries no session cookie, the client secret is an ES256 JWT gatehouse
//! mints from the `.p8` key, the name comes only once, and private-relay addresses are
//! verified but never join accounts.

use crate::apple_standin::{AppleStandIn, RELAY_EMAIL};
use crate::helpers::*;
use crate::scripted_op::ScriptedOp;

/// The whole journey: form post without the cookie, a page that moves on to the resume step
/// from gatehouse's own origin, where the browser's session finishes the sign-in; the name
/// from the first authorization is kept when later sign-ins do not send it; the client secret
/// Apple checked was minted from the `.p8` key, sent in the body, and is reused.
#[actix_web::test]
async fn a_person_signs_in_with_apple_and_keeps_the_name_apple_sent_once() {
    let apple = AppleStandIn::start("127.0.0.1");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple"))).await;

    let (action, fields) = apple_form(&app.browser).await;
    assert_eq!(action, format!("{}/callback/apple", app.addr));
    assert!(fields.iter().any(|(k, _)| k == "user"), "the first authorization sends the name");
    let code = fields.iter().find(|(k, _)| k == "code").unwrap().1.clone();

    let res = post_from_apple(&action, &fields).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(set_cookie_headers(&res).is_empty(), "the POST sets no cookie");
    let resume = resume_url(res).await;
    assert!(resume.starts_with(&format!("{}/callback/apple?resume=", app.addr)), "{resume}");
    assert!(!resume.contains(&code) && !resume.contains("Lovelace"), "code and name are sealed: {resume}");
    let done = app.browser.get(&resume).await;
    assert_eq!(done.status(), 303, "{}", done.text().await.unwrap());
    assert_eq!(location(&done), "/");

    let me = app.browser.me().await.unwrap();
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["email"], "ada@example.test");
    assert_eq!(me["email_verified"], true, "Apple sends email_verified as the string \"true\"");
    assert_eq!(me["identities"][0]["provider"], "apple");

    // Later sign-ins carry no name: the one Apple sent first stays.
    let again = app.new_browser();
    let (_, fields) = apple_form(&again).await;
    assert!(!fields.iter().any(|(k, _)| k == "user"), "Apple sends the name once");
    assert_eq!(post_like_apple(&again, &action, &fields).await.status(), 303);
    let me_again = again.me().await.unwrap();
    assert_eq!(me_again["id"], me["id"]);
    assert_eq!(me_again["name"], "Ada Lovelace");

    assert!(apple.refusals().is_empty(), "Apple refused: {:?}", apple.refusals());
    let secrets = apple.secrets();
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[0], secrets[1], "a minted secret is reused while it is valid");
}

/// The resume step finds the sign-in in the browser's own session: another browser (an
/// attacker who got hold of the URL, or a login-CSRF victim) gets a 400 and no session; so do
/// a replay, a tampered seal, extra parameters, and Apple's answer sent as a plain GET.
#[actix_web::test]
async fn the_resume_step_works_only_in_the_browser_that_started_it_and_once() {
    let apple = AppleStandIn::start("127.0.0.1");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple"))).await;

    let (action, fields) = apple_form(&app.browser).await;
    let resume = resume_url(post_from_apple(&action, &fields).await).await;

    let attacker = app.new_browser();
    let stolen = attacker.get(&resume).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(attacker.me().await, Err(401));

    let at = resume.len() - 5;
    let flipped = if &resume[at..at + 1] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &resume[..at], &resume[at + 1..]);
    assert_eq!(app.browser.get(&tampered).await.status(), 400, "a tampered seal");
    assert_eq!(app.browser.get(&format!("{resume}&code=x")).await.status(), 400, "resume with other parameters");
    // What Apple posted, sent as a query instead (a name planted beside it included): refused,
    // Apple's answers come only by form post.
    let query: Vec<(String, String)> =
        fields.iter().cloned().chain([("user".into(), r#"{"name":{"firstName":"Mallory"}}"#.into())]).collect();
    let as_get =
        format!("{action}?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish());
    assert_eq!(app.browser.get(&as_get).await.status(), 400, "a GET callback to a form-posting provider");

    // The browser that started it: none of the above consumed its sign-in.
    let ok = app.browser.get(&resume).await;
    assert_eq!(ok.status(), 303, "{}", ok.text().await.unwrap());
    assert_eq!(app.browser.me().await.unwrap()["name"], "Ada Lovelace");
    assert_eq!(app.new_browser().get(&resume).await.status(), 400, "used once");
    assert_eq!(app.browser.get(&resume).await.status(), 400, "used once, even by its browser");

    let no_state = post_from_apple(&action, &[("code".into(), "c1".into())]).await;
    assert_eq!(no_state.status(), 400, "a form post without a state");
    let huge = post_from_apple(&action, &[("state".into(), "s".into()), ("user".into(), "x".repeat(20_000))]).await;
    assert_eq!(huge.status(), 413, "a form post over 16 KiB");
    let nobody = post_from_apple(&format!("{}/callback/nobody", app.addr), &[("state".into(), "s".into())]).await;
    assert_eq!(nobody.status(), 404);
}

/// "Cancel" on Apple's page posts `error=user_cancelled_authorize`: the sign-in page says it
/// was cancelled, and nobody is signed in.
#[actix_web::test]
async fn cancelling_at_apple_says_so() {
    let apple = AppleStandIn::start("127.0.0.1");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple"))).await;
    let (action, fields) = apple_page_form(&app.browser, "cancel").await;
    let res = post_like_apple(&app.browser, &action, &fields).await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Sign-in with Apple was cancelled."), "{page}");
    assert_eq!(app.browser.me().await, Err(401));
    assert_eq!(app.db.counts(), (0, 0));
}

/// With `STORE_TOKENS`, an access token about to expire is renewed with Apple's refresh token,
/// and the client secret for that is minted and checked too.
#[actix_web::test]
async fn apple_tokens_are_renewed_with_a_minted_secret() {
    let apple = AppleStandIn::start("127.0.0.1");
    let env = set_var(apple.env("apple"), "OAUTH_APPLE_STORE_TOKENS", "true");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;
    apple.short_tokens();
    assert_eq!(sign_in_with_apple(&app.browser).await.status(), 303);
    let res = app.browser.get("/api/token/apple").await;
    assert_eq!(res.status(), 200);
    let token: serde_json::Value = res.json().await.unwrap();
    assert_eq!(apple.refreshes(), 1, "a token with 30 s left is renewed first");
    assert_ne!(token["access_token"], "apple-access-1");
    assert!(token["access_token"].as_str().unwrap().starts_with("apple-access-"), "{token}");
    assert!(apple.refusals().is_empty(), "{:?}", apple.refusals());
    assert_eq!(apple.secrets().len(), 2, "the code and the refresh, each with a checked secret");
}

/// Only a provider that answers by form post takes a POST callback; others keep GET only, and
/// a sealed resume made for Apple is no use to them.
#[actix_web::test]
async fn providers_that_do_not_form_post_refuse_a_post_callback() {
    let apple = AppleStandIn::start("127.0.0.1");
    let op = ScriptedOp::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple")).provider_env(op.env("corp"))).await;
    let form = [("state".to_string(), "s".to_string()), ("code".into(), "c".into())];
    let res = post_from_apple(&format!("{}/callback/corp", app.addr), &form).await;
    assert_eq!(res.status(), 405);

    let (action, fields) = apple_form(&app.browser).await;
    let resume = resume_url(post_from_apple(&action, &fields).await).await;
    let elsewhere = resume.replace("/callback/apple?", "/callback/corp?");
    assert_eq!(app.browser.get(&elsewhere).await.status(), 400);
    assert_eq!(op.calls().token, 0);
}

/// A client secret Apple cannot verify (a key from another team, say) is refused by Apple;
/// the person sees a provider error (502), nothing is written.
#[actix_web::test]
async fn a_secret_signed_with_the_wrong_key_is_refused_by_apple() {
    let apple = AppleStandIn::start("127.0.0.1");
    let other = AppleStandIn::start("127.0.0.1");
    // This app signs with the other stand-in's key file.
    let other_key = other.env("apple").into_iter().find(|(k, _)| k.ends_with("PRIVATE_KEY_FILE")).unwrap().1;
    let env = set_var(apple.env("apple"), "OAUTH_APPLE_PRIVATE_KEY_FILE", other_key);
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(env)).await;

    let res = sign_in_with_apple(&app.browser).await;
    assert_eq!(res.status(), 502);
    assert_eq!(apple.refusals(), ["client secret: signature"]);
    assert_eq!(app.db.counts(), (0, 0));
    assert_eq!(app.browser.me().await, Err(401));
}

/// A real Apple address joins the account that already holds it (through a trusted provider);
/// a private-relay address, verified as it is, never does, in either direction.
#[actix_web::test]
async fn private_relay_addresses_never_join_accounts() {
    let apple = AppleStandIn::start("127.0.0.1");
    let op = ScriptedOp::start();
    let corp = set_var(op.env("corp"), "OAUTH_CORP_TRUST_EMAIL", "true");
    let app = spawn_app(AppOptions::new(Backend::Postgres).provider_env(apple.env("apple")).provider_env(corp)).await;

    // Control: the same real address joins.
    op.email("ada@example.test");
    assert_eq!(sign_in_auto(&app.browser, "corp").await.status(), 303);
    let corp_user = app.browser.me().await.unwrap()["id"].clone();
    let browser = app.new_browser();
    assert_eq!(sign_in_with_apple(&browser).await.status(), 303);
    assert_eq!(browser.me().await.unwrap()["id"], corp_user, "a verified real address joins");

    // A relay address from Apple first, then the same address from the trusted provider.
    apple.person("002345.relayperson.0001", RELAY_EMAIL);
    let hidden = app.new_browser();
    assert_eq!(sign_in_with_apple(&hidden).await.status(), 303);
    let me = hidden.me().await.unwrap();
    assert_eq!(me["email"], RELAY_EMAIL);
    assert_eq!(me["email_verified"], true, "Apple verified the relay address");
    op.subject("scripted-relay-holder");
    op.email(RELAY_EMAIL);
    let other = app.new_browser();
    assert_eq!(sign_in_auto(&other, "corp").await.status(), 303);
    assert_ne!(other.me().await.unwrap()["id"], me["id"], "a relay address never joins an account");

    // And the other way round: the trusted provider's relay address first.
    op.subject("scripted-relay-first");
    op.email("y2z8p3@privaterelay.appleid.com");
    let first = app.new_browser();
    assert_eq!(sign_in_auto(&first, "corp").await.status(), 303);
    apple.person("003456.relayperson.0002", "y2z8p3@privaterelay.appleid.com");
    let second = app.new_browser();
    assert_eq!(sign_in_with_apple(&second).await.status(), 303);
    assert_ne!(second.me().await.unwrap()["id"], first.me().await.unwrap()["id"]);
    assert_eq!(app.db.counts(), (5, 6));
}
