use actix_web::{HttpRequest, HttpResponse, web};

use crate::accounts::AccountCache;
use crate::config::Settings;
use crate::db::Db;
use crate::error::AppError;
use crate::gate::fast_yes::FastYes;
use crate::metrics::Metrics;
use crate::net::{FORWARDING_HEADERS, TrustedProxies};
use crate::session::AnyStore;

/// `GET /healthz`: liveness. 200 while the process serves requests, whatever its database or
/// session store are doing (an orchestrator restarting gatehouse would not bring them back);
/// `/readyz` says whether they answer.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// How long `/readyz` waits for each dependency; both are asked at once.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);

/// `GET /readyz`: ready for traffic when the database and the session store both answer within
/// [`READY_WITHIN`]; it answers within a second either way.
pub async fn readyz(db: web::Data<Db>, store: web::Data<AnyStore>) -> HttpResponse {
    let sessions = async { actix_web::rt::time::timeout(READY_WITHIN, store.ping()).await.unwrap_or(false) };
    let (database, sessions) = futures_util::future::join(db.ping_within(READY_WITHIN), sessions).await;
    let body = serde_json::json!({"database": if database { "ok" } else { "down" }, "session_store": if sessions { "ok" } else { "down" }});
    if database && sessions { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Marks the app on `METRICS_BIND_ADDR`'s listener.
#[derive(Clone, Copy)]
pub struct MetricsListener;

/// `GET /metrics`: Prometheus text, for addresses in `METRICS_ALLOW` only. With
/// `METRICS_BIND_ADDR` it is served only there; on the main listener a request that came
/// through a reverse proxy (forwarding headers) counts as from its real client — and is refused
/// unless the proxy is in `TRUSTED_PROXIES` and says who that was — so a proxy on this host
/// does not make metrics public.
pub async fn metrics(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    store: web::Data<AnyStore>,
    accounts: web::Data<AccountCache>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let dedicated = req.app_data::<MetricsListener>().is_some();
    if settings.metrics_bind_addr.is_some() && !dedicated {
        return Err(AppError::NotFound);
    }
    let client = metrics_client(&req, &settings.trusted_proxies);
    if !client.is_some_and(|ip| settings.metrics_allow.iter().any(|net| net.contains(ip))) {
        return Err(AppError::NotFound);
    }
    let quick_yeses = req.app_data::<web::Data<FastYes>>().map(|fast| fast.answered());
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(metrics.render(
        (store.count_active().await, store.writes()),
        accounts.stats(),
        store.cache_stats(),
        quick_yeses,
    )))
}

/// Who is asking for metrics: the peer, or behind a trusted proxy the client it names. A
/// forwarded request from an untrusted peer is nobody, and so is one whose named client is
/// loopback or a proxy: a proxy that passes the client's own `X-Forwarded-For` along (nginx
/// setting only `X-Real-IP`, say) would otherwise let anyone claim to be `::1`.
fn metrics_client(req: &HttpRequest, proxies: &TrustedProxies) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !FORWARDING_HEADERS.iter().any(|h| req.headers().contains_key(*h)) {
        return Some(peer);
    }
    if !proxies.trusts(peer) {
        return None;
    }
    proxies.client_of(req).filter(|client| !client.is_loopback() && !proxies.trusts(*client))
}
