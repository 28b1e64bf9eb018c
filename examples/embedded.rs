//! A notes app of its own, with gatehouse mounted in: sign-in, sessions and guards come from
//! gatehouse; the pages, the JSON API and the `notes` table are the app's.
//!
//! `cargo run --release --example embedded`, with the same environment variables as the
//! service (`DATABASE_URL`, `BIND_ADDR`, `PUBLIC_URL`, `SESSION_KEY`, `OAUTH_*`, …).
//!
//! - `GET /` — public; says who is signed in, if anyone.
//! - `GET /dashboard` — guarded page: signed out → `303 /login?next=%2Fdashboard`.
//! - `GET /api/notes` — guarded JSON: signed out → `401` JSON; signed in → this user's notes.
//! - `POST /api/notes` — adds a note (`{"text": "…"}`, `Content-Type: application/json`).
//! - gatehouse's own routes: `/login`, `/authorize/{p}`, `/callback/{p}`, `/logout`,
//!   `/profile`, `/api/me`, `/healthz`, `/readyz`.

use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use gatehouse::db::{AnyConnection, DbError};
use gatehouse::{CurrentUser, Db, Gatehouse, OptionalUser, Settings};

diesel::table! {
    /// The app's own table, in gatehouse's database; gatehouse never touches it.
    notes (id) {
        id -> BigInt,
        user_id -> BigInt,
        body -> Text,
    }
}

/// Creates the app's table if it is not there yet (gatehouse runs only its own migrations).
pub fn create_tables(conn: &mut AnyConnection) -> Result<(), DbError> {
    use diesel::connection::SimpleConnection;
    let ddl = match conn {
        AnyConnection::Postgresql(_) => {
            "CREATE TABLE IF NOT EXISTS notes (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, body TEXT NOT NULL)"
        }
        AnyConnection::Sqlite(_) => {
            "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, user_id BIGINT NOT NULL, body TEXT NOT NULL)"
        }
    };
    conn.batch_execute(ddl).map_err(DbError::from)
}

/// The app's routes, beside gatehouse's.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/dashboard", web::get().to(dashboard))
        .route("/api/notes", web::get().to(list_notes))
        .route("/api/notes", web::post().to(add_note));
}

/// Public: anyone may look.
async fn home(OptionalUser(user): OptionalUser) -> HttpResponse {
    let who = match user {
        Some(account) => {
            format!("Signed in as {}. <a href=\"/dashboard\">Your dashboard</a>", escape(&account.user.name))
        }
        None => "<a href=\"/login?next=%2Fdashboard\">Sign in</a> to keep notes.".to_string(),
    };
    page(&format!("<h1>Notes</h1><p>{who}</p>"))
}

/// Guarded page: `CurrentUser` sends a signed-out browser to the sign-in page and back.
async fn dashboard(CurrentUser(account): CurrentUser) -> HttpResponse {
    page(&format!(
        "<h1>{}'s dashboard</h1><form method=\"post\" action=\"/logout\"><button>Sign out</button></form>",
        escape(&account.user.name)
    ))
}

#[derive(serde::Serialize, Queryable)]
struct Note {
    id: i64,
    #[serde(skip)]
    #[allow(dead_code)]
    user_id: i64,
    body: String,
}

/// Guarded JSON: under `/api/` (gatehouse's `JSON_PATHS`) a signed-out request gets `401` JSON.
async fn list_notes(CurrentUser(account): CurrentUser, db: web::Data<Db>) -> Result<HttpResponse, actix_web::Error> {
    let user = account.user.id;
    let found: Vec<Note> = db
        .run(move |c| notes::table.filter(notes::user_id.eq(user)).order(notes::id).load(c).map_err(DbError::from))
        .await
        .map_err(unavailable)?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(serde::Deserialize)]
struct NewNote {
    text: String,
}

/// Adds a note. A JSON body needs `Content-Type: application/json`, which a cross-site form
/// cannot send, so the session cookie alone cannot be abused from another site.
async fn add_note(
    CurrentUser(account): CurrentUser,
    db: web::Data<Db>,
    note: web::Json<NewNote>,
) -> Result<HttpResponse, actix_web::Error> {
    let (user, body) = (account.user.id, note.into_inner().text.chars().take(2000).collect::<String>());
    db.run(move |c| {
        diesel::insert_into(notes::table)
            .values((notes::user_id.eq(user), notes::body.eq(body)))
            .execute(c)
            .map_err(DbError::from)
    })
    .await
    .map_err(unavailable)?;
    Ok(HttpResponse::Created().finish())
}

/// A database failure, logged here and answered 503 without its details.
fn unavailable(e: DbError) -> actix_web::Error {
    log::error!("notes: {e}");
    actix_web::error::ErrorServiceUnavailable("The notes are unavailable for a moment.")
}

fn page(body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::html()).body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Notes</title></head><body>{body}</body></html>"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// gatehouse, the app's table, and a server: everything `main` does but reading the
/// environment and binding, so tests can start the same app on a listener of their own.
pub async fn start(settings: Settings, listener: std::net::TcpListener) -> anyhow::Result<actix_web::dev::Server> {
    let gatehouse = Gatehouse::new(settings).await?;
    gatehouse.db().run(create_tables).await?;
    let server = HttpServer::new(move || {
        // The app's own routes first: its `/` replaces gatehouse's home page.
        let app = App::new().configure(routes).configure(|cfg| gatehouse.configure(cfg));
        gatehouse.wrap(app)
    })
    .listen(listener)?
    .run();
    Ok(server)
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,actix_server=warn")).init();
    let settings = Settings::from_env()?;
    let listener = std::net::TcpListener::bind(settings.bind_addr())?;
    log::info!("the notes app is listening; open {}", settings.public_url());
    start(settings, listener).await?.await?;
    Ok(())
}
