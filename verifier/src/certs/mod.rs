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

pub mod watch;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use sha2::{Digest, Sha256};
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, EndEntityCert, ExpirationPolicy, ExtendedKeyUsageValidator,
    KeyPurposeIdIter, KeyUsage, RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::num_bigint::BigUint;

/// The signature algorithms accepted on certificates and CRLs: rustls-webpki's, computed with *ring*.
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = webpki::ALL_VERIFICATION_ALGS;

/// The content octets of the OID id-kp-clientAuth (1.3.6.1.5.5.7.3.2).
const CLIENT_AUTH_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// How long a successful check is reused at most.
const CACHE_TTL: TimeDelta = TimeDelta::minutes(10);

/// How many successful checks are cached at most; when full, expired entries go, then all. A voter's casts come
/// within minutes of each other, so this covers the voters of the last minutes at 2,000 casts/s; at about 600 bytes
/// an entry it is 10 MB (it was 32,768, a fifth of the verifier's memory at 100,000 voters).
const CACHE_CAPACITY: usize = 16_384;

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

/// The configured trust: the authentication CA(s) and the signing CA(s), each with its CRL(s).
///
/// Owned, `Send + Sync`, meant to be shared behind an `Arc`; CRLs can be replaced while it is in use.
pub struct TrustStore {
    auth: Vec<TrustAnchor<'static>>,
    sign: Vec<TrustAnchor<'static>>,
    crls: RwLock<Crls>,
    cache: RwLock<HashMap<(CertKind, [u8; 32]), CacheEntry>>,
    /// SHA-256 of the CRL files last installed by [`TrustStore::refresh_from_dir`], per kind.
    crl_files: std::sync::Mutex<HashMap<CertKind, [u8; 32]>>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("auth_cas", &self.auth.len())
            .field("sign_cas", &self.sign.len())
            .finish_non_exhaustive()
    }
}

/// The current CRLs of both kinds, one per CA.
struct Crls {
    auth: Vec<LoadedCrl>,
    sign: Vec<LoadedCrl>,
}

impl Crls {
    fn of(&self, kind: CertKind) -> &[LoadedCrl] {
        match kind {
            CertKind::Auth => &self.auth,
            CertKind::Sign => &self.sign,
        }
    }

    /// The earliest nextUpdate of that kind's CRLs.
    fn next_update(&self, kind: CertKind) -> Option<DateTime<Utc>> {
        self.of(kind).iter().map(|crl| crl.next_update).min()
    }
}

/// A CRL whose signature was verified against one of the anchors when loaded.
struct LoadedCrl {
    crl: CertRevocationList<'static>,
    number: Option<BigUint>,
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
}

struct CacheEntry {
    cert: CheckedCert,
    checked_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
}

impl TrustStore {
    /// From PEM bundles of CA certificates and DER CRLs (one or more each).
    pub fn new(
        auth_ca_pem: &str,
        auth_crls_der: &[Vec<u8>],
        sign_ca_pem: &str,
        sign_crls_der: &[Vec<u8>],
    ) -> Result<TrustStore, CertError> {
        let auth = load_anchors(CertKind::Auth, auth_ca_pem)?;
        let sign = load_anchors(CertKind::Sign, sign_ca_pem)?;
        let crls = Crls {
            auth: load_crls(CertKind::Auth, &auth, auth_crls_der)?,
            sign: load_crls(CertKind::Sign, &sign, sign_crls_der)?,
        };
        Ok(TrustStore {
            auth,
            sign,
            crls: RwLock::new(crls),
            cache: RwLock::new(HashMap::new()),
            crl_files: std::sync::Mutex::default(),
        })
    }

    /// From a folder laid out as card_helper::pki writes it: auth-ca.pem, sign-ca.pem, auth.crl.pem, sign.crl.pem
    /// (CRLs in PEM "X509 CRL").
    pub fn from_dir(dir: &Path) -> anyhow::Result<TrustStore> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let (auth_crl, sign_crl) = (read("auth.crl.pem")?, read("sign.crl.pem")?);
        let crls = |name: &str, pem: &str| -> anyhow::Result<Vec<Vec<u8>>> {
            crls_from_pem(pem).with_context(|| format!("reading {}", dir.join(name).display()))
        };
        let store = TrustStore::new(
            &read("auth-ca.pem")?,
            &crls("auth.crl.pem", &auth_crl)?,
            &read("sign-ca.pem")?,
            &crls("sign.crl.pem", &sign_crl)?,
        )
        .with_context(|| format!("loading the card CAs and CRLs from {}", dir.display()))?;
        // What was loaded, so that `refresh_from_dir` replaces only a file that changed since.
        let mut files = store.crl_files.lock().unwrap_or_else(PoisonError::into_inner);
        files.insert(CertKind::Auth, Sha256::digest(auth_crl.as_bytes()).into());
        files.insert(CertKind::Sign, Sha256::digest(sign_crl.as_bytes()).into());
        drop(files);
        Ok(store)
    }

    /// Re-reads `auth.crl.pem` and `sign.crl.pem` from the trust folder while serving (issue 19) and installs a
    /// file that changed, so that a card revoked during the 12 days is refused without a restart (sessions are not
    /// touched). Returns the kinds replaced. A file that cannot be read or verified is an error and the CRLs in
    /// force stay (fail closed once their nextUpdate passes: `CRL_UNAVAILABLE`).
    pub fn refresh_from_dir(&self, dir: &Path) -> anyhow::Result<Vec<CertKind>> {
        let mut replaced = Vec::new();
        for (kind, name) in [(CertKind::Auth, "auth.crl.pem"), (CertKind::Sign, "sign.crl.pem")] {
            let path = dir.join(name);
            let pem = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let digest: [u8; 32] = Sha256::digest(pem.as_bytes()).into();
            let mut files = self.crl_files.lock().unwrap_or_else(PoisonError::into_inner);
            if files.get(&kind) == Some(&digest) {
                continue;
            }
            let der = crls_from_pem(&pem).with_context(|| format!("reading {}", path.display()))?;
            self.replace_crls(kind, &der).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            files.insert(kind, digest);
            replaced.push(kind);
        }
        Ok(replaced)
    }

    /// Replaces the CRLs of one kind (DER, one or more) and forgets every cached check; on error the current CRLs
    /// stay in force.
    pub fn replace_crls(&self, kind: CertKind, crls_der: &[Vec<u8>]) -> Result<(), CertError> {
        let loaded = load_crls(kind, self.anchors(kind), crls_der)?;
        let mut crls = self.crls.write().unwrap_or_else(PoisonError::into_inner);
        match kind {
            CertKind::Auth => crls.auth = loaded,
            CertKind::Sign => crls.sign = loaded,
        }
        // Still holding the CRL lock: no check that used the old CRLs can insert into the cache afterwards.
        self.cache.write().unwrap_or_else(PoisonError::into_inner).clear();
        Ok(())
    }

    /// Returns the earliest nextUpdate among the current CRLs of that kind: after it, checks fail until
    /// [`TrustStore::replace_crls`] installs newer ones.
    pub fn crl_next_update(&self, kind: CertKind) -> Option<DateTime<Utc>> {
        self.read_crls().next_update(kind)
    }

    /// Checks chain to the CA of that kind, validity at `now`, the key usage (Auth: EKU clientAuth; Sign: keyUsage
    /// nonRepudiation/contentCommitment present), and revocation against that kind's CRL (a CRL whose nextUpdate
    /// has passed → CrlUnavailable: fail closed).
    pub fn check(&self, kind: CertKind, der: &[u8], now: DateTime<Utc>) -> Result<CheckedCert, CertError> {
        let fingerprint: [u8; 32] = Sha256::digest(der).into();
        let crls = self.read_crls();
        if let Some(cert) = self.cached(kind, &fingerprint, now) {
            return Ok(cert);
        }
        let cert = self.verify(kind, der, &fingerprint, now, &crls)?;
        let mut valid_until = cert.not_after.min(now + CACHE_TTL);
        if let Some(next_update) = crls.next_update(kind) {
            valid_until = valid_until.min(next_update);
        }
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, entry| entry.valid_until > now);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert((kind, fingerprint), CacheEntry { cert: cert.clone(), checked_at: now, valid_until });
        drop(cache);
        drop(crls);
        Ok(cert)
    }

    fn read_crls(&self) -> RwLockReadGuard<'_, Crls> {
        self.crls.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn anchors(&self, kind: CertKind) -> &[TrustAnchor<'static>] {
        match kind {
            CertKind::Auth => &self.auth,
            CertKind::Sign => &self.sign,
        }
    }

    fn cached(&self, kind: CertKind, fingerprint: &[u8; 32], now: DateTime<Utc>) -> Option<CheckedCert> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        let entry = cache.get(&(kind, *fingerprint))?;
        (entry.checked_at <= now && now < entry.valid_until).then(|| entry.cert.clone())
    }

    fn verify(
        &self,
        kind: CertKind,
        der: &[u8],
        fingerprint: &[u8; 32],
        now: DateTime<Utc>,
        crls: &Crls,
    ) -> Result<CheckedCert, CertError> {
        let cert_der = CertificateDer::from(der);
        let end_entity = EndEntityCert::try_from(&cert_der)
            .map_err(|e| CertError::Malformed(format!("not an X.509 certificate webpki accepts ({e})")))?;
        let parsed = parse_cert(der)?;
        check_usage(kind, &parsed)?;

        let time = unix_time(now)?;
        let crl_refs: Vec<&CertRevocationList<'static>> = crls.of(kind).iter().map(|crl| &crl.crl).collect();
        let revocation = RevocationOptionsBuilder::new(&crl_refs)
            .map_err(|_| CertError::CrlUnavailable(format!("no CRL is configured for the {} CA", kind.noun())))?
            .with_depth(RevocationCheckDepth::EndEntity)
            .with_status_policy(UnknownStatusPolicy::Deny)
            .with_expiration_policy(ExpirationPolicy::Enforce)
            .build();
        let anchors = self.anchors(kind);
        let verified = match kind {
            CertKind::Auth => end_entity.verify_for_usage(
                ALGORITHMS,
                anchors,
                &[],
                time,
                KeyUsage::required(CLIENT_AUTH_OID),
                Some(revocation),
                None,
            ),
            CertKind::Sign => {
                end_entity.verify_for_usage(ALGORITHMS, anchors, &[], time, NoEku, Some(revocation), None)
            }
        };
        verified.map_err(|e| map_webpki_error(kind, e))?;

        let not_after = DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)
            .ok_or_else(|| CertError::Malformed("notAfter is out of range".to_owned()))?;
        Ok(CheckedCert {
            kind,
            fingerprint: hex::encode(fingerprint),
            serial: hex_without_leading_zeros(parsed.raw_serial()),
            public_key: parsed.public_key().subject_public_key.data.to_vec(),
            not_after,
        })
    }
}

/// Accepts any extendedKeyUsage: signing certificates are checked to have none in [`check_usage`].
struct NoEku;

impl ExtendedKeyUsageValidator for NoEku {
    fn validate(&self, _: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// Checks the keyUsage and extendedKeyUsage extensions for the kind of certificate expected.
fn check_usage(kind: CertKind, cert: &X509Certificate<'_>) -> Result<(), CertError> {
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

fn map_webpki_error(kind: CertKind, error: webpki::Error) -> CertError {
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

/// Reads the CA certificates of one kind from a PEM bundle and makes them trust anchors.
fn load_anchors(kind: CertKind, pem: &str) -> Result<Vec<TrustAnchor<'static>>, CertError> {
    let mut anchors = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block =
            block.map_err(|e| CertError::Malformed(format!("the {} CA bundle is not valid PEM ({e})", kind.noun())))?;
        if block.label != "CERTIFICATE" {
            return Err(CertError::Malformed(format!(
                "the {} CA bundle holds a PEM {:?} where only CERTIFICATE blocks belong",
                kind.noun(),
                block.label
            )));
        }
        let cert = parse_cert(&block.contents)
            .map_err(|e| CertError::Malformed(format!("a {} CA certificate: {e}", kind.noun())))?;
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| CertError::Malformed(format!("a {} CA certificate: basicConstraints ({e})", kind.noun())))?
            .is_some_and(|bc| bc.value.ca);
        if !is_ca {
            return Err(CertError::Other(format!(
                "the {} CA bundle holds a certificate that is not a CA (subject {})",
                kind.noun(),
                cert.subject()
            )));
        }
        let der = CertificateDer::from(block.contents.as_slice());
        let anchor = webpki::anchor_from_trusted_cert(&der)
            .map_err(|e| CertError::Malformed(format!("a {} CA certificate ({e})", kind.noun())))?;
        anchors.push(anchor.to_owned());
    }
    if anchors.is_empty() {
        return Err(CertError::Malformed(format!("the {} CA bundle holds no PEM CERTIFICATE", kind.noun())));
    }
    Ok(anchors)
}

/// Parses CRLs, keeps those signed by one of `anchors` (refusing any other), the newest per anchor, and requires
/// one for every anchor.
fn load_crls(kind: CertKind, anchors: &[TrustAnchor<'_>], crls_der: &[Vec<u8>]) -> Result<Vec<LoadedCrl>, CertError> {
    let mut newest: Vec<Option<LoadedCrl>> = anchors.iter().map(|_| None).collect();
    for (index, der) in crls_der.iter().enumerate() {
        let what = || format!("{} CRL #{}", kind.noun(), index + 1);
        let unusable = |why: String| CertError::CrlUnavailable(format!("{}: {why}", what()));
        let crl = BorrowedCertRevocationList::from_der(der)
            .and_then(|crl| crl.to_owned())
            .map(CertRevocationList::Owned)
            .map_err(|e| unusable(format!("not a CRL webpki accepts ({e})")))?;
        let (rest, parsed) =
            x509_parser::parse_x509_crl(der).map_err(|e| unusable(format!("not a DER X.509 CRL ({e})")))?;
        if !rest.is_empty() {
            return Err(unusable(format!("{} bytes after the CRL", rest.len())));
        }
        let this_update = DateTime::from_timestamp(parsed.last_update().timestamp(), 0)
            .ok_or_else(|| unusable("thisUpdate is out of range".to_owned()))?;
        let next_update = parsed
            .next_update()
            .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0))
            .ok_or_else(|| unusable("it has no usable nextUpdate".to_owned()))?;
        let anchor = anchors
            .iter()
            .position(|anchor| anchor.subject.as_ref() == crl.issuer() && crl_signed_by(der, anchor))
            .ok_or_else(|| unusable(format!("not issued and signed by a configured {} CA", kind.noun())))?;
        let loaded = LoadedCrl { crl, number: parsed.crl_number().cloned(), this_update, next_update };
        let slot = &mut newest[anchor];
        let newer = slot
            .as_ref()
            .is_none_or(|current| (&loaded.number, loaded.this_update) > (&current.number, current.this_update));
        if newer {
            *slot = Some(loaded);
        }
    }
    newest
        .into_iter()
        .enumerate()
        .map(|(index, crl)| {
            crl.ok_or_else(|| {
                CertError::CrlUnavailable(format!(
                    "no CRL was given for {} CA #{} of the bundle",
                    kind.noun(),
                    index + 1
                ))
            })
        })
        .collect()
}

/// Verifies a CRL's signature with a CA's key, using the same algorithms as certificates.
fn crl_signed_by(crl_der: &[u8], anchor: &TrustAnchor<'_>) -> bool {
    let (Some(signed), Some(key)) = (SignedParts::of_crl(crl_der), KeyParts::of_anchor(anchor)) else {
        return false;
    };
    ALGORITHMS.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == signed.algorithm
            && alg.public_key_alg_id().as_ref() == key.algorithm
            && alg.verify_signature(key.key, signed.message, signed.signature).is_ok()
    })
}

/// A CRL split for signature verification.
struct SignedParts<'a> {
    /// The whole tbsCertList element.
    message: &'a [u8],
    /// The content of the signatureAlgorithm SEQUENCE.
    algorithm: &'a [u8],
    /// The signature bits.
    signature: &'a [u8],
}

impl SignedParts<'_> {
    /// CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }.
    fn of_crl(der: &[u8]) -> Option<SignedParts<'_>> {
        let (crl, rest) = der_tlv(der, 0x30)?;
        if !rest.is_empty() {
            return None;
        }
        let (tbs_len, _, _) = der_header(crl.content)?;
        let message = crl.content.get(..tbs_len)?;
        let (_, rest) = der_tlv(crl.content, 0x30)?;
        let (algorithm, rest) = der_tlv(rest, 0x30)?;
        let (signature, rest) = der_tlv(rest, 0x03)?;
        if !rest.is_empty() {
            return None;
        }
        Some(SignedParts { message, algorithm: algorithm.content, signature: signature.content.strip_prefix(&[0])? })
    }
}

/// A CA's public key split for signature verification.
struct KeyParts<'a> {
    /// The content of the algorithm SEQUENCE.
    algorithm: &'a [u8],
    /// The subjectPublicKey bits.
    key: &'a [u8],
}

impl KeyParts<'_> {
    /// The anchor's SubjectPublicKeyInfo comes without its outer SEQUENCE: algorithm, subjectPublicKey BIT STRING.
    fn of_anchor<'a>(anchor: &'a TrustAnchor<'_>) -> Option<KeyParts<'a>> {
        let (algorithm, rest) = der_tlv(anchor.subject_public_key_info.as_ref(), 0x30)?;
        let (key, _) = der_tlv(rest, 0x03)?;
        Some(KeyParts { algorithm: algorithm.content, key: key.content.strip_prefix(&[0])? })
    }
}

struct Tlv<'a> {
    content: &'a [u8],
}

/// Reads one DER element with the expected tag; returns it and what follows.
fn der_tlv(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    let (total, header, actual_tag) = der_header(input)?;
    if actual_tag != tag {
        return None;
    }
    Some((Tlv { content: input.get(header..total)? }, input.get(total..)?))
}

/// Returns (total length, header length, tag) of the DER element at the start of `input` (single-byte tags only).
fn der_header(input: &[u8]) -> Option<(usize, usize, u8)> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = input.get(2..2 + count)?;
        (bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)), 2 + count)
    };
    let total = header.checked_add(length)?;
    (total <= input.len()).then_some((total, header, tag))
}

/// Splits a PEM text into the DER of its "X509 CRL" blocks.
fn crls_from_pem(pem: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut crls = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| anyhow::anyhow!("expected PEM X509 CRL blocks: {e}"))?;
        anyhow::ensure!(block.label == "X509 CRL", "expected PEM X509 CRL blocks, found {:?}", block.label);
        crls.push(block.contents);
    }
    anyhow::ensure!(!crls.is_empty(), "expected at least one PEM X509 CRL block");
    Ok(crls)
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, CertError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CertError::Malformed(format!("not a DER X.509 certificate ({e})")))?;
    if !rest.is_empty() {
        return Err(CertError::Malformed(format!("{} bytes after the certificate", rest.len())));
    }
    Ok(cert)
}

fn unix_time(now: DateTime<Utc>) -> Result<UnixTime, CertError> {
    let seconds = u64::try_from(now.timestamp())
        .map_err(|_| CertError::Other(format!("the time of the check {now} is before 1970")))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(seconds)))
}

fn unix_to_chrono(time: UnixTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(i64::try_from(time.as_secs()).ok()?, 0)
}

fn hex_without_leading_zeros(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    if start == bytes.len() { "00".to_owned() } else { hex::encode(&bytes[start..]) }
}
