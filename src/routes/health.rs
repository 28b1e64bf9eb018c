use actix_web::{HttpResponse, web};

use crate::db::Db;

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(db: web::Data<Db>) -> HttpResponse {
    if db.ping().await {
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "unavailable", "database": "down"}))
    }
}
