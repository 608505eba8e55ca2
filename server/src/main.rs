//! webinfer-server: the Heroku web process. It serves the static site the browser runs
//! inference in, plus `/api/model` (the model manifest, pointing at the CDN) and `/healthz`.
//! Configuration is environment only; see config.rs.

mod api;
mod assets;
mod config;
mod headers;
mod listen;
mod log;
mod manifest;
mod shutdown;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware::from_fn;
use axum::routing::get;
use axum::Router;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;

/// Slow handlers must not pin connections; file bodies stream after this and are not cut.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared, read-only state built at startup.
pub struct App {
    pub model: manifest::Model,
    pub site: assets::Site,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("webinfer-server: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let config = Config::from_env()?;
    // Everything that can be wrong with the deploy is found here, before the port is bound,
    // so Heroku reports a crashed dyno instead of a server answering with errors.
    let model = manifest::load(&config.manifest, &config.cdn_base)?;
    let site = assets::Site::index(&config.site_dir)?;
    eprintln!(
        "webinfer-server: {} files from {}, model {} on {}",
        site.file_count,
        config.site_dir.display(),
        &model.sha256[..16],
        config.cdn_base
    );
    let app = Arc::new(App { model, site });
    let router = router(app, &config)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(router, &config))
}

fn router(app: Arc<App>, config: &Config) -> Result<Router, String> {
    let router = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/model", get(api::model))
        .fallback(assets::serve)
        .with_state(app)
        // Layers run outside-in in the reverse order of these calls.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(from_fn(headers::limit_header_size))
        .layer(from_fn(headers::only_get_and_head));
    let router = headers::with_security_headers(router, &config.cdn_origin)?;
    // Outermost, so the logged status is the one the client gets.
    Ok(router.layer(from_fn(log::log_request)))
}

async fn serve(router: Router, config: &Config) -> Result<(), String> {
    let port = config.port;
    let signals = shutdown::install()?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|e| format!("cannot listen on 0.0.0.0:{port}: {e}; set PORT to a free port"))?;
    let actual = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?
        .port();

    // Tests and scripts wait for exactly this line.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "webinfer-server listening on http://0.0.0.0:{actual}"
    );
    let _ = stdout.flush();
    drop(stdout);

    listen::serve(listener, router, config.header_read_timeout, signals.wait()).await;
    Ok(())
}
