//! The [`TrustStore`]: the configured CAs of both kinds, their current CRLs, and the cache of successful checks.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use sha2::{Digest, Sha256};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, KeyUsage, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};

use super::check::{NoEku, check_usage, hex_without_leading_zeros, map_webpki_error, parse_cert, unix_time};
use super::crl::{Crls, crls_from_pem, load_crls};
use super::{ALGORITHMS, CertError, CertKind, CheckedCert};

/// The content octets of the OID id-kp-clientAuth (1.3.6.1.5.5.7.3.2).
const CLIENT_AUTH_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// How long a successful check is reused at most.
const CACHE_TTL: TimeDelta = TimeDelta::minutes(10);

/// How many successful checks are cached at most; when full, expired entries go, then all. A voter's casts come
/// within minutes of each other, so this covers the voters of the last minutes at 2,000 casts/s; at about 600 bytes
/// an entry it is 10 MB (it was 32,768, a fifth of the verifier's memory at 100,000 voters).
const CACHE_CAPACITY: usize = 16_384;

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
