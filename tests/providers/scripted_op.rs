//! A scripted OpenID Provider on loopback for the failures a well-behaved provider never
//! produces: ID tokens with the wrong audience, nonce, signature or key, userinfo for another
//! subject, unusable or slow answers. It signs real RS256 tokens (openidconnect's signing
//! code), checks PKCE and client authentication like a real provider, and counts every call so
//! tests can assert that no token or userinfo request was made.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use openidconnect::core::{
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType, CoreRsaPrivateSigningKey,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthUrl, EmptyAdditionalProviderMetadata, IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl, PkceCodeChallenge,
    PkceCodeVerifier, PrivateSigningKey, ResponseTypes, TokenUrl, UserInfoUrl,
};

pub const CLIENT_ID: &str = "scripted-client";
pub const CLIENT_SECRET: &str = "scripted-secret-9f2e";

/// What the provider does wrong (or right) this time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Good,
    WrongAudience,
    WrongNonce,
    WrongIssuer,
    Expired,
    /// Signed with a key that is not in the JWKS, under the published `kid`.
    BadSignature,
    /// Signed with key 2, which the JWKS does not list (yet).
    UnpublishedKey,
    /// Userinfo answers for another subject.
    UserinfoOtherSubject,
    /// The token endpoint answers HTTP 500 with HTML.
    TokenServerError,
    /// The token endpoint takes longer than gatehouse waits.
    TokenSlow,
    /// The token response has no ID token.
    NoIdToken,
    /// Tenant mode: `iss` names another tenant than the token's `tid`.
    WrongTenant,
}

/// How the ID token is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The published key 1 (or key 2 for `Script::UnpublishedKey`).
    Normal,
    /// No signature at all (`alg: none` style, empty third segment).
    Unsigned,
    /// HS256 with this secret (e.g. our client secret, or the RSA public key bytes).
    Hs256(Vec<u8>),
    /// A fresh key that is nowhere published, under whatever `kid` the header says.
    Foreign,
}

/// Everything the provider can be told to get wrong, beyond [`Script`]. Applied to the next
/// token and userinfo answers.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Header fields set (or removed, with `Null`) after the defaults `alg`, `kid`, `typ`.
    pub header: Vec<(&'static str, serde_json::Value)>,
    /// Claims set (or removed, with `Null`) after the defaults.
    pub claims: Vec<(&'static str, serde_json::Value)>,
    pub signer: Signer,
    /// Replaces the ID token string.
    pub raw_id_token: Option<String>,
    /// Replaces the whole token answer: status, content type, body.
    pub token_answer: Option<(u16, &'static str, Vec<u8>)>,
    /// Fields set (or removed, with `Null`) in an otherwise good token answer.
    pub token_fields: Vec<(&'static str, serde_json::Value)>,
    /// Replaces the userinfo answer.
    pub userinfo_answer: Option<(u16, &'static str, Vec<u8>)>,
    /// Keys added to the JWKS beside the real ones (junk, unsupported types).
    pub extra_jwks_keys: Vec<serde_json::Value>,
    /// Publish key 1 without its `kid`.
    pub jwks_without_kid: bool,
    /// Sets `authorization_response_iss_parameter_supported` and sends `iss` on redirects.
    pub iss_parameter: bool,
    /// Issue tokens without checking PKCE (a provider that does not enforce it).
    pub pkce_unchecked: bool,
    /// The issuer the discovery document claims, when it should lie.
    pub discovery_issuer: Option<String>,
    /// Wait this long before answering the token request (then answer as planned).
    pub token_delay: Option<Duration>,
    /// Where discovery says the endpoints are, when not at the provider's root: another host
    /// name for the same server (Cognito's endpoints are on the pool's domain, not the issuer's).
    pub endpoint_root: Option<String>,
    /// Where the discovery document lives, when not under the issuer (Azure AD B2C: under the
    /// policy); the issuer's usual address then finds nothing.
    pub discovery_path: Option<String>,
    /// Discovery names no userinfo endpoint (B2C user flows have none).
    pub without_userinfo: bool,
    /// B2C: the token answer holds no `access_token` unless the authorization asked for a scope
    /// besides `openid` and `offline_access`.
    pub access_token_only_for_a_resource_scope: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            header: Vec::new(),
            claims: Vec::new(),
            signer: Signer::Normal,
            raw_id_token: None,
            token_answer: None,
            token_fields: Vec::new(),
            userinfo_answer: None,
            extra_jwks_keys: Vec::new(),
            jwks_without_kid: false,
            iss_parameter: false,
            pkce_unchecked: false,
            discovery_issuer: None,
            endpoint_root: None,
            discovery_path: None,
            without_userinfo: false,
            access_token_only_for_a_resource_scope: false,
            token_delay: None,
        }
    }
}

/// One request the provider received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Default, Clone, Copy, Debug)]
pub struct Calls {
    pub discovery: usize,
    pub jwks: usize,
    pub token: usize,
    pub userinfo: usize,
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    scope: String,
}

struct State {
    /// Where the provider listens; its endpoints are here.
    root: String,
    /// The issuer: the root, or a path under it ([`ScriptedOp::issuer_at`]).
    issuer: String,
    script: Script,
    /// Is key 2 in the JWKS?
    publish_key_2: bool,
    subject: String,
    email: String,
    /// Entra-style multi-tenant issuer: discovery says `{tenantid}`; tokens carry this `tid`.
    tenant: Option<String>,
    hd: Option<String>,
    /// Discovery and JWKS answer 503 (an outage of the metadata endpoints).
    metadata_down: bool,
    plan: Plan,
    seen: Vec<Seen>,
    codes: HashMap<String, Grant>,
    calls: Calls,
    counter: u64,
}

#[derive(Clone)]
pub struct ScriptedOp {
    pub issuer: String,
    state: Arc<Mutex<State>>,
}

fn key(n: u8) -> CoreRsaPrivateSigningKey {
    let pem = match n {
        1 => include_str!("../fixtures/op-key-1.pem"),
        _ => include_str!("../fixtures/op-key-2.pem"),
    };
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(format!("k{n}")))).expect("fixture key")
}

impl ScriptedOp {
    pub fn start() -> ScriptedOp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            root: issuer.clone(),
            issuer: issuer.clone(),
            script: Script::Good,
            publish_key_2: false,
            subject: "scripted-user-1".into(),
            email: "scripted@example.test".into(),
            tenant: None,
            hd: None,
            metadata_down: false,
            plan: Plan::default(),
            seen: Vec::new(),
            codes: HashMap::new(),
            calls: Calls::default(),
            counter: 0,
        }));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/.well-known/openid-configuration", web::get().to(discovery))
                .route("/{tenant}/v2.0/.well-known/openid-configuration", web::get().to(discovery))
                .route("/{issuer_path:.+}/.well-known/openid-configuration", web::get().to(discovery))
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        ScriptedOp { issuer, state }
    }

    /// The issuer is `path` under the provider's root, as Keycloak's `/realms/NAME` or Auth0's
    /// `/` (a trailing slash): discovery is served at `{issuer without /}/.well-known/...`,
    /// the endpoints stay at the root.
    pub fn issuer_at(mut self, path: &str) -> ScriptedOp {
        let mut s = self.state.lock().unwrap();
        s.issuer = format!("{}{path}", s.root);
        self.issuer = s.issuer.clone();
        drop(s);
        self
    }

    pub fn script(&self, script: Script) {
        self.state.lock().unwrap().script = script;
    }

    /// Key rotation: key 2 appears in the JWKS and signs from now on.
    pub fn rotate_to_key_2(&self) {
        let mut s = self.state.lock().unwrap();
        s.publish_key_2 = true;
        s.script = Script::UnpublishedKey; // signs with key 2, now published
    }

    /// Entra mode: multi-tenant discovery under `/{tenant}/v2.0`, tokens for tenant `tid`.
    pub fn tenant_mode(&self, tid: &str) {
        self.state.lock().unwrap().tenant = Some(tid.to_string());
    }

    pub fn hosted_domain(&self, hd: Option<&str>) {
        self.state.lock().unwrap().hd = hd.map(str::to_string);
    }

    pub fn metadata_down(&self, down: bool) {
        self.state.lock().unwrap().metadata_down = down;
    }

    /// Changes what the provider does from now on.
    pub fn plan(&self, change: impl FnOnce(&mut Plan)) {
        change(&mut self.state.lock().unwrap().plan);
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn subject(&self, sub: &str) {
        self.state.lock().unwrap().subject = sub.to_string();
    }

    /// The (verified) email of the person who signs in next.
    pub fn email(&self, email: &str) {
        self.state.lock().unwrap().email = email.to_string();
    }

    pub fn calls(&self) -> Calls {
        self.state.lock().unwrap().calls
    }

    /// A back-channel logout token from this provider for its current subject: a valid one,
    /// then `change` (a claim set to `Null` is removed) and signed as `signer` says.
    pub fn logout_token(
        &self,
        change: impl FnOnce(&mut serde_json::Value, &mut serde_json::Value),
        signer: Signer,
    ) -> String {
        let s = self.state.lock().unwrap();
        let now = Utc::now().timestamp();
        let mut header = serde_json::json!({"alg": "RS256", "kid": "k1", "typ": "logout+jwt"});
        let mut claims = serde_json::json!({
            "iss": s.issuer,
            "sub": s.subject,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": format!("jti-{now}-{}", rand_suffix()),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        });
        change(&mut header, &mut claims);
        for v in [&mut header, &mut claims] {
            v.as_object_mut().unwrap().retain(|_, value| !value.is_null());
        }
        sign(&header, &claims, &signer, Script::Good)
    }

    pub fn env(&self, name: &str) -> Vec<(String, String)> {
        let p = format!("OAUTH_{}_", name.to_uppercase().replace('-', "_"));
        vec![
            (format!("{p}KIND"), "oidc".into()),
            (format!("{p}ISSUER"), self.issuer.clone()),
            (format!("{p}CLIENT_ID"), CLIENT_ID.into()),
            (format!("{p}CLIENT_SECRET"), CLIENT_SECRET.into()),
        ]
    }
}

type Shared = web::Data<Mutex<State>>;

fn record(s: &mut State, req: &HttpRequest, body: String) {
    s.seen.push(Seen {
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        authorization: req.headers().get("Authorization").and_then(|v| v.to_str().ok()).map(str::to_string),
        body,
    });
}

fn answer((status, content_type, body): (u16, &'static str, Vec<u8>)) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).content_type(content_type).body(body)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn discovery(req: HttpRequest, state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    record(&mut s, &req, String::new());
    s.calls.discovery += 1;
    if s.metadata_down {
        return HttpResponse::ServiceUnavailable().finish();
    }
    // Served only where the issuer's discovery document lives (or a tenant's, in tenant mode), so
    // a client that derives the address wrongly finds nothing.
    let issuer_path = s.issuer.strip_prefix(&s.root).unwrap_or_default().trim_end_matches('/').to_string();
    let right_place = match (&s.plan.discovery_path, &s.tenant) {
        (Some(path), _) => req.path() == path,
        (None, Some(_)) => req.match_info().get("tenant").is_some(),
        (None, None) => req.path() == format!("{issuer_path}/.well-known/openid-configuration"),
    };
    if !right_place {
        return HttpResponse::NotFound().finish();
    }
    let base = s.plan.endpoint_root.clone().unwrap_or_else(|| s.root.clone());
    let issuer = match (&s.plan.discovery_issuer, &s.tenant) {
        (Some(lie), _) => lie.clone(),
        (None, Some(_)) => format!("{}/{{tenantid}}/v2.0", s.root),
        (None, None) => s.issuer.clone(),
    };
    let metadata = CoreProviderMetadata::new(
        IssuerUrl::new(issuer).unwrap(),
        AuthUrl::new(format!("{base}/authorize")).unwrap(),
        JsonWebKeySetUrl::new(format!("{base}/jwks")).unwrap(),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_token_endpoint(Some(TokenUrl::new(format!("{base}/token")).unwrap()))
    .set_userinfo_endpoint(
        Some(UserInfoUrl::new(format!("{base}/userinfo")).unwrap()).filter(|_| !s.plan.without_userinfo),
    );
    let mut doc = serde_json::to_value(metadata).unwrap();
    if s.plan.iss_parameter {
        doc["authorization_response_iss_parameter_supported"] = true.into();
    }
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=86400")).json(doc)
}

async fn jwks(req: HttpRequest, state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    record(&mut s, &req, String::new());
    s.calls.jwks += 1;
    if s.metadata_down {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let mut keys = vec![serde_json::to_value(key(1).as_verification_key()).unwrap()];
    if s.plan.jwks_without_kid {
        keys[0].as_object_mut().unwrap().remove("kid");
    }
    if s.publish_key_2 {
        keys.push(serde_json::to_value(key(2).as_verification_key()).unwrap());
    }
    keys.extend(s.plan.extra_jwks_keys.iter().cloned());
    HttpResponse::Ok().json(serde_json::json!({ "keys": keys }))
}

async fn authorize(req: HttpRequest, state: Shared, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    record(&mut s, &req, String::new());
    s.counter += 1;
    let code = format!("scripted-code-{}", s.counter);
    s.codes.insert(
        code.clone(),
        Grant {
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            redirect_uri: get("redirect_uri"),
            scope: get("scope"),
        },
    );
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let mut location = format!("{}?code={code}&state={}", get("redirect_uri"), enc(&get("state")));
    if s.plan.iss_parameter {
        location.push_str(&format!("&iss={}", enc(&s.issuer)));
    }
    HttpResponse::Found().insert_header(("Location", location)).finish()
}

async fn token(req: HttpRequest, state: Shared, body: web::Bytes) -> HttpResponse {
    let form: HashMap<String, String> =
        url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let (script, delay) = {
        let mut s = state.lock().unwrap();
        record(&mut s, &req, String::from_utf8_lossy(&body).into_owned());
        s.calls.token += 1;
        (s.script, s.plan.token_delay)
    };
    if let Some(delay) = delay {
        actix_web::rt::time::sleep(delay).await;
    }
    match script {
        Script::TokenSlow => {
            actix_web::rt::time::sleep(Duration::from_secs(30)).await;
        }
        Script::TokenServerError => {
            return HttpResponse::InternalServerError()
                .content_type("text/html")
                .body("<h1>Internal Server Error</h1>");
        }
        _ => {}
    }
    let mut s = state.lock().unwrap();
    if let Some(a) = s.plan.token_answer.clone() {
        return answer(a);
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let basic = base64_basic(CLIENT_ID, CLIENT_SECRET);
    if req.headers().get("Authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return HttpResponse::Unauthorized().json(serde_json::json!({"error": "invalid_client"}));
    }
    let Some(grant) = s.codes.remove(&get("code")) else {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"}));
    };
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(get("code_verifier")));
    if (challenge.as_str() != grant.challenge && !s.plan.pkce_unchecked) || grant.redirect_uri != get("redirect_uri") {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"}));
    }
    s.counter += 1;
    let access = format!("scripted-access-{}", s.counter);
    let id_token = mint(&s, script, &grant.nonce, &access);
    let mut body = serde_json::json!({"access_token": access, "token_type": "Bearer", "expires_in": 300});
    if script != Script::NoIdToken {
        body["id_token"] = serde_json::Value::String(id_token);
    }
    let resource_scope = grant.scope.split(' ').any(|s| !s.is_empty() && s != "openid" && s != "offline_access");
    if s.plan.access_token_only_for_a_resource_scope && !resource_scope {
        body.as_object_mut().unwrap().remove("access_token");
    }
    for (k, v) in &s.plan.token_fields {
        match v {
            serde_json::Value::Null => body.as_object_mut().unwrap().remove(*k),
            v => body.as_object_mut().unwrap().insert(k.to_string(), v.clone()),
        };
    }
    HttpResponse::Ok().json(body)
}

/// Builds and signs the ID token by hand, so any header, claim or signature can be wrong.
fn mint(s: &State, script: Script, nonce: &str, access: &str) -> String {
    if let Some(raw) = &s.plan.raw_id_token {
        return raw.clone();
    }
    let now = Utc::now().timestamp();
    let tenant_issuer = |tid: &str| format!("{}/{tid}/v2.0", s.root);
    let issuer = match (&s.tenant, script) {
        (_, Script::WrongIssuer) => format!("{}/other", s.issuer),
        (Some(_), Script::WrongTenant) => tenant_issuer("ffffffff-0000-0000-0000-000000000000"),
        (Some(tid), _) => tenant_issuer(tid),
        (None, _) => s.issuer.clone(),
    };
    let mut claims = serde_json::json!({
        "iss": issuer,
        "sub": s.subject,
        "aud": if script == Script::WrongAudience { "someone-else" } else { CLIENT_ID },
        "exp": if script == Script::Expired { now - 60 } else { now + 300 },
        "iat": now,
        "nonce": if script == Script::WrongNonce { "not-the-nonce" } else { nonce },
        "email": s.email,
    });
    // Entra sends no email_verified; others say true.
    if s.tenant.is_none() {
        claims["email_verified"] = true.into();
    }
    if let Some(tid) = &s.tenant {
        claims["tid"] = tid.clone().into();
    }
    if let Some(hd) = &s.hd {
        claims["hd"] = hd.clone().into();
    }
    let _ = access;
    let mut header = serde_json::json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
    if script == Script::UnpublishedKey {
        header["kid"] = "k2".into();
    }
    for (k, v) in &s.plan.claims {
        match v {
            serde_json::Value::Null => claims.as_object_mut().unwrap().remove(*k),
            v => claims.as_object_mut().unwrap().insert(k.to_string(), v.clone()),
        };
    }
    for (k, v) in &s.plan.header {
        match v {
            serde_json::Value::Null => header.as_object_mut().unwrap().remove(*k),
            v => header.as_object_mut().unwrap().insert(k.to_string(), v.clone()),
        };
    }
    sign(&header, &claims, &s.plan.signer, script)
}

/// `header.claims.signature`, signed as `signer` (and `script`) say.
fn sign(header: &serde_json::Value, claims: &serde_json::Value, signer: &Signer, script: Script) -> String {
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = match (signer, script) {
        (Signer::Unsigned, _) => Vec::new(),
        (Signer::Hs256(secret), _) => openidconnect::core::CoreHmacKey::new(secret.clone())
            .sign(&CoreJwsSigningAlgorithm::HmacSha256, signing_input.as_bytes())
            .unwrap(),
        // Key 2's material under key 1's id: the signature cannot verify.
        (Signer::Foreign, _) | (Signer::Normal, Script::BadSignature) => {
            key(2).sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, signing_input.as_bytes()).unwrap()
        }
        (Signer::Normal, Script::UnpublishedKey) => {
            key(2).sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, signing_input.as_bytes()).unwrap()
        }
        (Signer::Normal, _) => {
            key(1).sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, signing_input.as_bytes()).unwrap()
        }
    };
    format!("{signing_input}.{}", b64(&signature))
}

async fn userinfo(req: HttpRequest, state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    record(&mut s, &req, String::new());
    s.calls.userinfo += 1;
    if let Some(a) = s.plan.userinfo_answer.clone() {
        return answer(a);
    }
    if s.tenant.is_some() {
        // Entra's userinfo (Graph) says little; the ID token carries the profile.
        return HttpResponse::Ok().json(serde_json::json!({"sub": s.subject, "name": "Scripted User"}));
    }
    let sub = if s.script == Script::UserinfoOtherSubject { "someone-else".to_string() } else { s.subject.clone() };
    HttpResponse::Ok().json(serde_json::json!({
        "sub": sub, "name": "Scripted User", "email": s.email, "email_verified": true
    }))
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    // oauth2 form-urlencodes the id and secret before Basic encoding (RFC 6749 §2.3.1).
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret))))
}

/// A suffix that makes each logout token's `jti` unique.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
