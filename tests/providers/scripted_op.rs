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
    CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
};
use openidconnect::{
    AccessToken, Audience, AuthUrl, EmptyAdditionalProviderMetadata, EndUserEmail, IdToken, IdTokenClaims, IssuerUrl,
    JsonWebKeyId, JsonWebKeySetUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey, ResponseTypes,
    StandardClaims, SubjectIdentifier, TokenUrl, UserInfoUrl,
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

/// Claims beyond the standard ones: Entra's `tid`, Google's `hd`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Extra {
    #[serde(skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hd: Option<String>,
}
impl openidconnect::AdditionalClaims for Extra {}

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
}

struct State {
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
            issuer: issuer.clone(),
            script: Script::Good,
            publish_key_2: false,
            subject: "scripted-user-1".into(),
            email: "scripted@example.test".into(),
            tenant: None,
            hd: None,
            metadata_down: false,
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

    pub fn calls(&self) -> Calls {
        self.state.lock().unwrap().calls
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

async fn discovery(state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.calls.discovery += 1;
    if s.metadata_down {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let base = s.issuer.clone();
    let issuer = if s.tenant.is_some() { format!("{base}/{{tenantid}}/v2.0") } else { base.clone() };
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
    .set_userinfo_endpoint(Some(UserInfoUrl::new(format!("{base}/userinfo")).unwrap()));
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=86400")).json(metadata)
}

async fn jwks(state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.calls.jwks += 1;
    if s.metadata_down {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let mut keys = vec![key(1).as_verification_key()];
    if s.publish_key_2 {
        keys.push(key(2).as_verification_key());
    }
    HttpResponse::Ok().json(CoreJsonWebKeySet::new(keys))
}

async fn authorize(state: Shared, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    s.counter += 1;
    let code = format!("scripted-code-{}", s.counter);
    s.codes.insert(
        code.clone(),
        Grant { nonce: get("nonce"), challenge: get("code_challenge"), redirect_uri: get("redirect_uri") },
    );
    let state_param: String = url::form_urlencoded::byte_serialize(get("state").as_bytes()).collect();
    HttpResponse::Found()
        .insert_header(("Location", format!("{}?code={code}&state={state_param}", get("redirect_uri"))))
        .finish()
}

async fn token(req: HttpRequest, state: Shared, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let script = {
        let mut s = state.lock().unwrap();
        s.calls.token += 1;
        s.script
    };
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
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let basic = base64_basic(CLIENT_ID, CLIENT_SECRET);
    if req.headers().get("Authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return HttpResponse::Unauthorized().json(serde_json::json!({"error": "invalid_client"}));
    }
    let Some(grant) = s.codes.remove(&get("code")) else {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"}));
    };
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(get("code_verifier")));
    if challenge.as_str() != grant.challenge || grant.redirect_uri != get("redirect_uri") {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"}));
    }
    s.counter += 1;
    let access = AccessToken::new(format!("scripted-access-{}", s.counter));
    let now = Utc::now();
    let tenant_issuer = |tid: &str| format!("{}/{tid}/v2.0", s.issuer);
    let own_issuer = match (&s.tenant, script) {
        (Some(_), Script::WrongTenant) => tenant_issuer("ffffffff-0000-0000-0000-000000000000"),
        (Some(tid), _) => tenant_issuer(tid),
        (None, _) => s.issuer.clone(),
    };
    let (issuer, audience, nonce, expires) = match script {
        Script::WrongIssuer => {
            (format!("{}/other", s.issuer), CLIENT_ID.to_string(), grant.nonce, now + chrono::Duration::minutes(5))
        }
        Script::WrongAudience => (own_issuer, "someone-else".into(), grant.nonce, now + chrono::Duration::minutes(5)),
        Script::WrongNonce => {
            (own_issuer, CLIENT_ID.into(), "not-the-nonce".into(), now + chrono::Duration::minutes(5))
        }
        Script::Expired => (own_issuer, CLIENT_ID.into(), grant.nonce, now - chrono::Duration::minutes(1)),
        _ => (own_issuer, CLIENT_ID.into(), grant.nonce, now + chrono::Duration::minutes(5)),
    };
    // Entra sends no email_verified; others say true.
    let verified = s.tenant.is_none().then_some(true);
    let claims = IdTokenClaims::<Extra, CoreGenderClaim>::new(
        IssuerUrl::new(issuer).unwrap(),
        vec![Audience::new(audience)],
        expires,
        now,
        StandardClaims::new(SubjectIdentifier::new(s.subject.clone()))
            .set_email(Some(EndUserEmail::new(s.email.clone())))
            .set_email_verified(verified),
        Extra { tid: s.tenant.clone(), hd: s.hd.clone() },
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let signing_key = match script {
        Script::UnpublishedKey => key(2),
        // Key 2's material under key 1's id: the signature cannot verify.
        Script::BadSignature => CoreRsaPrivateSigningKey::from_pem(
            include_str!("../fixtures/op-key-2.pem"),
            Some(JsonWebKeyId::new("k1".into())),
        )
        .unwrap(),
        _ => key(1),
    };
    let id_token = IdToken::<Extra, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>::new(
        claims,
        &signing_key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access),
        None,
    )
    .expect("signing");
    let mut body = serde_json::json!({"access_token": access.secret(), "token_type": "Bearer", "expires_in": 300});
    if script != Script::NoIdToken {
        body["id_token"] = serde_json::Value::String(id_token.to_string());
    }
    HttpResponse::Ok().json(body)
}

async fn userinfo(state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.calls.userinfo += 1;
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
