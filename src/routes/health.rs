use actix_web::{HttpRequest, HttpResponse, web};

use crate::accounts::AccountCache;
use crate::config::Settings;
use crate::db::Db;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::session::AnyStore;

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(db: web::Data<Db>) -> HttpResponse {
    if db.ping().await {
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "unavailable", "database": "down"}))
    }
}

/// `GET /readyz`: ready for traffic when the database and the session store both answer.
pub async fn readyz(db: web::Data<Db>, store: web::Data<AnyStore>) -> HttpResponse {
    let (database, sessions) = (db.ping().await, store.ping().await);
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
        .body(metrics.render(store.count_active().await, accounts.stats())))
}
