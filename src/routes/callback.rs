use std::collections::HashMap;

use actix_identity::Identity;
use actix_session::Session;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::login::render_login;
use super::{query, see_other};
use crate::accounts::{self, AccountCache, Provenance, SignIn};
use crate::auth::SignedIn;
use crate::auth::next::safe_next;
use crate::config::{SessionStoreKind, Settings};
use crate::db::Db;
use crate::db::models::UserId;
use crate::error::{AppError, SignInError, error_page};
use crate::metrics::Metrics;
use crate::providers::{AuthFlow, HttpClient, Provider, Registry};
use crate::session::{Taken, clear_flows, take_flow};

/// Longest authorization code accepted; real ones are far shorter.
const MAX_CODE_LEN: usize = 2048;

/// The shared state the callback uses (one extractor, to keep the handler's arguments few).
type Shared = (
    web::Data<Registry>,
    web::Data<HttpClient>,
    web::Data<Db>,
    web::Data<Settings>,
    web::Data<Metrics>,
    web::Data<AccountCache>,
);

/// What a completed callback did.
enum Done {
    SignedIn(SignIn),
    /// A signed-in user linked another provider account.
    Linked(UserId),
}

impl Done {
    fn user(&self) -> UserId {
        match self {
            Done::SignedIn(outcome) => outcome.user_id(),
            Done::Linked(user) => *user,
        }
    }
}

/// `GET /callback/{provider}`: finishes the flow. Every cheap local check (provider, state,
/// expiry, `error`) runs before any call to the provider. On success the session is renewed
/// and the browser goes to the flow's `next`; on failure nobody is signed in, nothing is
/// written, and the page says why.
pub async fn callback(req: HttpRequest, session: Session, signed_in: Option<SignedIn>, ctx: Shared) -> HttpResponse {
    let (registry, http, db, settings, metrics, cache) = ctx;
    let name = req.match_info().get("provider").unwrap_or_default();
    let Some(provider) = registry.get(name) else {
        return AppError::NotFound.error_response();
    };
    let label = &provider.settings().label;
    let started = std::time::Instant::now();
    let result = finish(&req, &session, signed_in, provider.as_ref(), &registry, &http, &db, &settings).await;
    metrics.observe_callback(started.elapsed().as_secs_f64());
    if let Ok((done, _)) = &result {
        // The sign-in refreshed the profile, or a link added an identity.
        cache.forget(done.user());
    }
    match &result {
        Ok((Done::SignedIn(outcome), _)) => metrics.sign_in(name, outcome_name(*outcome)),
        Ok((Done::Linked(_), _)) => metrics.sign_in(name, "linked_account"),
        Err(e) => {
            metrics.sign_in(name, "failed");
            metrics.provider_error(name, e.kind());
        }
    }
    match result {
        Ok((Done::SignedIn(outcome), next)) => {
            let user = outcome.user_id();
            clear_flows(&session);
            // `login` renews the session id, so a planted pre-login cookie is worthless.
            if let Err(e) = Identity::login(&req.extensions(), user.to_string()) {
                log::error!("sign-in provider={name} could not start a session: {e}");
                return AppError::Session(e.to_string()).error_response();
            }
            // Only a server-side store can list sessions; in a cookie it would be dead weight
            // that every request decrypts and parses.
            if settings.session_store != SessionStoreKind::Cookie {
                let ua = req.headers().get("User-Agent").and_then(|v| v.to_str().ok());
                crate::session::describe(&session, ua);
            }
            log::info!("sign-in provider={name} outcome={} user_id={user}", outcome_name(outcome));
            see_other(&next)
        }
        Ok((Done::Linked(user), next)) => {
            log::info!("identity linked provider={name} user_id={user}");
            see_other(&next)
        }
        Err(e) if signed_in.is_some() => {
            log::warn!("linking failed provider={name}: {e}");
            error_page(e.status(), &e.message(label))
        }
        Err(e) => {
            let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
            log::warn!("sign-in failed provider={name} client={client}: {e}");
            render_login(&registry, "/", Some(&e.message(label)), e.status())
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    req: &HttpRequest,
    session: &Session,
    signed_in: Option<SignedIn>,
    provider: &dyn Provider,
    registry: &Registry,
    http: &HttpClient,
    db: &Db,
    settings: &Settings,
) -> Result<(Done, String), SignInError> {
    let (flow, mut params) = take_checked_flow(req, session, provider)?;
    provider.check_callback_issuer(http, params.get("iss").map(String::as_str)).await?;
    let code = params
        .remove("code")
        .filter(|c| !c.is_empty() && c.len() <= MAX_CODE_LEN)
        .ok_or(SignInError::MalformedCallback)?;

    let who = provider.exchange(http, &code, &flow).await?.sanitised().ok_or(SignInError::NoIdentity)?;
    let name = provider.settings().name.clone();
    let next = safe_next(Some(&flow.next));
    let label_of = |p: &str| registry.label(p);

    if let Some(user) = flow.link_to.map(UserId) {
        // Linking needs the same user still signed in.
        if signed_in != Some(SignedIn(user)) {
            return Err(SignInError::UnknownState);
        }
        db.run(move |conn| accounts::link(conn, user, &name, &who)).await.map_err(
            |e| match SignInError::from_account(e, label_of) {
                SignInError::LinkedElsewhere(_) => SignInError::LinkedElsewhere(provider.settings().label.clone()),
                other => other,
            },
        )?;
        return Ok((Done::Linked(user), next));
    }

    let trust_email = provider.settings().trust_email;
    let link_by_email = settings.link_accounts_by_email;
    let providers = registry.clone();
    let outcome = db
        .run(move |conn| {
            let is_trusted = |p: &str| providers.trusts_email(p);
            let from = Provenance { provider: &name, trust_email, is_trusted: &is_trusted, link_by_email };
            accounts::sign_in(conn, &from, &who)
        })
        .await
        .map_err(|e| SignInError::from_account(e, label_of))?;
    Ok((Done::SignedIn(outcome), next))
}

/// Takes this browser's pending flow for the callback's `state` (consuming it whatever
/// happens next) and runs the checks that need no provider: provider, expiry, `error=`.
fn take_checked_flow(
    req: &HttpRequest,
    session: &Session,
    provider: &dyn Provider,
) -> Result<(AuthFlow, HashMap<String, String>), SignInError> {
    let params = query::parse(req.query_string()).map_err(|_| SignInError::MalformedCallback)?;
    let state = params.get("state").filter(|s| !s.is_empty()).ok_or(SignInError::MalformedCallback)?;
    let flow = match take_flow(session, state).map_err(|e| SignInError::Session(e.to_string()))? {
        Taken::Found(flow) => flow,
        Taken::Missing => return Err(SignInError::UnknownState),
    };
    if flow.provider != provider.settings().name {
        return Err(SignInError::WrongProvider);
    }
    if flow.is_expired(chrono::Utc::now().timestamp()) {
        return Err(SignInError::Expired);
    }
    if let Some(error) = params.get("error") {
        let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return Err(SignInError::Denied(code));
    }
    Ok((flow, params))
}

fn outcome_name(outcome: SignIn) -> &'static str {
    match outcome {
        SignIn::Returning(_) => "returning",
        SignIn::Linked(_) => "linked",
        SignIn::Created(_) => "created",
    }
}
