//! The voter listener on the open internet (issue 19): HTTP/1.1 and HTTP/2 over TCP, or over TLS (rustls, TLS 1.3
//! and 1.2) when the verifier holds the site's certificate itself, with limits that a laptop cannot exhaust:
//!
//! - at most [`ListenerLimits::max_connections`] open connections; one more is closed at once, never queued;
//! - the request head must arrive within [`ListenerLimits::header_timeout`] (a slowloris client that sends a
//!   byte at a time is cut off), and a whole request must be answered within [`ListenerLimits::request_timeout`]
//!   (a body that trickles in ends with 408);
//! - a TLS handshake must finish within 10 seconds;
//! - with TLS, every answer carries `Strict-Transport-Security`.
//!
//! What it must never do: queue connections without bound, or wait on a client without a deadline.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

/// The address a request came from, as the listener accepted it (request extension; [`crate::voting::limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub std::net::SocketAddr);

/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The listener's limits (flags of `verifier serve`, with these defaults).
#[derive(Clone, Debug)]
pub struct ListenerLimits {
    /// Open connections at most (default 20,000: the whole roll's browsers several times over at peak).
    pub max_connections: usize,
    /// Time for a request's head to arrive (default 10 s).
    pub header_timeout: Duration,
    /// Time for a whole request, its body included, to be answered (default 30 s).
    pub request_timeout: Duration,
}

impl Default for ListenerLimits {
    fn default() -> ListenerLimits {
        ListenerLimits {
            max_connections: 20_000,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Reads the site's certificate chain and key (PEM) into a TLS 1.3/1.2 server configuration.
pub fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate chain {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("the certificate chain {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("cannot read the key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS 1.3 and 1.2 with the ring provider")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the voter listener's certificate and key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `routes` on `listener` until `shutdown`, then lets open connections finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: BoxedFilter<(Response,)>,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "voter listener accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::debug!(%remote, "connection cap reached; connection closed");
            continue;
        };
        // Without it, a TLS record or a response head written apart from its body waits for the client's delayed
        // ACK: casts over new TLS connections at 500/s took 43 ms at the median in the benchmark, and 2 ms with it.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%remote, error = %e, "TCP_NODELAY not set");
        }
        let (routes, watcher, acceptor, limits) =
            (routes.clone(), graceful.watcher(), acceptor.clone(), limits.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                None => serve_connection(tcp, remote, routes, &limits, false, watcher).await,
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => serve_connection(stream, remote, routes, &limits, true, watcher).await,
                    Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake refused"),
                    Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                },
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn serve_connection<S>(
    stream: S,
    remote: std::net::SocketAddr,
    routes: BoxedFilter<(Response,)>,
    limits: &ListenerLimits,
    tls: bool,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper_util::service::TowerToHyperService::new(warp::service(routes));
    let request_timeout = limits.request_timeout;
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(Peer(remote));
        let call = hyper::service::Service::call(&svc, req);
        async move {
            let mut r = match tokio::time::timeout(request_timeout, call).await {
                Ok(answer) => answer?,
                Err(_) => {
                    let mut r = Response::new("{\"code\":\"REQUEST_TIMEOUT\",\"message\":\"The request took too long to arrive. Try again.\"}".into());
                    *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
                    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
                    r.headers_mut().insert("connection", HeaderValue::from_static("close"));
                    r
                }
            };
            if tls {
                r.headers_mut().insert(
                    "strict-transport-security",
                    HeaderValue::from_static("max-age=31536000; includeSubDomains"),
                );
            }
            Ok::<_, std::convert::Infallible>(r)
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "voter connection ended with an error");
    }
}
