use actix_web::HttpResponse;
use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use serde::Serialize;

use crate::accounts::Account;
use crate::auth::CurrentUser;
use crate::error::{ApiError, AppError};

#[derive(Serialize)]
struct Me<'a> {
    id: i64,
    name: &'a str,
    email: Option<&'a str>,
    /// Whether `email` was verified by a provider trusted to verify emails.
    email_verified: bool,
    avatar_url: Option<&'a str>,
    /// Every linked identity's groups, sorted, without repeats.
    groups: &'a [String],
    identities: Vec<LinkedIdentity<'a>>,
}

#[derive(Serialize)]
struct LinkedIdentity<'a> {
    provider: &'a str,
    subject: &'a str,
    email: Option<&'a str>,
    email_verified: bool,
    groups: Vec<String>,
}

/// `GET /api/me`: the signed-in user as JSON; signed out, 401 JSON (never a redirect).
pub async fn me(user: Result<CurrentUser, AppError>) -> Result<HttpResponse, ApiError> {
    let CurrentUser(account) = user?;
    // Serialized once per account snapshot.
    let body = account.rendered("api/me", 0, || serde_json::to_vec(&describe(&account)).ok().map(Bytes::from));
    let body = body.ok_or(AppError::Internal("cannot serialize /api/me"))?;
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(body))
}

fn describe(account: &Account) -> Me<'_> {
    let user = &account.user;
    Me {
        id: user.id,
        name: &user.name,
        email: user.email.as_deref(),
        email_verified: user.email_verified && user.email.is_some(),
        avatar_url: user.avatar_url.as_deref(),
        groups: account.groups(),
        identities: account
            .identities
            .iter()
            .map(|i| LinkedIdentity {
                provider: &i.provider,
                subject: &i.subject,
                email: i.email.as_deref(),
                email_verified: i.email_verified,
                groups: i.groups(),
            })
            .collect(),
    }
}
