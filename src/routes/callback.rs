use actix_identity::Identity;
use actix_session::Session;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::login::render_login;
use super::{query, see_other};
use crate::accounts::{self, Provenance, SignIn};
use crate::auth::next::safe_next;
use crate::db::Db;
use crate::error::{AppError, SignInError};
use crate::providers::{HttpClient, Provider, Registry};
use crate::session::{Taken, clear_flows, take_flow};

/// Longest authorization code accepted; real ones are far shorter.
const MAX_CODE_LEN: usize = 2048;

/// `GET /callback/{provider}`: finishes the flow. Every cheap local check (provider, state,
/// expiry, `error`) runs before any call to the provider. On success the session is renewed
/// and the browser goes to the flow's `next`; on failure nobody is signed in, nothing is
/// written, and the sign-in page says why.
pub async fn callback(
    req: HttpRequest,
    session: Session,
    registry: web::Data<Registry>,
    http: web::Data<HttpClient>,
    db: web::Data<Db>,
) -> HttpResponse {
    let name = req.match_info().get("provider").unwrap_or_default();
    let Some(provider) = registry.get(name) else {
        return AppError::NotFound.error_response();
    };
    match finish(&req, &session, provider.as_ref(), &registry, &http, &db).await {
        Ok((outcome, next)) => {
            let user = outcome.user_id();
            clear_flows(&session);
            // `login` renews the session id, so a planted pre-login cookie is worthless.
            if let Err(e) = Identity::login(&req.extensions(), user.to_string()) {
                log::error!("sign-in provider={name} could not start a session: {e}");
                return AppError::Session(e.to_string()).error_response();
            }
            session.renew();
            log::info!("sign-in provider={name} outcome={} user_id={user}", outcome_name(outcome));
            see_other(&next)
        }
        Err(e) => {
            log::warn!("sign-in failed provider={name}: {e}");
            render_login(&registry, "/", Some(&e.message(&provider.settings().label)), e.status())
        }
    }
}

async fn finish(
    req: &HttpRequest,
    session: &Session,
    provider: &dyn Provider,
    registry: &Registry,
    http: &HttpClient,
    db: &Db,
) -> Result<(SignIn, String), SignInError> {
    let name = provider.settings().name.clone();
    let params = query::parse(req.query_string()).map_err(|_| SignInError::MalformedCallback)?;
    let state = params.get("state").filter(|s| !s.is_empty()).ok_or(SignInError::MalformedCallback)?;
    let flow = match take_flow(session, state).map_err(|e| SignInError::Session(e.to_string()))? {
        Taken::Found(flow) => flow,
        Taken::Missing => return Err(SignInError::UnknownState),
    };
    if flow.provider != name {
        return Err(SignInError::WrongProvider);
    }
    if flow.is_expired(chrono::Utc::now().timestamp()) {
        return Err(SignInError::Expired);
    }
    if let Some(error) = params.get("error") {
        let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return Err(SignInError::Denied(code));
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty() && c.len() <= MAX_CODE_LEN)
        .ok_or(SignInError::MalformedCallback)?;

    let who = provider.exchange(http, code, &flow).await?.sanitised().ok_or(SignInError::NoIdentity)?;

    let trust_email = provider.settings().trust_email;
    let trusted: Vec<String> =
        registry.iter().filter(|p| p.settings().trust_email).map(|p| p.settings().name.clone()).collect();
    let outcome = db
        .run(move |conn| {
            let is_trusted = |p: &str| trusted.iter().any(|t| t == p);
            accounts::sign_in(conn, &Provenance { provider: &name, trust_email, is_trusted: &is_trusted }, &who)
        })
        .await
        .map_err(|e| SignInError::from_account(e, |p| registry.label(p)))?;
    Ok((outcome, safe_next(Some(&flow.next))))
}

fn outcome_name(outcome: SignIn) -> &'static str {
    match outcome {
        SignIn::Returning(_) => "returning",
        SignIn::Linked(_) => "linked",
        SignIn::Created(_) => "created",
    }
}
