//! The named person behind a command on the verifier host (R-SEC-4, issue 21): the same certificate, key and TOTP
//! as on the operator API, checked against the same `operators` table.
//!
//! `verifier login --totp CODE` (with `--operator-cert`/`--operator-key`, or `VERIFIER_OPERATOR_CERT`/`_KEY`)
//! checks that the key is the certificate's, that the certificate is registered and not revoked, and the TOTP code
//! (each code once, as on the API; [`MAX_TOTP_FAILURES`] wrong codes in [`TOTP_LOCK_MINUTES`] lock the
//! certificate). It then writes a session token beside the key (`KEY.host-session`, mode 0600) for
//! [`SESSION_HOURS`]; the database keeps only the token's SHA-256. Every state-changing command then reads the
//! certificate, the key and the token again ([`authenticate`]): a stolen token without the key, or the key without
//! a TOTP login, is refused.
//!
//! This module must never store a session token or TOTP code in the database or the audit log, and never accept
//! a certificate whose key the caller does not hold.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use rcgen::PublicKeyData;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::operators::api;
use crate::operators::auth::{self, TotpCheck};
use crate::operators::{Operator, Role};
use crate::store::Db;

/// How long a host session lasts after the TOTP code (absolute), as on the operator API.
pub const SESSION_HOURS: i64 = crate::operators::api::SESSION_HOURS;
/// Wrong TOTP codes allowed per certificate within [`TOTP_LOCK_MINUTES`], as on the operator API.
pub const MAX_TOTP_FAILURES: i64 = 5;
/// The window of [`MAX_TOTP_FAILURES`].
pub const TOTP_LOCK_MINUTES: i64 = crate::operators::api::TOTP_LOCK_MINUTES;

/// Where an operator's certificate and key are, for a command on the host.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The operator's certificate (PEM).
    pub cert: Option<PathBuf>,
    /// The operator's private key (PKCS#8 PEM).
    pub key: Option<PathBuf>,
}

impl Credentials {
    /// Where the session token is kept: beside the key.
    pub fn session_file(key: &Path) -> PathBuf {
        let mut p = key.as_os_str().to_owned();
        p.push(".host-session");
        PathBuf::from(p)
    }

    fn paths(&self) -> anyhow::Result<(&Path, &Path)> {
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Ok((c, k)),
            _ => bail!(
                "OPERATOR_REQUIRED: this command changes the election, so a named operator must run it. Give your \
                 operator certificate and key (--operator-cert and --operator-key, or VERIFIER_OPERATOR_CERT and \
                 VERIFIER_OPERATOR_KEY) and log in first with `verifier login --totp CODE`. Nothing was done."
            ),
        }
    }
}

/// Reads the certificate and key, checks that the key is the certificate's, and returns the registered,
/// unrevoked operator the certificate names.
fn holder(db: &Db, credentials: &Credentials) -> anyhow::Result<Operator> {
    let (cert_path, key_path) = credentials.paths()?;
    let cert_pem = std::fs::read_to_string(cert_path)
        .with_context(|| format!("OPERATOR_REQUIRED: cannot read the certificate {}", cert_path.display()))?;
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(key_path)
            .with_context(|| format!("OPERATOR_REQUIRED: cannot read the key {}", key_path.display()))?,
    );
    let der = auth::pem_block(&cert_pem, "CERTIFICATE")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| anyhow!("not a certificate: {e}"))?;
    let key =
        rcgen::KeyPair::from_pem(&key_pem).map_err(|e| anyhow!("{} is not a private key: {e}", key_path.display()))?;
    if key.der_bytes() != cert.public_key().subject_public_key.data.as_ref() {
        bail!(
            "OPERATOR_KEY_MISMATCH: the key {} is not the key of the certificate {}. Give your own certificate and \
             its key. Nothing was done.",
            key_path.display(),
            cert_path.display()
        );
    }
    let Some(record) = auth::lookup(db, &auth::fingerprint(&der))? else {
        return Err(refused(api::unknown_operator()));
    };
    if record.revoked {
        return Err(refused(api::operator_revoked()));
    }
    Ok(record.operator)
}

/// `verifier login`: checks the credentials and the TOTP code, and writes a session token beside the key.
/// Returns who logged in and until when.
pub fn login(
    db: &Db,
    credentials: &Credentials,
    code: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(Operator, DateTime<Utc>)> {
    let operator = holder(db, credentials)?;
    let since = (now - Duration::minutes(TOTP_LOCK_MINUTES)).to_rfc3339();
    let failures: i64 = db.with(|c| {
        c.query_row(
            "SELECT count(*) FROM host_totp_failures WHERE fingerprint = ?1 AND at > ?2",
            params![operator.fingerprint, since],
            |r| r.get(0),
        )
    })?;
    if failures >= MAX_TOTP_FAILURES {
        db.audit(
            now,
            &operator.actor(),
            "operator_refused",
            serde_json::json!({ "code": "TOTP_LOCKED", "on": "host" }),
        )?;
        return Err(refused(api::totp_locked()));
    }
    match auth::check_totp(db, &operator.fingerprint, code, now)? {
        TotpCheck::Accepted => {}
        wrong => {
            db.with(|c| {
                c.execute(
                    "INSERT INTO host_totp_failures (fingerprint, at) VALUES (?1, ?2)",
                    params![operator.fingerprint, now.to_rfc3339()],
                )
            })?;
            db.audit(now, &operator.actor(), "operator_totp_failed", serde_json::json!({ "on": "host" }))?;
            return Err(refused(api::totp_invalid(wrong == TotpCheck::Reused)));
        }
    }
    let mut token = [0u8; 32];
    getrandom::fill(&mut token).map_err(|e| anyhow!("no OS randomness for a session token: {e}"))?;
    let token = zeroize::Zeroizing::new(hex::encode(token));
    let expires_at = now + Duration::hours(SESSION_HOURS);
    let (_, key_path) = credentials.paths()?;
    files::replace(&Credentials::session_file(key_path), token.as_bytes(), files::Access::Owner)?;
    db.with(|c| {
        c.execute(
            "DELETE FROM host_sessions WHERE expires_at <= ?1 OR fingerprint = ?2",
            params![now.to_rfc3339(), operator.fingerprint],
        )?;
        c.execute("DELETE FROM host_totp_failures WHERE fingerprint = ?1", [&operator.fingerprint])?;
        c.execute(
            "INSERT INTO host_sessions (token_sha256, fingerprint, expires_at) VALUES (?1, ?2, ?3)",
            params![token_digest(&token), operator.fingerprint, expires_at.to_rfc3339()],
        )
    })?;
    db.audit(
        now,
        &operator.actor(),
        "operator_session_started",
        serde_json::json!({ "on": "host", "until": expires_at.to_rfc3339() }),
    )?;
    Ok((operator, expires_at))
}

/// Returns the operator running a host command: their certificate, their key and a live host session.
pub fn authenticate(db: &Db, credentials: &Credentials, now: DateTime<Utc>) -> anyhow::Result<Operator> {
    let operator = holder(db, credentials)?;
    let (_, key_path) = credentials.paths()?;
    let token = std::fs::read_to_string(Credentials::session_file(key_path)).unwrap_or_default();
    let expires: Option<String> = db.with(|c| {
        c.query_row(
            "SELECT expires_at FROM host_sessions WHERE token_sha256 = ?1 AND fingerprint = ?2",
            params![token_digest(token.trim()), operator.fingerprint],
            |r| r.get(0),
        )
        .optional()
    })?;
    let live = expires.and_then(|e| DateTime::parse_from_rfc3339(&e).ok()).is_some_and(|e| e.with_timezone(&Utc) > now);
    if !live {
        bail!(
            "TOTP_REQUIRED: log in first with the code from your authenticator app (`verifier login --totp CODE`); \
             host sessions last {SESSION_HOURS} hours. Nothing was done."
        );
    }
    Ok(operator)
}

/// As [`authenticate`], and refuses (audited) a role that may not run the command.
pub fn require(
    db: &Db,
    credentials: &Credentials,
    roles: &[Role],
    command: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Operator> {
    let operator = authenticate(db, credentials, now)?;
    if !roles.contains(&operator.role) {
        let detail = serde_json::json!({ "code": "FORBIDDEN_ROLE", "command": command, "on": "host" });
        db.audit(now, &operator.actor(), "operator_forbidden", detail)?;
        return Err(refused(api::forbidden_role(operator.role, roles)));
    }
    Ok(operator)
}

/// `verifier logout`: ends the host session of these credentials.
pub fn logout(db: &Db, credentials: &Credentials, now: DateTime<Utc>) -> anyhow::Result<Operator> {
    let operator = holder(db, credentials)?;
    let (_, key_path) = credentials.paths()?;
    db.with(|c| c.execute("DELETE FROM host_sessions WHERE fingerprint = ?1", [&operator.fingerprint]))?;
    let _ = std::fs::remove_file(Credentials::session_file(key_path));
    db.audit(now, &operator.actor(), "operator_session_ended", serde_json::json!({ "on": "host" }))?;
    Ok(operator)
}

/// The operator API's refusal as a host command's error: the same code and sentence.
fn refused(r: crate::errors::Refusal) -> anyhow::Error {
    anyhow!("{}: {} Nothing was done.", r.code, r.message)
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
