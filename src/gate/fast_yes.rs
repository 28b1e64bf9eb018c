//! The gate's yes without the session layers, for the cookie store.
//!
//! A proxy asks the gate before every request to the app it guards, and nearly every answer is
//! the same: signed in, allowed. For that answer the session layers (actix-session parsing and
//! percent-decoding every cookie into a jar, the state into a `HashMap`, actix-identity, the
//! routing) cost more than half of what gatehouse spends on a `/verify` (`bench/HOTPATH.md`).
//! [`answer`] gives that yes before them: it finds the session cookie, opens it with the cookie
//! crate's `PrivateJar` as actix-session does, reads the three stamps it needs, and then runs
//! the same checks as [`attach_identity`](crate::auth::attach_identity) and the same
//! decision as `/verify`.
//!
//! It only ever answers yes. Anything else, and anything it is not sure of, goes on to the
//! full path, which answers as it always has: no cookie, a cookie that does not open, a state
//! written by the old names, a session that has ended or whose last visit is due to be noted
//! (a write), an account not in the account cache, a refusal, a sign-in redirect. So every
//! request it answers is one the full path would have answered with the same yes and no
//! `Set-Cookie`.

use std::borrow::Cow;
use std::fmt;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, CookieJar, Key};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{COOKIE, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::{Decision, FORWARD_AUTH_ROUTE, Signer, VERIFY_ROUTE, judge, yes};
use crate::access::Access;
use crate::accounts::AccountCache;
use crate::config::{SessionStoreKind, Settings};
use crate::db::models::UserId;
use crate::metrics::StripedCounter;
use crate::session::{Stamps, keys};

/// What [`answer`] needs, worked out once: the settings it reads, and the account cache, the
/// access rules and the signer that `/verify` uses. Registered as app data only with the cookie
/// store: the other stores keep the state on the server, behind the full path.
pub(crate) struct FastYes {
    verify: String,
    forward_auth: String,
    cookie_name: &'static str,
    key: Key,
    ttl_days: i64,
    idle_minutes: Option<u64>,
    accounts: web::Data<AccountCache>,
    access: web::Data<Access>,
    signer: web::Data<Signer>,
    answered: StripedCounter,
}

impl FastYes {
    pub(crate) fn new(
        settings: &Settings,
        accounts: web::Data<AccountCache>,
        access: web::Data<Access>,
        signer: web::Data<Signer>,
    ) -> Option<FastYes> {
        if !matches!(settings.session_store, SessionStoreKind::Cookie) {
            return None;
        }
        let base = settings.base_path();
        Some(FastYes {
            verify: format!("{base}/verify"),
            forward_auth: format!("{base}/forward-auth"),
            cookie_name: settings.session_cookie_name(),
            key: settings.session_key.key.clone(),
            ttl_days: settings.session_ttl_days,
            idle_minutes: settings.session_idle_minutes,
            accounts,
            access,
            signer,
            answered: StripedCounter::default(),
        })
    }

    /// How many yeses were given here, for `/metrics`.
    pub(crate) fn answered(&self) -> u64 {
        self.answered.get()
    }

    /// Is this a `GET` that gatehouse's `/verify` or `/forward-auth` route would answer? The path
    /// as sent, and the app's route table agreeing (an app's own route registered before
    /// gatehouse's at that path keeps it).
    fn asks_the_gate(&self, req: &ServiceRequest) -> bool {
        let path = req.path();
        let route = if path == self.verify {
            VERIFY_ROUTE
        } else if path == self.forward_auth {
            FORWARD_AUTH_ROUTE
        } else {
            return false;
        };
        req.method() == Method::GET && req.resource_map().match_name(path) == Some(route)
    }
}

/// Middleware: answers a signed-in, allowed `GET` of `/verify` or `/forward-auth` itself, and
/// passes everything else on (see the module's text). Sits just inside the access log, outside
/// the security headers (the yes carries the one they would give it, `Cache-Control:
/// no-store`) and everything else (`Gatehouse::wrap`).
pub(crate) async fn answer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Some(yes) = req.app_data::<web::Data<FastYes>>().and_then(|fast| fast.signed_in_yes(&req)) {
        return Ok(req.into_response(yes).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

impl FastYes {
    fn signed_in_yes(&self, req: &ServiceRequest) -> Option<HttpResponse> {
        if !self.asks_the_gate(req) {
            return None;
        }
        let state = open(req.headers(), self.cookie_name, &self.key)?;
        let state: SignedInState<'_> = serde_json::from_str(&state).ok()?;
        if state.legacy {
            // Renamed on this request by the full path: a write.
            return None;
        }
        // As actix-identity reads the identity, and `attach_identity` the user id.
        let id = serde_json::from_str::<String>(state.uid.as_deref()?).ok()?.parse::<i64>().ok()?;
        let stamp = |value: Option<&str>| value.and_then(|v| serde_json::from_str::<i64>(v).ok());
        let stamps = Stamps { issued_ms: stamp(state.issued_ms.as_deref()), seen: stamp(state.seen.as_deref()) };
        let now_ms = chrono::Utc::now().timestamp_millis();
        if stamps.check(self.ttl_days, self.idle_minutes, now_ms) != Ok(None) {
            // Ended (signed out by the full path), or a visit to note (written by it).
            return None;
        }
        let account = self.accounts.fresh(UserId(id))?;
        if let Some(valid_after) = account.user.sessions_valid_after
            && crate::session::issued_before(stamps.issued_ms, valid_after)
        {
            return None;
        }
        let Ok(Decision::Allowed(account)) = judge(req.request(), &self.access, Some(account)) else { return None };
        self.accounts.count_hit();
        self.answered.add_one();
        Some(yes(&account, &self.signer))
    }
}

/// The session's state, decrypted: what actix-session would load from this request.
fn open(headers: &HeaderMap, name: &'static str, key: &Key) -> Option<String> {
    let sealed = session_cookie(headers, name)?;
    let cookie = CookieJar::new().private(key).decrypt(Cookie::new(name, sealed.into_owned()))?;
    // actix-session refuses a session key longer than this (it could not be a cookie).
    (cookie.value().len() <= 4064).then(|| cookie.value().to_owned())
}

/// The value of the session cookie as actix-web's `HttpRequest::cookies` and actix-session
/// would find it: the first cookie of that name in the `Cookie` headers, percent-decoded. `None`
/// also when a name is percent-encoded or the value quoted (actix-web would decode or unquote
/// them; this leaves that to it).
fn session_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        // actix-web reads no cookie at all when any `Cookie` header is not UTF-8.
        let pairs = std::str::from_utf8(header.as_bytes()).ok()?;
        if found.is_none() {
            found = value_in(pairs, name)?;
        }
    }
    // actix-web writes the cookie percent-encoded (base64's `/` and `=`).
    percent_decoded(found?)
}

/// The raw value of the first `name` cookie in one `Cookie` header: `Some(None)` when there is
/// none, `None` when [`session_cookie`] leaves the request to actix-web.
fn value_in<'a>(pairs: &'a str, name: &str) -> Option<Option<&'a str>> {
    for pair in pairs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((pair_name, value)) = pair.split_once('=') else { continue };
        let pair_name = pair_name.trim();
        if pair_name.contains('%') {
            return None;
        }
        if pair_name == name {
            // The cookie crate takes a value in double quotes without them.
            let value = value.trim();
            return (!value.starts_with('"')).then_some(Some(value));
        }
    }
    Some(None)
}

/// `value` percent-decoded as the cookie crate decodes it (`percent_encoding`): a `%` without
/// two hex digits after it stays as it is; `None` when the result is not UTF-8. Written out
/// because the crate's iterator costs a tenth of the whole gate for a 200-byte cookie.
fn percent_decoded(value: &str) -> Option<Cow<'_, str>> {
    if !value.contains('%') {
        return Some(Cow::Borrowed(value));
    }
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16)).map(|d| d as u8);
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        out.extend_from_slice(&rest[..at]);
        match (hex(rest.get(at + 1)), hex(rest.get(at + 2))) {
            (Some(high), Some(low)) => {
                out.push(high << 4 | low);
                rest = &rest[at + 3..];
            }
            _ => {
                out.push(b'%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// The parts of a session's state the gate reads. actix-session keeps the state as a JSON map
/// of strings, each a JSON value; this reads the same map (every value must be a string, the
/// last of a repeated name counts) without building it.
#[derive(Default)]
struct SignedInState<'a> {
    uid: Option<Cow<'a, str>>,
    issued_ms: Option<Cow<'a, str>>,
    seen: Option<Cow<'a, str>>,
    /// A state still written under the names from before the rename (`session::keys`).
    legacy: bool,
}

impl<'de> Deserialize<'de> for SignedInState<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StateVisitor;
        impl<'de> Visitor<'de> for StateVisitor {
            type Value = SignedInState<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a session state: a map of strings")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut state = SignedInState::default();
                while let Some((name, value)) = map.next_entry::<Str<'de>, Str<'de>>()? {
                    match &*name.0 {
                        keys::USER => state.uid = Some(value.0),
                        keys::ISSUED_MS => state.issued_ms = Some(value.0),
                        keys::LAST_SEEN => state.seen = Some(value.0),
                        keys::LEGACY_USER => state.legacy = true,
                        _ => {}
                    }
                }
                Ok(state)
            }
        }
        deserializer.deserialize_map(StateVisitor)
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

#[cfg(test)]
mod tests {
    use actix_session::SessionMiddleware;
    use actix_session::config::CookieContentSecurity;
    use actix_session::storage::CookieSessionStore;
    use actix_web::http::header::HeaderValue;
    use actix_web::test::{self, TestRequest};
    use actix_web::{App, HttpResponse};

    use super::*;

    #[test]
    fn percent_decodes_as_the_cookie_crate_does() {
        for value in ["plain+base64/=", "a%2Fb%3D%3D", "%", "%2", "%zz%41", "%e2%9c%93 ok", "%FF", "%C3%28", "100%"] {
            let theirs = percent_encoding::percent_decode_str(value).decode_utf8().ok();
            assert_eq!(percent_decoded(value), theirs, "{value:?}");
        }
    }

    /// Whatever cookie this finds, actix-web's own parsing (which actix-session reads) finds
    /// first under that name, with the same value.
    #[test]
    fn finds_the_session_cookie_actix_web_finds_or_none() {
        let corpus: &[&[&str]] = &[
            &["gatehouse=abc"],
            &["theme=dark; gatehouse=a%2Fb%3D; lang=en"],
            &[" gatehouse = abc ; x=1"],
            &["gatehouse=first; gatehouse=second"],
            &["x=1", "gatehouse=in-the-second-header"],
            &["novalue; =empty; gatehouse=abc"],
            &["gatehous%65=encoded-name; gatehouse=plain"],
            &["a=%FF; gatehouse=abc"],
            &["gatehouse=%FF; gatehouse=abc"],
            &["gatehouse_other=1; xgatehouse=2"],
            &["gatehouse=abc", "NOT-UTF-8"],
            &["gatehouse=\"quoted\""],
            &[""],
        ];
        let not_utf8 = HeaderValue::from_bytes(b"x=\xff").unwrap();
        for headers in corpus {
            let mut req = TestRequest::default();
            for h in *headers {
                req = match *h {
                    "NOT-UTF-8" => req.append_header((COOKIE, not_utf8.clone())),
                    h => req.append_header((COOKIE, h)),
                };
            }
            let req = req.to_http_request();
            let ours = session_cookie(req.headers(), "gatehouse").map(Cow::into_owned);
            let Ok(cookies) = req.cookies() else {
                assert_eq!(ours, None, "actix-web reads no cookies: {headers:?}");
                continue;
            };
            let actix = cookies.iter().find(|c| c.name() == "gatehouse").map(|c| c.value().to_owned());
            if ours.is_some() {
                assert_eq!(ours, actix, "{headers:?}");
            }
        }
        let found = |h: &str| {
            let req = TestRequest::default().insert_header((COOKIE, h)).to_http_request();
            session_cookie(req.headers(), "gatehouse").map(Cow::into_owned)
        };
        assert_eq!(found("theme=dark; gatehouse=a%2Fb%3D; lang=en").as_deref(), Some("a/b="));
        assert_eq!(found("gatehouse=first; gatehouse=second").as_deref(), Some("first"));
        assert_eq!(found("gatehous%65=encoded-name; gatehouse=plain"), None, "left to the full path");
    }

    #[test]
    fn reads_the_state_as_actix_session_keeps_it() {
        let state: SignedInState<'_> =
            serde_json::from_str(r#"{"_gh.uid":"\"7\"","_gh.issued_ms":"1700000000000","gatehouse.flows":"[]"}"#)
                .unwrap();
        assert_eq!(state.uid.as_deref(), Some(r#""7""#));
        assert_eq!(state.issued_ms.as_deref(), Some("1700000000000"));
        assert_eq!((state.seen, state.legacy), (None, false));
        let repeated: SignedInState<'_> = serde_json::from_str(r#"{"_gh.uid":"\"7\"","_gh.uid":"\"8\""}"#).unwrap();
        assert_eq!(repeated.uid.as_deref(), Some(r#""8""#), "the last counts, as in a HashMap");
        let legacy: SignedInState<'_> = serde_json::from_str(r#"{"actix_identity.user_id":"\"7\""}"#).unwrap();
        assert!(legacy.legacy);
        for unreadable in [r#"{"_gh.uid":"\"7\"","other":5}"#, r#"["_gh.uid"]"#, r#"{"_gh.uid":"\"7\""} x"#] {
            let theirs = serde_json::from_str::<std::collections::HashMap<String, String>>(unreadable);
            assert!(theirs.is_err() && serde_json::from_str::<SignedInState<'_>>(unreadable).is_err(), "{unreadable}");
        }
    }

    /// A cookie written by actix-session's own middleware opens to the state it wrote: the
    /// one place where this module must know actix-session's format.
    #[actix_web::test]
    async fn opens_the_cookie_actix_session_writes() {
        let key = Key::generate();
        let app = test::init_service(
            App::new()
                .wrap(
                    SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                        .cookie_name("gatehouse".into())
                        .cookie_content_security(CookieContentSecurity::Private)
                        .build(),
                )
                .route(
                    "/",
                    web::get().to(|session: actix_session::Session| async move {
                        session.insert(keys::USER, "7").unwrap();
                        session.insert(keys::ISSUED_MS, 1_700_000_000_000i64).unwrap();
                        HttpResponse::Ok().finish()
                    }),
                ),
        )
        .await;
        let res = test::call_service(&app, TestRequest::get().uri("/").to_request()).await;
        let set_cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
        let pair = set_cookie.split(';').next().unwrap();
        let req = TestRequest::default().insert_header((COOKIE, format!("theme=dark; {pair}"))).to_http_request();
        let state = open(req.headers(), "gatehouse", &key).expect("the cookie opens");
        let state: SignedInState<'_> = serde_json::from_str(&state).unwrap();
        assert_eq!(state.uid.as_deref(), Some(r#""7""#));
        assert_eq!(state.issued_ms.as_deref(), Some("1700000000000"));
        assert!(open(req.headers(), "gatehouse", &Key::generate()).is_none(), "another key opens nothing");
        assert!(open(req.headers(), "theme", &key).is_none(), "sealed for its own name only");
    }
}
