use actix_web::{HttpResponse, web};

use super::{page_context, render_page};
use crate::auth::CurrentUser;
use crate::db::models::{Identity, UserId};
use crate::db::{Db, DbError};
use crate::error::AppError;
use crate::providers::Registry;

/// `GET /profile`: the signed-in user and their linked identities (guarded).
pub async fn profile(
    CurrentUser(user): CurrentUser,
    db: web::Data<Db>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, AppError> {
    let id = UserId(user.id);
    let identities = db.run(move |c| Identity::for_user(c, id).map_err(DbError::from)).await?;
    let linked: Vec<_> = identities
        .iter()
        .map(|i| {
            serde_json::json!({
                "provider": i.provider,
                "label": registry.label(&i.provider),
                "email": i.email,
                "email_verified": i.email_verified,
            })
        })
        .collect();
    let mut ctx = page_context(Some(&user));
    ctx.insert("identities", &linked);
    Ok(render_page("profile.html", &ctx))
}
