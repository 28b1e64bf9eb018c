//! The service: gatehouse ([`Gatehouse`]) on `BIND_ADDR`, with `/metrics` on
//! `METRICS_BIND_ADDR` when set, and a graceful shutdown.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::config::Settings;
use crate::gatehouse::Gatehouse;
pub use crate::gatehouse::StartupError;
use crate::routes;

/// The service as the `gatehouse` binary runs it: gatehouse's routes and middleware in an
/// `HttpServer` of their own on `BIND_ADDR` (and the metrics listener, when configured).
pub struct Application {
    port: u16,
    server: Server,
    /// The `METRICS_BIND_ADDR` listener, running beside the main one.
    metrics: Option<(u16, actix_web::dev::ServerHandle)>,
}

impl Application {
    /// Opens the database (running migrations), binds `BIND_ADDR` and prepares the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(&settings.bind_addr)
            .map_err(|source| StartupError::Bind { addr: settings.bind_addr.clone(), source })?;
        Self::build_with_listener(settings, listener).await
    }

    /// As [`Application::build`], on a listener bound by the caller (tests bind port 0).
    pub async fn build_with_listener(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let bind_error = |source| StartupError::Bind { addr: settings.bind_addr.clone(), source };
        let port = listener.local_addr().map_err(bind_error)?.port();
        let gatehouse = Gatehouse::new(settings).await?;
        let metrics_server = match &gatehouse.settings().metrics_bind_addr {
            Some(addr) => Some(metrics_listener(addr, &gatehouse)?),
            None => None,
        };
        let addr = gatehouse.settings().bind_addr.clone();
        let workers = gatehouse.settings().workers();
        let server = HttpServer::new(move || {
            let app = App::new().configure(|cfg| gatehouse.configure(cfg)).default_service(web::to(routes::not_found));
            gatehouse.wrap(app)
        });
        let server = match workers {
            Some(n) => server.workers(n),
            None => server,
        };
        let server =
            server.listen(listener).map_err(|source| StartupError::Bind { addr, source })?.shutdown_timeout(10).run();
        Ok(Application { port, server, metrics: metrics_server })
    }

    /// The port the main listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `METRICS_BIND_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The server future, for tests that need its handle.
    pub fn into_server(self) -> Server {
        self.server
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM), then drains for up to 10 s.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some((_, metrics)) = self.metrics {
            metrics.stop(true).await;
        }
        result
    }
}

/// `/metrics` on a listener of its own (`METRICS_BIND_ADDR`), where the usual practice puts it:
/// a reverse proxy in front of the main listener never reaches it. One worker is plenty.
fn metrics_listener(addr: &str, gatehouse: &Gatehouse) -> Result<(u16, actix_web::dev::ServerHandle), StartupError> {
    let bind_error = |source| StartupError::Bind { addr: addr.to_string(), source };
    let listener = TcpListener::bind(addr).map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    let (settings, metrics, store, accounts, fast_yes) = (
        gatehouse.settings_data().clone(),
        gatehouse.metrics().clone(),
        gatehouse.store().clone(),
        gatehouse.accounts().clone(),
        gatehouse.fast_yes().cloned(),
    );
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(routes::health::MetricsListener)
            .app_data(settings.clone())
            .app_data(metrics.clone())
            .app_data(store.clone())
            .app_data(accounts.clone());
        match &fast_yes {
            Some(fast_yes) => app.app_data(fast_yes.clone()),
            None => app,
        }
        .route("/metrics", web::get().to(routes::health::metrics))
    })
    .workers(1)
    .listen(listener)
    .map_err(bind_error)?
    .disable_signals()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok((port, handle))
}
