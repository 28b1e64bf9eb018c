//! A stand-in for Sign in with Apple on loopback, doing what Apple documents and what trips
//! libraries up:
//! - discovery without a userinfo endpoint, `token_endpoint_auth_methods_supported:
//!   ["client_secret_post"]`, and a token endpoint that refuses HTTP Basic;
//! - the client secret is an ES256 JWT (`kid` = key id, `iss` = team id, `sub` = client id,
//!   `aud` = the issuer, at most six months long) checked against the team key's public half;
//! - `response_mode=form_post` is required when `name` or `email` is asked for, scopes other
//!   than `openid`, `name` and `email` are refused, and the answer is a page whose "Continue"
//!   button POSTs `code`, `state` and, on the first authorization only, the `user` JSON with
//!   the name ("Cancel" posts `error=user_cancelled_authorize`);
//! - PKCE (S256) is checked when the request sent a challenge; ID tokens carry `at_hash`;
//! - ID tokens (RS256) carry `email_verified` and `is_private_email` as strings, and a private
//!   relay address when the person hides their email.
//!
//! It makes its own `.p8` key (PKCS#8 P-256, as Apple's console hands out) in a temp file.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use chrono::Utc;
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

pub const CLIENT_ID: &str = "com.example.gatehouse.web";
pub const TEAM_ID: &str = "TEAM4GATE1";
pub const KEY_ID: &str = "KEY4GATE01";
pub const RELAY_EMAIL: &str = "x7k2m9q4hw@privaterelay.appleid.com";

struct Grant {
    nonce: String,
    redirect_uri: String,
    /// PKCE: Apple checks the verifier when the request sent a challenge.
    challenge: String,
}

struct State {
    issuer: String,
    team_public_key: Vec<u8>,
    subject: String,
    email: String,
    /// Subjects that have already been sent their name.
    named: HashSet<String>,
    codes: HashMap<String, Grant>,
    refresh_tokens: HashSet<String>,
    /// Every client secret the token endpoint accepted.
    secrets: Vec<String>,
    /// Why token requests were refused.
    refusals: Vec<String>,
    /// Access tokens live 30 s instead of an hour (so the next /api/token refreshes).
    short_tokens: bool,
    refreshes: usize,
    counter: u64,
}

pub struct AppleStandIn {
    pub issuer: String,
    key_file: std::path::PathBuf,
    state: Arc<Mutex<State>>,
}

impl Drop for AppleStandIn {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.key_file);
    }
}

fn rsa_key() -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(
        include_str!("../fixtures/op-key-1.pem"),
        Some(JsonWebKeyId::new("apple1".into())),
    )
    .expect("fixture key")
}

impl AppleStandIn {
    /// On loopback under `host` (`127.0.0.1`, or `localhost` to be another site than the app).
    pub fn start(host: &str) -> AppleStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://{host}:{port}");

        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let key_file = std::env::temp_dir().join(format!("AuthKey_{KEY_ID}-{}-{port}.p8", std::process::id()));
        let body = STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        std::fs::write(
            &key_file,
            format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n")),
        )
        .unwrap();

        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            team_public_key: pair.public_key().as_ref().to_vec(),
            subject: "001234.abcdef0123456789.0420".into(),
            email: "ada@example.test".into(),
            named: HashSet::new(),
            codes: HashMap::new(),
            refresh_tokens: HashSet::new(),
            secrets: Vec::new(),
            refusals: Vec::new(),
            short_tokens: false,
            refreshes: 0,
            counter: 0,
        }));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/.well-known/openid-configuration", web::get().to(discovery))
                .route("/auth/keys", web::get().to(jwks))
                .route("/auth/authorize", web::get().to(authorize))
                .route("/auth/token", web::post().to(token))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        AppleStandIn { issuer, key_file, state }
    }

    /// The person who signs in next (with [`RELAY_EMAIL`]: one who hides their email).
    pub fn person(&self, subject: &str, email: &str) {
        let mut s = self.state.lock().unwrap();
        s.subject = subject.to_string();
        s.email = email.to_string();
    }

    /// The client secrets accepted so far.
    pub fn secrets(&self) -> Vec<String> {
        self.state.lock().unwrap().secrets.clone()
    }

    pub fn refusals(&self) -> Vec<String> {
        self.state.lock().unwrap().refusals.clone()
    }

    /// Access tokens issued from now on expire in 30 s.
    pub fn short_tokens(&self) {
        self.state.lock().unwrap().short_tokens = true;
    }

    /// Refresh-token grants answered.
    pub fn refreshes(&self) -> usize {
        self.state.lock().unwrap().refreshes
    }

    pub fn env(&self, name: &str) -> Vec<(String, String)> {
        let p = format!("OAUTH_{}_", name.to_uppercase().replace('-', "_"));
        vec![
            (format!("{p}KIND"), "apple".into()),
            (format!("{p}ISSUER"), self.issuer.clone()),
            (format!("{p}CLIENT_ID"), CLIENT_ID.into()),
            (format!("{p}TEAM_ID"), TEAM_ID.into()),
            (format!("{p}KEY_ID"), KEY_ID.into()),
            (format!("{p}PRIVATE_KEY_FILE"), self.key_file.display().to_string()),
        ]
    }
}

type Shared = web::Data<Mutex<State>>;

async fn discovery(state: Shared) -> HttpResponse {
    let issuer = state.lock().unwrap().issuer.clone();
    // The shape of https://appleid.apple.com/.well-known/openid-configuration.
    HttpResponse::Ok().json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth/authorize"),
        "token_endpoint": format!("{issuer}/auth/token"),
        "revocation_endpoint": format!("{issuer}/auth/revoke"),
        "jwks_uri": format!("{issuer}/auth/keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "name"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "is_private_email", "iss", "nonce",
            "nonce_supported", "real_user_status", "sub", "transfer_sub"],
    }))
}

async fn jwks() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"keys": [rsa_key().as_verification_key()]}))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn authorize(state: Shared, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let scopes: Vec<String> = get("scope").split(' ').map(str::to_string).collect();
    let asks_profile = scopes.iter().any(|s| s == "name" || s == "email");
    if get("client_id") != CLIENT_ID || get("response_type") != "code" || get("redirect_uri").is_empty() {
        return HttpResponse::BadRequest().body("invalid_request");
    }
    if let Some(unknown) = scopes.iter().find(|s| !["openid", "name", "email"].contains(&s.as_str())) {
        return HttpResponse::BadRequest().body(format!("invalid_scope: {unknown}"));
    }
    if !get("code_challenge").is_empty() && get("code_challenge_method") != "S256" {
        return HttpResponse::BadRequest().body("invalid_request: code_challenge_method");
    }
    // Apple: "response_mode must be form_post when name or email scope is requested."
    if asks_profile && get("response_mode") != "form_post" {
        return HttpResponse::BadRequest().body("invalid_request: response_mode must be form_post");
    }
    let mut s = state.lock().unwrap();
    s.counter += 1;
    let code = format!("c{}.0.apple-code-{}", s.counter, s.counter);
    s.codes.insert(
        code.clone(),
        Grant { nonce: get("nonce"), redirect_uri: get("redirect_uri"), challenge: get("code_challenge") },
    );
    let mut fields = vec![("code", code), ("state", get("state"))];
    // The name comes once: with the first authorization of this person for this app.
    let subject = s.subject.clone();
    if scopes.iter().any(|scope| scope == "name") && s.named.insert(subject) {
        let user = serde_json::json!({"name": {"firstName": "Ada", "lastName": "Lovelace"}, "email": s.email});
        fields.push(("user", user.to_string()));
    }
    let inputs: String =
        fields.iter().map(|(k, v)| format!(r#"<input type="hidden" name="{k}" value="{}">"#, html_escape(v))).collect();
    // Apple's "Cancel" posts the refusal the same way.
    let cancel = format!(
        r#"<input type="hidden" name="error" value="user_cancelled_authorize"><input type="hidden" name="state" value="{}">"#,
        html_escape(&get("state"))
    );
    let action = html_escape(&get("redirect_uri"));
    HttpResponse::Ok().content_type("text/html").body(format!(
        r#"<!doctype html><html><head><title>Sign in with Apple</title></head><body>
<form id="apple" method="POST" action="{action}">{inputs}<button id="continue" type="submit">Continue</button></form>
<form id="cancel" method="POST" action="{action}">{cancel}<button id="cancel-button" type="submit">Cancel</button></form>
</body></html>"#
    ))
}

/// Checks the client secret as Apple does; the reason when it is refused.
fn check_client_secret(s: &State, secret: &str) -> Result<(), String> {
    let parts: Vec<&str> = secret.split('.').collect();
    let [header, claims, signature] = parts[..] else { return Err("not a JWT".into()) };
    let json = |p: &str| -> Option<serde_json::Value> { serde_json::from_slice(&B64.decode(p).ok()?).ok() };
    let (header, claims) = (json(header).ok_or("bad header")?, json(claims).ok_or("bad claims")?);
    if header["alg"] != "ES256" || header["kid"] != KEY_ID {
        return Err(format!("header {header}"));
    }
    let signed = secret.rsplit_once('.').unwrap().0;
    ring::signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &s.team_public_key)
        .verify(signed.as_bytes(), &B64.decode(signature).map_err(|_| "signature encoding")?)
        .map_err(|_| "signature")?;
    let now = Utc::now().timestamp();
    let (iat, exp) = (claims["iat"].as_i64().unwrap_or(i64::MAX), claims["exp"].as_i64().unwrap_or(0));
    if claims["iss"] != TEAM_ID || claims["sub"] != CLIENT_ID || claims["aud"] != s.issuer.as_str() {
        return Err(format!("claims {claims}"));
    }
    if iat > now + 60 || exp <= now || exp - iat > 15_777_000 {
        return Err(format!("times iat={iat} exp={exp}"));
    }
    Ok(())
}

fn refuse(s: &mut State, why: String, error: &str) -> HttpResponse {
    s.refusals.push(why);
    HttpResponse::BadRequest().json(serde_json::json!({"error": error}))
}

async fn token(req: HttpRequest, state: Shared, body: web::Bytes) -> HttpResponse {
    let form: HashMap<String, String> =
        url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    if req.headers().contains_key("Authorization") {
        return refuse(&mut s, "HTTP Basic client authentication".into(), "invalid_client");
    }
    if get("client_id") != CLIENT_ID {
        return refuse(&mut s, format!("client_id {:?}", get("client_id")), "invalid_client");
    }
    if let Err(why) = check_client_secret(&s, &get("client_secret")) {
        return refuse(&mut s, format!("client secret: {why}"), "invalid_client");
    }
    s.secrets.push(get("client_secret"));
    s.counter += 1;
    let access = format!("apple-access-{}", s.counter);
    let refresh = format!("apple-refresh-{}", s.counter);
    let lifetime = if s.short_tokens { 30 } else { 3600 };
    let mut answer = serde_json::json!({
        "access_token": access, "token_type": "Bearer", "expires_in": lifetime, "refresh_token": refresh,
    });
    match get("grant_type").as_str() {
        "authorization_code" => {
            let Some(grant) = s.codes.remove(&get("code")) else {
                return refuse(&mut s, "unknown or used code".into(), "invalid_grant");
            };
            if grant.redirect_uri != get("redirect_uri") {
                return refuse(&mut s, "redirect_uri".into(), "invalid_grant");
            }
            let verifier = openidconnect::PkceCodeVerifier::new(get("code_verifier"));
            let challenge = openidconnect::PkceCodeChallenge::from_code_verifier_sha256(&verifier);
            if !grant.challenge.is_empty() && challenge.as_str() != grant.challenge {
                return refuse(&mut s, "PKCE code_verifier".into(), "invalid_grant");
            }
            answer["id_token"] = id_token(&s, &grant.nonce, &access).into();
        }
        "refresh_token" => {
            if !s.refresh_tokens.contains(&get("refresh_token")) {
                return refuse(&mut s, "unknown refresh token".into(), "invalid_grant");
            }
            // Apple keeps the refresh token: a refresh answers without a new one.
            answer.as_object_mut().unwrap().remove("refresh_token");
            s.refreshes += 1;
        }
        other => return refuse(&mut s, format!("grant_type {other:?}"), "unsupported_grant_type"),
    }
    s.refresh_tokens.insert(refresh);
    HttpResponse::Ok().json(answer)
}

fn id_token(s: &State, nonce: &str, access: &str) -> String {
    let now = Utc::now().timestamp();
    let relay = s.email.ends_with("@privaterelay.appleid.com");
    let claims = serde_json::json!({
        "iss": s.issuer, "aud": CLIENT_ID, "exp": now + 600, "iat": now, "sub": s.subject,
        "nonce": nonce, "nonce_supported": true, "auth_time": now, "real_user_status": 2,
        "at_hash": at_hash(access),
        "email": s.email,
        // Apple sends these two as strings.
        "email_verified": "true", "is_private_email": if relay { "true" } else { "false" },
    });
    let header = serde_json::json!({"alg": "RS256", "kid": "apple1"});
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let signature = rsa_key().sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes()).unwrap();
    format!("{input}.{}", B64.encode(signature))
}

/// OIDC Core §3.1.3.6: the left half of the access token's SHA-256, base64url.
fn at_hash(access: &str) -> String {
    use sha2::Digest;
    B64.encode(&sha2::Sha256::digest(access.as_bytes())[..16])
}
