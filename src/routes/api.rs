use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::auth::CurrentUser;
use crate::db::models::{Identity, UserId};
use crate::db::{Db, DbError};
use crate::error::{ApiError, AppError};

#[derive(Serialize)]
struct Me {
    id: i64,
    name: String,
    email: Option<String>,
    avatar_url: Option<String>,
    identities: Vec<LinkedIdentity>,
}

#[derive(Serialize)]
struct LinkedIdentity {
    provider: String,
    subject: String,
    email: Option<String>,
    email_verified: bool,
}

/// `GET /api/me`: the signed-in user as JSON; signed out, 401 JSON (never a redirect).
pub async fn me(user: Result<CurrentUser, AppError>, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let CurrentUser(user) = user?;
    let id = UserId(user.id);
    let identities = db.run(move |c| Identity::for_user(c, id).map_err(DbError::from)).await.map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(Me {
        id: user.id,
        name: user.name,
        email: user.email,
        avatar_url: user.avatar_url,
        identities: identities
            .into_iter()
            .map(|i| LinkedIdentity {
                provider: i.provider,
                subject: i.subject,
                email: i.email,
                email_verified: i.email_verified,
            })
            .collect(),
    }))
}
