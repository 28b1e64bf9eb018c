//! Sign in with Apple against a stand-in that behaves like Apple: the callback is a cross-site
//! form `POST` that carries no session cookie, the client secret is an ES256 JWT gatehouse
//! mints from the `.p8` key, the name comes only once, and private-relay addresses are
//! verified but never join accounts.

use crate::apple_standin::{AppleStandIn, RELAY_EMAIL};
use crate::helpers::*;
use crate::scripted_op::ScriptedOp;

/// The whole journey: form post without the cookie, resumed in the browser's session; the
/// name from the first authorization is kept when later sign-ins do not send it; the client
/// secret Apple checked was minted from the `.p8` key, in the body, and is reused.
#[actix_web::test]
async fn a_person_signs_in_with_apple_and_keeps_the_name_apple_sent_once() {
    let apple = AppleStandIn::start("127.0.0.1");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple"))).await;

    let (action, fields) = apple_form(&app.browser).await;
    assert_eq!(action, format!("{}/callback/apple", app.addr));
    assert!(fields.iter().any(|(k, _)| k == "user"), "the first authorization sends the name");
    let code = fields.iter().find(|(k, _)| k == "code").unwrap().1.clone();

    let no_cookies = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_cookies.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(set_cookie_headers(&res).is_empty(), "the POST sets no cookie");
    let resume = location(&res);
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
/// a replay, a tampered seal and a form post without a state.
#[actix_web::test]
async fn the_resume_step_works_only_in_the_browser_that_started_it_and_once() {
    let apple = AppleStandIn::start("127.0.0.1");
    let app = spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple"))).await;
    let no_cookies = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let (action, fields) = apple_form(&app.browser).await;
    let res = no_cookies.post(&action).form(&fields).send().await.unwrap();
    let resume = location(&res);

    let attacker = app.new_browser();
    let stolen = attacker.get(&resume).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(attacker.me().await, Err(401));

    let mut tampered = resume.clone();
    tampered.insert(tampered.len() - 3, if resume.ends_with("AAA") { 'B' } else { 'A' });
    assert_eq!(app.browser.get(&tampered).await.status(), 400, "a tampered seal");
    assert_eq!(app.browser.get(&format!("{resume}&code=x")).await.status(), 400, "resume with other parameters");

    // The browser that started it: the attacker's attempt consumed nothing of its session.
    let ok = app.browser.get(&resume).await;
    assert_eq!(ok.status(), 303, "{}", ok.text().await.unwrap());
    assert!(app.browser.me().await.is_ok());
    assert_eq!(app.new_browser().get(&resume).await.status(), 400, "used once");
    assert_eq!(app.browser.get(&resume).await.status(), 400, "used once, even by its browser");

    let res = no_cookies.post(&action).form(&[("code", "c1")]).send().await.unwrap();
    assert_eq!(res.status(), 400, "a form post without a state");
    let res = no_cookies.post(format!("{}/callback/nobody", app.addr)).form(&[("state", "s")]).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

/// Only a provider that answers by form post takes a POST callback; others keep GET only, and
/// a sealed resume made for Apple is no use to them.
#[actix_web::test]
async fn providers_that_do_not_form_post_refuse_a_post_callback() {
    let apple = AppleStandIn::start("127.0.0.1");
    let op = ScriptedOp::start();
    let app =
        spawn_app(AppOptions::new(Backend::Sqlite).provider_env(apple.env("apple")).provider_env(op.env("corp"))).await;
    let no_cookies = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res =
        no_cookies.post(format!("{}/callback/corp", app.addr)).form(&[("state", "s"), ("code", "c")]).send().await;
    assert_eq!(res.unwrap().status(), 405);

    let (action, fields) = apple_form(&app.browser).await;
    let resume = location(&no_cookies.post(&action).form(&fields).send().await.unwrap());
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
