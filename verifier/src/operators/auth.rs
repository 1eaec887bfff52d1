//! Operators' credentials (R-SEC-4): the operator CA, its CRL, the verifier's table of operators and their TOTP
//! secrets (RFC 6238).
//!
//! One CA (ECDSA P-256) signs both the operators' client certificates (extended key usage `clientAuth`) and the
//! operator listener's server certificate (`serverAuth` only). Operators therefore trust one file, and neither
//! kind of certificate can stand in for the other: rustls checks the extended key usage on both sides.
//!
//! An operator certificate's subject says who and what: `CN` = the person's name, `OU` = the role
//! (`clerk`, `approver`, `admin`, `auditor`, `counting_officer`), `L` = the municipality code for committee roles.
//! The verifier trusts these fields because only its own CA signs them; the `operators` table, keyed by the
//! certificate's SHA-256 fingerprint, holds the same facts plus the TOTP secret and the revoked flag.
//!
//! Layout of the CA folder:
//! - [`CA_CERT_FILE`]: the CA certificate (give it to operators and to the operator listener);
//! - [`CA_KEY_FILE`]: the CA key (PKCS#8, mode 0600; keep the folder on the administration host);
//! - [`CRL_FILE`]: the current CRL, rewritten at every revocation (the listener reloads it per connection);
//! - [`SERVER_CERT_FILE`], [`SERVER_KEY_FILE`]: the listener's certificate and key, written by
//!   [`OperatorCa::write_server_cert`];
//! - `state.json`: issued and revoked serials and the next CRL number.
//!
//! The listener needs only the CA certificate, the CRL and its own certificate and key, never the CA key.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, anyhow, bail, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PublicKeyData, RevokedCertParams, SerialNumber,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::operators::{Operator, Role};
use crate::store::Db;
use crate::store::audit;

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
const STATE_FILE: &str = "state.json";

/// How long an operator certificate is valid.
pub const OPERATOR_CERT_DAYS: i64 = 365;
/// How long the listener's certificate is valid.
pub const SERVER_CERT_DAYS: i64 = 365;
const CA_DAYS: i64 = 3650;
const CRL_DAYS: i64 = 30;
const SERIAL_LEN: usize = 16;
const ORGANIZATION: &str = "Overseas Internet Voting";
const CA_NAME: &str = "Overseas Internet Voting Operator CA";
/// The issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "Overseas Internet Voting";

/// TOTP settings (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of clock skew either way.
const TOTP_DIGITS: u8 = 6;
const TOTP_STEP: u64 = 30;
const TOTP_SKEW: u16 = 1;
const TOTP_SECRET_LEN: usize = 20;

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

/// The issued and revoked serials and the next CRL number.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    next_crl_number: u64,
    issued: Vec<IssuedRecord>,
    revoked: Vec<RevokedRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IssuedRecord {
    serial: String,
    fingerprint: String,
    name: String,
    role: Role,
    municipality: Option<String>,
    not_after: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RevokedRecord {
    serial: String,
    revoked_at: DateTime<Utc>,
}

/// The operator CA in its folder.
pub struct OperatorCa {
    dir: PathBuf,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    /// Serialises read-modify-write of the state file within this process.
    lock: Mutex<()>,
}

impl std::fmt::Debug for OperatorCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorCa").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl OperatorCa {
    /// Creates the CA in `dir` (created if missing) with an empty CRL; refuses a folder that already holds one.
    pub fn init(dir: &Path) -> anyhow::Result<OperatorCa> {
        for name in [CA_CERT_FILE, CA_KEY_FILE, STATE_FILE] {
            ensure!(
                !dir.join(name).exists(),
                "{} already holds an operator CA ({name} exists): use it, or choose an empty folder",
                dir.display()
            );
        }
        fs::create_dir_all(dir).with_context(|| format!("cannot create the CA folder {}", dir.display()))?;
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
        let ca =
            OperatorCa { dir: dir.to_path_buf(), cert_pem, issuer: Issuer::new(params, key), lock: Mutex::new(()) };
        let mut state = State { next_crl_number: 1, ..State::default() };
        ca.publish_crl(&mut state)?;
        files::create_new(&dir.join(STATE_FILE), &serde_json::to_vec_pretty(&state)?, files::Access::Everyone)?;
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
        let ca = OperatorCa { dir: dir.to_path_buf(), cert_pem, issuer, lock: Mutex::new(()) };
        ca.load_state()?;
        Ok(ca)
    }

    /// Returns the CA folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the CA certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Returns the current CRL (PEM).
    pub fn crl_pem(&self) -> anyhow::Result<String> {
        let path = self.dir.join(CRL_FILE);
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
        let serial = hex_without_leading_zeros(serial.as_ref());
        let operator = operator_from_cert(&der)?;

        let mut secret = vec![0u8; TOTP_SECRET_LEN];
        getrandom::fill(&mut secret).map_err(|e| anyhow!("no random numbers for the TOTP secret: {e}"))?;
        let totp = totp(secret, &operator)?;
        let otpauth_uri = totp.to_url().map_err(|e| anyhow!("making the otpauth URI: {e}"))?;
        let totp_secret_base32 = totp.secret().to_base32();

        self.update_state(|state| {
            state.issued.push(IssuedRecord {
                serial: serial.clone(),
                fingerprint: fingerprint.clone(),
                name: operator.name.clone(),
                role,
                municipality: operator.municipality.clone(),
                not_after,
            });
            Ok(false)
        })?;
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
    /// Returns the normalised serial. Mark it revoked in the database too, with [`mark_revoked`].
    pub fn revoke(&self, serial: &str) -> anyhow::Result<String> {
        let serial = normalize_serial(serial)?;
        self.update_state(|state| {
            ensure!(
                state.issued.iter().any(|r| r.serial == serial),
                "serial {serial} was not issued by this operator CA"
            );
            if !state.revoked.iter().any(|r| r.serial == serial) {
                state.revoked.push(RevokedRecord { serial: serial.clone(), revoked_at: now_seconds() });
            }
            Ok(true)
        })?;
        Ok(serial)
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
        files::replace(&self.dir.join(SERVER_KEY_FILE), key.as_bytes(), files::Access::Owner)?;
        Ok(files::replace(&self.dir.join(SERVER_CERT_FILE), cert.as_bytes(), files::Access::Everyone)?)
    }

    fn load_state(&self) -> anyhow::Result<State> {
        let path = self.dir.join(STATE_FILE);
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not the CA's state file", path.display()))
    }

    fn update_state(&self, change: impl FnOnce(&mut State) -> anyhow::Result<bool>) -> anyhow::Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = self.load_state()?;
        if change(&mut state)? {
            self.publish_crl(&mut state)?;
        }
        Ok(files::replace(&self.dir.join(STATE_FILE), &serde_json::to_vec_pretty(&state)?, files::Access::Everyone)?)
    }

    fn publish_crl(&self, state: &mut State) -> anyhow::Result<()> {
        let now = now_seconds();
        let mut revoked_certs = Vec::new();
        for r in &state.revoked {
            let bytes = hex::decode(&r.serial).with_context(|| format!("revoked serial {:?} is not hex", r.serial))?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: to_offset(r.revoked_at)?,
                reason_code: None,
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: to_offset(now)?,
            next_update: to_offset(now + TimeDelta::days(CRL_DAYS))?,
            crl_number: SerialNumber::from(state.next_crl_number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).context("signing the operator CRL")?;
        let pem = crl.pem().context("encoding the CRL")?;
        files::replace(&self.dir.join(CRL_FILE), pem.as_bytes(), files::Access::Everyone)?;
        state.next_crl_number = state.next_crl_number.checked_add(1).ok_or_else(|| anyhow!("CRL number overflow"))?;
        Ok(())
    }
}

/// Returns the role as written in certificates and accepted on the command line.
pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::Clerk => "clerk",
        Role::Approver => "approver",
        Role::Admin => "admin",
        Role::Auditor => "auditor",
        Role::CountingOfficer => "counting_officer",
    }
}

/// Reads a role as [`role_str`] writes it (also accepts `-` for `_` and any case).
pub fn parse_role(s: &str) -> anyhow::Result<Role> {
    match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
        "clerk" => Ok(Role::Clerk),
        "approver" => Ok(Role::Approver),
        "admin" => Ok(Role::Admin),
        "auditor" => Ok(Role::Auditor),
        "counting_officer" => Ok(Role::CountingOfficer),
        _ => bail!("unknown role {s:?}: expected clerk, approver, admin, auditor or counting_officer"),
    }
}

/// Returns the hex SHA-256 of a certificate (DER): the operator's identity in the database and in sessions.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Reads who an operator certificate names: `CN` name, `OU` role, `L` municipality (committee roles only).
/// Only call this on certificates the operator CA signed.
pub fn operator_from_cert(der: &[u8]) -> anyhow::Result<Operator> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| anyhow!("not a certificate: {e}"))?;
    let subject = cert.subject();
    let name = single("CN", subject.iter_common_name())?.context("the certificate subject has no CN (name)")?;
    let role = single("OU", subject.iter_organizational_unit())?.context("the certificate subject has no OU (role)")?;
    let role = parse_role(&role)?;
    let municipality = single("L", subject.iter_locality())?;
    ensure!(
        role.is_committee() == municipality.is_some(),
        "the certificate's role {} and municipality {municipality:?} do not fit together",
        role_str(role)
    );
    Ok(Operator { fingerprint: fingerprint(der), name, role, municipality })
}

/// Reads a subject attribute that may appear at most once.
fn single<'a>(
    what: &str,
    mut values: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> anyhow::Result<Option<String>> {
    let Some(first) = values.next() else { return Ok(None) };
    ensure!(values.next().is_none(), "the certificate subject has more than one {what}");
    Ok(Some(first.as_str().map_err(|e| anyhow!("the subject's {what} is not text: {e}"))?.to_owned()))
}

fn totp(secret: Vec<u8>, operator: &Operator) -> anyhow::Result<totp_rs::Totp> {
    let account = match &operator.municipality {
        Some(m) => format!("{} ({} {m})", operator.name, role_str(operator.role)),
        None => format!("{} ({})", operator.name, role_str(operator.role)),
    };
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_step_duration(TOTP_STEP)
        .with_skew(TOTP_SKEW)
        .with_secret(secret)
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some(TOTP_ISSUER))
        .build()
        .map_err(|e| anyhow!("making the TOTP: {e}"))
}

fn totp_from_base32(secret_base32: &str) -> anyhow::Result<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).map_err(|e| anyhow!("bad TOTP secret: {e}"))?;
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_step_duration(TOTP_STEP)
        .with_skew(TOTP_SKEW)
        .with_secret(secret)
        .build()
        .map_err(|e| anyhow!("bad TOTP secret: {e}"))
}

/// Returns the TOTP code of a secret (base32) at a time: what the operator's authenticator app shows (tests, demos).
pub fn totp_code(secret_base32: &str, at: DateTime<Utc>) -> anyhow::Result<String> {
    let t = u64::try_from(at.timestamp()).map_err(|_| anyhow!("time before 1970"))?;
    Ok(totp_from_base32(secret_base32)?.generate(t).to_string())
}

/// An operator as the verifier's database knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OperatorRecord {
    /// Who.
    pub operator: Operator,
    /// The certificate serial (hex).
    pub serial: String,
    /// Whether the certificate is revoked.
    pub revoked: bool,
    /// When registered (RFC 3339).
    pub created_at: String,
}

/// Registers an issued operator (from their certificate's subject) with their TOTP secret; an audit entry.
pub fn register(db: &Db, issued: &IssuedOperator, actor: &str, now: DateTime<Utc>) -> anyhow::Result<Operator> {
    let der = pem_block(&issued.cert_pem, "CERTIFICATE")?;
    let operator = operator_from_cert(&der)?;
    ensure!(operator.fingerprint == issued.fingerprint, "the issued fingerprint does not match the certificate");
    totp_from_base32(&issued.totp_secret_base32)?;
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO operators (fingerprint, name, role, municipality, totp_secret, serial, revoked, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
            params![
                operator.fingerprint,
                operator.name,
                role_str(operator.role),
                operator.municipality,
                issued.totp_secret_base32,
                issued.serial,
                now.to_rfc3339()
            ],
        )?;
        let detail = serde_json::json!({
            "name": operator.name, "role": role_str(operator.role), "municipality": operator.municipality,
            "serial": issued.serial, "fingerprint": operator.fingerprint,
        });
        audit::append(&tx, now, actor, "operator_registered", &detail)?;
        tx.commit()
    })
    .with_context(|| format!("registering operator {} (serial {})", operator.name, issued.serial))?;
    Ok(operator)
}

/// Marks an operator's certificate revoked in the database (by serial); an audit entry. Their sessions stop
/// working at their next request.
pub fn mark_revoked(db: &Db, serial: &str, actor: &str, now: DateTime<Utc>) -> anyhow::Result<Operator> {
    let serial = normalize_serial(serial)?;
    let found = db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fp: Option<String> =
            tx.query_row("SELECT fingerprint FROM operators WHERE serial = ?1", [&serial], |r| r.get(0)).optional()?;
        let Some(fp) = fp else { return Ok(None) };
        tx.execute("UPDATE operators SET revoked = 1 WHERE fingerprint = ?1", [&fp])?;
        let record = lookup_in(&tx, &fp)?;
        if let Some(r) = &record {
            let detail = serde_json::json!({ "name": r.operator.name, "serial": serial, "fingerprint": fp });
            audit::append(&tx, now, actor, "operator_revoked", &detail)?;
        }
        tx.commit()?;
        Ok(record)
    })?;
    found.map(|r| r.operator).ok_or_else(|| anyhow!("no operator with serial {serial} is registered in this database"))
}

/// Finds an operator by certificate fingerprint.
pub fn lookup(db: &Db, fingerprint: &str) -> rusqlite::Result<Option<OperatorRecord>> {
    db.with(|c| lookup_in(c, fingerprint))
}

fn lookup_in(c: &Connection, fingerprint: &str) -> rusqlite::Result<Option<OperatorRecord>> {
    c.query_row(
        "SELECT fingerprint, name, role, municipality, serial, revoked, created_at FROM operators
         WHERE fingerprint = ?1",
        [fingerprint],
        record_from_row,
    )
    .optional()
}

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OperatorRecord> {
    let role: String = r.get(2)?;
    let role = parse_role(&role)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::from(e)))?;
    Ok(OperatorRecord {
        operator: Operator { fingerprint: r.get(0)?, name: r.get(1)?, role, municipality: r.get(3)? },
        serial: r.get(4)?,
        revoked: r.get::<_, i64>(5)? != 0,
        created_at: r.get(6)?,
    })
}

/// Lists every registered operator, by name.
pub fn list(db: &Db) -> rusqlite::Result<Vec<OperatorRecord>> {
    db.with(|c| {
        let mut stmt = c.prepare(
            "SELECT fingerprint, name, role, municipality, serial, revoked, created_at FROM operators
             ORDER BY name, created_at",
        )?;
        let rows = stmt.query_map([], record_from_row)?;
        rows.collect()
    })
}

/// `verifier operators issue`: issues a certificate and TOTP secret, registers the operator in `db`, and writes
/// `<out_dir>/operator-<serial>.pem` and `operator-<serial>.key` (mode 0600; never overwritten). Returns the text
/// to print, which includes the TOTP secret: it is shown this once.
pub fn issue_to_files(
    ca: &OperatorCa,
    db: &Db,
    name: &str,
    role: Role,
    municipality: Option<&str>,
    out_dir: &Path,
    actor: &str,
) -> anyhow::Result<String> {
    let now = crate::clock::Clock::SYSTEM.now();
    let issued = ca.issue(name, role, municipality)?;
    fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let cert_path = out_dir.join(format!("operator-{}.pem", issued.serial));
    let key_path = out_dir.join(format!("operator-{}.key", issued.serial));
    files::create_new(&key_path, issued.key_pem.as_bytes(), files::Access::Owner)?;
    files::create_new(&cert_path, issued.cert_pem.as_bytes(), files::Access::Everyone)?;
    let operator = register(db, &issued, actor, now)?;
    Ok(format!(
        "operator issued and registered: {name} ({role}{municipality})\n\
         serial:      {serial}\n\
         fingerprint: {fingerprint}\n\
         certificate: {cert}\n\
         key:         {key} (give it to the person only; mode 0600)\n\
         CA (trust):  {ca}\n\
         TOTP secret: {secret} (SHA-1, 6 digits, 30 s; shown only now)\n\
         TOTP URI:    {uri}",
        name = operator.name,
        role = role_str(operator.role),
        municipality = operator.municipality.as_deref().map(|m| format!(" of {m}")).unwrap_or_default(),
        serial = issued.serial,
        fingerprint = issued.fingerprint,
        cert = cert_path.display(),
        key = key_path.display(),
        ca = ca.dir().join(CA_CERT_FILE).display(),
        secret = issued.totp_secret_base32,
        uri = issued.otpauth_uri,
    ))
}

/// `verifier operators bootstrap`: the first administrators (at least two people), issued and registered together
/// into a database that has no operator yet; from then on, operators are issued and revoked under four eyes.
/// Returns the text to print for each.
pub fn bootstrap(
    ca: &OperatorCa,
    db: &Db,
    names: &[String],
    out_dir: &Path,
    actor: &str,
) -> anyhow::Result<Vec<String>> {
    let distinct: std::collections::BTreeSet<&str> = names.iter().map(|n| n.trim()).collect();
    ensure!(
        names.len() >= 2 && distinct.len() == names.len(),
        "BOOTSTRAP_NEEDS_TWO: name at least two different administrators (--admin NAME, repeated): four eyes needs \
         two people from the start. Nothing was done."
    );
    ensure!(
        list(db)?.is_empty(),
        "ALREADY_BOOTSTRAPPED: this database already has operators. New ones are issued with `verifier operators \
         issue`, requested by one admin and approved by another. Nothing was done."
    );
    names.iter().map(|n| issue_to_files(ca, db, n, Role::Admin, None, out_dir, actor)).collect()
}

/// `verifier operators revoke`: puts the serial on the CRL (a running listener refuses it from its next
/// connection) and marks the operator revoked in `db` (their live sessions stop at once). Returns the text to print.
pub fn revoke_everywhere(
    ca: &OperatorCa,
    db: &Db,
    serial: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let serial = ca.revoke(serial)?;
    let operator = mark_revoked(db, &serial, actor, now)?;
    Ok(format!("revoked {serial} ({}); {} rewritten", operator.actor(), ca.dir().join(CRL_FILE).display()))
}

/// `verifier operators list`: one line per operator.
pub fn list_text(db: &Db) -> anyhow::Result<String> {
    let mut out = String::new();
    for r in list(db)? {
        let state = if r.revoked { "REVOKED" } else { "active" };
        out.push_str(&format!("{state:7} {} serial {} since {}\n", r.operator.actor(), r.serial, r.created_at));
    }
    Ok(out)
}

/// What a TOTP check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotpCheck {
    /// The code is right and was not used before; it cannot be used again.
    Accepted,
    /// The code is wrong (or not within one step of now).
    Wrong,
    /// The code is right but was already used (RFC 6238 §5.2: accept each code once).
    Reused,
}

/// Checks an operator's TOTP code at `now` (±1 step) and, if accepted, records its step so that it (and any
/// earlier code) is refused from then on. Unknown operators get [`TotpCheck::Wrong`].
pub fn check_totp(db: &Db, fingerprint: &str, code: &str, now: DateTime<Utc>) -> anyhow::Result<TotpCheck> {
    let t = u64::try_from(now.timestamp()).map_err(|_| anyhow!("time before 1970"))?;
    let code = code.trim();
    if code.len() != usize::from(TOTP_DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(TotpCheck::Wrong);
    }
    let row: Option<String> = db.with(|c| {
        c.query_row("SELECT totp_secret FROM operators WHERE fingerprint = ?1", [fingerprint], |r| r.get(0)).optional()
    })?;
    let Some(secret) = row else { return Ok(TotpCheck::Wrong) };
    let Some(step) = totp_from_base32(&secret)?.check(code, t) else { return Ok(TotpCheck::Wrong) };
    let step = i64::try_from(step).map_err(|_| anyhow!("TOTP step out of range"))?;
    // Compare-and-set: of two requests with the same code, only one moves the step forward.
    let moved = db.with(|c| {
        c.execute(
            "UPDATE operators SET totp_last_step = ?1 WHERE fingerprint = ?2 AND totp_last_step < ?1",
            params![step, fingerprint],
        )
    })?;
    Ok(if moved == 1 { TotpCheck::Accepted } else { TotpCheck::Reused })
}

/// Reads the first PEM block with a label, as DER.
pub fn pem_block(pem: &str, label: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or_else(|| anyhow!("no {label} PEM block"))? + begin.len();
    let stop = pem[start..].find(&end).ok_or_else(|| anyhow!("unterminated {label} PEM block"))? + start;
    let b64: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| anyhow!("bad {label} PEM block: {e}"))
}

fn check_text(what: &str, s: &str) -> anyhow::Result<()> {
    ensure!(!s.is_empty(), "the {what} is empty");
    ensure!(s.chars().count() <= 64, "the {what} is longer than 64 characters");
    ensure!(!s.chars().any(char::is_control), "the {what} contains control characters");
    Ok(())
}

fn now_seconds() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

fn to_offset(t: DateTime<Utc>) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| anyhow!("time out of range: {e}"))
}

fn random_serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = [0u8; SERIAL_LEN];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no random numbers for a serial: {e}"))?;
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte, so the hex form is stable
    Ok(SerialNumber::from_slice(&bytes))
}

fn hex_without_leading_zeros(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    if start == bytes.len() { "00".to_owned() } else { hex::encode(&bytes[start..]) }
}

/// Accepts hex in either case, with or without colons and leading zero bytes.
fn normalize_serial(serial: &str) -> anyhow::Result<String> {
    let mut digits: String = serial.trim().chars().filter(|&c| c != ':').collect();
    if digits.len() % 2 == 1 {
        digits.insert(0, '0');
    }
    let bytes = hex::decode(&digits).map_err(|_| anyhow!("expected a certificate serial in hex, got {serial:?}"))?;
    ensure!(!bytes.is_empty(), "expected a certificate serial in hex, got an empty string");
    Ok(hex_without_leading_zeros(&bytes))
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

    #[test]
    fn register_lookup_totp_once_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let ca = OperatorCa::init(dir.path()).unwrap();
        let db = Db::open_in_memory().unwrap();
        let issued = ca.issue("Aiko Auditor", Role::Auditor, None).unwrap();
        let now = Utc::now();
        let op = register(&db, &issued, "operator:cli", now).unwrap();
        assert_eq!(op.role, Role::Auditor);
        assert!(register(&db, &issued, "operator:cli", now).is_err(), "registered once");

        let code = totp_code(&issued.totp_secret_base32, now).unwrap();
        assert_eq!(check_totp(&db, &op.fingerprint, "000000x", now).unwrap(), TotpCheck::Wrong);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert_eq!(check_totp(&db, &op.fingerprint, wrong, now).unwrap(), TotpCheck::Wrong);
        assert_eq!(check_totp(&db, &op.fingerprint, &code, now).unwrap(), TotpCheck::Accepted);
        assert_eq!(check_totp(&db, &op.fingerprint, &code, now).unwrap(), TotpCheck::Reused);
        let next = totp_code(&issued.totp_secret_base32, now + TimeDelta::seconds(30)).unwrap();
        assert_eq!(check_totp(&db, &op.fingerprint, &next, now).unwrap(), TotpCheck::Accepted);
        let far = totp_code(&issued.totp_secret_base32, now + TimeDelta::seconds(120)).unwrap();
        if far != next {
            assert_eq!(check_totp(&db, &op.fingerprint, &far, now).unwrap(), TotpCheck::Wrong);
        }

        assert!(!lookup(&db, &op.fingerprint).unwrap().unwrap().revoked);
        mark_revoked(&db, &issued.serial, "operator:cli", now).unwrap();
        assert!(lookup(&db, &op.fingerprint).unwrap().unwrap().revoked);
        assert_eq!(list(&db).unwrap().len(), 1);
        let actions: Vec<String> = db.with(|c| audit::entries(c)).unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(actions, vec!["operator_registered", "operator_revoked"]);
    }

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 Appendix B: secret "12345678901234567890", T = 59 s, 8 digits 94287082; 6 digits: 287082.
        let secret = totp_rs::Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let at = DateTime::from_timestamp(59, 0).unwrap();
        assert_eq!(totp_code(&secret, at).unwrap(), "287082");
    }
}
