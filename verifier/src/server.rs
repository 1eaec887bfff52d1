//! Binding and serving: JSON logs, graceful stop on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::{AppState, filters, web::WebApp};

/// What `verifier serve` runs.
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The built voter app (Trunk's dist/), if it is to be served.
    pub web_dir: Option<PathBuf>,
    /// Everything the handlers read.
    pub state: AppState,
}

/// Serves until Ctrl-C or SIGTERM. Prints `verifier: listening on http://ADDR/` once bound, so that scripts and
/// tests that start the binary learn the port.
pub async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    let helper = opts.state.config.card_helper_origin.clone();
    let app = opts.web_dir.as_deref().map(|d| WebApp::load(d, &[helper])).transpose()?;
    let state = opts.state;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, election = %state.election.id, "verifier listening");
    println!("verifier: listening on http://{addr}/");
    warp::serve(filters::routes(state, app)).incoming(listener).graceful(shutdown()).run().await;
    tracing::info!("verifier stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
