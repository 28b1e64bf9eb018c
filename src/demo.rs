//! The demo OpenID Provider built into gatehouse, served under `{PUBLIC_URL}/demo-idp/`, so a
//! fresh checkout signs people in before any app is registered anywhere.
//!
//! It is a real provider, small: discovery, a JWKS with a per-process RSA key, an authorization
//! endpoint whose "sign-in" is a form (any name, any email), and a token endpoint that checks
//! the client secret, the redirect URI and PKCE S256 and returns an RS256-signed ID token with
//! the nonce. gatehouse talks to it through its ordinary OpenID Connect code, exactly as to any
//! other provider. Anyone can be anyone here, so it is never trusted for email linking, every
//! page says so ([`demo_notice`]), configuration refuses it in production, on a non-loopback
//! `PUBLIC_URL` or `BIND_ADDR` and with `DEMO_SIGN_IN=off` (`crate::config`), and it answers
//! only direct requests from this machine, whatever the settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, ContentType};
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::Settings;

/// How long an authorization code may wait for its token request.
const CODE_TTL: Duration = Duration::from_secs(120);
/// Codes waiting at once; beyond it the oldest go (the demo is for one person at a laptop).
const MAX_CODES: usize = 1_000;

/// People offered with one click on the demo sign-in page.
const SAMPLE_PEOPLE: [(&str, &str); 3] = [
    ("Ada Lovelace", "ada@example.test"),
    ("Alan Turing", "alan@example.test"),
    ("Grace Hopper", "grace@example.test"),
];

/// The demo provider's state: its key, its one client, and the codes it has handed out.
pub struct DemoIdp {
    issuer: String,
    /// A new key id for each process's new key: a JWKS cached from an earlier run (the
    /// database keeps provider metadata) then names an unknown key, which makes gatehouse
    /// fetch the new one, instead of a known id whose signature fails.
    kid: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    key: CoreRsaPrivateSigningKey,
    codes: Mutex<HashMap<String, Grant>>,
}

/// What an authorization code stands for until it is redeemed (once).
struct Grant {
    person: Person,
    nonce: Option<String>,
    code_challenge: String,
    issued: Instant,
}

#[derive(Clone)]
struct Person {
    name: String,
    email: String,
}

impl DemoIdp {
    /// The provider for `settings`' demo provider, with a fresh RSA key (made on a blocking
    /// thread: key generation takes a moment). `None` when the demo is off.
    pub async fn for_settings(settings: &Settings) -> Result<Option<Arc<DemoIdp>>, String> {
        let Some(demo) = settings.demo() else { return Ok(None) };
        // Checked again here for settings built in code rather than read by `Settings::from_env`.
        if settings.production || !crate::config::is_loopback(&settings.public_url) {
            return Err("the demo provider runs only on a loopback PUBLIC_URL, outside APP_ENV=production".into());
        }
        let kid = format!("demo-{}", &oauth2::CsrfToken::new_random_len(9).secret()[..12]);
        let key_id = kid.clone();
        let key = web::block(move || generate_key(&key_id)).await.map_err(|e| e.to_string())??;
        Ok(Some(Arc::new(DemoIdp {
            issuer: demo.issuer.clone().ok_or("the demo provider has no issuer")?,
            kid,
            client_id: demo.client_id.clone(),
            client_secret: demo.client_secret.fixed().ok_or("the demo provider has no client secret")?.to_string(),
            redirect_uri: settings.redirect_uri(&demo.name),
            key,
            codes: Mutex::new(HashMap::new()),
        })))
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.issuer)
    }
}

fn generate_key(kid: &str) -> Result<CoreRsaPrivateSigningKey, String> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).map_err(|e| e.to_string())?;
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.into())))
}

/// The demo provider's routes, under `/demo-idp` (inside the site's prefix).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/demo-idp")
            .wrap(actix_web::middleware::from_fn(only_this_machine))
            .route("/.well-known/openid-configuration", web::get().to(discovery))
            .route("/jwks", web::get().to(jwks))
            .route("/authorize", web::get().to(sign_in_page))
            .route("/authorize", web::post().to(approve))
            .route("/token", web::post().to(token)),
    );
}

/// The demo provider answers only this machine, directly: whatever the settings say (a host app
/// may bind `0.0.0.0` itself, a proxy may forward), nobody else can use it to sign in as anyone.
async fn only_this_machine(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    let forwarded = crate::net::FORWARDING_HEADERS.iter().any(|h| req.headers().contains_key(*h));
    if !loopback || forwarded {
        let refusal = refuse("The demo provider answers only on this machine.");
        return Ok(req.into_response(refusal).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

async fn discovery(idp: web::Data<DemoIdp>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "issuer": idp.issuer,
        "authorization_endpoint": idp.endpoint("authorize"),
        "token_endpoint": idp.endpoint("token"),
        "jwks_uri": idp.endpoint("jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": ["sub", "name", "email", "email_verified"],
    }))
}

async fn jwks(idp: web::Data<DemoIdp>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"keys": [idp.key.as_verification_key()]}))
}

/// The authorization request, as the relying party sends it.
#[derive(Deserialize)]
struct AuthorizeRequest {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: Option<String>,
    code_challenge: String,
    code_challenge_method: String,
    /// On the form post: who the visitor says they are.
    name: Option<String>,
    email: Option<String>,
}

impl AuthorizeRequest {
    /// Only gatehouse itself, with its own redirect URI, the code flow and PKCE S256.
    fn check(&self, idp: &DemoIdp) -> Result<(), &'static str> {
        let bounded = |s: &str| !s.is_empty() && s.len() <= 512 && !s.chars().any(char::is_control);
        if self.client_id != idp.client_id || self.redirect_uri != idp.redirect_uri {
            return Err("This sign-in request is not from this gatehouse.");
        }
        if self.response_type != "code" || self.code_challenge_method != "S256" {
            return Err("The demo provider supports only the code flow with PKCE S256.");
        }
        if !bounded(&self.state) || !bounded(&self.code_challenge) || !self.nonce.as_deref().is_none_or(bounded) {
            return Err("The sign-in request is malformed.");
        }
        Ok(())
    }

    fn hidden_fields(&self) -> String {
        let field =
            |name: &str, value: &str| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(value));
        [
            field("response_type", &self.response_type),
            field("client_id", &self.client_id),
            field("redirect_uri", &self.redirect_uri),
            field("state", &self.state),
            self.nonce.as_deref().map(|n| field("nonce", n)).unwrap_or_default(),
            field("code_challenge", &self.code_challenge),
            field("code_challenge_method", &self.code_challenge_method),
        ]
        .concat()
    }
}

fn refuse(message: &str) -> HttpResponse {
    page(actix_web::http::StatusCode::BAD_REQUEST, &format!("<h1>Demo sign-in</h1><p>{}</p>", escape(message)))
}

/// `GET /demo-idp/authorize`: the demo's "sign-in": type a name and an email, or pick a person.
async fn sign_in_page(idp: web::Data<DemoIdp>, query: web::Query<AuthorizeRequest>) -> HttpResponse {
    if let Err(why) = query.check(&idp) {
        return refuse(why);
    }
    let hidden = query.hidden_fields();
    let samples: String = SAMPLE_PEOPLE
        .iter()
        .map(|(name, email)| {
            format!(
                r#"<li><form method="post" action="{action}">{hidden}<input type="hidden" name="name" value="{name}"><input type="hidden" name="email" value="{email}"><button type="submit" class="provider">{name} <small>{email}</small></button></form></li>"#,
                action = escape(&idp.endpoint("authorize")),
            )
        })
        .collect();
    page(
        actix_web::http::StatusCode::OK,
        &format!(
            r#"<h1 id="demo-title">Demo sign-in</h1>
<p>This is gatehouse's built-in demo provider: be whoever you like. Configure a real provider
(<code>OAUTH_PROVIDERS</code>) to sign people in for real.</p>
<form method="post" action="{action}" class="demo-form">{hidden}
  <p><label for="name">Name</label><br><input id="name" name="name" required maxlength="100" autocomplete="name"></p>
  <p><label for="email">Email</label><br><input id="email" name="email" type="email" required maxlength="200" autocomplete="email"></p>
  <p><button type="submit" class="button primary">Sign in</button></p>
</form>
<h2>Or, in one click</h2>
<ul class="providers">{samples}</ul>"#,
            action = escape(&idp.endpoint("authorize")),
        ),
    )
}

/// `POST /demo-idp/authorize`: the person "signed in": a single-use code back to gatehouse.
async fn approve(idp: web::Data<DemoIdp>, form: web::Form<AuthorizeRequest>) -> HttpResponse {
    if let Err(why) = form.check(&idp) {
        return refuse(why);
    }
    let clean = |s: Option<&str>, max: usize| -> String {
        s.unwrap_or_default().trim().chars().filter(|c| !c.is_control()).take(max).collect()
    };
    let (name, email) = (clean(form.name.as_deref(), 100), clean(form.email.as_deref(), 200).to_lowercase());
    if name.is_empty() || !email.contains('@') || email.chars().any(char::is_whitespace) {
        return refuse("Give a name and an email address.");
    }
    let code = oauth2::CsrfToken::new_random_len(32).secret().clone();
    {
        let mut codes = idp.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, g| g.issued.elapsed() < CODE_TTL);
        if codes.len() >= MAX_CODES
            && let Some(oldest) = codes.iter().min_by_key(|(_, g)| g.issued).map(|(c, _)| c.clone())
        {
            codes.remove(&oldest);
        }
        codes.insert(
            code.clone(),
            Grant {
                person: Person { name, email },
                nonce: form.nonce.clone(),
                code_challenge: form.code_challenge.clone(),
                issued: Instant::now(),
            },
        );
    }
    let mut back = match url::Url::parse(&idp.redirect_uri) {
        Ok(url) => url,
        Err(_) => return refuse("The redirect URI is not a URL."),
    };
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", &form.state).append_pair("iss", &idp.issuer);
    HttpResponse::SeeOther().insert_header((header::LOCATION, back.to_string())).finish()
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An OAuth2 error answer (RFC 6749 §5.2).
fn token_error(status: actix_web::http::StatusCode, error: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"error": error}))
}

/// `POST /demo-idp/token`: the code, once, for an ID token — after the client's secret, the
/// redirect URI and the PKCE verifier check out.
async fn token(req: HttpRequest, idp: web::Data<DemoIdp>, form: web::Form<TokenRequest>) -> HttpResponse {
    use actix_web::http::StatusCode;
    let (id, secret) = match basic_credentials(&req) {
        Some(pair) => pair,
        None => (form.client_id.clone().unwrap_or_default(), form.client_secret.clone().unwrap_or_default()),
    };
    if id != idp.client_id || !crate::session::constant_time_eq(secret.as_bytes(), idp.client_secret.as_bytes()) {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.grant_type != "authorization_code" {
        return token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // Taken out first: a code is good for one attempt, whatever happens next.
    let grant = idp.codes.lock().unwrap_or_else(|e| e.into_inner()).remove(&form.code);
    let Some(grant) = grant.filter(|g| g.issued.elapsed() < CODE_TTL) else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(form.code_verifier.as_bytes()));
    if form.redirect_uri != idp.redirect_uri
        || !crate::session::constant_time_eq(challenge.as_bytes(), grant.code_challenge.as_bytes())
    {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access_token = oauth2::CsrfToken::new_random_len(32).secret().clone();
    match id_token(&idp, &grant) {
        Ok(id_token) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        })),
        Err(why) => {
            log::error!("demo provider: cannot sign an ID token: {why}");
            token_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}

/// The RS256-signed ID token for a grant.
fn id_token(idp: &DemoIdp, grant: &Grant) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    // A stable subject per email: the same person signs in as the same account next time.
    let subject = format!("demo-{}", &hex(&Sha256::digest(grant.person.email.as_bytes()))[..24]);
    let mut claims = serde_json::json!({
        "iss": idp.issuer,
        "sub": subject,
        "aud": idp.client_id,
        "iat": now,
        "exp": now + 300,
        "name": grant.person.name,
        "email": grant.person.email,
        // Nobody checked: anyone can be anyone here.
        "email_verified": false,
    });
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = nonce.clone().into();
    }
    let header = serde_json::json!({"alg": "RS256", "kid": idp.kid, "typ": "JWT"});
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature =
        idp.key.sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes()).map_err(|e| e.to_string())?;
    Ok(format!("{input}.{}", b64(&signature)))
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let raw = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(raw).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // RFC 6749 §2.3.1: both are form-urlencoded before the Basic encoding.
    let unescape =
        |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The demo provider's own pages, in the site's look.
fn page(status: actix_web::http::StatusCode, body: &str) -> HttpResponse {
    HttpResponse::build(status).content_type(ContentType::html()).body(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Demo sign-in</title>
<link rel="icon" href="{base}/static/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="{base}/static/style.css"></head>
<body><main id="main"><section class="card" aria-labelledby="demo-title">{body}</section></main></body></html>"#,
        base = crate::site::current().base
    ))
}

/// The notice every HTML page carries while the demo provider is on, right after `<body>`.
const NOTICE: &str = r#"<p class="demo-notice" role="note"><strong>Demo sign-in is on:</strong> anyone can be anyone. Configure a real provider before real people use this.</p>"#;

/// The largest page the notice is added to; a bigger (or streamed) one passes untouched.
const NOTICE_MAX_PAGE: usize = 1 << 20;

/// Wrapped only while the demo provider is on: puts a notice at the top of every HTML page,
/// gatehouse's and the app's alike, so nobody mistakes a demo for the real thing. Pages that
/// are compressed, streamed, larger than `NOTICE_MAX_PAGE` or without a `<body>` pass unchanged.
pub async fn demo_notice(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let headers = res.headers();
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    let small = match res.response().body().size() {
        actix_web::body::BodySize::Sized(n) => n <= NOTICE_MAX_PAGE as u64,
        _ => false,
    };
    // Whole pages only: not a partial (206) or not-modified (304) answer.
    let whole = res.status() == actix_web::http::StatusCode::OK
        || res.status().is_client_error()
        || res.status().is_server_error();
    if !is_html
        || !small
        || !whole
        || headers.contains_key(header::CONTENT_ENCODING)
        || headers.contains_key(header::CONTENT_RANGE)
    {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes_limited(body, NOTICE_MAX_PAGE)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("page too large"))?
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into().to_string()))?;
    res.headers_mut().remove(header::CONTENT_LENGTH);
    let body = match after_body_tag(&bytes) {
        Some(at) => [&bytes[..at], NOTICE.as_bytes(), &bytes[at..]].concat(),
        None => bytes.to_vec(),
    };
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(body))))
}

/// Where the content of `<body …>` starts, matching the tag in any case and with attributes.
fn after_body_tag(html: &[u8]) -> Option<usize> {
    let start = html.windows(5).position(|w| w.eq_ignore_ascii_case(b"<body"))?;
    let end = html[start..].iter().position(|b| *b == b'>')?;
    Some(start + end + 1)
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test as actix_test};

    use super::*;

    fn idp() -> DemoIdp {
        DemoIdp {
            issuer: "http://127.0.0.1:8080/demo-idp".into(),
            kid: "demo-test".into(),
            client_id: "gatehouse-demo".into(),
            client_secret: "s3cret".into(),
            redirect_uri: "http://127.0.0.1:8080/callback/demo".into(),
            key: generate_key("demo-test").unwrap(),
            codes: Mutex::new(HashMap::new()),
        }
    }

    fn this_machine() -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], 40_000))
    }

    const VERIFIER: &str = "a-verifier-of-forty-three-characters-at-least-0123";

    fn challenge(verifier: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }

    fn authorize_form(redirect_uri: &str) -> Vec<(&'static str, String)> {
        vec![
            ("response_type", "code".into()),
            ("client_id", "gatehouse-demo".into()),
            ("redirect_uri", redirect_uri.into()),
            ("state", "st".into()),
            ("nonce", "no".into()),
            ("code_challenge", challenge(VERIFIER)),
            ("code_challenge_method", "S256".into()),
            ("name", "Ada".into()),
            ("email", "ada@example.test".into()),
        ]
    }

    fn token_form(code: &str, verifier: &str) -> Vec<(&'static str, String)> {
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.into()),
            ("redirect_uri", "http://127.0.0.1:8080/callback/demo".into()),
            ("code_verifier", verifier.into()),
            ("client_id", "gatehouse-demo".into()),
            ("client_secret", "s3cret".into()),
        ]
    }

    #[actix_web::test]
    async fn codes_need_the_verifier_and_work_once() {
        let app = actix_test::init_service(App::new().app_data(web::Data::new(idp())).configure(configure)).await;
        let code = || async {
            let req = actix_test::TestRequest::post()
                .peer_addr(this_machine())
                .uri("/demo-idp/authorize")
                .set_form(authorize_form("http://127.0.0.1:8080/callback/demo"))
                .to_request();
            let res = actix_test::call_service(&app, req).await;
            assert_eq!(res.status(), 303);
            let to = res.headers().get(header::LOCATION).unwrap().to_str().unwrap().to_string();
            url::Url::parse(&to).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
        };
        let token = |form: Vec<(&'static str, String)>| {
            actix_test::call_service(
                &app,
                actix_test::TestRequest::post()
                    .peer_addr(this_machine())
                    .uri("/demo-idp/token")
                    .set_form(form)
                    .to_request(),
            )
        };

        let first = code().await;
        assert_eq!(token(token_form(&first, "the-wrong-verifier-0123456789012345678901234")).await.status(), 400);
        assert_eq!(token(token_form(&first, VERIFIER)).await.status(), 400, "one attempt per code");

        let second = code().await;
        let mut wrong_secret = token_form(&second, VERIFIER);
        wrong_secret[5].1 = "guess".into();
        assert_eq!(token(wrong_secret).await.status(), 401);

        let third = code().await;
        let res = token(token_form(&third, VERIFIER)).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = actix_test::read_body_json(res).await;
        let id_token = body["id_token"].as_str().unwrap();
        let claims = crate::providers::oidc::verify::compact_segment(id_token, 1).unwrap();
        assert_eq!((claims["nonce"].as_str(), claims["email_verified"].as_bool()), (Some("no"), Some(false)));
        assert_eq!(token(token_form(&third, VERIFIER)).await.status(), 400, "a used code is gone");
    }

    #[test]
    fn the_notice_goes_after_any_body_tag() {
        assert_eq!(after_body_tag(b"<html><body>x"), Some(12));
        assert_eq!(after_body_tag(b"<HTML><BODY class=\"a\">x"), Some(22));
        assert_eq!(after_body_tag(b"<p>no body</p>"), None);
        assert_eq!(after_body_tag(b"<body"), None, "an unfinished tag");
    }

    #[actix_web::test]
    async fn only_gatehouse_s_own_redirect_uri_is_served() {
        let app = actix_test::init_service(App::new().app_data(web::Data::new(idp())).configure(configure)).await;
        let req = actix_test::TestRequest::post()
            .peer_addr(this_machine())
            .uri("/demo-idp/authorize")
            .set_form(authorize_form("https://evil.example/callback/demo"))
            .to_request();
        let res = actix_test::call_service(&app, req).await;
        assert_eq!(res.status(), 400);
        assert!(res.headers().get(header::LOCATION).is_none());
    }
}
