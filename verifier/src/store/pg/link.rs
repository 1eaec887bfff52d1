//! The link from a front-end to the voting store: libpq's connection string, with TLS (rustls, the server checked
//! against the CA given, a client certificate) or, on loopback only, without. Between sites the link carries voters'
//! marks beside sealed ballots, so a network attacker must neither read nor alter it: a plaintext link to another
//! host is refused before anything is sent (`VOTING_STORE_PLAINTEXT`), and a TLS link is never downgraded
//! (`sslmode=require`, whatever the string says; rustls always checks the server's certificate and name).
//!
//! What it must never do: connect in plaintext to a host that is not this machine; accept a server certificate the
//! CA did not sign.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The PEM files of a TLS link (`--voting-store-ca`, `--voting-store-cert`, `--voting-store-key`).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA that signed the PostgreSQL servers' certificates.
    pub ca: PathBuf,
    /// This front-end's client certificate and its key, if the servers ask for one (`hostssl … cert`).
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Where the store is and how to reach it.
#[derive(Clone)]
pub struct Endpoint {
    conninfo: String,
    tls: Option<MakeRustlsConnect>,
}

impl Endpoint {
    /// Checks the connection string, and loads the TLS files if given; refuses a plaintext link to any host but
    /// this machine's loopback or a local socket.
    pub fn new(conninfo: &str, tls: Option<&TlsFiles>) -> anyhow::Result<Endpoint> {
        let config: postgres::Config = conninfo.parse().context("the voting store's connection string")?;
        let tls = tls.map(connector).transpose()?;
        if tls.is_none() {
            let remote: Vec<String> = config
                .get_hosts()
                .iter()
                .filter_map(|h| match h {
                    Host::Tcp(name) if !is_loopback(name) => Some(name.clone()),
                    _ => None,
                })
                .chain(config.get_hostaddrs().iter().filter(|a| !a.is_loopback()).map(|a| a.to_string()))
                .collect();
            anyhow::ensure!(
                remote.is_empty(),
                "VOTING_STORE_PLAINTEXT: the voting store on {} is not this machine, and the link to it would be \
                 plaintext: give --voting-store-ca (and --voting-store-cert and --voting-store-key)",
                remote.join(", ")
            );
        }
        Ok(Endpoint { conninfo: conninfo.to_string(), tls })
    }

    /// Opens a connection, with bounds on a dead network unless the connection string sets its own: 5 s to
    /// connect, and a connection whose data goes unacknowledged for 10 s (`tcp_user_timeout`: a lost host sends no
    /// reset) or whose peer stops answering keepalives is dropped, so that a cast waiting on a lost primary is asked
    /// about on the promoted standby rather than left hanging until the kernel's own timeout (minutes).
    pub fn connect(&self) -> Result<Client, postgres::Error> {
        let mut config: postgres::Config = self.conninfo.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(10));
        }
        config.keepalives(true);
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(Duration::from_secs(10));
        }
        if config.get_keepalives_interval().is_none() {
            config.keepalives_interval(Duration::from_secs(2));
        }
        if config.get_keepalives_retries().is_none() {
            config.keepalives_retries(3);
        }
        match &self.tls {
            Some(tls) => config.ssl_mode(SslMode::Require).connect(tls.clone()),
            None => config.connect(NoTls),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// A rustls client that trusts only the given CA and shows the client certificate, if any.
fn connector(files: &TlsFiles) -> anyhow::Result<MakeRustlsConnect> {
    let what = |p: &PathBuf| format!("the voting store's TLS file {}", p.display());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&files.ca).with_context(|| what(&files.ca))? {
        roots.add(cert.with_context(|| what(&files.ca))?).with_context(|| what(&files.ca))?;
    }
    anyhow::ensure!(!roots.is_empty(), "{} holds no certificate", what(&files.ca));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match &files.client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .with_context(|| what(cert))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| what(cert))?;
            let key = PrivateKeyDer::from_pem_file(key).with_context(|| what(key))?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}
