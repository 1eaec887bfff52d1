//! A client of the operator listener over real TLS, as the operator tests (operator_tls.rs, operator_binary.rs)
//! make it: trusting only the operator CA, with an operator's client certificate; the operator's TOTP code; and
//! what a refused handshake looks like from the client.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use chrono::{TimeDelta, Utc};
use verifier::operators::auth::{IssuedOperator, totp_code};

/// A client trusting only the operator CA, presenting the operator's certificate if one is given.
pub fn client(ca_pem: &str, identity: Option<&IssuedOperator>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(std::time::Duration::from_secs(20));
    if let Some(op) = identity {
        let pem = format!("{}{}", op.cert_pem, op.key_pem);
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// The operator's TOTP code at now plus `offset_seconds`.
pub fn code(op: &IssuedOperator, offset_seconds: i64) -> String {
    totp_code(&op.totp_secret_base32, Utc::now() + TimeDelta::seconds(offset_seconds)).unwrap()
}

/// A refused handshake gives no HTTP answer. With TLS 1.3 the client learns it after sending: it reads the
/// server's alert (e.g. `CertificateRevoked`), or, if the server has already closed, only that the connection
/// went away.
pub fn assert_refused(e: &reqwest::Error, alert: &str) {
    assert!(e.status().is_none());
    let chain = error_chain(e);
    assert!(chain.contains(alert) || chain.contains("connection"), "{chain}");
}

/// The error and every source under it, on one line.
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(e) = src {
        s.push_str(" / ");
        s.push_str(&e.to_string());
        src = e.source();
    }
    s
}
