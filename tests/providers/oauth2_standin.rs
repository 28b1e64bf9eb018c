//! Stand-ins for plain OAuth2 providers, on loopback, each under its own path prefix with its
//! documented quirks:
//! - `/facebook`: Graph API; `/me` returns only `id` and `name` unless `fields=` asks for more,
//!   the id is a number in this stand-in (Graph uses strings; both must work), the picture is
//!   nested (`picture.data.url`), and errors are objects: `{"error": {"type": "OAuthException"}}`.
//! - `/discord`: `/users/@me` with `global_name` (may be null), an avatar *hash* and `verified`.
//! - `/generic`: an arbitrary profile shape, for the claim mapping of the `oauth2` kind.
//!
//! All of them check the client credentials (form body), PKCE S256 and the redirect URI, and
//! issue refresh tokens that rotate on every use (an old one is refused, `invalid_grant`).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use sha2::Digest;

pub const CLIENT_ID: &str = "oauth2-standin-client";
pub const CLIENT_SECRET: &str = "oauth2-standin-secret-77";

struct Grant {
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, Grant>,
    tokens: Vec<String>,
    /// Refresh tokens that are still good (each is replaced when used).
    refresh_tokens: Vec<String>,
    counter: u64,
    token_calls: usize,
    refresh_calls: usize,
    /// `expires_in` of the next tokens (code grant, refresh grant); 3600 by default.
    expires_in: Option<(u64, u64)>,
    /// Send `expires_in` as a string (`"3600"`), as Azure AD v1.0 and Entra B2C do.
    expires_in_as_text: bool,
    /// Answer every refresh with this OAuth error: `invalid_grant` as after the person revoked
    /// the app, `temporarily_unavailable` as a provider having a bad moment.
    refresh_error: Option<&'static str>,
    /// Issue no refresh token on the code grant (as Google after the first consent).
    no_refresh_on_sign_in: bool,
    /// How long a refresh takes.
    refresh_delay: std::time::Duration,
}

#[derive(Clone)]
pub struct OAuth2StandIn {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl OAuth2StandIn {
    pub fn start() -> OAuth2StandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/{style}/authorize", web::get().to(authorize))
                .route("/{style}/token", web::post().to(token))
                .route("/facebook/me", web::get().to(facebook_me))
                .route("/discord/users/@me", web::get().to(discord_me))
                .route("/generic/profile", web::get().to(generic_profile))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        OAuth2StandIn { base, state }
    }

    pub fn token_calls(&self) -> usize {
        self.state.lock().unwrap().token_calls
    }

    /// Refresh-token grants received so far.
    pub fn refresh_calls(&self) -> usize {
        self.state.lock().unwrap().refresh_calls
    }

    /// Tokens issued from now on expire after `code` seconds (code grant) and `refresh`
    /// seconds (refresh grant).
    pub fn expires_in(&self, code: u64, refresh: u64) {
        self.state.lock().unwrap().expires_in = Some((code, refresh));
    }

    /// From now on `expires_in` is sent as a string of digits.
    pub fn expires_in_as_text(&self) {
        self.state.lock().unwrap().expires_in_as_text = true;
    }

    pub fn refuse_refresh(&self, refuse: bool) {
        self.refresh_error(refuse.then_some("invalid_grant"));
    }

    pub fn refresh_error(&self, error: Option<&'static str>) {
        self.state.lock().unwrap().refresh_error = error;
    }

    pub fn no_refresh_on_sign_in(&self, none: bool) {
        self.state.lock().unwrap().no_refresh_on_sign_in = none;
    }

    pub fn refresh_delay(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().refresh_delay = delay;
    }

    /// Is this access token one the stand-in issued (and so would accept)?
    pub fn issued(&self, access_token: &str) -> bool {
        self.state.lock().unwrap().tokens.iter().any(|t| t == access_token)
    }

    /// Variables for provider `name` of `kind`, pointed at the stand-in's `style` prefix.
    pub fn env(&self, name: &str, kind: &str, style: &str) -> Vec<(String, String)> {
        let p = format!("OAUTH_{}_", name.to_uppercase().replace('-', "_"));
        let profile = match style {
            "facebook" => "/facebook/me?fields=id,name,email,picture",
            "discord" => "/discord/users/@me",
            _ => "/generic/profile",
        };
        vec![
            (format!("{p}KIND"), kind.into()),
            (format!("{p}CLIENT_ID"), CLIENT_ID.into()),
            (format!("{p}CLIENT_SECRET"), CLIENT_SECRET.into()),
            (format!("{p}AUTH_URL"), format!("{}/{style}/authorize", self.base)),
            (format!("{p}TOKEN_URL"), format!("{}/{style}/token", self.base)),
            (format!("{p}USERINFO_URL"), format!("{}{profile}", self.base)),
        ]
    }
}

type Shared = web::Data<Mutex<State>>;

async fn authorize(state: Shared, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID || get("response_type") != "code" {
        return HttpResponse::BadRequest().body("bad client_id or response_type");
    }
    if get("code_challenge_method") != "S256" {
        return HttpResponse::BadRequest().body("PKCE S256 expected");
    }
    let mut s = state.lock().unwrap();
    s.counter += 1;
    let code = format!("o2code{}", s.counter);
    s.codes.insert(code.clone(), Grant { challenge: get("code_challenge"), redirect_uri: get("redirect_uri") });
    let st: String = url::form_urlencoded::byte_serialize(get("state").as_bytes()).collect();
    HttpResponse::Found()
        .insert_header(("Location", format!("{}?code={code}&state={st}", get("redirect_uri"))))
        .finish()
}

async fn token(path: web::Path<String>, state: Shared, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("grant_type") == "refresh_token" {
        return refresh(
            state,
            &get("refresh_token"),
            get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET,
        )
        .await;
    }
    let mut s = state.lock().unwrap();
    s.token_calls += 1;
    let grant = s.codes.remove(&get("code"));
    let ok = grant.is_some_and(|g| {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
        challenge == g.challenge && g.redirect_uri == get("redirect_uri")
    }) && get("client_id") == CLIENT_ID
        && get("client_secret") == CLIENT_SECRET;
    if !ok {
        return match path.as_str() {
            "facebook" => HttpResponse::BadRequest().json(serde_json::json!({
                "error": {"message": "Invalid verification code format.", "type": "OAuthException", "code": 100, "fbtrace_id": "A1"}
            })),
            _ => HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"})),
        };
    }
    let expires_in = s.expires_in.map_or(3600, |e| e.0);
    let mut answer = issue(&mut s, expires_in);
    if s.no_refresh_on_sign_in {
        answer.as_object_mut().unwrap().remove("refresh_token");
    }
    HttpResponse::Ok().json(answer)
}

/// A new access token and a new refresh token, as a token answer.
fn issue(s: &mut State, expires_in: u64) -> serde_json::Value {
    s.counter += 1;
    let (token, refresh) = (format!("o2token{}", s.counter), format!("o2refresh{}", s.counter));
    s.tokens.push(token.clone());
    s.refresh_tokens.push(refresh.clone());
    let expires_in =
        if s.expires_in_as_text { expires_in.to_string().into() } else { serde_json::Value::from(expires_in) };
    serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in, "refresh_token": refresh})
}

/// The refresh-token grant: the token is used up (rotation); a refused or unknown one is
/// `invalid_grant`.
async fn refresh(state: Shared, refresh_token: &str, client_ok: bool) -> HttpResponse {
    let delay = state.lock().unwrap().refresh_delay;
    actix_web::rt::time::sleep(delay).await;
    let mut s = state.lock().unwrap();
    s.refresh_calls += 1;
    let known = s.refresh_tokens.iter().position(|t| t == refresh_token);
    if let Some(error) = s.refresh_error {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": error}));
    }
    match known {
        Some(i) if client_ok => {
            s.refresh_tokens.remove(i);
            let expires_in = s.expires_in.map_or(3600, |e| e.1);
            HttpResponse::Ok().json(issue(&mut s, expires_in))
        }
        _ => HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"})),
    }
}

fn authorised(req: &HttpRequest, s: &State) -> bool {
    let auth = req.headers().get("Authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    auth.strip_prefix("Bearer ").is_some_and(|t| s.tokens.iter().any(|k| k == t))
}

async fn facebook_me(req: HttpRequest, state: Shared, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    if !authorised(&req, &state.lock().unwrap()) {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}));
    }
    let fields = q.get("fields").cloned().unwrap_or_default();
    let mut me = serde_json::json!({"id": 10158000000000001u64, "name": "Fay Book"});
    if fields.contains("email") {
        me["email"] = "fay@facebook.test".into();
    }
    if fields.contains("picture") {
        me["picture"] =
            serde_json::json!({"data": {"url": "https://avatars.example.test/fay.jpg", "is_silhouette": false}});
    }
    HttpResponse::Ok().json(me)
}

async fn discord_me(req: HttpRequest, state: Shared) -> HttpResponse {
    if !authorised(&req, &state.lock().unwrap()) {
        return HttpResponse::Unauthorized().json(serde_json::json!({"message": "401: Unauthorized", "code": 0}));
    }
    HttpResponse::Ok().json(serde_json::json!({
        "id": "80351110224678912", "username": "nelly", "global_name": null, "discriminator": "0",
        "avatar": "8342729096ea3675442027381ff50dfe", "email": "nelly@discord.test", "verified": true
    }))
}

async fn generic_profile(req: HttpRequest, state: Shared) -> HttpResponse {
    if !authorised(&req, &state.lock().unwrap()) {
        return HttpResponse::Unauthorized().finish();
    }
    HttpResponse::Ok().json(serde_json::json!({
        "data": {"uid": 4711, "mail": "gene@generic.test", "mail_confirmed": "true", "display": "Gene Ric",
                 "photo": {"href": "https://avatars.example.test/gene.png"}}
    }))
}
