//! `folder-ca`: the bookkeeping of a certificate authority kept in a folder (issue 23 part 3: one copy instead of
//! the test authority's and the operator CA's two). Such a CA is a folder with its certificate and key (the
//! caller writes and loads those), its CRLs, and [`STATE_FILE`]: every serial it issued, every serial it revoked,
//! and the number of its next CRL. This crate keeps that state file (read whole, changed under one lock per
//! process, written whole or not at all through the `files` crate), makes random serials and reads serials typed
//! by people, revokes, signs and writes CRLs with the issuer the caller loaded, and turns the clock into what
//! rcgen takes.
//!
//! - [`CaFolder`]: the folder's state file: [`CaFolder::create`] (refuses a folder that holds a CA),
//!   [`CaFolder::init_state`], [`CaFolder::load`], [`CaFolder::update`], [`CaFolder::record_issued`],
//!   [`CaFolder::revoke`].
//! - [`State`], [`Issued`], [`Revoked`]: the records, each with the caller's own fields (`meta`, flattened into
//!   the record's JSON, [`NoMeta`] for none), so that each CA keeps the file format it always had.
//! - [`State::next_crl`] and [`publish_crl`]: a CRL's number and dates, then one signed CRL per issuing key.
//! - [`random_serial`], [`normalize_serial`], [`hex_without_leading_zeros`]; [`now_seconds`], [`to_offset`].
//!
//! Who uses it, and how:
//! - `test-pki`'s `TestAuthority` (the JPKI-like test authority): two CAs share one state file, each record
//!   says which CA (`{"ca": "auth" | "sign"}` as `meta` of both kinds), and every revocation republishes both
//!   CRLs under one CRL number.
//! - The verifier's `OperatorCa` (the operators' client certificates): one CA, issued records with the
//!   operator's fingerprint, name, role and municipality as `meta`, revocations with [`NoMeta`], one CRL. It keeps
//!   a `CaFolder<OperatorRecord, NoMeta>` in place of its `dir` and `lock` fields; [`CaFolder::create`],
//!   [`CaFolder::init_state`], [`CaFolder::load`], [`CaFolder::record_issued`] and [`CaFolder::revoke`] replace
//!   its `init` checks, `load_state`, `update_state`, the body of `revoke` and the state half of `init`; its
//!   `publish_crl` becomes `state.next_crl(CRL_DAYS)` and one [`publish_crl`]; and this crate's serial and time
//!   helpers replace its own.
//!
//! What it must never do: hold or write a CA key (the caller signs through its own rcgen `Issuer`), serve a CA
//! other than the test authority and the operator CA (a real election's keys live in an HSM and the real cards'
//! CAs are J-LIS's), or leave a half-written state file or CRL under its name.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use rcgen::{CertificateRevocationListParams, Issuer, KeyIdMethod, RevokedCertParams, SerialNumber, SigningKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The state file's name in the CA's folder.
pub const STATE_FILE: &str = "state.json";
/// The length of a serial made by [`random_serial`], in bytes.
pub const SERIAL_LEN: usize = 16;

/// What went wrong with a CA's folder, its state file, a serial or a CRL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// [`CaFolder::create`] found a CA's file in the folder.
    #[error(
        "{} already holds {} {what} ({name} exists): open it instead, or choose an empty folder",
        dir.display(),
        article(what)
    )]
    Taken {
        /// The folder.
        dir: PathBuf,
        /// What kind of CA, e.g. "test authority".
        what: &'static str,
        /// The file found.
        name: String,
    },
    /// The folder could not be made.
    #[error("cannot create the folder {}", .0.display())]
    CreateDir(PathBuf, #[source] std::io::Error),
    /// The state file could not be read.
    #[error("cannot read the state file {}", .0.display())]
    ReadState(PathBuf, #[source] std::io::Error),
    /// The state file is not what [`CaFolder::init_state`] wrote.
    #[error("reading {}: expected the JSON state file of {} {what}", path.display(), article(what))]
    BadState {
        /// The state file.
        path: PathBuf,
        /// What kind of CA.
        what: &'static str,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
    /// The state could not be turned into JSON.
    #[error("serialising the state of a CA folder")]
    SerializeState(#[source] serde_json::Error),
    /// A file was not written (and nothing was left under its name).
    #[error(transparent)]
    Write(#[from] files::WriteError),
    /// A serial to revoke that this CA never issued.
    #[error("serial {serial} was not issued by this {what}")]
    NotIssued {
        /// The serial, normalised.
        serial: String,
        /// What kind of CA.
        what: &'static str,
    },
    /// Text that is not a serial in hex.
    #[error("expected a certificate serial in hex, got {0:?}")]
    NotASerial(String),
    /// An empty serial.
    #[error("expected a certificate serial in hex, got an empty string")]
    EmptySerial,
    /// A revoked serial in the state file that is not hex (a hand-edited file).
    #[error("revoked serial {0:?} in the state file is not hex")]
    BadRevokedSerial(String),
    /// The CRL number would not fit in 64 bits.
    #[error("CRL number overflow")]
    CrlNumberOverflow,
    /// A time rcgen cannot encode, or a date past the calendar's end.
    #[error("time {0} is out of range")]
    TimeOutOfRange(String),
    /// rcgen refused to sign or encode a CRL.
    #[error("signing the CRL {}", path.display())]
    SignCrl {
        /// Where it was to be written.
        path: PathBuf,
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },
    /// The system's random generator failed.
    #[error("reading the system random generator: {0}")]
    Random(getrandom::Error),
}

/// "a" or "an" before a kind of CA, for the messages above.
fn article(what: &str) -> &'static str {
    if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// No fields of the caller's own in a record (JSON: nothing added).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoMeta {}

/// A certificate the CA issued: its serial (as [`hex_without_leading_zeros`] writes it), the caller's fields and
/// its expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued<I> {
    /// The serial, lower-case hex without leading zero bytes.
    pub serial: String,
    /// The caller's fields, flattened into the record.
    #[serde(flatten)]
    pub meta: I,
    /// The end of its validity.
    pub not_after: DateTime<Utc>,
}

/// A revoked certificate: its serial, the caller's fields and when it was revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked<R> {
    /// The serial, lower-case hex without leading zero bytes.
    pub serial: String,
    /// The caller's fields, flattened into the record.
    #[serde(flatten)]
    pub meta: R,
    /// When it was revoked (whole seconds).
    pub revoked_at: DateTime<Utc>,
}

/// The state file: the number of the next CRL, what was issued and what is revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State<I, R = NoMeta> {
    /// The number the next CRL gets (RFC 5280's cRLNumber, increasing).
    pub next_crl_number: u64,
    /// Every certificate issued, in order.
    pub issued: Vec<Issued<I>>,
    /// Every certificate revoked, once each, in order.
    pub revoked: Vec<Revoked<R>>,
}

impl<I, R> Default for State<I, R> {
    fn default() -> Self {
        State::new()
    }
}

impl<I, R> State<I, R> {
    /// Returns the state of a new CA: nothing issued or revoked, the first CRL numbered 1.
    pub fn new() -> Self {
        State { next_crl_number: 1, issued: Vec::new(), revoked: Vec::new() }
    }

    /// Returns the record of an issued serial (normalised), if this CA issued it.
    pub fn issued(&self, serial: &str) -> Option<&Issued<I>> {
        self.issued.iter().find(|r| r.serial == serial)
    }

    /// Tells whether a serial (normalised) is revoked.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.revoked.iter().any(|r| r.serial == serial)
    }

    /// Takes the next CRL number and dates the CRL now, valid for `valid_for`; every CRL published from one state
    /// change shares them.
    pub fn next_crl(&mut self, valid_for: TimeDelta) -> Result<CrlPeriod, Error> {
        let number = self.next_crl_number;
        self.next_crl_number = number.checked_add(1).ok_or(Error::CrlNumberOverflow)?;
        let this_update = now_seconds();
        let next_update = this_update
            .checked_add_signed(valid_for)
            .ok_or_else(|| Error::TimeOutOfRange(format!("{this_update} + {valid_for}")))?;
        Ok(CrlPeriod { number, this_update, next_update })
    }
}

/// A CRL's number and dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlPeriod {
    /// Its cRLNumber.
    pub number: u64,
    /// When it was made (thisUpdate).
    pub this_update: DateTime<Utc>,
    /// When the next one is due (nextUpdate).
    pub next_update: DateTime<Utc>,
}

/// The state file of a CA in its folder, with the records `I` (issued) and `R` (revoked) of the caller's kind.
/// Within a process, changes go one at a time; one process at a time may change a folder.
pub struct CaFolder<I, R = NoMeta> {
    dir: PathBuf,
    what: &'static str,
    /// Serialises read-modify-write of the state file within this process.
    lock: Mutex<()>,
    records: PhantomData<fn() -> (I, R)>,
}

impl<I, R> std::fmt::Debug for CaFolder<I, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaFolder").field("dir", &self.dir).field("what", &self.what).finish_non_exhaustive()
    }
}

impl<I: Serialize + DeserializeOwned, R: Serialize + DeserializeOwned> CaFolder<I, R> {
    /// Names the state of the CA in `dir` (reading nothing yet); `what` names the kind of CA in messages, e.g.
    /// "test authority".
    pub fn new(dir: &Path, what: &'static str) -> Self {
        CaFolder { dir: dir.to_path_buf(), what, lock: Mutex::new(()), records: PhantomData }
    }

    /// Makes `dir` (if missing) for a new CA, refusing a folder where any of `ca_files` or [`STATE_FILE`] exists.
    pub fn create(dir: &Path, what: &'static str, ca_files: &[&str]) -> Result<Self, Error> {
        for name in ca_files.iter().copied().chain([STATE_FILE]) {
            if dir.join(name).exists() {
                return Err(Error::Taken { dir: dir.to_path_buf(), what, name: name.to_string() });
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::CreateDir(dir.to_path_buf(), e))?;
        Ok(CaFolder::new(dir, what))
    }

    /// Returns the folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a new CA's state, after `publish` has written its first CRLs; refuses if the state file exists.
    pub fn init_state<E: From<Error>>(&self, publish: impl FnOnce(&mut State<I, R>) -> Result<(), E>) -> Result<(), E> {
        let mut state = State::new();
        publish(&mut state)?;
        let json = serde_json::to_vec_pretty(&state).map_err(Error::SerializeState)?;
        files::create_new(&self.dir.join(STATE_FILE), &json, files::Access::Everyone).map_err(Error::from)?;
        Ok(())
    }

    /// Reads the state file.
    pub fn load(&self) -> Result<State<I, R>, Error> {
        let path = self.dir.join(STATE_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::ReadState(path.clone(), e))?;
        serde_json::from_slice(&bytes).map_err(|source| Error::BadState { path, what: self.what, source })
    }

    /// Reads the state, lets `change` modify it, calls `publish` (which writes the CRLs and takes a CRL number) if
    /// `change` returned true, then writes the state, all under this folder's lock; on any error nothing is saved.
    pub fn update<E: From<Error>>(
        &self,
        change: impl FnOnce(&mut State<I, R>) -> Result<bool, E>,
        publish: impl FnOnce(&mut State<I, R>) -> Result<(), E>,
    ) -> Result<(), E> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = self.load()?;
        if change(&mut state)? {
            publish(&mut state)?;
        }
        let json = serde_json::to_vec_pretty(&state).map_err(Error::SerializeState)?;
        files::replace(&self.dir.join(STATE_FILE), &json, files::Access::Everyone).map_err(Error::from)?;
        Ok(())
    }

    /// Adds issued certificates' records to the state file, in one write (no CRL changes).
    pub fn record_issued(&self, records: impl IntoIterator<Item = Issued<I>>) -> Result<(), Error> {
        self.update(
            |state| {
                state.issued.extend(records);
                Ok(false)
            },
            |_| Ok(()),
        )
    }

    /// Revokes a serial this CA issued (hex in either case, colons and leading zeros allowed), with the revocation's
    /// fields made from the issued record's by `meta`, then republishes with `publish`, even when it was revoked
    /// already (a fresh CRL is harmless). Returns the serial as [`normalize_serial`] writes it.
    pub fn revoke<E: From<Error>>(
        &self,
        serial: &str,
        meta: impl FnOnce(&I) -> R,
        publish: impl FnOnce(&mut State<I, R>) -> Result<(), E>,
    ) -> Result<String, E> {
        let serial = normalize_serial(serial)?;
        self.update(
            |state| {
                let Some(issued) = state.issued(&serial) else {
                    return Err(Error::NotIssued { serial: serial.clone(), what: self.what }.into());
                };
                let meta = meta(&issued.meta);
                if !state.is_revoked(&serial) {
                    state.revoked.push(Revoked { serial: serial.clone(), meta, revoked_at: now_seconds() });
                }
                Ok(true)
            },
            publish,
        )?;
        Ok(serial)
    }
}

/// Signs a CRL with `issuer` listing exactly `revoked`, numbered and dated by `period`, and writes it to `path` as
/// PEM, readable by everyone, replacing the previous one in one step.
pub fn publish_crl<'r, R: 'r>(
    path: &Path,
    issuer: &Issuer<'_, impl SigningKey>,
    period: &CrlPeriod,
    revoked: impl IntoIterator<Item = &'r Revoked<R>>,
) -> Result<(), Error> {
    let mut revoked_certs = Vec::new();
    for record in revoked {
        let bytes = hex::decode(&record.serial).map_err(|_| Error::BadRevokedSerial(record.serial.clone()))?;
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&bytes),
            revocation_time: to_offset(record.revoked_at)?,
            reason_code: None,
            invalidity_date: None,
        });
    }
    let params = CertificateRevocationListParams {
        this_update: to_offset(period.this_update)?,
        next_update: to_offset(period.next_update)?,
        crl_number: SerialNumber::from(period.number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let sign_error = |source| Error::SignCrl { path: path.to_path_buf(), source };
    let pem = params.signed_by(issuer).and_then(|crl| crl.pem()).map_err(sign_error)?;
    files::replace(path, pem.as_bytes(), files::Access::Everyone)?;
    Ok(())
}

/// Returns a random positive serial of exactly [`SERIAL_LEN`] bytes (top bit clear, second-highest bit set, so
/// that its hex never starts with a zero byte).
pub fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; SERIAL_LEN];
    getrandom::fill(&mut bytes).map_err(Error::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Returns big-endian bytes as lower-case hex without leading zero bytes ("00" for zero), as the state file and
/// `jpki::serial_hex` write serials.
pub fn hex_without_leading_zeros(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    if start == bytes.len() { "00".to_owned() } else { hex::encode(&bytes[start..]) }
}

/// Reads a serial as people type it: hex in either case, with or without colons and leading zero bytes; returns it
/// as [`hex_without_leading_zeros`] writes it.
pub fn normalize_serial(serial: &str) -> Result<String, Error> {
    let mut digits: String = serial.trim().chars().filter(|&c| c != ':').collect();
    if digits.len() % 2 == 1 {
        digits.insert(0, '0');
    }
    let bytes = hex::decode(&digits).map_err(|_| Error::NotASerial(serial.to_string()))?;
    if bytes.is_empty() {
        return Err(Error::EmptySerial);
    }
    Ok(hex_without_leading_zeros(&bytes))
}

/// Returns the time now to the second (certificates and CRLs carry whole seconds).
pub fn now_seconds() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// Converts a time to what rcgen takes.
pub fn to_offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, Error> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|_| Error::TimeOutOfRange(t.to_string()))
}

#[cfg(test)]
mod tests;
