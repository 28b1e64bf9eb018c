//! The ceiling for the benchmark: raw actix-web answering `/hello`, same workers as gatehouse.
//! `cargo run --release --example hello -- 127.0.0.1:8090`

use actix_web::{App, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    HttpServer::new(|| App::new().route("/hello", web::get().to(|| async { "Hello world!" }))).bind(addr)?.run().await
}
