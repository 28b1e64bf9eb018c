//! The headers that keep a browser safe with what gatehouse sends it: [`PAGE_HEADERS`] on every
//! response (and HSTS on https), added by [`SecurityHeaders`] wherever a handler left them out.
//!
//! One kind of answer is not for a browser: the gate's yes to a proxy ([`ForProxy`]). nginx's
//! `auth_request`, Caddy's `forward_auth` and Traefik's `forwardAuth` never pass it on; they
//! copy the identity headers they are told to copy and send the browser the app's answer
//! instead. It carries only `Cache-Control: no-store`: every header on it is one more for the
//! proxy to parse on every request it guards (`bench/GATE.md`).

use std::future::{Ready, ready};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use actix_web::{Error, HttpResponse};
use futures_util::future::{FutureExt, Map};

/// Safe defaults for every page. Pages are personal: nothing is cached unless a route says
/// otherwise (static assets do).
pub(crate) static PAGE_HEADERS: [(HeaderName, HeaderValue); 6] = [
    (CACHE_CONTROL, NO_STORE),
    (HeaderName::from_static("pragma"), HeaderValue::from_static("no-cache")),
    (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
    (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer")),
    (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")),
    (
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    ),
];

/// `Cache-Control: no-store`, all that an answer [`ForProxy`] gets.
pub(crate) const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

static HSTS: (HeaderName, HeaderValue) = (
    HeaderName::from_static("strict-transport-security"),
    HeaderValue::from_static("max-age=31536000; includeSubDomains"),
);

/// Marks a response as an answer to a proxy that no browser sees (see the module's text):
/// it gets `Cache-Control: no-store` and nothing else from [`SecurityHeaders`].
pub(crate) struct ForProxy;

/// Middleware: [`PAGE_HEADERS`] on every response that lacks them, HSTS too when `https`.
pub(crate) struct SecurityHeaders {
    pub(crate) https: bool,
}

impl<S, B> Transform<S, ServiceRequest> for SecurityHeaders
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = SecurityHeadersService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SecurityHeadersService { service, https: self.https }))
    }
}

pub(crate) struct SecurityHeadersService<S> {
    service: S,
    https: bool,
}

/// What runs on the inner service's result: a plain `fn`, so the future has a type to name and
/// costs no allocation.
type Finish<B> = fn(Result<ServiceResponse<B>, Error>) -> Result<ServiceResponse<B>, Error>;

impl<S, B> Service<ServiceRequest> for SecurityHeadersService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Map<S::Future, Finish<B>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let finish: Finish<B> = if self.https { |res| added(res, true) } else { |res| added(res, false) };
        self.service.call(req).map(finish)
    }
}

fn added<B>(res: Result<ServiceResponse<B>, Error>, https: bool) -> Result<ServiceResponse<B>, Error> {
    let mut res = res?;
    add(res.response_mut(), https);
    Ok(res)
}

/// Adds what `response` lacks: the page headers (and HSTS), or for an answer [`ForProxy`] only
/// `Cache-Control: no-store`. A header the handler set stays as it set it.
fn add<B>(response: &mut HttpResponse<B>, https: bool) {
    let for_proxy = response.extensions().contains::<ForProxy>();
    let headers = response.headers_mut();
    if for_proxy {
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, NO_STORE);
        }
        return;
    }
    let hsts = https.then_some(&HSTS);
    for (name, value) in PAGE_HEADERS.iter().chain(hsts) {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderName;
    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    async fn headers_of(https: bool, handler: fn() -> HttpResponse) -> Vec<(String, String)> {
        let app = test::init_service(
            App::new().wrap(SecurityHeaders { https }).route("/", web::get().to(move || async move { handler() })),
        )
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
        let mut headers: Vec<_> = res
            .headers()
            .iter()
            .map(|(n, v): (&HeaderName, _)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        headers.sort();
        headers
    }

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[actix_web::test]
    async fn every_page_gets_the_page_headers_and_hsts_on_https() {
        let page = headers_of(false, || HttpResponse::Ok().body("hi")).await;
        for (name, value) in &PAGE_HEADERS {
            assert!(page.contains(&(name.to_string(), value.to_str().unwrap().to_string())), "{name} on {page:?}");
        }
        assert!(!names(&page).contains(&"strict-transport-security"), "no HSTS on http");
        let on_https = headers_of(true, || HttpResponse::Ok().body("hi")).await;
        assert!(names(&on_https).contains(&"strict-transport-security"));
    }

    #[actix_web::test]
    async fn a_header_the_handler_set_is_kept() {
        let asset = headers_of(false, || HttpResponse::Ok().insert_header(("cache-control", "max-age=60")).finish());
        assert!(asset.await.contains(&("cache-control".into(), "max-age=60".into())));
    }

    #[actix_web::test]
    async fn an_answer_for_a_proxy_gets_no_store_and_nothing_else() {
        let for_proxy = || {
            let mut res = HttpResponse::Ok().insert_header(("x-auth-request-user", "7")).finish();
            res.extensions_mut().insert(ForProxy);
            res
        };
        assert_eq!(
            names(&headers_of(true, for_proxy).await),
            ["cache-control", "x-auth-request-user"],
            "not even HSTS: no browser sees it"
        );
    }
}
