//! Binding and serving: JSON logs, graceful stop on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::AppState;
use crate::voting::{filters, web::WebApp};

/// What `verifier serve` runs.
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The built voter app (Trunk's dist/), if it is to be served.
    pub web_dir: Option<PathBuf>,
    /// Everything the handlers read.
    pub state: AppState,
    /// The site's certificate and key, when the verifier terminates TLS itself (`--tls-cert`, `--tls-key`).
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Connection cap and timeouts.
    pub limits: crate::voting::listener::ListenerLimits,
}

/// Loads the voter app and binds the voter port, then prints `verifier: listening on http://ADDR/`, so that scripts
/// and tests that start the binary learn the port. The returned future serves until Ctrl-C or SIGTERM.
///
/// Binding is separate from serving so that the caller can start the operator API only once the voter port is
/// bound: a harness that reads the first "listening" line may then connect at once (compressing the app takes
/// half a second in a debug build, and a `select!` that polled the operator API first let it print first).
pub async fn bind(opts: ServeOptions) -> anyhow::Result<impl Future<Output = anyhow::Result<()>>> {
    let helper = opts.state.config.card_helper_origin.clone();
    let app = opts.web_dir.as_deref().map(|d| WebApp::load(d, &[helper])).transpose()?;
    let state = opts.state;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    anyhow::ensure!(
        opts.tls.is_some() || addr.ip().is_loopback(),
        "the voter listener {addr} is not loopback: give --tls-cert and --tls-key (plain HTTP is for loopback demos \
         and tests only)"
    );
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, election = %state.election.get().id, scheme, "verifier listening");
    println!("verifier: listening on {scheme}://{addr}/");
    let routes = filters::routes(state, app);
    Ok(async move {
        crate::voting::listener::serve(listener, routes, opts.tls, opts.limits, shutdown()).await;
        tracing::info!("verifier stopped");
        Ok(())
    })
}

/// Seals the ballot box once voting has closed (R-VOTE-8: the box's held batches enter it and its file is
/// rebuilt in key order), then writes the UX-research tasks still waiting. Checked every second on the election's
/// clock; retried every ten seconds if it fails (a full disk). Returns once done.
pub async fn seal_at_close(state: AppState) {
    loop {
        if state.election.get().window().state(state.clock.now()) == shared::window::WindowState::Closed {
            let s = state.clone();
            let sealed = tokio::task::spawn_blocking(move || {
                let tasks = crate::research::flush(&s.db)?;
                s.db.seal(s.election.get().id.as_str())?;
                anyhow::Ok(tasks)
            })
            .await;
            match sealed {
                Ok(Ok(tasks)) => {
                    tracing::info!(election = %state.election.get().id, research_tasks_written = tasks, "ballot box sealed");
                    return;
                }
                Ok(Err(e)) => tracing::error!(error = %e, "the ballot box could not be sealed; trying again in 10 s"),
                Err(e) => tracing::error!(error = %e, "the sealing task failed; trying again in 10 s"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        } else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
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
