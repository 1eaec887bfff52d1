//! Operators' credentials in the verifier (R-SEC-4): the roles as certificates write them, the `operators` table
//! keyed by certificate fingerprint, and the TOTP secrets (RFC 6238) checked once per code. The CA that issues the
//! certificates is [`super::ca`].

use std::fs;
use std::path::Path;

use anyhow::{Context, anyhow, bail, ensure};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use super::ca::{
    CA_CERT_FILE, CA_KEY_FILE, CRL_FILE, IssuedOperator, OPERATOR_CERT_DAYS, OperatorCa, SERVER_CERT_DAYS,
    SERVER_CERT_FILE, SERVER_KEY_FILE,
};
use crate::operators::{Operator, Role};
use crate::store::Db;
use crate::store::audit;

/// The issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "Overseas Internet Voting";

/// TOTP settings (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of clock skew either way.
const TOTP_DIGITS: u8 = 6;
const TOTP_STEP: u64 = 30;
const TOTP_SKEW: u16 = 1;
pub(super) const TOTP_SECRET_LEN: usize = 20;

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

pub(super) fn totp(secret: Vec<u8>, operator: &Operator) -> anyhow::Result<totp_rs::Totp> {
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
    let serial = folder_ca::normalize_serial(serial)?;
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

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

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
