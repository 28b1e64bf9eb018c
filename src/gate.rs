//! Forward auth: gatehouse as the gate in front of any app. A reverse proxy asks before each
//! request whether its browser may pass (`/verify` for nginx `auth_request`, `/forward-auth`
//! for Caddy `forward_auth` and Traefik `forwardAuth`) and hands the app the identity headers
//! of a yes.
//!
//! Both read the session like every other route and the account from the account cache, so a
//! signed-in request touches no database while the cache holds the user.

pub(crate) mod assertion;
pub(crate) mod fast_yes;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use url::Url;

use crate::access::{Access, Requirement};
use crate::accounts::{Account, verified_email};
use crate::auth::middleware::{CheckedAccount, Unchecked};
use crate::auth::next::login_redirect;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{AppError, error_page};
use crate::security_headers::{ForProxy, NO_STORE};
pub(crate) use assertion::Signer;

/// The identity headers a yes carries. A proxy must set (or clear) each of them on the
/// request it passes on, so a client's own copies never reach the app (see `docs/deploy/`).
pub(crate) const USER: &str = "x-auth-request-user";
pub(crate) const EMAIL: &str = "x-auth-request-email";
pub(crate) const NAME: &str = "x-auth-request-name";
pub(crate) const ASSERTION: &str = "x-auth-request-assertion";
pub(crate) const GROUPS: &str = "x-auth-request-groups";
/// The names of the gate's routes ([`fast_yes`] answers only where they are the ones that match).
pub(crate) const VERIFY_ROUTE: &str = "gatehouse.verify";
pub(crate) const FORWARD_AUTH_ROUTE: &str = "gatehouse.forward-auth";
/// Every identity header starts with it.
const IDENTITY_PREFIX: &str = "x-auth-request-";

/// What the gate decided for one request.
enum Decision {
    Allowed(Arc<Account>),
    SignedOut,
    Refused,
}

fn decide(req: &HttpRequest, access: &Access) -> Result<Decision, AppError> {
    // The middleware checked the session against the account (deleted user, ended sessions).
    let checked = req.extensions().get::<CheckedAccount>().map(|CheckedAccount(account)| account.clone());
    match judge(req, access, checked) {
        Ok(Decision::SignedOut) if req.extensions().get::<Unchecked>().is_some() => {
            Err(crate::auth::guard::unauthenticated(req))
        }
        Ok(decision) => Ok(decision),
        Err(UnreadableRule(why)) => {
            // The proxy's configuration is wrong: refuse (never fail open), and say why.
            log::warn!("gate: refused by a location rule that cannot be read: {why}");
            Ok(Decision::Refused)
        }
    }
}

/// A per-location rule (`/verify?allowed_groups=…`) that cannot be read: refused.
struct UnreadableRule(String);

/// The decision for `account`, the session's checked account (`None`: signed out).
fn judge(req: &HttpRequest, access: &Access, account: Option<Arc<Account>>) -> Result<Decision, UnreadableRule> {
    // nginx and Caddy pass the client's headers to the gate: a client that sends identity
    // headers of its own is forging them, and a proxy that forgot to overwrite them would pass
    // them to the app. Refused, whoever is signed in; spelt with `_` too, which CGI, FastCGI and
    // some WSGI servers read as the same header.
    let forged = |name: &str| {
        name.len() >= IDENTITY_PREFIX.len()
            && name.bytes().zip(IDENTITY_PREFIX.bytes()).all(|(a, b)| a == b || (a == b'_' && b == b'-'))
    };
    if req.headers().keys().any(|name| forged(name.as_str())) {
        return Ok(Decision::Refused);
    }
    let requirement = Requirement::from_query(req.query_string()).map_err(UnreadableRule)?;
    let Some(account) = account else { return Ok(Decision::SignedOut) };
    let email = verified_email(&account.user);
    let allowed = access.admits(&account) && requirement.allows(email, account.groups());
    Ok(if allowed { Decision::Allowed(account) } else { Decision::Refused })
}

/// `GET /verify`, for nginx `auth_request`: `200` with the identity headers, `401` signed out,
/// `403` not allowed. Never a redirect (nginx accepts nothing else from an auth subrequest);
/// nginx's `error_page 401` sends the browser on to sign in (see `docs/deploy/nginx.conf`).
/// All three are empty: nginx reads only the head of an auth subrequest's answer, and closes
/// its kept-alive connection to gatehouse when a body is left unread.
pub(crate) async fn verify(
    req: HttpRequest,
    access: web::Data<Access>,
    signer: web::Data<Signer>,
) -> Result<HttpResponse, AppError> {
    Ok(match decide(&req, &access)? {
        Decision::Allowed(account) => allowed(&account, &signer),
        Decision::SignedOut => HttpResponse::Unauthorized().finish(),
        Decision::Refused => HttpResponse::Forbidden().finish(),
    })
}

/// `GET /forward-auth`, for Caddy `forward_auth` and Traefik `forwardAuth`: `200` with the
/// identity headers; signed out, a browser's `GET` is sent to sign in with `next` = the
/// original URL, anything else gets `401` JSON; not allowed: a `403` page.
pub(crate) async fn forward_auth(
    req: HttpRequest,
    access: web::Data<Access>,
    settings: web::Data<Settings>,
    signer: web::Data<Signer>,
) -> Result<HttpResponse, AppError> {
    Ok(match decide(&req, &access)? {
        Decision::Allowed(account) => allowed(&account, &signer),
        Decision::SignedOut => match original_browser_get(&req, &settings) {
            Some(original) => {
                // Absolute: the browser is on the app's host, gatehouse may be on another.
                let login = format!(
                    "{}{}",
                    settings.public_url.origin().ascii_serialization(),
                    login_redirect(original.as_str())
                );
                HttpResponse::Found().insert_header((header::LOCATION, login)).finish()
            }
            None => json_status(StatusCode::UNAUTHORIZED),
        },
        Decision::Refused => error_page(StatusCode::FORBIDDEN, "Your account may not use this site."),
    })
}

/// `200`, empty, with the identity headers: an answer for the proxy alone ([`ForProxy`]).
fn allowed(account: &Arc<Account>, signer: &Signer) -> HttpResponse {
    let mut response = yes(account, signer);
    response.extensions_mut().insert(ForProxy);
    response
}

/// The gate's yes: `200`, empty, with the identity headers and `Cache-Control: no-store`, all
/// that the security headers give an answer [`ForProxy`].
fn yes(account: &Arc<Account>, signer: &Signer) -> HttpResponse {
    let mut response = HttpResponse::Ok().finish();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    for (name, value) in signer.identity_headers(account, |token| identity_headers(account, token)).iter() {
        headers.insert(name.clone(), value.clone());
    }
    response
}

/// Every header is always present, empty when there is nothing to say, for proxies that copy
/// only the headers an answer has. (Some Caddy versions skip empty ones too: what keeps a
/// client's own copy from the app is the refusal of any request that carries one, above.)
fn identity_headers(account: &Account, assertion: Option<&str>) -> assertion::IdentityHeaders {
    let value = |v: String| HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""));
    let assertion =
        assertion.and_then(|t| HeaderValue::from_str(t).ok()).unwrap_or_else(|| HeaderValue::from_static(""));
    Arc::from([
        (HeaderName::from_static(USER), value(account.user.id.to_string())),
        (HeaderName::from_static(EMAIL), value(verified_email(&account.user).map(header_safe).unwrap_or_default())),
        (HeaderName::from_static(NAME), value(header_safe(&account.user.name))),
        (HeaderName::from_static(GROUPS), value(groups_header(account.groups()))),
        (HeaderName::from_static(ASSERTION), assertion),
    ])
}

/// `GET /.well-known/jwks.json`: the keys assertions are signed with, for upstreams to verify.
pub(crate) async fn jwks(db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let keys = assertion::jwks(&db).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .json(keys))
}

fn json_status(status: StatusCode) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({"error": status.canonical_reason().unwrap_or("error")}))
}

/// A name or email as a header value: printable ASCII as is, everything else (and `%`) percent-encoded
/// as UTF-8, so no byte can end the header and an app decodes it unambiguously.
pub(crate) fn header_safe(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, HEADER_ENCODED).to_string()
}

/// `a,b,c`, each group as [`header_safe`] makes it and with `,` percent-encoded too, so the
/// list splits unambiguously.
pub(crate) fn groups_header(groups: &[String]) -> String {
    const IN_A_LIST: &percent_encoding::AsciiSet = &HEADER_ENCODED.add(b',');
    groups.iter().map(|g| percent_encoding::utf8_percent_encode(g, IN_A_LIST).to_string()).collect::<Vec<_>>().join(",")
}

/// What a header value encodes: control characters, everything beyond ASCII, and `%` itself.
const HEADER_ENCODED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');

/// The URL of the request the proxy is asking about, when it was a browser's `GET` (or
/// `HEAD`) and the proxy is trusted to say so (`TRUSTED_PROXIES`): `X-Forwarded-Method`,
/// `-Proto`, `-Host` and `-Uri`, as Caddy and Traefik send them.
fn original_browser_get(req: &HttpRequest, settings: &Settings) -> Option<Url> {
    let peer = req.peer_addr()?.ip();
    if !settings.trusted_proxies.trusts(peer) {
        return None;
    }
    let get = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let method = get("x-forwarded-method")?;
    let accepts_html = get(header::ACCEPT.as_str()).is_some_and(|a| a.contains("text/html"));
    if !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")) || !accepts_html {
        return None;
    }
    let proto = get("x-forwarded-proto").filter(|p| matches!(*p, "http" | "https"))?;
    let host = get("x-forwarded-host").filter(|h| !h.is_empty() && !h.contains(['/', '@', '\\', '?', '#']))?;
    let uri = get("x-forwarded-uri").filter(|u| u.starts_with('/') && !u.starts_with("//"))?;
    let url = Url::parse(&format!("{proto}://{host}{uri}")).ok()?;
    (url.host_str().is_some() && url.username().is_empty()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::header_safe;

    #[test]
    fn groups_split_unambiguously() {
        let groups = ["acme/devs".to_string(), "a,b".into(), "Zoë".into()];
        assert_eq!(super::groups_header(&groups), "acme/devs,a%2Cb,Zo%C3%AB");
        assert_eq!(super::groups_header(&[]), "");
    }

    #[test]
    fn names_are_header_safe_and_decodable() {
        assert_eq!(header_safe("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(header_safe("José 100%"), "Jos%C3%A9 100%25");
        assert_eq!(header_safe("evil\r\nX-Auth-Request-User: 1"), "evil%0D%0AX-Auth-Request-User: 1");
        let encoded = header_safe("Zoë\u{7f}%");
        assert_eq!(percent_encoding::percent_decode_str(&encoded).decode_utf8().unwrap(), "Zoë\u{7f}%");
    }
}
