//! A JPKI-like test certificate authority, for demos and tests only: never a real My Number card.
//!
//! The real card holds two RSA-2048 key pairs with certificates (R-REG-2, R-VOTE-5):
//! - the user-authentication certificate (利用者証明用電子証明書), which carries no personal data, only its serial;
//! - the signing certificate (署名用電子証明書), which carries name, address, birth date and sex as
//!   `subjectAltName` otherName entries under the J-LIS arc [`JLIS_ARC`].
//!
//! [`TestAuthority`] keeps two self-signed RSA-2048 CAs (one per certificate kind) in a directory, issues such
//! card key pairs and certificates, revokes serials and publishes CRLs that the verifier trusts and checks.
//! The CA private keys lie unencrypted in files named `INSECURE-…`: this authority exists for tests only.
//!
//! Layout of the directory:
//! - `auth-ca.pem`, `sign-ca.pem`: the CA certificates;
//! - `INSECURE-auth-ca-key.pem`, `INSECURE-sign-ca-key.pem`: the CA keys (PKCS#8);
//! - `auth.crl.pem`, `sign.crl.pem`: the current CRLs;
//! - `state.json`: issued and revoked serials and the next CRL number.
//!
//! One process at a time may change a directory (issue, revoke); within a process, a [`TestAuthority`] can be
//! shared between threads.

use jpki::{ADDRESS_ARC, BIRTH_DATE_ARC, JLIS_ARCS, NAME_ARC, SEX_ARC, hex_without_leading_zeros, parse_cert};
pub use jpki::{JLIS_ARC, Person, Sex, person_from_signing_cert, serial_hex, spki_der};

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, anyhow, bail, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256, PublicKeyData,
    RevokedCertParams, SanType, SerialNumber,
};
use rsa::pkcs8::EncodePrivateKey;
use serde::{Deserialize, Serialize};
use x509_parser::asn1_rs::Tag;
use x509_parser::x509::X509Name;
use zeroize::Zeroizing;

const STATE_FILE: &str = "state.json";
const RSA_BITS: usize = 2048;
const SERIAL_LEN: usize = 16;
const CA_VALID_DAYS: i64 = 3650;
const CRL_VALID_DAYS: i64 = 7;
const ORGANIZATION: &str = "JPKI Test (not a real authority)";

/// A freshly issued test card: both key pairs (PKCS#8 DER, zeroized on drop) with their certificates.
pub struct IssuedCard {
    /// The user-authentication private key, PKCS#8 DER.
    pub auth_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// The user-authentication certificate, DER.
    pub auth_cert_der: Vec<u8>,
    /// The user-authentication certificate's serial, as [`serial_hex`] returns it.
    pub auth_serial: String,
    /// The signing private key, PKCS#8 DER.
    pub sign_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// The signing certificate, DER.
    pub sign_cert_der: Vec<u8>,
    /// The signing certificate's serial, as [`serial_hex`] returns it.
    pub sign_serial: String,
}

impl std::fmt::Debug for IssuedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCard")
            .field("auth_serial", &self.auth_serial)
            .field("sign_serial", &self.sign_serial)
            .finish_non_exhaustive()
    }
}

/// Which of the two CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CaKind {
    Auth,
    Sign,
}

impl CaKind {
    fn common_name(self) -> &'static str {
        match self {
            CaKind::Auth => "JPKI Test Authentication CA",
            CaKind::Sign => "JPKI Test Signing CA",
        }
    }

    fn cert_file(self) -> &'static str {
        match self {
            CaKind::Auth => "auth-ca.pem",
            CaKind::Sign => "sign-ca.pem",
        }
    }

    fn key_file(self) -> &'static str {
        match self {
            CaKind::Auth => "INSECURE-auth-ca-key.pem",
            CaKind::Sign => "INSECURE-sign-ca-key.pem",
        }
    }

    fn crl_file(self) -> &'static str {
        match self {
            CaKind::Auth => "auth.crl.pem",
            CaKind::Sign => "sign.crl.pem",
        }
    }
}

/// One loaded CA: its certificate and the rcgen issuer (name, key identifier, key).
struct Ca {
    kind: CaKind,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// The state file: what was issued, what is revoked, and the number of the next CRL.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    next_crl_number: u64,
    issued: Vec<IssuedRecord>,
    revoked: Vec<RevokedRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IssuedRecord {
    serial: String,
    ca: CaKind,
    not_after: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RevokedRecord {
    serial: String,
    ca: CaKind,
    revoked_at: DateTime<Utc>,
}

/// The test authority in its directory, with both CAs loaded.
pub struct TestAuthority {
    dir: PathBuf,
    auth: Ca,
    sign: Ca,
    /// Serialises read-modify-write of the state file within this process.
    state_lock: Mutex<()>,
}

impl std::fmt::Debug for TestAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAuthority").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl TestAuthority {
    /// Creates `dir` with two self-signed RSA-2048 CAs, empty CRLs and the state file; refuses a directory that
    /// already holds an authority.
    pub fn init(dir: &Path) -> anyhow::Result<TestAuthority> {
        for name in [
            CaKind::Auth.cert_file(),
            CaKind::Sign.cert_file(),
            CaKind::Auth.key_file(),
            CaKind::Sign.key_file(),
            STATE_FILE,
        ] {
            let path = dir.join(name);
            ensure!(
                !path.exists(),
                "{} already holds a test authority ({name} exists): open it instead, or choose an empty directory",
                dir.display()
            );
        }
        fs::create_dir_all(dir).with_context(|| format!("creating the authority directory {}", dir.display()))?;

        let (auth_key, sign_key) = generate_key_pair_ders()?;
        let now = now_seconds();
        let not_before = now - TimeDelta::days(1);
        let not_after = now + TimeDelta::days(CA_VALID_DAYS);
        let mut cas = Vec::with_capacity(2);
        for (kind, key_der) in [(CaKind::Auth, auth_key), (CaKind::Sign, sign_key)] {
            let key = rsa_key_pair(&key_der)?;
            let mut params = CertificateParams::default();
            params.distinguished_name = ca_name(kind)?;
            params.serial_number = Some(random_serial()?);
            params.not_before = to_offset(not_before)?;
            params.not_after = to_offset(not_after)?;
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            params.key_identifier_method = KeyIdMethod::Sha256;
            let cert = params.self_signed(&key).with_context(|| format!("self-signing {}", kind.common_name()))?;
            let cert_pem = cert.pem();
            files::create_new(&dir.join(kind.key_file()), key.serialize_pem().as_bytes(), files::Access::Owner)?;
            files::create_new(&dir.join(kind.cert_file()), cert_pem.as_bytes(), files::Access::Everyone)?;
            cas.push(Ca { kind, cert_pem, issuer: Issuer::new(params, key) });
        }
        let sign = cas.pop().ok_or_else(|| anyhow!("the signing CA was not created"))?;
        let auth = cas.pop().ok_or_else(|| anyhow!("the authentication CA was not created"))?;
        let authority = TestAuthority { dir: dir.to_path_buf(), auth, sign, state_lock: Mutex::new(()) };

        let mut state = State { next_crl_number: 1, ..State::default() };
        authority.publish_crls(&mut state)?;
        let state_json = serde_json::to_vec_pretty(&state).context("serialising the authority state")?;
        files::create_new(&dir.join(STATE_FILE), &state_json, files::Access::Everyone)?;
        Ok(authority)
    }

    /// Opens a directory that [`TestAuthority::init`] created, checking that each CA key matches its certificate.
    pub fn open(dir: &Path) -> anyhow::Result<TestAuthority> {
        let auth = load_ca(dir, CaKind::Auth)?;
        let sign = load_ca(dir, CaKind::Sign)?;
        let authority = TestAuthority { dir: dir.to_path_buf(), auth, sign, state_lock: Mutex::new(()) };
        authority.load_state()?;
        Ok(authority)
    }

    /// Issues a card valid from yesterday until `valid_days` from now.
    pub fn issue(&self, person: &Person, valid_days: i64) -> anyhow::Result<IssuedCard> {
        let (not_before, not_after) = validity(valid_days)?;
        self.issue_with_validity(person, not_before, not_after)
    }

    /// Issues a card with an explicit validity window (e.g. an expired one, for tests).
    pub fn issue_with_validity(
        &self,
        person: &Person,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> anyhow::Result<IssuedCard> {
        ensure!(not_before < not_after, "not_before ({not_before}) must be before not_after ({not_after})");
        let (auth_key_der, sign_key_der) = generate_key_pair_ders()?;
        self.issue_for_keys(person, not_before, not_after, auth_key_der, sign_key_der)
    }

    fn issue_for_keys(
        &self,
        person: &Person,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        auth_key_der: Pkcs8Der,
        sign_key_der: Pkcs8Der,
    ) -> anyhow::Result<IssuedCard> {
        let card = self.sign_card(person, not_before, not_after, auth_key_der, sign_key_der)?;
        self.record_issued(std::slice::from_ref(&card), not_after)?;
        Ok(card)
    }

    /// Issues one card per person for the key pairs of earlier cards (round-robin), signing on `threads` threads
    /// and writing the state file once: a benchmark's 100,000 voters would otherwise rewrite it 100,000 times.
    pub fn issue_many_sharing_keys(
        &self,
        people: &[Person],
        valid_days: i64,
        keys_of: &[IssuedCard],
        threads: usize,
    ) -> anyhow::Result<Vec<IssuedCard>> {
        ensure!(!keys_of.is_empty(), "give at least one card whose key pairs the new cards share");
        let (not_before, not_after) = validity(valid_days)?;
        let chunk = people.len().div_ceil(threads.max(1)).max(1);
        let cards = std::thread::scope(|scope| {
            let parts: Vec<_> = people
                .chunks(chunk)
                .enumerate()
                .map(|(n, part)| {
                    scope.spawn(move || {
                        part.iter()
                            .enumerate()
                            .map(|(j, person)| {
                                let keys = &keys_of[(n * chunk + j) % keys_of.len()];
                                self.sign_card(
                                    person,
                                    not_before,
                                    not_after,
                                    Zeroizing::new(keys.auth_key_pkcs8_der.to_vec()),
                                    Zeroizing::new(keys.sign_key_pkcs8_der.to_vec()),
                                )
                            })
                            .collect::<anyhow::Result<Vec<_>>>()
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(people.len());
            for part in parts {
                all.extend(part.join().map_err(|_| anyhow!("a signing thread panicked"))??);
            }
            anyhow::Ok(all)
        })?;
        self.record_issued(&cards, not_after)?;
        Ok(cards)
    }

    /// Records issued cards' serials in the state file, in one write.
    fn record_issued(&self, cards: &[IssuedCard], not_after: DateTime<Utc>) -> anyhow::Result<()> {
        self.update_state(|state| {
            for card in cards {
                for (serial, ca) in [(&card.auth_serial, CaKind::Auth), (&card.sign_serial, CaKind::Sign)] {
                    state.issued.push(IssuedRecord { serial: serial.clone(), ca, not_after });
                }
            }
            Ok(false)
        })
    }

    /// Makes a card's two certificates for its key pairs, without recording them (see [`Self::record_issued`]).
    fn sign_card(
        &self,
        person: &Person,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        auth_key_der: Pkcs8Der,
        sign_key_der: Pkcs8Der,
    ) -> anyhow::Result<IssuedCard> {
        let auth_serial = random_serial()?;
        let mut auth = leaf_params(&auth_serial, not_before, not_after)?;
        auth.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        auth.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let auth_cert = auth
            .signed_by(&rsa_key_pair(&auth_key_der)?, &self.auth.issuer)
            .context("signing the authentication certificate")?;

        let sign_serial = random_serial()?;
        let mut sign = leaf_params(&sign_serial, not_before, not_after)?;
        sign.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::ContentCommitment];
        sign.subject_alt_names = vec![
            jlis_other_name(NAME_ARC, &person.name),
            jlis_other_name(SEX_ARC, person.sex.code()),
            jlis_other_name(BIRTH_DATE_ARC, &person.birth_date.format("%Y%m%d").to_string()),
            jlis_other_name(ADDRESS_ARC, &person.address),
        ];
        let sign_cert = sign
            .signed_by(&rsa_key_pair(&sign_key_der)?, &self.sign.issuer)
            .context("signing the signing certificate")?;

        Ok(IssuedCard {
            auth_serial: serial_hex(auth_cert.der())?,
            auth_cert_der: auth_cert.der().to_vec(),
            auth_key_pkcs8_der: auth_key_der,
            sign_serial: serial_hex(sign_cert.der())?,
            sign_cert_der: sign_cert.der().to_vec(),
            sign_key_pkcs8_der: sign_key_der,
        })
    }

    /// Revokes a certificate this authority issued (serial in hex, from either CA) and republishes both CRLs.
    pub fn revoke(&self, serial_hex: &str) -> anyhow::Result<()> {
        let serial = normalize_serial(serial_hex)?;
        self.update_state(|state| {
            let ca = state
                .issued
                .iter()
                .find(|r| r.serial == serial)
                .map(|r| r.ca)
                .ok_or_else(|| anyhow!("serial {serial} was not issued by this test authority"))?;
            if !state.revoked.iter().any(|r| r.serial == serial) {
                state.revoked.push(RevokedRecord { serial: serial.clone(), ca, revoked_at: now_seconds() });
            }
            Ok(true)
        })
    }

    /// Returns the authentication CA certificate (PEM).
    pub fn auth_ca_pem(&self) -> String {
        self.auth.cert_pem.clone()
    }

    /// Returns the signing CA certificate (PEM).
    pub fn sign_ca_pem(&self) -> String {
        self.sign.cert_pem.clone()
    }

    /// Returns the authentication CA's current CRL (DER).
    pub fn auth_crl_der(&self) -> anyhow::Result<Vec<u8>> {
        read_pem_file(&self.dir.join(CaKind::Auth.crl_file()), "X509 CRL")
    }

    /// Returns the signing CA's current CRL (DER).
    pub fn sign_crl_der(&self) -> anyhow::Result<Vec<u8>> {
        read_pem_file(&self.dir.join(CaKind::Sign.crl_file()), "X509 CRL")
    }

    /// Returns the authority's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn load_state(&self) -> anyhow::Result<State> {
        let path = self.dir.join(STATE_FILE);
        let bytes = fs::read(&path).with_context(|| format!("reading the authority state {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!("reading {}: expected the JSON state file written by TestAuthority::init", path.display())
        })
    }

    /// Reads the state, lets `change` modify it, republishes the CRLs if it returns true, and saves the state.
    fn update_state(&self, change: impl FnOnce(&mut State) -> anyhow::Result<bool>) -> anyhow::Result<()> {
        let _guard = self.state_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = self.load_state()?;
        let republish = change(&mut state)?;
        if republish {
            self.publish_crls(&mut state)?;
        }
        let json = serde_json::to_vec_pretty(&state).context("serialising the authority state")?;
        Ok(files::replace(&self.dir.join(STATE_FILE), &json, files::Access::Everyone)?)
    }

    /// Signs and writes both CRLs with the state's next CRL number, then advances it.
    fn publish_crls(&self, state: &mut State) -> anyhow::Result<()> {
        let number = state.next_crl_number;
        let this_update = now_seconds();
        for ca in [&self.auth, &self.sign] {
            let mut revoked_certs = Vec::new();
            for record in state.revoked.iter().filter(|r| r.ca == ca.kind) {
                let bytes = hex::decode(&record.serial)
                    .with_context(|| format!("revoked serial {:?} in the state file is not hex", record.serial))?;
                revoked_certs.push(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&bytes),
                    revocation_time: to_offset(record.revoked_at)?,
                    reason_code: None,
                    invalidity_date: None,
                });
            }
            let params = CertificateRevocationListParams {
                this_update: to_offset(this_update)?,
                next_update: to_offset(this_update + TimeDelta::days(CRL_VALID_DAYS))?,
                crl_number: SerialNumber::from(number),
                issuing_distribution_point: None,
                revoked_certs,
                key_identifier_method: KeyIdMethod::Sha256,
            };
            let crl = params
                .signed_by(&ca.issuer)
                .with_context(|| format!("signing the CRL of {}", ca.kind.common_name()))?;
            let pem = crl.pem().context("encoding a CRL as PEM")?;
            files::replace(&self.dir.join(ca.kind.crl_file()), pem.as_bytes(), files::Access::Everyone)?;
        }
        state.next_crl_number = number.checked_add(1).ok_or_else(|| anyhow!("CRL number overflow"))?;
        Ok(())
    }
}

/// Accepts hex in either case, with or without colons and leading zero bytes, and returns it as [`serial_hex`] does.
fn normalize_serial(serial: &str) -> anyhow::Result<String> {
    let mut digits: String = serial.trim().chars().filter(|&c| c != ':').collect();
    if digits.len() % 2 == 1 {
        digits.insert(0, '0');
    }
    let bytes = hex::decode(&digits).map_err(|_| anyhow!("expected a certificate serial in hex, got {serial:?}"))?;
    ensure!(!bytes.is_empty(), "expected a certificate serial in hex, got an empty string");
    Ok(hex_without_leading_zeros(&bytes))
}

/// Decodes an otherName value, `[0] EXPLICIT` around a UTF8String (or a PrintableString or IA5String).
fn jlis_other_name(arc: u64, value: &str) -> SanType {
    let mut oid = JLIS_ARCS.to_vec();
    oid.push(arc);
    SanType::OtherName((oid, value.into()))
}

fn ca_name(kind: CaKind) -> anyhow::Result<DistinguishedName> {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, DnValue::PrintableString("JP".try_into().context("country code")?));
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, kind.common_name());
    Ok(name)
}

/// Common parameters of both card certificates: subject C, O and CN = serial (no personal data).
fn leaf_params(
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

fn load_ca(dir: &Path, kind: CaKind) -> anyhow::Result<Ca> {
    let cert_path = dir.join(kind.cert_file());
    let cert_pem = fs::read_to_string(&cert_path)
        .with_context(|| format!("reading the CA certificate {} (is this a test authority?)", cert_path.display()))?;
    let cert_der =
        pem_contents(cert_pem.as_bytes(), "CERTIFICATE").with_context(|| format!("reading {}", cert_path.display()))?;
    let cert = parse_cert(&cert_der).with_context(|| format!("reading {}", cert_path.display()))?;

    let key_path = dir.join(kind.key_file());
    let key_pem = Zeroizing::new(
        fs::read_to_string(&key_path).with_context(|| format!("reading the CA key {}", key_path.display()))?,
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
    Ok(Ca { kind, cert_pem, issuer: Issuer::new(params, key) })
}

/// A private key in PKCS#8 DER, zeroized on drop.
type Pkcs8Der = Zeroizing<Vec<u8>>;

/// Generates two RSA-2048 keys in parallel (the card has two) and returns them as PKCS#8 DER.
/// A card's validity: from yesterday until `valid_days` from now.
fn validity(valid_days: i64) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    ensure!(valid_days > 0, "valid_days must be positive, got {valid_days}");
    let now = now_seconds();
    let not_after = TimeDelta::try_days(valid_days)
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| anyhow!("valid_days {valid_days} is out of range"))?;
    Ok((now - TimeDelta::days(1), not_after))
}

fn generate_key_pair_ders() -> anyhow::Result<(Pkcs8Der, Pkcs8Der)> {
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

fn rsa_key_pair(pkcs8_der: &[u8]) -> anyhow::Result<KeyPair> {
    KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8_der.into(), &PKCS_RSA_SHA256)
        .context("loading an RSA key (PKCS#8 DER) for SHA-256 with RSA")
}

/// A random positive serial of exactly 16 bytes (top bit clear, second-highest bit set).
fn random_serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = [0u8; SERIAL_LEN];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("reading the system random generator: {e}"))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn now_seconds() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now)
}

fn to_offset(t: DateTime<Utc>) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).with_context(|| format!("time {t} is out of range"))
}

fn pem_contents(pem: &[u8], label: &str) -> anyhow::Result<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| anyhow!("expected PEM {label}: {e}"))?;
    ensure!(pem.label == label, "expected PEM {label}, found {}", pem.label);
    Ok(pem.contents)
}

fn read_pem_file(path: &Path, label: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    pem_contents(&bytes, label).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jlis_arcs_match_the_published_arc() {
        let joined: Vec<String> = JLIS_ARCS.iter().map(u64::to_string).collect();
        assert_eq!(joined.join("."), JLIS_ARC);
    }

    #[test]
    fn serials_are_normalised() {
        assert_eq!(normalize_serial("00:AB:0c").unwrap(), "ab0c");
        assert_eq!(normalize_serial("abc").unwrap(), "0abc");
        assert_eq!(normalize_serial("0000").unwrap(), "00");
        assert!(normalize_serial("xyz").is_err());
        assert!(normalize_serial("").is_err());
    }

    #[test]
    fn sex_codes_round_trip() {
        for sex in [Sex::Male, Sex::Female, Sex::Other] {
            assert_eq!(Sex::from_code(sex.code()), Some(sex));
        }
        assert_eq!(Sex::from_code("0"), None);
    }

    /// Cards issued in a batch share the given key pairs round-robin, each with its own serials, all recorded in
    /// one write of the state (so that they can be revoked).
    #[test]
    fn batch_issuance_records_every_serial() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestAuthority::init(&dir.path().join("ca")).unwrap();
        let person = |i: usize| Person {
            name: format!("在外 花子{i}"),
            address: "東京都千代田区".into(),
            birth_date: "1990-04-01".parse().unwrap(),
            sex: Sex::Female,
        };
        let pool = vec![ca.issue(&person(0), 30).unwrap(), ca.issue(&person(1), 30).unwrap()];
        let people: Vec<Person> = (0..7).map(person).collect();
        let cards = ca.issue_many_sharing_keys(&people, 30, &pool, 3).unwrap();
        assert_eq!(cards.len(), 7);
        for (i, card) in cards.iter().enumerate() {
            assert_eq!(card.sign_key_pkcs8_der.to_vec(), pool[i % 2].sign_key_pkcs8_der.to_vec(), "round-robin keys");
            assert_eq!(person_from_signing_cert(&card.sign_cert_der).unwrap().name, format!("在外 花子{i}"));
        }
        let mut serials: Vec<&str> =
            cards.iter().flat_map(|c| [c.auth_serial.as_str(), c.sign_serial.as_str()]).collect();
        serials.sort_unstable();
        serials.dedup();
        assert_eq!(serials.len(), 14, "every certificate has its own serial");
        ca.revoke(&cards[6].sign_serial).unwrap();
        assert_eq!(ca.load_state().unwrap().issued.len(), 2 * (7 + 2));
    }
}
