//! A certificate's own checks: its usage for the kind expected, and what rustls-webpki's errors mean to a voter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls_pki_types::UnixTime;
use webpki::{ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_parser::certificate::X509Certificate;

use super::{CertError, CertKind};

/// Accepts any extendedKeyUsage: signing certificates are checked to have none in [`check_usage`].
pub(super) struct NoEku;

impl ExtendedKeyUsageValidator for NoEku {
    fn validate(&self, _: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// Checks the keyUsage and extendedKeyUsage extensions for the kind of certificate expected.
pub(super) fn check_usage(kind: CertKind, cert: &X509Certificate<'_>) -> Result<(), CertError> {
    let key_usage =
        cert.key_usage().map_err(|e| CertError::Malformed(format!("unreadable keyUsage ({e})")))?.map(|ext| *ext.value);
    let eku = cert
        .extended_key_usage()
        .map_err(|e| CertError::Malformed(format!("unreadable extendedKeyUsage ({e})")))?
        .map(|ext| ext.value.client_auth);
    match kind {
        CertKind::Auth => {
            if eku != Some(true) {
                return Err(CertError::WrongUsage(
                    "an authentication certificate must carry the extendedKeyUsage clientAuth".to_owned(),
                ));
            }
            if key_usage.is_some_and(|ku| !ku.digital_signature()) {
                return Err(CertError::WrongUsage(
                    "an authentication certificate's keyUsage must include digitalSignature".to_owned(),
                ));
            }
        }
        CertKind::Sign => {
            if !key_usage.is_some_and(|ku| ku.non_repudiation()) {
                return Err(CertError::WrongUsage(
                    "a signing certificate must carry the keyUsage nonRepudiation (contentCommitment)".to_owned(),
                ));
            }
            if eku.is_some() {
                return Err(CertError::WrongUsage(
                    "a signing certificate must not carry an extendedKeyUsage".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn map_webpki_error(kind: CertKind, error: webpki::Error) -> CertError {
    use webpki::Error as E;
    #[allow(deprecated)]
    match error {
        E::CertExpired { .. } => CertError::Expired,
        E::CertNotValidYet { .. } => CertError::NotYetValid,
        E::CertRevoked => CertError::Revoked,
        // A certificate naming a trusted CA as issuer but not signed by its key was not issued by it.
        E::UnknownIssuer | E::InvalidSignatureForPublicKey => CertError::UnknownCa,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension | E::CaUsedAsEndEntity => {
            CertError::WrongUsage(format!("not usable as a {} certificate ({error})", kind.noun()))
        }
        E::CrlExpired { next_update, .. } => CertError::CrlUnavailable(format!(
            "the {} CA's CRL expired at {} (nextUpdate); a newer CRL is needed",
            kind.noun(),
            unix_to_chrono(next_update).map_or_else(|| "?".to_owned(), |t| t.to_rfc3339()),
        )),
        E::UnknownRevocationStatus => {
            CertError::CrlUnavailable(format!("no CRL of the issuing {} CA is loaded", kind.noun()))
        }
        E::InvalidCrlSignatureForPublicKey
        | E::UnsupportedCrlSignatureAlgorithm
        | E::UnsupportedCrlSignatureAlgorithmContext(_)
        | E::UnsupportedCrlSignatureAlgorithmForPublicKey
        | E::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_)
        | E::IssuerNotCrlSigner
        | E::UnsupportedRevocationReason
        | E::UnsupportedRevocationReasonsPartitioning
        | E::UnsupportedCrlIssuingDistributionPoint
        | E::UnsupportedIndirectCrl => {
            CertError::CrlUnavailable(format!("the {} CA's CRL cannot be used ({error})", kind.noun()))
        }
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidSerialNumber
        | E::InvalidCertValidity
        | E::UnsupportedCertVersion
        | E::UnsupportedCriticalExtension
        | E::SignatureAlgorithmMismatch => CertError::Malformed(format!("{error}")),
        _ => CertError::Other(format!("{error}")),
    }
}

pub(super) fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, CertError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CertError::Malformed(format!("not a DER X.509 certificate ({e})")))?;
    if !rest.is_empty() {
        return Err(CertError::Malformed(format!("{} bytes after the certificate", rest.len())));
    }
    Ok(cert)
}

pub(super) fn unix_time(now: DateTime<Utc>) -> Result<UnixTime, CertError> {
    let seconds = u64::try_from(now.timestamp())
        .map_err(|_| CertError::Other(format!("the time of the check {now} is before 1970")))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(seconds)))
}

fn unix_to_chrono(time: UnixTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(i64::try_from(time.as_secs()).ok()?, 0)
}

pub(super) fn hex_without_leading_zeros(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    if start == bytes.len() { "00".to_owned() } else { hex::encode(&bytes[start..]) }
}
