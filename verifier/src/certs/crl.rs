//! CRLs: parsed, verified against the CAs' keys when loaded (a CRL no configured CA signed is refused), and the
//! newest per CA kept.

use chrono::{DateTime, Utc};
use rustls_pki_types::TrustAnchor;
use webpki::{BorrowedCertRevocationList, CertRevocationList};
use x509_parser::num_bigint::BigUint;

use super::{ALGORITHMS, CertError, CertKind};

/// The current CRLs of both kinds, one per CA.
pub(super) struct Crls {
    pub(super) auth: Vec<LoadedCrl>,
    pub(super) sign: Vec<LoadedCrl>,
}

impl Crls {
    pub(super) fn of(&self, kind: CertKind) -> &[LoadedCrl] {
        match kind {
            CertKind::Auth => &self.auth,
            CertKind::Sign => &self.sign,
        }
    }

    /// The earliest nextUpdate of that kind's CRLs.
    pub(super) fn next_update(&self, kind: CertKind) -> Option<DateTime<Utc>> {
        self.of(kind).iter().map(|crl| crl.next_update).min()
    }
}

/// A CRL whose signature was verified against one of the anchors when loaded.
pub(super) struct LoadedCrl {
    pub(super) crl: CertRevocationList<'static>,
    pub(super) number: Option<BigUint>,
    pub(super) this_update: DateTime<Utc>,
    pub(super) next_update: DateTime<Utc>,
}

/// Parses CRLs, keeps those signed by one of `anchors` (refusing any other), the newest per anchor, and requires
/// one for every anchor.
pub(super) fn load_crls(
    kind: CertKind,
    anchors: &[TrustAnchor<'_>],
    crls_der: &[Vec<u8>],
) -> Result<Vec<LoadedCrl>, CertError> {
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
pub(super) fn crls_from_pem(pem: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut crls = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| anyhow::anyhow!("expected PEM X509 CRL blocks: {e}"))?;
        anyhow::ensure!(block.label == "X509 CRL", "expected PEM X509 CRL blocks, found {:?}", block.label);
        crls.push(block.contents);
    }
    anyhow::ensure!(!crls.is_empty(), "expected at least one PEM X509 CRL block");
    Ok(crls)
}
