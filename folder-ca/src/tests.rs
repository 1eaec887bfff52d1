//! The folder CA's tests: its records round trip, serials, revocation and the CRL it signs.

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
    assert!(matches!(folder.init_state(|_| Ok::<_, Error>(())), Err(Error::Write(_))), "init_state never overwrites");

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
