//! `jpki`: the profile of the My Number card's (JPKI) certificates that both the card helper's test authority and
//! the verifier rely on: the J-LIS otherName arcs of the signing certificate's personal data (R-REG-2), and reading
//! a person, a serial and a public key out of a certificate. Parsing only: no verification (the verifier checks
//! chains with rustls-webpki), no I/O.

use anyhow::{Context, anyhow, bail, ensure};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use x509_parser::asn1_rs::{Any, FromDer, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// The J-LIS object identifier arc of the personal-data otherName entries: `.1` name, `.3` sex, `.4` birth date,
/// `.5` address.
pub const JLIS_ARC: &str = "1.2.392.200149.8.5.5";

/// [`JLIS_ARC`] as numbers.
pub const JLIS_ARCS: [u64; 7] = [1, 2, 392, 200149, 8, 5, 5];
/// The arc of the name.
pub const NAME_ARC: u64 = 1;
/// The arc of the sex.
pub const SEX_ARC: u64 = 3;
/// The arc of the birth date.
pub const BIRTH_DATE_ARC: u64 = 4;
/// The arc of the address.
pub const ADDRESS_ARC: u64 = 5;

/// The person a signing certificate is about: the four facts JPKI puts into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Name as registered (氏名), e.g. "山田 太郎".
    pub name: String,
    /// Address as registered (住所).
    pub address: String,
    /// Birth date (生年月日).
    pub birth_date: NaiveDate,
    /// Sex (性別).
    pub sex: Sex,
}

/// Sex as recorded in the certificate: `"1"`, `"2"` or `"3"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// `"1"`.
    Male,
    /// `"2"`.
    Female,
    /// `"3"`.
    Other,
}

impl Sex {
    /// Returns the code written into the certificate: `"1"`, `"2"` or `"3"`.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::Other => "3",
        }
    }

    /// Reads a certificate's sex code, `None` unless it is `"1"`, `"2"` or `"3"`.
    pub fn from_code(code: &str) -> Option<Sex> {
        match code {
            "1" => Some(Sex::Male),
            "2" => Some(Sex::Female),
            "3" => Some(Sex::Other),
            _ => None,
        }
    }
}

/// Reads the person from a signing certificate's J-LIS otherName entries; all four must be present, once each.
pub fn person_from_signing_cert(der: &[u8]) -> anyhow::Result<Person> {
    let cert = parse_cert(der)?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| anyhow!("signing certificate: unreadable subjectAltName: {e}"))?
        .ok_or_else(|| anyhow!("signing certificate has no subjectAltName; expected the J-LIS otherName entries"))?;
    let (mut name, mut sex, mut birth_date, mut address) = (None, None, None, None);
    for general_name in &san.value.general_names {
        let GeneralName::OtherName(oid, value) = general_name else { continue };
        let oid = oid.to_id_string();
        let Some(arc) = oid.strip_prefix(JLIS_ARC).and_then(|rest| rest.strip_prefix('.')) else { continue };
        let slot = match arc {
            "1" => &mut name,
            "3" => &mut sex,
            "4" => &mut birth_date,
            "5" => &mut address,
            _ => continue,
        };
        ensure!(slot.is_none(), "signing certificate repeats the otherName {oid}");
        *slot = Some(other_name_string(value).with_context(|| format!("signing certificate otherName {oid}"))?);
    }
    let missing = |what: &str, arc: u64| anyhow!("signing certificate lacks the {what} (otherName {JLIS_ARC}.{arc})");
    let name = name.ok_or_else(|| missing("name", NAME_ARC))?;
    let sex = sex.ok_or_else(|| missing("sex", SEX_ARC))?;
    let birth_date = birth_date.ok_or_else(|| missing("birth date", BIRTH_DATE_ARC))?;
    let address = address.ok_or_else(|| missing("address", ADDRESS_ARC))?;
    Ok(Person {
        sex: Sex::from_code(&sex)
            .ok_or_else(|| anyhow!("signing certificate: sex {sex:?} is not one of \"1\", \"2\", \"3\""))?,
        birth_date: NaiveDate::parse_from_str(&birth_date, "%Y%m%d")
            .ok()
            .filter(|_| birth_date.len() == 8)
            .ok_or_else(|| anyhow!("signing certificate: birth date {birth_date:?} is not YYYYMMDD"))?,
        name,
        address,
    })
}

/// Returns a certificate's serial as lower-case hex without leading zero bytes.
pub fn serial_hex(der: &[u8]) -> anyhow::Result<String> {
    let cert = parse_cert(der)?;
    Ok(hex_without_leading_zeros(cert.raw_serial()))
}

/// Returns a certificate's SubjectPublicKeyInfo (DER).
pub fn spki_der(der: &[u8]) -> anyhow::Result<Vec<u8>> {
    Ok(parse_cert(der)?.public_key().raw.to_vec())
}

/// Parses a DER certificate, refusing trailing bytes.
pub fn parse_cert(der: &[u8]) -> anyhow::Result<X509Certificate<'_>> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| anyhow!("expected an X.509 certificate (DER): {e}"))?;
    ensure!(rest.is_empty(), "expected an X.509 certificate (DER), found {} trailing bytes", rest.len());
    Ok(cert)
}

/// Returns hex without leading zero bytes (`00` for zero).
pub fn hex_without_leading_zeros(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    if start == bytes.len() { "00".to_owned() } else { hex::encode(&bytes[start..]) }
}

fn other_name_string(value: &[u8]) -> anyhow::Result<String> {
    let (rest, explicit) = Any::from_der(value).map_err(|e| anyhow!("expected [0] EXPLICIT value: {e}"))?;
    ensure!(rest.is_empty() && explicit.tag() == Tag(0), "expected a single [0] EXPLICIT value");
    let (rest, inner) = Any::from_der(explicit.data).map_err(|e| anyhow!("expected a string value: {e}"))?;
    ensure!(rest.is_empty(), "expected a single string inside [0]");
    match inner.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => std::str::from_utf8(inner.data)
            .map(str::to_owned)
            .map_err(|_| anyhow!("expected UTF-8 text in the string value")),
        tag => bail!("expected a UTF8String, PrintableString or IA5String, found tag {tag}"),
    }
}
