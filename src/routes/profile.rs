use actix_web::{HttpRequest, HttpResponse, web};

use super::login::logo;
use super::{page_context, page_response, render_body, render_page, see_other};
use crate::accounts::{self, Account, AccountCache};
use crate::auth::{CurrentUser, require_same_origin};
use crate::config::Settings;
use crate::db::models::{SessionRow, UserId, now};
use crate::db::{Db, DbError};
use crate::error::AppError;
use crate::providers::{Availability, Registry};
use crate::session::{AnyStore, current_sid, read_description};

/// `GET /profile`: the signed-in user, their linked identities (each with unlink while
/// another remains) and a "link" button per configured provider. Guarded.
///
/// The page depends only on the account snapshot and which providers are up, so it is
/// rendered once per snapshot ([`Account::rendered`]); with the database store it also lists
/// live sessions and is rendered every time.
pub async fn profile(
    CurrentUser(account): CurrentUser,
    db: web::Data<Db>,
    registry: web::Data<Registry>,
    store: web::Data<AnyStore>,
    session: actix_session::Session,
) -> Result<HttpResponse, AppError> {
    if matches!(**store, AnyStore::Database(_)) {
        let mut ctx = profile_context(&account, &registry);
        ctx.insert("sessions", &active_sessions(&db, account.id(), current_sid(&session)).await?);
        return Ok(render_page("profile.html", &ctx));
    }
    let render = || render_body("profile.html", &profile_context(&account, &registry));
    let body = match registry.ready_mask() {
        Some(mask) => account.rendered("profile", mask, render),
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

/// The user's live sessions for the list on /profile (database store only: the one store
/// that can find a user's sessions).
async fn active_sessions(db: &Db, user: UserId, current: Option<String>) -> Result<Vec<serde_json::Value>, AppError> {
    let rows = db.run(move |c| SessionRow::for_user(c, user.0, now()).map_err(DbError::from)).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (device, sid) = read_description(&r.state);
            serde_json::json!({
                "id": r.id,
                "device": device,
                "created": r.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "last_seen": r.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "current": sid.is_some() && sid == current,
            })
        })
        .collect())
}

/// `POST /profile/sessions/{id}/end`: signs one of the user's other sessions out.
pub async fn end_session_by_id(
    req: HttpRequest,
    CurrentUser(account): CurrentUser,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let user = account.id();
    let ended = db.run(move |c| SessionRow::delete_for_user(c, &id, user.0).map_err(DbError::from)).await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    Ok(see_other("/profile"))
}

/// `POST /profile/sessions/end-all`: signs the user out everywhere, this browser included.
pub async fn end_all_sessions(
    req: HttpRequest,
    CurrentUser(account): CurrentUser,
    session: actix_session::Session,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let user = account.id();
    let n = db.run(move |c| SessionRow::delete_all_for_user(c, user.0).map_err(DbError::from)).await?;
    log::info!("signed out everywhere user_id={user} sessions={n}");
    crate::session::end_session(&session);
    crate::session::set_flash(&session, "You have been signed out on every device.");
    Ok(see_other("/"))
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
    Ok(see_other("/profile"))
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
    db: web::Data<Db>,
    cache: web::Data<AccountCache>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let id = account.id();
    db.run(move |c| accounts::delete_user(c, id)).await?;
    cache.forget(id);
    log::info!("account deleted user_id={id}");
    crate::session::end_session(&session);
    crate::session::set_flash(&session, "Your account has been deleted.");
    Ok(see_other("/"))
}
