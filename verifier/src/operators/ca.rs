//! The operator CA in its folder (R-SEC-4): one CA (ECDSA P-256) signs the operators' client certificates
//! (extended key usage `clientAuth`) and the operator listener's server certificate (`serverAuth` only). Operators
//! therefore trust one file, and neither kind of certificate can stand in for the other: rustls checks the extended
//! key usage on both sides. Its records (`state.json`), serials and CRLs are kept by the `folder-ca` crate, as the
//! test authority's are.
//!
//! An operator certificate's subject says who and what: `CN` = the person's name, `OU` = the role
//! (`clerk`, `approver`, `admin`, `auditor`, `counting_officer`), `L` = the municipality code for committee roles.
//! The verifier trusts these fields because only its own CA signs them; the `operators` table
//! ([`super::auth`]), keyed by the certificate's SHA-256 fingerprint, holds the same facts plus the TOTP secret and
//! the revoked flag.
//!
//! Layout of the CA folder:
//! - [`CA_CERT_FILE`]: the CA certificate (give it to operators and to the operator listener);
//! - [`CA_KEY_FILE`]: the CA key (PKCS#8, mode 0600; keep the folder on the administration host);
//! - [`CRL_FILE`]: the current CRL, rewritten at every revocation (the listener reloads it per connection);
//! - [`SERVER_CERT_FILE`], [`SERVER_KEY_FILE`]: the listener's certificate and key, written by
//!   [`OperatorCa::write_server_cert`];
//! - `state.json`: issued and revoked serials and the next CRL number ([`folder_ca::State`]).
//!
//! The listener needs only the CA certificate, the CRL and its own certificate and key, never the CA key.
//!
//! What it must never do: sign a certificate whose subject it did not check, or keep an operator's key or TOTP
//! secret (the person receives them once; the TOTP secret's other copy is in the operators table).

use std::fs;
use std::path::Path;

use anyhow::{Context, anyhow, bail, ensure};
use chrono::TimeDelta;
use folder_ca::{CaFolder, Issued, NoMeta, State, now_seconds, random_serial, to_offset};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData,
};
use serde::{Deserialize, Serialize};

use super::auth::{TOTP_SECRET_LEN, fingerprint, operator_from_cert, pem_block, role_str, totp};
use crate::operators::{Operator, Role};

/// The CA certificate (PEM).
pub const CA_CERT_FILE: &str = "operator-ca.pem";
/// The CA key (PKCS#8 PEM).
pub const CA_KEY_FILE: &str = "operator-ca-key.pem";
/// The CRL (PEM).
pub const CRL_FILE: &str = "operators.crl.pem";
/// The operator listener's certificate (PEM).
pub const SERVER_CERT_FILE: &str = "operator-server.pem";
/// The operator listener's key (PKCS#8 PEM).
pub const SERVER_KEY_FILE: &str = "operator-server-key.pem";

/// How long an operator certificate is valid.
pub const OPERATOR_CERT_DAYS: i64 = 365;
/// How long the listener's certificate is valid.
pub const SERVER_CERT_DAYS: i64 = 365;
const CA_DAYS: i64 = 3650;
const CRL_DAYS: i64 = 30;
const ORGANIZATION: &str = "Overseas Internet Voting";
const CA_NAME: &str = "Overseas Internet Voting Operator CA";
/// The issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "Overseas Internet Voting";

/// A freshly issued operator: everything the person receives, once. The key and the TOTP secret are not kept by
/// the CA (the TOTP secret is kept in the verifier's database as the verifier's side of the shared secret).
#[derive(Clone)]
pub struct IssuedOperator {
    /// The client certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The TOTP secret in base32 (RFC 4648, no padding), for manual entry into an authenticator app.
    pub totp_secret_base32: String,
    /// The `otpauth://totp/...` URI (for a QR code).
    pub otpauth_uri: String,
    /// Hex SHA-256 of the certificate (DER).
    pub fingerprint: String,
    /// The certificate serial in lower-case hex without leading zeros (what `revoke` takes).
    pub serial: String,
    /// Who, as the certificate's subject says.
    pub operator: Operator,
}

impl std::fmt::Debug for IssuedOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedOperator")
            .field("serial", &self.serial)
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

/// What the state file keeps of an operator certificate beside its serial and expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct OperatorMeta {
    fingerprint: String,
    name: String,
    role: Role,
    municipality: Option<String>,
}

/// What CRL validity a new CRL gets.
const CRL_VALIDITY: TimeDelta = TimeDelta::days(CRL_DAYS);

/// The operator CA in its folder.
pub struct OperatorCa {
    records: CaFolder<OperatorMeta, NoMeta>,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for OperatorCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorCa").field("dir", &self.records.dir()).finish_non_exhaustive()
    }
}

impl OperatorCa {
    /// Creates the CA in `dir` (created if missing) with an empty CRL; refuses a folder that already holds one.
    pub fn init(dir: &Path) -> anyhow::Result<OperatorCa> {
        let records = CaFolder::create(dir, "operator CA", &[CA_CERT_FILE, CA_KEY_FILE])?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the CA key")?;
        let now = now_seconds();
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CountryName, DnValue::PrintableString("JP".try_into().context("country code")?));
        name.push(DnType::OrganizationName, ORGANIZATION);
        name.push(DnType::CommonName, CA_NAME);
        params.distinguished_name = name;
        params.serial_number = Some(random_serial()?);
        params.not_before = to_offset(now - TimeDelta::days(1))?;
        params.not_after = to_offset(now + TimeDelta::days(CA_DAYS))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.key_identifier_method = KeyIdMethod::Sha256;
        let cert = params.self_signed(&key).context("self-signing the operator CA")?;
        files::create_new(&dir.join(CA_KEY_FILE), key.serialize_pem().as_bytes(), files::Access::Owner)?;
        let cert_pem = cert.pem();
        files::create_new(&dir.join(CA_CERT_FILE), cert_pem.as_bytes(), files::Access::Everyone)?;
        let ca = OperatorCa { records, cert_pem, issuer: Issuer::new(params, key) };
        ca.records.init_state(|state| ca.publish_crl(state))?;
        Ok(ca)
    }

    /// Opens a CA folder made by [`OperatorCa::init`], checking that the key belongs to the certificate.
    pub fn open(dir: &Path) -> anyhow::Result<OperatorCa> {
        let cert_path = dir.join(CA_CERT_FILE);
        let cert_pem = fs::read_to_string(&cert_path)
            .with_context(|| format!("cannot read {} (is this an operator CA folder?)", cert_path.display()))?;
        let key_path = dir.join(CA_KEY_FILE);
        let key_pem = fs::read_to_string(&key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
        let key = KeyPair::from_pem(&key_pem).with_context(|| format!("{} is not a PKCS#8 key", key_path.display()))?;
        let cert_der = pem_block(&cert_pem, "CERTIFICATE").with_context(|| format!("{}", cert_path.display()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| anyhow!("{} is not a certificate: {e}", cert_path.display()))?;
        ensure!(
            cert.public_key().raw == key.subject_public_key_info().as_slice(),
            "{} does not hold the key of {}",
            key_path.display(),
            cert_path.display()
        );
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).with_context(|| format!("{}", cert_path.display()))?;
        let ca = OperatorCa { records: CaFolder::new(dir, "operator CA"), cert_pem, issuer };
        ca.records.load()?;
        Ok(ca)
    }

    /// Returns the CA folder.
    pub fn dir(&self) -> &Path {
        self.records.dir()
    }

    /// Returns the CA certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Returns the current CRL (PEM).
    pub fn crl_pem(&self) -> anyhow::Result<String> {
        let path = self.dir().join(CRL_FILE);
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// Issues an operator certificate (ECDSA P-256, `clientAuth`) and a new TOTP secret. Committee roles (Clerk,
    /// Approver) need a municipality; the others must not have one. Register the result in the verifier's
    /// database with [`register`].
    pub fn issue(&self, name: &str, role: Role, municipality: Option<&str>) -> anyhow::Result<IssuedOperator> {
        let name = name.trim();
        check_text("name", name)?;
        let municipality = municipality.map(str::trim);
        match (role.is_committee(), municipality) {
            (true, None) => bail!("a {} is bound to one municipality: give its code", role_str(role)),
            (false, Some(m)) => bail!("a {} is not bound to a municipality (got {m:?})", role_str(role)),
            (_, Some(m)) => check_text("municipality", m)?,
            (false, None) => {}
        }
        let now = now_seconds();
        let not_after = now + TimeDelta::days(OPERATOR_CERT_DAYS);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the operator key")?;
        let serial = random_serial()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, DnValue::PrintableString("JP".try_into().context("country code")?));
        dn.push(DnType::OrganizationName, ORGANIZATION);
        dn.push(DnType::OrganizationalUnitName, role_str(role));
        if let Some(m) = municipality {
            dn.push(DnType::LocalityName, m);
        }
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.serial_number = Some(serial.clone());
        params.not_before = to_offset(now - TimeDelta::minutes(5))?;
        params.not_after = to_offset(not_after)?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).context("signing the operator certificate")?;
        let der = cert.der().to_vec();
        let fingerprint = fingerprint(&der);
        let serial = folder_ca::hex_without_leading_zeros(serial.as_ref());
        let operator = operator_from_cert(&der)?;

        let mut secret = vec![0u8; TOTP_SECRET_LEN];
        getrandom::fill(&mut secret).map_err(|e| anyhow!("no random numbers for the TOTP secret: {e}"))?;
        let totp = totp(secret, &operator)?;
        let otpauth_uri = totp.to_url().map_err(|e| anyhow!("making the otpauth URI: {e}"))?;
        let totp_secret_base32 = totp.secret().to_base32();

        let meta = OperatorMeta {
            fingerprint: fingerprint.clone(),
            name: operator.name.clone(),
            role,
            municipality: operator.municipality.clone(),
        };
        self.records.record_issued([Issued { serial: serial.clone(), meta, not_after }])?;
        Ok(IssuedOperator {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            totp_secret_base32,
            otpauth_uri,
            fingerprint,
            serial,
            operator,
        })
    }

    /// Revokes an operator certificate by serial (hex, any case, colons allowed) and rewrites [`CRL_FILE`].
    /// Returns the normalised serial. Mark it revoked in the database too, with [`super::auth::mark_revoked`].
    pub fn revoke(&self, serial: &str) -> anyhow::Result<String> {
        self.records.revoke(serial, |_| NoMeta {}, |state| self.publish_crl(state))
    }

    /// Issues a certificate for the operator listener (ECDSA P-256, `serverAuth` only) for host names and IP
    /// addresses; returns (certificate PEM, key PEM).
    pub fn server_cert(&self, hostnames: &[String]) -> anyhow::Result<(String, String)> {
        ensure!(!hostnames.is_empty(), "give at least one host name or IP address for the operator listener");
        let now = now_seconds();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the server key")?;
        let mut params = CertificateParams::new(hostnames.to_vec()).context("the host names")?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, ORGANIZATION);
        dn.push(DnType::CommonName, hostnames[0].as_str());
        params.distinguished_name = dn;
        params.serial_number = Some(random_serial()?);
        params.not_before = to_offset(now - TimeDelta::minutes(5))?;
        params.not_after = to_offset(now + TimeDelta::days(SERVER_CERT_DAYS))?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).context("signing the server certificate")?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Issues the listener's certificate with [`OperatorCa::server_cert`] and writes it to [`SERVER_CERT_FILE`]
    /// and [`SERVER_KEY_FILE`] in the CA folder (replacing earlier ones), where `verifier serve` finds them.
    pub fn write_server_cert(&self, hostnames: &[String]) -> anyhow::Result<()> {
        let (cert, key) = self.server_cert(hostnames)?;
        files::replace(&self.dir().join(SERVER_KEY_FILE), key.as_bytes(), files::Access::Owner)?;
        Ok(files::replace(&self.dir().join(SERVER_CERT_FILE), cert.as_bytes(), files::Access::Everyone)?)
    }

    fn publish_crl(&self, state: &mut State<OperatorMeta, NoMeta>) -> anyhow::Result<()> {
        let period = state.next_crl(CRL_VALIDITY)?;
        Ok(folder_ca::publish_crl(&self.dir().join(CRL_FILE), &self.issuer, &period, &state.revoked)?)
    }
}

fn check_text(what: &str, s: &str) -> anyhow::Result<()> {
    ensure!(!s.is_empty(), "the {what} is empty");
    ensure!(s.chars().count() <= 64, "the {what} is longer than 64 characters");
    ensure!(!s.chars().any(char::is_control), "the {what} contains control characters");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_with_the_subject_saying_who_and_revokes_into_the_crl() {
        let dir = tempfile::tempdir().unwrap();
        let ca = OperatorCa::init(dir.path()).unwrap();
        assert!(OperatorCa::init(dir.path()).is_err(), "refuses an existing CA");
        let issued = ca.issue("山田 花子", Role::Clerk, Some("13101")).unwrap();
        assert_eq!(issued.operator.name, "山田 花子");
        assert_eq!(issued.operator.role, Role::Clerk);
        assert_eq!(issued.operator.municipality.as_deref(), Some("13101"));
        assert!(issued.otpauth_uri.starts_with("otpauth://totp/"), "{}", issued.otpauth_uri);
        assert!(issued.otpauth_uri.contains(&issued.totp_secret_base32));
        assert!(ca.issue("x", Role::Clerk, None).is_err());
        assert!(ca.issue("x", Role::Admin, Some("13101")).is_err());
        assert!(ca.issue("", Role::Admin, None).is_err());

        let ca = OperatorCa::open(dir.path()).unwrap();
        let before = pem_block(&ca.crl_pem().unwrap(), "X509 CRL").unwrap();
        assert_eq!(ca.revoke(&issued.serial.to_uppercase()).unwrap(), issued.serial);
        let after = pem_block(&ca.crl_pem().unwrap(), "X509 CRL").unwrap();
        let (_, crl) = x509_parser::parse_x509_crl(&after).unwrap();
        let serials: Vec<String> = crl.iter_revoked_certificates().map(|r| hex::encode(r.raw_serial())).collect();
        assert_eq!(serials, vec![issued.serial.clone()]);
        assert_ne!(before, after);
        assert!(ca.revoke("abcdef").is_err(), "unknown serial");
    }
}
