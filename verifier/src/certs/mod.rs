//! Checks voters' My Number card (JPKI) certificates (R-VOTE-5): the user-authentication certificate at login, the
//! signing certificate on each ballot.
//!
//! A [`TrustStore`] holds the configured authentication CA(s) and signing CA(s), each with its CRL.
//! [`TrustStore::check`] accepts a certificate only if it chains to a CA of the expected kind, is valid at `now`,
//! is meant for that kind's use and is not revoked by a CRL that is still current at `now`:
//! - chain, validity and revocation are rustls-webpki's (`ring` signatures);
//! - usage is checked here first: an authentication certificate must carry the extendedKeyUsage clientAuth (and, if
//!   it has a keyUsage, digitalSignature); a signing certificate must carry the keyUsage nonRepudiation
//!   (contentCommitment) and no extendedKeyUsage, as JPKI issues it. A certificate of one kind presented as the
//!   other is therefore always refused as [`CertError::WrongUsage`], whichever CA it comes from;
//! - a CRL whose nextUpdate has passed makes every check of that kind fail with [`CertError::CrlUnavailable`]
//!   (fail closed) until [`TrustStore::replace_crls`] installs a current one.
//!
//! CRLs are verified against the CAs when loaded (a CRL no configured CA signed is refused), and of several CRLs
//! from one CA only the newest (highest cRLNumber, then latest thisUpdate) is kept.
//!
//! Successful checks are cached by kind and SHA-256 fingerprint until the earliest of the certificate's notAfter,
//! the CRLs' nextUpdate and ten minutes after the check; replacing CRLs empties the cache.
//!
//! Map: this file holds the kinds of certificate, what a check returns and why it refuses; [`trust`] the
//! [`TrustStore`] with its CAs, CRLs and cache; [`crl`] loading and verifying CRLs; [`check`] the usage check
//! and the mapping of rustls-webpki's errors; [`watch`] re-reads the CRLs while serving.

pub mod check;
pub mod crl;
pub mod trust;
pub mod watch;

pub use trust::TrustStore;

use chrono::{DateTime, Utc};
use rustls_pki_types::SignatureVerificationAlgorithm;

/// The signature algorithms accepted on certificates and CRLs: rustls-webpki's, computed with *ring*.
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = webpki::ALL_VERIFICATION_ALGS;

/// Which of the card's two certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// The user-authentication certificate (利用者証明用電子証明書), checked at login.
    Auth,
    /// The signing certificate (署名用電子証明書), checked on each ballot.
    Sign,
}

impl CertKind {
    /// The kind as stored beside a voter's certificate (`voter_certs.kind`).
    pub fn code(self) -> &'static str {
        match self {
            CertKind::Auth => "auth",
            CertKind::Sign => "sign",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            CertKind::Auth => "authentication",
            CertKind::Sign => "signing",
        }
    }
}

/// A certificate that passed every check, with what the verifier keeps of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedCert {
    /// Which certificate it was checked as.
    pub kind: CertKind,
    /// Lower-case hex SHA-256 of the certificate's DER.
    pub fingerprint: String,
    /// The serial as lower-case hex without leading zero bytes (as `card_helper::pki::serial_hex` writes it).
    pub serial: String,
    /// The subjectPublicKey inside the certificate's SubjectPublicKeyInfo: for the card's RSA keys, the PKCS#1 `RSAPublicKey` that *ring* reads.
    pub public_key: Vec<u8>,
    /// The end of the certificate's validity.
    pub not_after: DateTime<Utc>,
}

impl CheckedCert {
    /// Verifies the card's RSA PKCS#1 v1.5 SHA-256 signature over `message` (the card signs the message's
    /// SHA-256, which *ring* computes). The verifier checks with *ring*, about 14 times the `rsa` crate's speed on
    /// this machine (issue 10); the browser and the helper keep `shared::crypto`. Keys below 2048 bits are refused.
    pub fn verify_signature(&self, message: &[u8], signature: &[u8]) -> Result<(), BadSignature> {
        use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(message, signature)
            .map_err(|_| BadSignature)
    }
}

/// A signature that does not verify with the certificate's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify with the certificate's key")]
pub struct BadSignature;

/// Why a certificate (or the trust configuration) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Not a DER X.509 certificate (or CRL, or PEM) that can be read.
    #[error("the certificate cannot be read: {0}")]
    Malformed(String),
    /// Not issued by a configured CA of the expected kind.
    #[error("the certificate was not issued by a trusted certification authority")]
    UnknownCa,
    /// Its validity ended before the time of the check.
    #[error("the certificate has expired")]
    Expired,
    /// Its validity starts after the time of the check.
    #[error("the certificate is not valid yet")]
    NotYetValid,
    /// The CA's CRL lists it.
    #[error("the certificate has been revoked")]
    Revoked,
    /// Not meant for this use (e.g. the authentication certificate where the signing one is expected).
    #[error("the certificate is not meant for this use: {0}")]
    WrongUsage(String),
    /// No valid CRL for its CA, or the CRL's nextUpdate has passed: revocation cannot be ruled out.
    #[error("the revocation status cannot be established: {0}")]
    CrlUnavailable(String),
    /// Anything else that makes the certificate (or the configuration) unacceptable.
    #[error("the certificate is not acceptable: {0}")]
    Other(String),
}

impl CertError {
    /// Returns the stable error code for API answers and logs.
    pub fn code(&self) -> &'static str {
        match self {
            CertError::Malformed(_) => "CERT_MALFORMED",
            CertError::UnknownCa => "UNKNOWN_CA",
            CertError::Expired => "CERT_EXPIRED",
            CertError::NotYetValid => "CERT_NOT_YET_VALID",
            CertError::Revoked => "CERT_REVOKED",
            CertError::WrongUsage(_) => "CERT_WRONG_USAGE",
            CertError::CrlUnavailable(_) => "CRL_UNAVAILABLE",
            CertError::Other(_) => "CERT_INVALID",
        }
    }
}
