//! A stand-in for GitHub's OAuth app endpoints and REST API, on loopback, with GitHub's
//! documented quirks: the token endpoint answers form-encoded unless asked for JSON and HTTP
//! 200 with `{"error": …}` for a bad code; the API refuses calls without a `User-Agent`;
//! `/user` may carry `"email": null` and `"name": null`; `/user/emails` lists several
//! addresses; `/user/orgs` and `/user/teams` show private memberships only to a token with
//! `read:org`. It checks PKCE (S256), the client credentials and the redirect URI, and counts
//! the calls it receives.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use sha2::Digest;

pub const CLIENT_ID: &str = "github-test-client";
pub const CLIENT_SECRET: &str = "github-test-secret-5c1f";

#[derive(Clone, Debug)]
pub struct GithubAccount {
    pub id: u64,
    pub login: String,
    pub name: Option<String>,
    /// (email, primary, verified)
    pub emails: Vec<(String, bool, bool)>,
}

impl GithubAccount {
    pub fn octocat() -> Self {
        GithubAccount {
            id: 583231,
            login: "octocat".into(),
            name: None,
            emails: vec![
                ("octocat@users.noreply.example".into(), false, true),
                ("octocat@example.test".into(), true, true),
            ],
        }
    }
}

struct Grant {
    challenge: String,
    redirect_uri: String,
    account: GithubAccount,
    scope: String,
}

/// What a token may see: the account, and whether it was granted `read:org`.
#[derive(Clone)]
struct Token {
    account: GithubAccount,
    read_org: bool,
}

#[derive(Default)]
pub struct Calls {
    pub token: usize,
    pub user: usize,
    pub emails: usize,
}

#[derive(Default)]
struct State {
    account: Option<GithubAccount>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Token>,
    calls: Calls,
    counter: u64,
    /// Org logins and (org, team-slug) pairs of every account.
    orgs: Vec<String>,
    teams: Vec<(String, String)>,
    /// The scope of the last authorization request.
    last_scope: String,
}

#[derive(Clone)]
pub struct GithubStandIn {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl GithubStandIn {
    pub fn start() -> GithubStandIn {
        let state = Arc::new(Mutex::new(State { account: Some(GithubAccount::octocat()), ..Default::default() }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/login/oauth/authorize", web::get().to(authorize))
                .route("/login/oauth/access_token", web::post().to(access_token))
                .route("/api/user", web::get().to(user))
                .route("/api/user/emails", web::get().to(emails))
                .route("/api/user/orgs", web::get().to(orgs))
                .route("/api/user/teams", web::get().to(teams))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        GithubStandIn { base, state }
    }

    /// The account that the next authorization signs in as.
    pub fn sign_in_as(&self, account: GithubAccount) {
        self.state.lock().unwrap().account = Some(account);
    }

    /// The orgs and `(org, team-slug)` teams the signed-in account belongs to.
    pub fn memberships(&self, orgs: &[&str], teams: &[(&str, &str)]) {
        let mut s = self.state.lock().unwrap();
        s.orgs = orgs.iter().map(|o| o.to_string()).collect();
        s.teams = teams.iter().map(|(o, t)| (o.to_string(), t.to_string())).collect();
    }

    /// The `scope` gatehouse asked for in its last authorization request.
    pub fn last_scope(&self) -> String {
        self.state.lock().unwrap().last_scope.clone()
    }

    pub fn calls(&self) -> (usize, usize, usize) {
        let s = self.state.lock().unwrap();
        (s.calls.token, s.calls.user, s.calls.emails)
    }

    pub fn env(&self, name: &str) -> Vec<(String, String)> {
        let p = format!("OAUTH_{}_", name.to_uppercase().replace('-', "_"));
        vec![
            (format!("{p}KIND"), "github".into()),
            (format!("{p}CLIENT_ID"), CLIENT_ID.into()),
            (format!("{p}CLIENT_SECRET"), CLIENT_SECRET.into()),
            (format!("{p}AUTH_URL"), format!("{}/login/oauth/authorize", self.base)),
            (format!("{p}TOKEN_URL"), format!("{}/login/oauth/access_token", self.base)),
            (format!("{p}API_URL"), format!("{}/api", self.base)),
        ]
    }
}

type Shared = web::Data<Mutex<State>>;

async fn authorize(state: Shared, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID {
        return HttpResponse::NotFound().body("unknown client_id");
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return HttpResponse::BadRequest().body("PKCE S256 expected by this stand-in");
    }
    let mut s = state.lock().unwrap();
    s.counter += 1;
    let code = format!("ghcode{}x{}", s.counter, std::process::id());
    let account = s.account.clone().expect("an account to sign in as");
    s.last_scope = get("scope");
    let grant =
        Grant { challenge: get("code_challenge"), redirect_uri: get("redirect_uri"), account, scope: get("scope") };
    s.codes.insert(code.clone(), grant);
    let sep = if get("redirect_uri").contains('?') { '&' } else { '?' };
    let location = format!("{}{sep}code={code}&state={}", get("redirect_uri"), urlencode(&get("state")));
    HttpResponse::Found().insert_header(("Location", location)).finish()
}

async fn access_token(req: HttpRequest, state: Shared, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    s.calls.token += 1;
    let grant = s.codes.remove(&get("code"));
    let ok = grant.as_ref().is_some_and(|g| {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(get("code_verifier").as_bytes()));
        challenge == g.challenge && g.redirect_uri == get("redirect_uri")
    }) && get("client_id") == CLIENT_ID
        && get("client_secret") == CLIENT_SECRET;
    let wants_json =
        req.headers().get("Accept").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if !ok {
        // GitHub's quirk: a bad code is HTTP 200 with an error body.
        let body = serde_json::json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/troubleshooting-oauth-errors"
        });
        return if wants_json {
            HttpResponse::Ok().json(body)
        } else {
            HttpResponse::Ok()
                .content_type("application/x-www-form-urlencoded")
                .body("error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.")
        };
    }
    s.counter += 1;
    let token = format!("gho_test{}x{}", s.counter, std::process::id());
    let grant = grant.unwrap();
    let read_org = grant.scope.split([' ', ',']).any(|s| s == "read:org");
    s.tokens.insert(token.clone(), Token { account: grant.account, read_org });
    if wants_json {
        HttpResponse::Ok()
            .json(serde_json::json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}))
    } else {
        HttpResponse::Ok()
            .content_type("application/x-www-form-urlencoded")
            .body(format!("access_token={token}&scope=read%3Auser%2Cuser%3Aemail&token_type=bearer"))
    }
}

fn authenticated(req: &HttpRequest, s: &State) -> Result<GithubAccount, Box<HttpResponse>> {
    if req.headers().get("User-Agent").is_none() {
        return Err(Box::new(HttpResponse::Forbidden().body(
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        )));
    }
    let token = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")))
        .unwrap_or_default();
    s.tokens
        .get(token)
        .map(|t| t.account.clone())
        .ok_or_else(|| Box::new(HttpResponse::Unauthorized().json(serde_json::json!({"message": "Bad credentials"}))))
}

/// Whether the request's token was granted `read:org`.
fn reads_orgs(req: &HttpRequest, s: &State) -> bool {
    let auth = req.headers().get("Authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("token ")).unwrap_or_default();
    s.tokens.get(token).is_some_and(|t| t.read_org)
}

/// Memberships are private in this stand-in: without `read:org` the list is empty.
async fn orgs(req: HttpRequest, state: Shared) -> HttpResponse {
    let s = state.lock().unwrap();
    if let Err(r) = authenticated(&req, &s) {
        return *r;
    }
    let visible: Vec<_> = if reads_orgs(&req, &s) {
        s.orgs.iter().map(|o| serde_json::json!({"login": o})).collect()
    } else {
        Vec::new()
    };
    HttpResponse::Ok().json(visible)
}

/// GitHub refuses `/user/teams` to a token without `read:org`.
async fn teams(req: HttpRequest, state: Shared) -> HttpResponse {
    let s = state.lock().unwrap();
    if let Err(r) = authenticated(&req, &s) {
        return *r;
    }
    if !reads_orgs(&req, &s) {
        return HttpResponse::Forbidden()
            .json(serde_json::json!({"message": "Resource not accessible by integration"}));
    }
    HttpResponse::Ok().json(
        s.teams
            .iter()
            .map(|(org, slug)| serde_json::json!({"slug": slug, "name": slug, "organization": {"login": org}}))
            .collect::<Vec<_>>(),
    )
}

async fn user(req: HttpRequest, state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.calls.user += 1;
    match authenticated(&req, &s) {
        Ok(a) => HttpResponse::Ok().json(serde_json::json!({
            "id": a.id,
            "login": a.login,
            "name": a.name,
            "email": null,
            "avatar_url": format!("https://avatars.example.test/u/{}", a.id),
        })),
        Err(r) => *r,
    }
}

async fn emails(req: HttpRequest, state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.calls.emails += 1;
    match authenticated(&req, &s) {
        Ok(a) => HttpResponse::Ok().json(
            a.emails
                .iter()
                .map(|(email, primary, verified)| {
                    serde_json::json!({"email": email, "primary": primary, "verified": verified, "visibility": null})
                })
                .collect::<Vec<_>>(),
        ),
        Err(r) => *r,
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
