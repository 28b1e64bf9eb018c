use std::process::ExitCode;

use gatehouse::config::Settings;
use gatehouse::startup::Application;

#[actix_web::main]
async fn main() -> ExitCode {
    // A .env in the working directory never overrides real environment variables.
    let _ = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,actix_server=warn")).init();

    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::from(2);
        }
    };
    if settings.session_key.ephemeral {
        log::warn!("SESSION_KEY is not set: using a random key, so every restart signs everyone out");
    }
    let addr = settings.public_url.clone();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::FAILURE;
        }
    };
    log::info!("gatehouse is listening; open {}/login", addr.as_str().trim_end_matches('/'));
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            ExitCode::FAILURE
        }
    }
}
