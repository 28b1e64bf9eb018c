use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::login::render_login;
use super::{query, see_other};
use crate::auth::SignedIn;
use crate::auth::next::safe_next;
use crate::error::{AppError, SignInError};
use crate::providers::{AuthFlow, HttpClient, Registry};
use crate::session::push_flow;

/// `GET /authorize/{provider}[?next=PATH]`: starts a flow (state, PKCE S256, nonce) bound to
/// this browser's session and sends the browser to the provider. Signed in, the flow links the
/// provider account to the current user.
pub async fn authorize(
    req: HttpRequest,
    session: Session,
    signed_in: Option<SignedIn>,
    registry: web::Data<Registry>,
    http: web::Data<HttpClient>,
) -> HttpResponse {
    let name = req.match_info().get("provider").unwrap_or_default();
    let Some(provider) = registry.get(name) else {
        return AppError::NotFound.error_response();
    };
    let next = safe_next(query::single(req.query_string(), "next").as_deref());
    let mut flow = AuthFlow::start(name, next.clone(), chrono::Utc::now().timestamp());
    // Signed in: this links another account to the user rather than signing in again.
    flow.link_to = signed_in.map(|SignedIn(user)| user.0);
    let result = async {
        let url = provider.authorize_url(&http, &flow).await?;
        push_flow(&session, flow, chrono::Utc::now().timestamp()).map_err(|e| SignInError::Session(e.to_string()))?;
        Ok::<_, SignInError>(url)
    }
    .await;
    match result {
        Ok(url) => {
            log::info!("sign-in started provider={name}");
            see_other(url.as_str())
        }
        Err(e) => {
            log::warn!("sign-in could not start provider={name}: {e}");
            render_login(&registry, &next, Some(&e.message(&provider.settings().label)), e.status())
        }
    }
}
