use std::process::ExitCode;

use gatehouse::config::Settings;
use gatehouse::startup::Application;

/// mimalloc in place of glibc's malloc: a signed-in request allocates and frees a few dozen
/// small buffers, and glibc's malloc was about a quarter of gatehouse's own CPU on the gate's
/// path (`bench/HOTPATH.md`). Set here, in the binary only: an app that mounts the library keeps
/// its own allocator. Built without asking for transparent huge pages; on a host whose THP
/// setting is `always`, `MIMALLOC_ALLOW_THP=0` keeps them off too.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let addr = settings.public_url().clone();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("gatehouse: {}", with_causes(&e));
            return ExitCode::FAILURE;
        }
    };
    log::info!("gatehouse is listening; open {}/login", addr.as_str().trim_end_matches('/'));
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {}", with_causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and each cause under it: "cannot open the database: timed out waiting for connection: …".
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        // Some errors (Redis's) already end with their cause's message.
        let said = e.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = e.source();
    }
    text
}
