use actix_web::{HttpRequest, HttpResponse, web};

use crate::accounts::AccountCache;
use crate::config::Settings;
use crate::db::Db;
use crate::error::AppError;
use crate::metrics::Metrics;
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

/// `GET /metrics`: Prometheus text, for addresses in `METRICS_ALLOW` only.
pub async fn metrics(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    store: web::Data<AnyStore>,
    accounts: web::Data<AccountCache>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let peer = req.peer_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| settings.metrics_allow.iter().any(|net| net.contains(ip))) {
        return Err(AppError::NotFound);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render((store.count_active().await, store.writes()), accounts.stats())))
}
