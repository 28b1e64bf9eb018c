use actix_identity::Identity;
use actix_session::Session;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::login::render_login;
use super::see_other;
use crate::accounts::{AccountCache, SignIn};
use crate::auth::SignedIn;
use crate::config::{LogoutMode, SessionStoreKind, Settings};
use crate::db::Db;
use crate::error::{AppError, error_page};
use crate::metrics::Metrics;
use crate::presets::ResponseMode;
use crate::providers::{HttpClient, Registry};
use crate::session::at_provider::{self, IdTokenSeal};
use crate::signin::{self, CallbackSeal, Done, SignInError, pending::clear_flows};

/// The shared state the callback uses (one extractor, to keep the handler's arguments few).
type Shared = (
    web::Data<Registry>,
    web::Data<HttpClient>,
    web::Data<Db>,
    web::Data<Settings>,
    web::Data<Metrics>,
    web::Data<AccountCache>,
    web::Data<IdTokenSeal>,
);

/// `GET /callback/{provider}`: finishes the flow. Every cheap local check (provider, state,
/// expiry, `error`) runs before any call to the provider. On success the session is renewed
/// and the browser goes to the flow's `next`; on failure nobody is signed in, nothing is
/// written, and the page says why.
pub async fn callback(req: HttpRequest, session: Session, signed_in: Option<SignedIn>, ctx: Shared) -> HttpResponse {
    let (registry, http, db, settings, metrics, cache, seal) = ctx;
    let name = req.match_info().get("provider").unwrap_or_default();
    let Some(provider) = registry.get(name) else {
        return AppError::NotFound.error_response();
    };
    let label = &provider.settings().label;
    let started = std::time::Instant::now();
    let result = signin::finish(&req, &session, signed_in, provider.as_ref(), &registry, &http, &db, &settings).await;
    metrics.observe_callback(started.elapsed().as_secs_f64());
    match &result {
        // The sign-in refreshed the profile, or a link added an identity.
        Ok((done, _)) => cache.forget(done.user()),
        // Refused, but what it learnt about a returning user was kept (and the gate must see it).
        Err(SignInError::NotAllowed(Some(user))) => cache.forget(*user),
        Err(_) => {}
    }
    match &result {
        Ok((Done::SignedIn(outcome, _), _)) => metrics.sign_in(name, outcome_name(*outcome)),
        Ok((Done::Linked(_), _)) => metrics.sign_in(name, "linked_account"),
        Err(e) => {
            metrics.sign_in(name, "failed");
            metrics.provider_error(name, e.kind());
        }
    }
    match result {
        Ok((Done::SignedIn(outcome, at_provider), next)) => {
            let user = outcome.user_id();
            clear_flows(&session);
            // `login` renews the session id, so a planted pre-login cookie is worthless.
            if let Err(e) = Identity::login(&req.extensions(), user.to_string()) {
                log::warn!("sign-in provider={name} could not start a session");
                return AppError::Session(Box::new(e)).error_response();
            }
            crate::session::stamp_sign_in(&session);
            let keep_id_token = provider.settings().logout == LogoutMode::Provider;
            at_provider::remember(&session, &seal, name, user, at_provider.as_ref(), keep_id_token);
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

/// `POST /callback/{provider}`: a provider's `response_mode=form_post` answer (Apple), which
/// arrives cross-site and so without the `SameSite=Lax` session cookie. Its parameters are
/// sealed into `GET /callback/{provider}?resume=…`, which the page answered here opens at
/// once, same-origin, where the browser's session (and the sign-in's state in it) can be read;
/// see [`crate::signin::form_post`]. Providers that do not answer by form post refuse it (405).
pub async fn callback_post(
    req: HttpRequest,
    body: web::Bytes,
    registry: web::Data<Registry>,
    seal: web::Data<CallbackSeal>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    let name = req.match_info().get("provider").unwrap_or_default();
    let Some(provider) = registry.get(name) else {
        return AppError::NotFound.error_response();
    };
    if provider.settings().preset.response_mode != ResponseMode::FormPost {
        return AppError::MethodNotAllowed.error_response();
    }
    match seal.seal(name, &body, chrono::Utc::now().timestamp()) {
        Ok(resume) => onward(&format!("{}?resume={resume}", settings.redirect_uri(name))),
        Err(e) => {
            log::warn!("sign-in failed provider={name}: form post refused: {e}");
            render_login(&registry, "/", Some(&e.message(&provider.settings().label)), e.status())
        }
    }
}

/// A page of gatehouse's own that opens `url` at once. The resume step is then a same-origin
/// navigation, which carries the session cookie however strict its `SameSite` and whatever a
/// browser makes of redirects after a cross-site `POST`. A meta refresh needs no script (the
/// CSP allows none); the link is for a browser that refreshes nothing.
fn onward(url: &str) -> HttpResponse {
    let url = tera::escape_html(url);
    super::html(
        actix_web::http::StatusCode::OK,
        format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={url}"><title>Signing in…</title></head><body><p><a href="{url}">Continue signing in</a></p></body></html>"#
        ),
    )
}

fn outcome_name(outcome: SignIn) -> &'static str {
    match outcome {
        SignIn::Returning(_) => "returning",
        SignIn::JoinedByEmail(_) => "joined_by_email",
        SignIn::Created(_) => "created",
    }
}
