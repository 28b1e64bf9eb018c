//! Signing in, from `/authorize` to `/callback`: the pending flow (state, PKCE verifier,
//! nonce, `next`) kept in the browser's session, the provider's half through the [`Provider`]
//! trait, and the account it ends in. The route handlers only extract, call and respond.

pub mod error;
pub mod flow;
pub(crate) mod form_post;
pub mod pending;

use std::collections::HashMap;

use actix_session::Session;
use actix_web::{HttpRequest, web};
use url::Url;

pub use error::SignInError;
pub use flow::AuthFlow;
pub(crate) use form_post::CallbackSeal;

use crate::access::Access;
use crate::accounts::{self, Account, Admits, Provenance, ProviderSession, ProviderUser, SignIn};
use crate::auth::SignedIn;
use crate::auth::next::safe_next;
use crate::config::Settings;
use crate::db::AnyConnection;
use crate::db::Db;
use crate::db::models::{Identity, ProviderSessionRow, ProviderTokenRow, UserId, now};
use crate::presets::ResponseMode;
use crate::providers::{HttpClient, Provider, Registry};
use crate::routes::query;
use crate::tokens::TokenVault;
use pending::{Taken, push_flow, take_flow};

/// Longest authorization code accepted; real ones are far shorter.
pub(crate) const MAX_CODE_LEN: usize = 2048;

/// Starts a flow with `provider` for this browser (a link to `link_to` when given): remembers
/// it in the session and returns the URL to send the browser to.
pub async fn start(
    provider: &dyn Provider,
    http: &HttpClient,
    session: &Session,
    next: String,
    link_to: Option<i64>,
) -> Result<Url, SignInError> {
    let now = chrono::Utc::now().timestamp();
    let mut flow = AuthFlow::start(&provider.settings().name, next, now);
    flow.link_to = link_to;
    let url = provider.authorize_url(http, &flow).await?;
    push_flow(session, flow, now)?;
    Ok(url)
}

/// What a completed callback did.
pub enum Done {
    /// Signed in, with the provider's side of it (OpenID Connect).
    SignedIn(SignIn, Option<ProviderSession>),
    /// A signed-in user linked another provider account.
    Linked(UserId),
}

impl Done {
    pub fn user(&self) -> UserId {
        match self {
            Done::SignedIn(outcome, _) => outcome.user_id(),
            Done::Linked(user) => *user,
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn finish(
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

    let mut who = provider.exchange(http, &code, &flow).await?;
    // Apple sends the name only once, beside the first code (and only in a form post).
    if who.name.is_none() {
        who.name = params.get("user").and_then(|u| crate::providers::apple::name_from_user_field(u));
    }
    let who = who.sanitised().ok_or(SignInError::NoIdentity)?;
    let name = provider.settings().name.clone();
    let next = safe_next(Some(&flow.next), &settings.return_hosts);
    let label_of = |p: &str| registry.label(p);
    // The vault is registered only when some provider keeps tokens; this one must too.
    let vault = req
        .app_data::<web::Data<TokenVault>>()
        .filter(|_| provider.settings().store_tokens)
        .map(|v| v.clone().into_inner());

    if let Some(user) = flow.link_to.map(UserId) {
        // Linking needs the same user still signed in.
        if signed_in != Some(SignedIn(user)) {
            return Err(SignInError::UnknownState);
        }
        db.run(move |conn| {
            accounts::link(conn, user, &name, &who)?;
            keep_tokens(conn, vault.as_deref(), &name, &who);
            Ok(())
        })
        .await
        .map_err(|e| match SignInError::from_account(e, label_of) {
            SignInError::LinkedElsewhere(_) => SignInError::LinkedElsewhere(provider.settings().label.clone()),
            other => other,
        })?;
        return Ok((Done::Linked(user), next));
    }

    let trust_email = provider.settings().trust_email;
    // Checked inside the sign-in's transaction on the account it ends in, by the same email the
    // gate goes by. A refusal starts no session and leaves no new user or identity; a returning
    // user's refresh is kept. Without the rules registered (never, through `Gatehouse`), nobody
    // is admitted.
    let access = req.app_data::<web::Data<Access>>().cloned();
    let link_by_email = settings.link_accounts_by_email;
    let providers = registry.clone();
    let at_provider = who.at_provider.clone();
    let ttl = chrono::Duration::days(settings.session_ttl_days);
    let outcome = db
        .run(move |conn| {
            let is_trusted = |p: &str| providers.trusts_email(p);
            let admits = |account: &Account| access.as_ref().is_some_and(|a| a.admits(account));
            // No rules: nothing to ask, and no need to read the account back.
            let admits: Option<&Admits<'_>> =
                if access.as_ref().is_some_and(|a| !a.has_rules()) { None } else { Some(&admits) };
            let from = Provenance { provider: &name, admits, trust_email, is_trusted: &is_trusted, link_by_email };
            let outcome = accounts::sign_in(conn, &from, &who)?;
            keep_tokens(conn, vault.as_deref(), &name, &who);
            // A back-channel logout that names only this provider session finds the user.
            if let Some(sid) = who.at_provider.as_ref().and_then(|p| p.sid.clone()) {
                let at = now();
                let row = ProviderSessionRow {
                    provider: name.clone(),
                    sid,
                    user_id: outcome.user_id().0,
                    expires_at: at + ttl,
                };
                // Without it only a logout token that names the subject finds this sign-in:
                // not worth failing a sign-in whose account is already written.
                if let Err(e) = ProviderSessionRow::record(conn, &row, at) {
                    log::warn!("provider={name}: the provider session could not be recorded: {e}");
                }
            }
            Ok(outcome)
        })
        .await
        .map_err(|e| SignInError::from_account(e, label_of))?;
    Ok((Done::SignedIn(outcome, at_provider), next))
}

/// Keeps the tokens the provider issued to `who`'s identity, replacing earlier ones (with
/// `STORE_TOKENS`: `vault` is given). After the account is written, so a failure here is
/// logged rather than failing the sign-in; the app then hears `reauthorize` or `no_token`.
fn keep_tokens(conn: &mut AnyConnection, vault: Option<&TokenVault>, provider: &str, who: &ProviderUser) {
    let (Some(vault), Some(tokens)) = (vault, &who.tokens) else { return };
    let kept = Identity::find_by_subject(conn, provider, &who.subject).and_then(|identity| {
        let Some(identity) = identity else { return Ok(false) };
        // Google sends a refresh token only at the first consent: a later sign-in without one
        // keeps the one held.
        let mut tokens = tokens.clone();
        if tokens.refresh.is_none() {
            // …unless the provider already refused it.
            let held = ProviderTokenRow::find(conn, identity.id)?.filter(|old| !old.unusable);
            tokens.refresh = held.and_then(|old| vault.refresh_of(&old));
        }
        match vault.row(identity.id, &tokens) {
            Some(row) => ProviderTokenRow::replace(conn, &row).map(|_| true),
            None => Ok(false),
        }
    });
    if !matches!(kept, Ok(true)) {
        log::error!("provider={provider}: the provider's tokens could not be kept");
    }
}

/// The callback's parameters: its query, or what a form-posted callback sealed into `resume`
/// (see [`form_post`]), each only for the providers that answer that way. Only form-posted
/// callbacks may carry Apple's `user` field.
fn callback_params(req: &HttpRequest, provider: &dyn Provider) -> Result<HashMap<String, String>, SignInError> {
    let mut params = query::parse(req.query_string()).map_err(|_| SignInError::MalformedCallback)?;
    let resume = params.remove("resume");
    match (provider.settings().preset.response_mode, resume) {
        (ResponseMode::Query, None) => {
            params.remove("user");
            Ok(params)
        }
        // A form-posting provider's answer comes only through the seal, alone.
        (ResponseMode::FormPost, Some(resume)) if params.is_empty() => {
            let seal = req.app_data::<web::Data<CallbackSeal>>().ok_or(SignInError::MalformedCallback)?;
            seal.open(&provider.settings().name, &resume, chrono::Utc::now().timestamp())
        }
        _ => Err(SignInError::MalformedCallback),
    }
}

/// Takes this browser's pending flow for the callback's `state` (consuming it whatever
/// happens next) and runs the checks that need no provider: provider, expiry, `error=`.
fn take_checked_flow(
    req: &HttpRequest,
    session: &Session,
    provider: &dyn Provider,
) -> Result<(AuthFlow, HashMap<String, String>), SignInError> {
    let params = callback_params(req, provider)?;
    let state = params.get("state").filter(|s| !s.is_empty()).ok_or(SignInError::MalformedCallback)?;
    let flow = match take_flow(session, state)? {
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
