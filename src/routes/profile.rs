use actix_web::{HttpRequest, HttpResponse, web};

use super::login::logo;
use super::{page_context, render_page, see_other};
use crate::accounts;
use crate::auth::{CurrentUser, require_same_origin};
use crate::config::Settings;
use crate::db::models::{Identity, SessionRow, UserId, now};
use crate::db::{Db, DbError};
use crate::error::AppError;
use crate::providers::{Availability, Registry};
use crate::session::{AnyStore, current_sid, read_description};

/// `GET /profile`: the signed-in user, their linked identities (each with unlink while
/// another remains) and a "link" button per configured provider. Guarded.
pub async fn profile(
    CurrentUser(user): CurrentUser,
    db: web::Data<Db>,
    registry: web::Data<Registry>,
    store: web::Data<AnyStore>,
    session: actix_session::Session,
) -> Result<HttpResponse, AppError> {
    let id = UserId(user.id);
    let identities = db.run(move |c| Identity::for_user(c, id).map_err(DbError::from)).await?;
    let linked: Vec<_> = identities
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
    let mut ctx = page_context(Some(&user));
    ctx.insert("identities", &linked);
    ctx.insert("can_unlink", &(identities.len() > 1));
    ctx.insert("linkable", &linkable);
    if matches!(**store, AnyStore::Database(_)) {
        ctx.insert("sessions", &active_sessions(&db, id, current_sid(&session)).await?);
    }
    Ok(render_page("profile.html", &ctx))
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
    CurrentUser(user): CurrentUser,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let ended = db.run(move |c| SessionRow::delete_for_user(c, &id, user.id).map_err(DbError::from)).await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    Ok(see_other("/profile"))
}

/// `POST /profile/sessions/end-all`: signs the user out everywhere, this browser included.
pub async fn end_all_sessions(
    req: HttpRequest,
    CurrentUser(user): CurrentUser,
    session: actix_session::Session,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let n = db.run(move |c| SessionRow::delete_all_for_user(c, user.id).map_err(DbError::from)).await?;
    log::info!("signed out everywhere user_id={} sessions={n}", user.id);
    crate::session::end_session(&session);
    crate::session::set_flash(&session, "You have been signed out on every device.");
    Ok(see_other("/"))
}

/// `POST /profile/identities/{id}/unlink`: removes one of the user's identities while another
/// remains. Guarded; refused from other sites.
pub async fn unlink(
    req: HttpRequest,
    CurrentUser(user): CurrentUser,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let identity: i64 = req.match_info().get("id").and_then(|id| id.parse().ok()).ok_or(AppError::NotFound)?;
    let id = UserId(user.id);
    db.run(move |c| accounts::unlink(c, id, identity)).await?;
    log::info!("identity unlinked user_id={id} identity_id={identity}");
    Ok(see_other("/profile"))
}

/// `GET /profile/delete`: asks before deleting the account.
pub async fn confirm_delete(CurrentUser(user): CurrentUser) -> HttpResponse {
    render_page("delete.html", &page_context(Some(&user)))
}

/// `POST /profile/delete`: deletes the user, their identities and sessions in one
/// transaction, then signs this browser out.
pub async fn delete(
    req: HttpRequest,
    CurrentUser(user): CurrentUser,
    session: actix_session::Session,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    require_same_origin(&req, &settings.public_url)?;
    let id = UserId(user.id);
    db.run(move |c| accounts::delete_user(c, id)).await?;
    log::info!("account deleted user_id={id}");
    crate::session::end_session(&session);
    crate::session::set_flash(&session, "Your account has been deleted.");
    Ok(see_other("/"))
}
