use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::accounts::{self, AccountCache};
use crate::db::models::{Identity, ProviderSessionRow, UserId, logout_token_used, mark_logout_token_used, now};
use crate::db::{Db, DbError};
use crate::providers::{HttpClient, LogoutRequest, ProviderError, Registry};
use crate::session::{AnyStore, ListedSession};

/// `POST /backchannel-logout/{provider}` (OpenID Connect Back-Channel Logout 1.0): the provider
/// says one of its sessions (`sid`), or everything of one of its users (`sub`), has ended. The
/// form-encoded `logout_token` is checked as the specification says, used once across every
/// instance (`jti`), and then the sessions it names end on every store:
///
/// - `sid`: on a server-side store, exactly the sessions signed in through that provider
///   session (and this provider's sessions that recorded no sid, signed in before the logout);
/// - `sub` only: the sessions of the user with that identity signed in through this provider
///   before the logout (its `iat`), never those of their other providers;
/// - the cookie store cannot single one session out: every session of the person signed in
///   before the logout ends (`sessions_valid_after`).
///
/// `200` (no body) when done, also when nobody was signed in that way; `400` JSON for a token
/// that fails a check; `503` when the provider's keys or the database cannot be reached, so the
/// provider retries. Never cached.
pub async fn backchannel_logout(req: HttpRequest, body: Bytes, ctx: Shared) -> HttpResponse {
    let (registry, http, db, store, cache) = ctx;
    let name = req.match_info().get("provider").unwrap_or_default().to_string();
    let Some(provider) = registry.get(&name) else {
        return answer(StatusCode::NOT_FOUND, Some("no such provider"));
    };
    let tokens: Vec<String> =
        url::form_urlencoded::parse(&body).filter(|(k, _)| k == "logout_token").map(|(_, v)| v.into_owned()).collect();
    let [token] = tokens.as_slice() else {
        return answer(StatusCode::BAD_REQUEST, Some("exactly one logout_token is required"));
    };
    let request = match provider.verify_logout_token(&http, token).await {
        Ok(request) => request,
        Err(e @ (ProviderError::Unavailable(_) | ProviderError::Timeout)) => {
            log::warn!("back-channel logout provider={name}: cannot check the token now: {e}");
            return answer(StatusCode::SERVICE_UNAVAILABLE, Some("the provider's keys cannot be read now"));
        }
        Err(e) => {
            log::warn!("back-channel logout provider={name} refused: {e}");
            return answer(StatusCode::BAD_REQUEST, Some(&e.to_string()));
        }
    };
    match end_sessions(&db, &store, &cache, &name, request).await {
        Ok(Some(users)) => {
            log::info!("back-channel logout provider={name}: sessions ended for {users} user(s)");
            answer(StatusCode::OK, None)
        }
        Ok(None) => {
            log::warn!("back-channel logout provider={name} refused: the token was used before");
            answer(StatusCode::BAD_REQUEST, Some("logout token: jti was used before"))
        }
        Err(e) => {
            log::error!("back-channel logout provider={name} failed: {e}");
            answer(StatusCode::SERVICE_UNAVAILABLE, Some("the sessions cannot be ended now"))
        }
    }
}

/// The shared state the route uses.
type Shared = (web::Data<Registry>, web::Data<HttpClient>, web::Data<Db>, web::Data<AnyStore>, web::Data<AccountCache>);

/// Ends the sessions the token names, then marks its `jti` used (only then: a provider that
/// retries after a failure here must not be told it replayed); `None` when the `jti` was
/// used before, else how many users it concerned.
async fn end_sessions(
    db: &Db,
    store: &AnyStore,
    cache: &AccountCache,
    provider: &str,
    request: LogoutRequest,
) -> Result<Option<usize>, Box<dyn std::error::Error>> {
    let LogoutRequest { sub, sid, jti, issued_at, usable_until } = request;
    let (p, s, j) = (provider.to_string(), sid.clone(), jti.clone());
    let found = db
        .run(move |c| -> Result<Option<BTreeSet<i64>>, DbError> {
            let at = now();
            if logout_token_used(c, &p, &j, at)? {
                return Ok(None);
            }
            let mut users = BTreeSet::new();
            if let Some(sub) = &sub {
                users.extend(Identity::find_by_subject(c, &p, sub)?.map(|i| i.user_id));
            }
            if let Some(sid) = &s {
                users.extend(ProviderSessionRow::user_of(c, &p, sid, at)?);
            }
            Ok(Some(users))
        })
        .await?;
    let Some(users) = found else { return Ok(None) };
    // Only sessions signed in before the provider's logout: a sign-in since (a retry of this
    // token arriving late) stays. `iat` counts whole seconds, so the whole second counts as
    // before (never later than now).
    let logout_at = chrono::DateTime::from_timestamp(issued_at + 1, 0).map_or_else(now, |t| t.naive_utc()).min(now());
    let before = |session: &ListedSession| session.signed_in.is_none_or(|t| t <= logout_at);
    let ends = |session: &ListedSession| match (&session.at_provider, &sid) {
        // A sid names one provider session: exactly the sessions signed in through it.
        (Some((p, Some(s))), Some(sid)) => p == provider && s == sid,
        // Signed in through this provider without a sid (its ID token had none): it may have
        // been that session.
        (Some((p, None)), Some(_)) => p == provider && before(session),
        // The subject: the sessions signed in through this provider before its logout.
        (Some((p, _)), None) => p == provider && before(session),
        // Signed in before sessions noted their provider: it may have been this one.
        (None, _) => before(session),
    };
    for &user in &users {
        if store.can_end_one() {
            store.end_where(user, ends).await?;
        } else {
            // The cookie store cannot pick one session: every session of the person signed in
            // before the logout ends.
            db.run(move |c| accounts::end_sessions(c, UserId(user), logout_at)).await?;
            cache.forget(UserId(user));
        }
    }
    let p = provider.to_string();
    db.run(move |c| -> Result<(), DbError> {
        let at = now();
        if let Some(sid) = &sid {
            ProviderSessionRow::forget(c, &p, sid)?;
        }
        let until = chrono::DateTime::from_timestamp(usable_until, 0).map_or(at, |t| t.naive_utc());
        Ok(mark_logout_token_used(c, &p, &jti, until, at)?)
    })
    .await?;
    Ok(Some(users.len()))
}

fn answer(status: StatusCode, error: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    match error {
        None => response.finish(),
        Some(why) => {
            let error = if status == StatusCode::BAD_REQUEST { "invalid_request" } else { "temporarily_unavailable" };
            response.json(serde_json::json!({"error": error, "error_description": why}))
        }
    }
}
