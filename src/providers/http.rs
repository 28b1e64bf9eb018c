//! The one outgoing HTTP client: awc with connect and total timeouts, no redirects (oauth2's
//! SSRF advice), a 1 MiB cap on every answer, `Accept: application/json` and a `User-Agent`
//! naming gatehouse (GitHub refuses calls without one). It also adapts awc to the oauth2 /
//! openidconnect `AsyncHttpClient` trait.
//!
//! `awc::Client` is not `Send`: one is made per worker, and it must not be used from
//! `web::block` or other threads.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::header;
use serde::de::DeserializeOwned;

use crate::config::HttpSettings;

/// The most any provider answer may weigh.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

pub const USER_AGENT: &str = concat!("gatehouse/", env!("CARGO_PKG_VERSION"));

/// Why an outgoing call failed, sorted by what the user is told.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider's answer was larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("the provider's answer was unusable: {0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct HttpClient {
    client: awc::Client,
    timeout: Duration,
}

impl HttpClient {
    pub fn new(settings: &HttpSettings) -> Self {
        let connector = awc::Connector::new().timeout(settings.connect_timeout);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(settings.timeout)
            .disable_redirects()
            .add_default_header((header::USER_AGENT, USER_AGENT))
            .finish();
        HttpClient { client, timeout: settings.timeout }
    }

    /// Sends a request and reads the whole answer, bounded in time and size.
    async fn send(
        &self,
        req: awc::ClientRequest,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<(String, Vec<u8>)>, Vec<u8>), HttpError> {
        let call = async {
            let mut res = req.send_body(body).await.map_err(classify_send)?;
            let status = res.status().as_u16();
            let headers = res.headers().iter().map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec())).collect();
            let bytes = res.body().limit(MAX_RESPONSE_BYTES).await.map_err(classify_payload)?;
            Ok((status, headers, bytes.to_vec()))
        };
        // awc's timeout covers the response head; this bounds the body as well.
        actix_web::rt::time::timeout(self.timeout, call).await.map_err(|_| HttpError::Timeout)?
    }

    /// GETs a public JSON document (discovery, JWKS): its body and its `Cache-Control` max-age.
    pub async fn get_document(&self, url: &str) -> Result<(Vec<u8>, Option<u64>), HttpError> {
        let req = self.client.get(url).insert_header((header::ACCEPT, "application/json"));
        let (status, headers, body) = self.send(req, Vec::new()).await?;
        if !(200..300).contains(&status) {
            return Err(HttpError::Invalid(format!("{url} answered HTTP {status}")));
        }
        let max_age = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
            .find_map(|(_, v)| max_age(std::str::from_utf8(v).ok()?));
        Ok((body, max_age))
    }

    /// GETs a JSON API with a bearer token; a non-2xx status is an unusable answer.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str, bearer: &str, accept: &str) -> Result<T, HttpError> {
        let req = self
            .client
            .get(url)
            .insert_header((header::ACCEPT, accept))
            .insert_header((header::AUTHORIZATION, format!("Bearer {bearer}")));
        let (status, _, body) = self.send(req, Vec::new()).await?;
        if !(200..300).contains(&status) {
            return Err(HttpError::Invalid(format!("{url} answered HTTP {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| HttpError::Invalid(format!("{url} sent malformed JSON: {e}")))
    }
}

/// `max-age` from a `Cache-Control` value (`no-store`/`no-cache` count as 0).
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').map(str::trim).find_map(|d| {
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        let (k, v) = d.split_once('=')?;
        k.trim().eq_ignore_ascii_case("max-age").then(|| v.trim().trim_matches('"').parse().ok()).flatten()
    })
}

fn classify_send(e: SendRequestError) -> HttpError {
    match e {
        SendRequestError::Timeout | SendRequestError::Connect(ConnectError::Timeout) => HttpError::Timeout,
        SendRequestError::Connect(c) => HttpError::Unreachable(c.to_string()),
        other => HttpError::Invalid(other.to_string()),
    }
}

fn classify_payload(e: PayloadError) -> HttpError {
    match e {
        PayloadError::Overflow => HttpError::TooLarge,
        other => HttpError::Invalid(other.to_string()),
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            // oauth2 speaks `http` 1.x, awc `http` 0.2: copy across by bytes.
            let (parts, body) = request.into_parts();
            let method = awc::http::Method::from_bytes(parts.method.as_str().as_bytes())
                .map_err(|e| HttpError::Invalid(e.to_string()))?;
            let mut req = self.client.request(method, parts.uri.to_string());
            for (name, value) in &parts.headers {
                req = req.append_header((name.as_str(), value.as_bytes()));
            }
            if !parts.headers.contains_key(http::header::ACCEPT) {
                req = req.insert_header((header::ACCEPT, "application/json"));
            }
            let (status, headers, body) = self.send(req, body).await?;
            let mut out = http::Response::builder().status(status);
            for (name, value) in headers {
                out = out.header(name, value);
            }
            out.body(body).map_err(|e| HttpError::Invalid(e.to_string()))
        })
    }
}

/// The HTTP client for the token endpoint (code exchange, refresh). Some providers' answers
/// break the oauth2 crate's strict parsing where sign-in does not care: Azure AD v1.0 and Entra
/// B2C send `"expires_in": "3599"` (openidconnect-rs#106, oauth2-rs#191). A string of digits
/// becomes that number; any other `expires_in` that is not a whole number of seconds is dropped
/// (it only dates a stored token). Everything else reaches the parser as the provider sent it.
pub(crate) struct TokenEndpoint<'a>(pub(crate) &'a HttpClient);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenEndpoint<'c> {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let answer = self.0.call(request);
        Box::pin(async move {
            let answer = answer.await?;
            // Error answers reach the parser (and its error paths) exactly as sent.
            Ok(if answer.status().is_success() { answer.map(normalise_expires_in) } else { answer })
        })
    }
}

fn normalise_expires_in(body: Vec<u8>) -> Vec<u8> {
    const FIELD: &str = "expires_in";
    if !body.windows(FIELD.len()).any(|w| w == FIELD.as_bytes()) {
        return body;
    }
    let Ok(serde_json::Value::Object(mut answer)) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    match answer.get(FIELD) {
        None => return body,
        Some(serde_json::Value::Number(n)) if n.is_u64() => return body,
        Some(serde_json::Value::String(text)) => {
            let digits = !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
            match text.parse::<u64>() {
                Ok(seconds) if digits => answer.insert(FIELD.into(), seconds.into()),
                _ => answer.remove(FIELD),
            }
        }
        Some(_) => answer.remove(FIELD),
    };
    serde_json::to_vec(&answer).unwrap_or(body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn expires_in_becomes_a_number_or_goes() {
        let normalised = |body: &str| {
            let out = super::normalise_expires_in(body.as_bytes().to_vec());
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()["expires_in"].clone()
        };
        assert_eq!(normalised(r#"{"access_token":"a","expires_in":"3599"}"#), 3599);
        assert_eq!(normalised(r#"{"access_token":"a","expires_in":3599}"#), 3599);
        for odd in [r#""soon""#, r#""-1""#, r#""3599.5""#, r#"" 3599""#, "-1", "3599.5", "null", "[1]", r#""""#] {
            let body = format!(r#"{{"access_token":"a","expires_in":{odd}}}"#);
            assert_eq!(normalised(&body), serde_json::Value::Null, "{odd}");
        }
        for odd in [r#""+3599""#, r#""12345678901234567890""#, "18446744073709551616"] {
            let body = format!(r#"{{"access_token":"a","expires_in":{odd}}}"#);
            assert_eq!(normalised(&body), serde_json::Value::Null, "{odd}");
        }
        // The rest of the answer survives a rewrite; anything that needs none is left byte for byte.
        let out = super::normalise_expires_in(br#"{"access_token":"a","id_token":"x.y.z","expires_in":"60"}"#.to_vec());
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out, serde_json::json!({"access_token": "a", "id_token": "x.y.z", "expires_in": 60}));
        for untouched in [
            br#"{"access_token":"a", "expires_in": 3599}"#.as_slice(),
            br#"{"access_token":"a","id_token":"expires_in"}"#,
            br#"{"expires_in":"60" not JSON"#,
            br#"["expires_in","60"]"#,
        ] {
            assert_eq!(super::normalise_expires_in(untouched.to_vec()), untouched);
        }
    }

    #[test]
    fn reads_max_age() {
        assert_eq!(super::max_age("public, max-age=3600, must-revalidate"), Some(3600));
        assert_eq!(super::max_age("no-store"), Some(0));
        assert_eq!(super::max_age("private"), None);
        assert_eq!(super::max_age("max-age=abc"), None);
    }
}
