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
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::revocation_list::CertificateRevocationList;

    /// The test authority's fields: which of its two CAs.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct OfCa {
        ca: String,
    }

    /// The operator CA's fields of an issued record.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Operator {
        fingerprint: String,
        name: String,
        role: String,
        municipality: Option<String>,
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn issuer() -> (Issuer<'static, KeyPair>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "folder-ca test CA");
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let der = params.self_signed(&key).unwrap().der().to_vec();
        (Issuer::new(params, key), der)
    }

    /// The file keeps the format each CA wrote before this crate: the caller's fields between the serial and the
    /// date, nothing else added; it reads back equal.
    #[test]
    fn the_state_round_trips_in_each_cas_format() {
        let dir = tempfile::tempdir().unwrap();
        let folder: CaFolder<OfCa, OfCa> = CaFolder::create(dir.path(), "test authority", &["ca.pem"]).unwrap();
        folder.init_state(|_| Ok::<_, Error>(())).unwrap();
        let issued =
            Issued { serial: "4a01".into(), meta: OfCa { ca: "auth".into() }, not_after: at("2030-01-02T03:04:05Z") };
        folder.record_issued([issued.clone()]).unwrap();
        let mut published = 0;
        let count = |_: &mut State<OfCa, OfCa>| {
            published += 1;
            Ok::<_, Error>(())
        };
        let serial = folder.revoke("4A:01", |m| m.clone(), count).unwrap();
        assert_eq!((serial.as_str(), published), ("4a01", 1));

        let state = folder.load().unwrap();
        assert_eq!(state.issued, vec![issued]);
        assert_eq!(state.revoked.len(), 1);
        let revoked_at = state.revoked[0].revoked_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let expected = format!(
            r#"{{
  "next_crl_number": 1,
  "issued": [
    {{
      "serial": "4a01",
      "ca": "auth",
      "not_after": "2030-01-02T03:04:05Z"
    }}
  ],
  "revoked": [
    {{
      "serial": "4a01",
      "ca": "auth",
      "revoked_at": "{revoked_at}"
    }}
  ]
}}"#
        );
        assert_eq!(std::fs::read_to_string(dir.path().join(STATE_FILE)).unwrap(), expected);

        // The operator CA's records: its four fields in the issued record, none in the revoked one.
        let operator = r#"{
  "next_crl_number": 3,
  "issued": [
    {
      "serial": "51",
      "fingerprint": "ab",
      "name": "Clerk",
      "role": "clerk",
      "municipality": "13101",
      "not_after": "2030-01-02T03:04:05Z"
    },
    {
      "serial": "52",
      "fingerprint": "cd",
      "name": "Admin",
      "role": "admin",
      "municipality": null,
      "not_after": "2030-01-02T03:04:05Z"
    }
  ],
  "revoked": [
    {
      "serial": "51",
      "revoked_at": "2029-01-02T03:04:05Z"
    }
  ]
}"#;
        let state: State<Operator, NoMeta> = serde_json::from_str(operator).unwrap();
        assert_eq!(state.issued[0].meta.municipality.as_deref(), Some("13101"));
        assert_eq!(state.issued[1].meta.municipality, None);
        assert_eq!(state.revoked[0].revoked_at, at("2029-01-02T03:04:05Z"));
        assert_eq!(serde_json::to_string_pretty(&state).unwrap(), operator);
    }

    /// Revoking twice records the serial once and republishes each time; an unknown serial changes nothing.
    #[test]
    fn revoking_twice_records_once_and_an_unknown_serial_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let folder: CaFolder<NoMeta> = CaFolder::create(&dir.path().join("ca"), "operator CA", &[]).unwrap();
        let crl_numbers = std::cell::RefCell::new(Vec::new());
        let publish = |state: &mut State<NoMeta>| {
            crl_numbers.borrow_mut().push(state.next_crl(TimeDelta::days(1))?.number);
            Ok::<_, Error>(())
        };
        folder.init_state(publish).unwrap();
        let record = |serial: &str| Issued { serial: serial.into(), meta: NoMeta {}, not_after: now_seconds() };
        folder.record_issued([record("41"), record("42")]).unwrap();
        folder.revoke("41", |_| NoMeta {}, publish).unwrap();
        folder.revoke("0041", |_| NoMeta {}, publish).unwrap();
        let state = folder.load().unwrap();
        assert_eq!(state.revoked.iter().map(|r| r.serial.as_str()).collect::<Vec<_>>(), ["41"]);
        assert_eq!(*crl_numbers.borrow(), [1, 2, 3]);
        assert_eq!(state.next_crl_number, 4);

        let err = folder.revoke("43", |_| NoMeta {}, publish).unwrap_err();
        assert!(matches!(&err, Error::NotIssued { serial, .. } if serial == "43"), "{err}");
        assert_eq!(err.to_string(), "serial 43 was not issued by this operator CA");
        assert!(matches!(folder.revoke("not hex", |_| NoMeta {}, publish), Err(Error::NotASerial(_))));
        assert_eq!(folder.load().unwrap(), state, "a refused revocation changes nothing");
        assert_eq!(crl_numbers.borrow().len(), 3);
    }

    /// The CRL lists exactly the revoked serials given, with its number and dates, signed by the issuer.
    #[test]
    fn a_crl_lists_exactly_the_revoked_serials() {
        let dir = tempfile::tempdir().unwrap();
        let (issuer, ca_der) = issuer();
        let folder: CaFolder<OfCa, OfCa> = CaFolder::create(dir.path(), "test authority", &[]).unwrap();
        let crl_path = dir.path().join("auth.crl.pem");
        let publish = |state: &mut State<OfCa, OfCa>| {
            let period = state.next_crl(TimeDelta::days(7))?;
            publish_crl(&crl_path, &issuer, &period, state.revoked.iter().filter(|r| r.meta.ca == "auth"))
        };
        folder.init_state(publish).unwrap();
        let mut records = Vec::new();
        for serial in ["7f01", "4002", "4103", "4204"] {
            let ca = if serial == "4204" { "sign" } else { "auth" };
            records.push(Issued { serial: serial.into(), meta: OfCa { ca: ca.into() }, not_after: now_seconds() });
        }
        folder.record_issued(records).unwrap();
        for serial in ["7f01", "4103", "4204"] {
            folder.revoke(serial, |m| m.clone(), publish).unwrap();
        }

        let pem = std::fs::read(&crl_path).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        assert_eq!(pem.label, "X509 CRL");
        let (_, crl) = CertificateRevocationList::from_der(&pem.contents).unwrap();
        let mut listed: Vec<String> =
            crl.iter_revoked_certificates().map(|r| hex_without_leading_zeros(r.raw_serial())).collect();
        listed.sort();
        assert_eq!(listed, ["4103", "7f01"], "the auth CRL lists the auth CA's revoked serials, no more");
        assert_eq!(crl.crl_number().unwrap().to_string(), "4", "init 1, then three revocations");
        let (this, next) = (crl.last_update().timestamp(), crl.next_update().unwrap().timestamp());
        assert_eq!(next - this, 7 * 86_400);
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        assert_eq!(crl.issuer(), ca.subject());
        assert_eq!(folder.load().unwrap().next_crl_number, 5);
    }

    #[test]
    fn a_folder_holding_a_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let folder: CaFolder<NoMeta> = CaFolder::create(dir.path(), "operator CA", &["ca.pem"]).unwrap();
        folder.init_state(|_| Ok::<_, Error>(())).unwrap();
        let err = CaFolder::<NoMeta>::create(dir.path(), "operator CA", &["ca.pem"]).unwrap_err();
        assert!(err.to_string().contains("already holds an operator CA (state.json exists)"), "{err}");
        std::fs::write(dir.path().join("ca.pem"), "x").unwrap();
        let err = CaFolder::<NoMeta>::create(dir.path(), "test authority", &["ca.pem"]).unwrap_err();
        assert!(err.to_string().contains("already holds a test authority (ca.pem exists)"), "{err}");
        assert!(
            matches!(folder.init_state(|_| Ok::<_, Error>(())), Err(Error::Write(_))),
            "init_state never overwrites"
        );

        std::fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        let err = folder.load().unwrap_err();
        assert!(err.to_string().contains("expected the JSON state file of an operator CA"), "{err}");
    }

    #[test]
    fn serials_are_normalised() {
        assert_eq!(normalize_serial("00:AB:0c").unwrap(), "ab0c");
        assert_eq!(normalize_serial(" abc ").unwrap(), "0abc");
        assert_eq!(normalize_serial("0000").unwrap(), "00");
        assert!(matches!(normalize_serial("xyz"), Err(Error::NotASerial(_))));
        assert!(matches!(normalize_serial(""), Err(Error::EmptySerial)));
    }

    #[test]
    fn random_serials_are_positive_full_length_and_differ() {
        let (a, b) = (random_serial().unwrap(), random_serial().unwrap());
        assert_ne!(a, b);
        for s in [a, b] {
            let bytes = s.to_bytes();
            assert_eq!(bytes.len(), SERIAL_LEN);
            assert_eq!(bytes[0] & 0xc0, 0x40, "positive, and no leading zero byte");
            assert_eq!(hex_without_leading_zeros(&bytes).len(), 2 * SERIAL_LEN);
        }
    }

    #[test]
    fn times_are_whole_seconds() {
        let now = now_seconds();
        assert_eq!(now.timestamp_subsec_nanos(), 0);
        assert_eq!(to_offset(now).unwrap().unix_timestamp(), now.timestamp());
    }
}
