//! The operator listener: TLS 1.3 only, a client certificate of the operator CA that is not on its CRL (re-read
//! for every new connection), and a handshake deadline; no HTTP request is read before all of that.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration as StdDuration;

use anyhow::{Context, anyhow};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::guard::AuthOnce;
use super::{OperatorApiConfig, OperatorContext, PeerCert, routes};
use crate::operators::auth;

const HANDSHAKE_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// The TLS settings, rebuilt whenever the CRL file changes.
struct Tls {
    ca_dir: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    current: Mutex<Option<(Vec<u8>, TlsAcceptor)>>,
}

impl Tls {
    fn new(config: &OperatorApiConfig) -> anyhow::Result<Tls> {
        let chain = CertificateDer::pem_slice_iter(config.server_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("the operator listener's certificate is not PEM: {e}"))?;
        anyhow::ensure!(!chain.is_empty(), "the operator listener's certificate PEM holds no certificate");
        let key = PrivateKeyDer::from_pem_slice(config.server_key_pem.as_bytes())
            .map_err(|e| anyhow!("the operator listener's key is not a PEM private key: {e}"))?;
        let tls = Tls { ca_dir: config.ca_dir.clone(), chain, key, current: Mutex::new(None) };
        tls.acceptor()?;
        Ok(tls)
    }

    /// Returns the acceptor for the current CRL, rebuilding it if the file changed. Fails closed: if the CA or
    /// CRL cannot be read, no connection is accepted.
    fn acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        let crl_path = self.ca_dir.join(auth::CRL_FILE);
        let crl = std::fs::read(&crl_path).with_context(|| format!("cannot read {}", crl_path.display()))?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, acceptor)) = current.as_ref()
            && *seen == crl
        {
            return Ok(acceptor.clone());
        }
        let acceptor = self.build(&crl)?;
        if current.is_some() {
            tracing::info!(crl = %crl_path.display(), "operator CRL reloaded");
        }
        *current = Some((crl, acceptor.clone()));
        Ok(acceptor)
    }

    fn build(&self, crl_pem: &[u8]) -> anyhow::Result<TlsAcceptor> {
        let ca_path = self.ca_dir.join(auth::CA_CERT_FILE);
        let ca_pem = std::fs::read(&ca_path).with_context(|| format!("cannot read {}", ca_path.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca_pem) {
            roots.add(cert.map_err(|e| anyhow!("{}: {e}", ca_path.display()))?)?;
        }
        anyhow::ensure!(!roots.is_empty(), "{} holds no certificate", ca_path.display());
        let crls = CertificateRevocationListDer::pem_slice_iter(crl_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("the operator CRL is not PEM: {e}"))?;
        anyhow::ensure!(!crls.is_empty(), "the operator CRL file holds no CRL");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(crls)
            .build()
            .context("the operator client-certificate verifier")?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .context("TLS 1.3 with the ring provider")?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("the operator listener's certificate and key")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// The operator listener, bound and ready to run.
pub struct OperatorServer {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    tls: Arc<Tls>,
    routes: BoxedFilter<(Response,)>,
}

impl OperatorServer {
    /// Binds the listener and loads the TLS settings. `extra` are the domain endpoints, mounted under `/op/v1`
    /// (write them as `warp::path!("applications" / ..)`), built with [`authenticated`] or [`require`] on `ctx`.
    pub async fn bind(
        config: OperatorApiConfig,
        ctx: &OperatorContext,
        extra: BoxedFilter<(Response,)>,
    ) -> anyhow::Result<OperatorServer> {
        let tls = Arc::new(Tls::new(&config)?);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} for operators", config.listen))?;
        let addr = listener.local_addr()?;
        Ok(OperatorServer { listener, addr, tls, routes: routes(ctx, extra) })
    }

    /// Returns the bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then lets open connections finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        tracing::info!(addr = %self.addr, "operator API listening");
        loop {
            let (tcp, remote) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "operator listener accept failed");
                        tokio::time::sleep(StdDuration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // As on the voter listener: an answer never waits for the client's delayed ACK.
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(%remote, error = %e, "TCP_NODELAY not set");
            }
            let acceptor = match self.tls.acceptor() {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "operator TLS settings unusable; connection dropped");
                    continue;
                }
            };
            let routes = self.routes.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::info!(%remote, error = %e, "operator TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%remote, "operator TLS handshake timed out");
                        return;
                    }
                };
                let Some(peer) = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| PeerCert { fingerprint: auth::fingerprint(c) })
                else {
                    tracing::warn!(%remote, "operator connection without a client certificate");
                    return;
                };
                serve_connection(tls, peer, routes, watcher).await;
            });
        }
        drop(self.listener);
        graceful.shutdown().await;
        tracing::info!("operator API stopped");
    }
}

async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: PeerCert,
    routes: BoxedFilter<(Response,)>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let svc = hyper_util::service::TowerToHyperService::new(warp::service(routes));
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer.clone());
        req.extensions_mut().insert(AuthOnce::default());
        hyper::service::Service::call(&svc, req)
    });
    let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "operator connection ended with an error");
    }
}

/// Binds and serves the operator API until `shutdown`; prints `verifier: operator API listening on https://ADDR/`
/// once bound.
pub async fn serve(
    config: OperatorApiConfig,
    ctx: OperatorContext,
    extra: BoxedFilter<(Response,)>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let server = OperatorServer::bind(config, &ctx, extra).await?;
    println!("verifier: operator API listening on https://{}/", server.local_addr());
    server.run(shutdown).await;
    Ok(())
}
