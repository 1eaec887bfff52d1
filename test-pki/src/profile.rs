//! The certificates' contents: the CAs' and the cards' names and extensions as the JPKI profile has them, the
//! RSA-2048 keys, and reading a CA back from its PEM files.

use std::path::Path;

use anyhow::{Context, anyhow, bail, ensure};
use chrono::{DateTime, Utc};
use folder_ca::to_offset;
use jpki::{JLIS_ARCS, hex_without_leading_zeros, parse_cert};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PKCS_RSA_SHA256, PublicKeyData, SanType, SerialNumber,
};
use rsa::pkcs8::EncodePrivateKey;
use x509_parser::asn1_rs::Tag;
use x509_parser::x509::X509Name;
use zeroize::Zeroizing;

const RSA_BITS: usize = 2048;
const ORGANIZATION: &str = "JPKI Test (not a real authority)";

/// A private key in PKCS#8 DER, zeroized on drop.
pub(crate) type Pkcs8Der = Zeroizing<Vec<u8>>;

/// Decodes an otherName value, `[0] EXPLICIT` around a UTF8String (or a PrintableString or IA5String).
pub(crate) fn jlis_other_name(arc: u64, value: &str) -> SanType {
    let mut oid = JLIS_ARCS.to_vec();
    oid.push(arc);
    SanType::OtherName((oid, value.into()))
}

/// A CA's name: C = JP, O = the test organisation, CN = `common_name`.
pub(crate) fn ca_name(common_name: &str) -> anyhow::Result<DistinguishedName> {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, DnValue::PrintableString("JP".try_into().context("country code")?));
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, common_name);
    Ok(name)
}

/// Common parameters of both card certificates: subject C, O and CN = serial (no personal data).
pub(crate) fn leaf_params(
    serial: &SerialNumber,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, DnValue::PrintableString("JP".try_into().context("country code")?));
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, hex_without_leading_zeros(serial.as_ref()));
    params.distinguished_name = name;
    params.serial_number = Some(serial.clone());
    params.not_before = to_offset(not_before)?;
    params.not_after = to_offset(not_after)?;
    params.is_ca = IsCa::NoCa;
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// Rebuilds an rcgen distinguished name from a parsed one, keeping each attribute's string type.
fn rcgen_name(name: &X509Name<'_>) -> anyhow::Result<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attributes = rdn.iter();
        let (Some(attr), None) = (attributes.next(), attributes.next()) else {
            bail!("expected one attribute per RDN in the CA name");
        };
        let arcs: Vec<u64> =
            attr.attr_type().iter().ok_or_else(|| anyhow!("CA name: attribute OID too large"))?.collect();
        let value = attr.attr_value();
        let text = std::str::from_utf8(value.data).context("CA name: expected UTF-8 text")?;
        let value = match value.tag() {
            Tag::PrintableString => DnValue::PrintableString(text.try_into().context("CA name: PrintableString")?),
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            tag => bail!("CA name: expected a PrintableString or UTF8String, found tag {tag}"),
        };
        dn.push(DnType::from_oid(&arcs), value);
    }
    Ok(dn)
}

/// Reads a CA's certificate (PEM) and key (PKCS#8 PEM), checks that the key is the certificate's, and returns the
/// certificate's PEM with the issuer that signs as that CA.
pub(crate) fn load_issuer(cert_path: &Path, key_path: &Path) -> anyhow::Result<(String, Issuer<'static, KeyPair>)> {
    let cert_pem = std::fs::read_to_string(cert_path)
        .with_context(|| format!("reading the CA certificate {} (is this a test authority?)", cert_path.display()))?;
    let cert_der =
        pem_contents(cert_pem.as_bytes(), "CERTIFICATE").with_context(|| format!("reading {}", cert_path.display()))?;
    let cert = parse_cert(&cert_der).with_context(|| format!("reading {}", cert_path.display()))?;

    let key_pem = Zeroizing::new(
        std::fs::read_to_string(key_path).with_context(|| format!("reading the CA key {}", key_path.display()))?,
    );
    let key = KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &PKCS_RSA_SHA256)
        .with_context(|| format!("reading {}: expected an RSA private key (PKCS#8 PEM)", key_path.display()))?;
    ensure!(
        key.subject_public_key_info() == cert.public_key().raw,
        "{} does not hold the key of {}",
        key_path.display(),
        cert_path.display()
    );

    let mut params = CertificateParams::default();
    params.distinguished_name =
        rcgen_name(cert.subject()).with_context(|| format!("reading {}", cert_path.display()))?;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    Ok((cert_pem, Issuer::new(params, key)))
}

/// Generates two RSA-2048 keys in parallel (the card has two) and returns them as PKCS#8 DER.
pub(crate) fn generate_key_pair_ders() -> anyhow::Result<(Pkcs8Der, Pkcs8Der)> {
    std::thread::scope(|scope| {
        let second = scope.spawn(generate_rsa_key_der);
        let first = generate_rsa_key_der()?;
        let second = second.join().map_err(|_| anyhow!("RSA key generation thread panicked"))??;
        Ok((first, second))
    })
}

fn generate_rsa_key_der() -> anyhow::Result<Pkcs8Der> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, RSA_BITS).context("generating an RSA-2048 key")?;
    let der = key.to_pkcs8_der().context("encoding an RSA key as PKCS#8")?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

/// Loads an RSA key (PKCS#8 DER) for signing with SHA-256.
pub(crate) fn rsa_key_pair(pkcs8_der: &[u8]) -> anyhow::Result<KeyPair> {
    KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8_der.into(), &PKCS_RSA_SHA256)
        .context("loading an RSA key (PKCS#8 DER) for SHA-256 with RSA")
}

fn pem_contents(pem: &[u8], label: &str) -> anyhow::Result<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| anyhow!("expected PEM {label}: {e}"))?;
    ensure!(pem.label == label, "expected PEM {label}, found {}", pem.label);
    Ok(pem.contents)
}

/// Reads a PEM file's one block, which must carry `label`.
pub(crate) fn read_pem_file(path: &Path, label: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    pem_contents(&bytes, label).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki::{JLIS_ARC, Sex};

    #[test]
    fn jlis_arcs_match_the_published_arc() {
        let joined: Vec<String> = JLIS_ARCS.iter().map(u64::to_string).collect();
        assert_eq!(joined.join("."), JLIS_ARC);
    }

    #[test]
    fn sex_codes_round_trip() {
        for sex in [Sex::Male, Sex::Female, Sex::Other] {
            assert_eq!(Sex::from_code(sex.code()), Some(sex));
        }
        assert_eq!(Sex::from_code("0"), None);
    }
}
