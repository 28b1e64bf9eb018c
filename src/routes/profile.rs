use std::hash::{Hash, Hasher};

use actix_web::{HttpRequest, HttpResponse, web};

use super::login::logo;
use super::{page_context, page_response, render_body, render_page, see_other};
use crate::accounts::{self, Account, AccountCache};
use crate::auth::{CurrentUser, require_same_origin};
use crate::config::Settings;
use crate::db::Db;
use crate::error::AppError;
use crate::providers::{Availability, Registry};
use crate::session::{AnyStore, ListedSession, current_sid};

/// `GET /profile`: the signed-in user, their linked identities (each with unlink while
/// another remains), a "link" button per configured provider, and (server-side stores) their
/// signed-in browsers. Guarded.
///
/// The page depends only on the account snapshot, which providers are up and the session list,
/// so it is rendered once per combination ([`Account::rendered`]).
pub async fn profile(
    CurrentUser(account): CurrentUser,
    registry: web::Data<Registry>,
    store: web::Data<AnyStore>,
    session: actix_session::Session,
) -> Result<HttpResponse, AppError> {
    let sessions = store.sessions_of(account.user.id).await?;
    let current = current_sid(&session);
    let render = || {
        let mut ctx = profile_context(&account, &registry);
        if let Some(sessions) = &sessions {
            ctx.insert("sessions", &listed(sessions, current.as_deref()));
        }
        render_body("profile.html", &ctx)
    };
    let body = match registry.ready_mask() {
        Some(mask) => {
            let mut variant = std::hash::DefaultHasher::new();
            (mask, &sessions, &current).hash(&mut variant);
            account.rendered("profile", variant.finish(), render)
        }
        None => render(),
    };
    Ok(page_response(body))
}

fn profile_context(account: &Account, registry: &Registry) -> tera::Context {
    let linked: Vec<_> = account
        .identities
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": i.id,
                "provider": i.provider,
                "label": registry.label(&i.provider),
                "logo": logo(registry.get(&i.provider).map_or("generic", |p| p.settings().preset.kind)),
                "email": i.email,
                "email_verified": i.email_verified,
            })
        })
        .collect();
    let linkable: Vec<_> = registry
        .iter()
        .filter(|p| p.availability() == Availability::Ready)
        .map(|p| {
            let s = p.settings();
            serde_json::json!({"name": s.name, "label": s.label, "kind": s.preset.kind, "logo": logo(s.preset.kind)})
        })
        .collect();
    let mut ctx = page_context(Some(&account.user));
    ctx.insert("identities", &linked);
    ctx.insert("can_unlink", &(account.identities.len() > 1));
    ctx.insert("linkable", &linkable);
    ctx
}

/// The session list for the page, this browser's marked.
fn listed(sessions: &[ListedSession], current: Option<&str>) -> Vec<serde_json::Value> {
    let when = |t: &Option<chrono::NaiveDateTime>| t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    sessions
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id,
                "device": s.device,
                "created": when(&s.signed_in),
                "last_seen": when(&s.last_seen),
                "current": s.sid.is_some() && s.sid.as_deref() == current,
            })
        })
        .collect()
}

/// `POST /profile/sessions/{id}/end`: signs one of the user's other sessions out.
pub async fn end_session_by_id(
    req: HttpRequest,
    CurrentUser(account): CurrentUser,
    store: web::Data<AnyStore>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let ended = store.end_for_user(account.user.id, id).await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    Ok(see_other(&crate::site::path("/profile")))
}

/// `POST /profile/sessions/end-all`: signs the user out everywhere, this browser included.
pub async fn end_all_sessions(
    req: HttpRequest,
    CurrentUser(account): CurrentUser,
    session: actix_session::Session,
    store: web::Data<AnyStore>,
    db: web::Data<Db>,
    cache: web::Data<AccountCache>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let user = account.id();
    // The moment first: it ends the sessions on every store, the encrypted cookie included.
    // A server-side store also deletes them, so they leave the session list at once.
    db.run(move |c| accounts::end_sessions(c, user, crate::db::models::now())).await?;
    cache.forget(user);
    let n = store.end_all_for_user(user.0).await?;
    log::info!("signed out everywhere user_id={user} sessions={n}");
    crate::session::end_session(&session);
    crate::session::set_flash(&session, "You have been signed out on every device.");
    Ok(see_other(&crate::site::path("/")))
}

/// `POST /profile/identities/{id}/unlink`: removes one of the user's identities while another
/// remains. Guarded; refused from other sites.
pub async fn unlink(
    req: HttpRequest,
    CurrentUser(account): CurrentUser,
    db: web::Data<Db>,
    cache: web::Data<AccountCache>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let identity: i64 = req.match_info().get("id").and_then(|id| id.parse().ok()).ok_or(AppError::NotFound)?;
    let id = account.id();
    db.run(move |c| accounts::unlink(c, id, identity)).await?;
    cache.forget(id);
    log::info!("identity unlinked user_id={id} identity_id={identity}");
    Ok(see_other(&crate::site::path("/profile")))
}

/// `GET /profile/delete`: asks before deleting the account.
pub async fn confirm_delete(CurrentUser(account): CurrentUser) -> HttpResponse {
    render_page("delete.html", &page_context(Some(&account.user)))
}

/// `POST /profile/delete`: deletes the user, their identities and sessions in one
/// transaction, then signs this browser out.
pub async fn delete(
    req: HttpRequest,
    CurrentUser(account): CurrentUser,
    session: actix_session::Session,
    shared: (web::Data<Db>, web::Data<AccountCache>, web::Data<AnyStore>),
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let (db, cache, store) = shared;
    let id = account.id();
    db.run(move |c| accounts::delete_user(c, id)).await?;
    cache.forget(id);
    // Database sessions went with the user (ON DELETE CASCADE); Redis ones go here.
    if let Err(e) = store.end_all_for_user(id.0).await {
        log::warn!("account deleted user_id={id}, but its sessions could not be ended now: {e}");
    }
    log::info!("account deleted user_id={id}");
    crate::session::end_session(&session);
    crate::session::set_flash(&session, "Your account has been deleted.");
    Ok(see_other(&crate::site::path("/")))
}
