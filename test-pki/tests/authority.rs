//! The JPKI-like test authority: issued cards, chains and CRLs checked with x509-parser and, for interop, with
//! the `openssl` command line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use chrono::{NaiveDate, TimeDelta, Utc};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, PrivateKey as RsaPrivateKey};
use sha2::{Digest, Sha256};
use shared::crypto::CardPublicKey;
use test_pki::{IssuedCard, JLIS_ARC, Person, Sex, TestAuthority};
use x509_parser::prelude::*;

/// One authority with two cards, shared by the tests that do not revoke (RSA key generation is slow).
struct Fixture {
    _dir: tempfile::TempDir,
    authority: TestAuthority,
    card: IssuedCard,
    other: IssuedCard,
}

fn person() -> Person {
    Person {
        name: "山田 花子".into(),
        address: "東京都千代田区霞が関二丁目1番2号".into(),
        birth_date: NaiveDate::from_ymd_opt(1990, 4, 1).unwrap(),
        sex: Sex::Female,
    }
}

fn other_person() -> Person {
    Person {
        name: "Jane Q. Voter".into(),
        address: "1-1 Chiyoda, Chiyoda-ku, Tokyo".into(),
        birth_date: NaiveDate::from_ymd_opt(1975, 12, 31).unwrap(),
        sex: Sex::Other,
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let authority = TestAuthority::init(&dir.path().join("ca")).unwrap();
        let card = authority.issue(&person(), 365).unwrap();
        let other = authority.issue(&other_person(), 30).unwrap();
        Fixture { _dir: dir, authority, card, other }
    })
}

fn write_pem(path: &Path, label: &str, der: &[u8]) {
    let b64 = base64_lines(der);
    std::fs::write(path, format!("-----BEGIN {label}-----\n{b64}-----END {label}-----\n")).unwrap();
}

fn base64_lines(der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    text.as_bytes().chunks(64).map(|line| format!("{}\n", std::str::from_utf8(line).unwrap())).collect()
}

/// Runs `openssl` and returns (success, stdout + stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().expect("running the openssl command line");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn openssl_verify(ca_pem: &Path, cert_der: &[u8], crl: Option<&Path>) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    write_pem(&cert, "CERTIFICATE", cert_der);
    let (ca, cert) = (ca_pem.to_str().unwrap(), cert.to_str().unwrap());
    match crl {
        None => openssl(&["verify", "-x509_strict", "-CAfile", ca, cert]),
        Some(crl) => {
            openssl(&["verify", "-x509_strict", "-crl_check", "-CAfile", ca, "-CRLfile", crl.to_str().unwrap(), cert])
        }
    }
}

fn openssl_text(cert_der: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    write_pem(&cert, "CERTIFICATE", cert_der);
    let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", cert.to_str().unwrap()]);
    assert!(ok, "{text}");
    text
}

/// Serial as openssl prints it in `crl -text`: upper-case hex.
fn openssl_serial(serial: &str) -> String {
    serial.to_uppercase()
}

#[test]
fn auth_cert_carries_no_personal_data() {
    let f = fixture();
    let (_, cert) = X509Certificate::from_der(&f.card.auth_cert_der).unwrap();
    let p = person();
    let birth = p.birth_date.format("%Y%m%d").to_string();
    let subject = cert.subject().to_string();
    assert_eq!(cert.subject().iter_common_name().next().unwrap().as_str().unwrap(), f.card.auth_serial);
    for needle in [p.name.as_str(), p.address.as_str(), birth.as_str(), "山田", "花子"] {
        assert!(!subject.contains(needle), "subject {subject} contains {needle}");
        for ext in cert.extensions() {
            let haystack = ext.value;
            assert!(
                !haystack.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "extension {} contains {needle}",
                ext.oid
            );
        }
        assert!(!f.card.auth_cert_der.windows(needle.len()).any(|w| w == needle.as_bytes()));
    }
    assert!(cert.subject_alternative_name().unwrap().is_none(), "the auth cert has no subjectAltName");
    assert!(test_pki::person_from_signing_cert(&f.card.auth_cert_der).is_err());
    assert!(!openssl_text(&f.card.auth_cert_der).contains(JLIS_ARC));
}

#[test]
fn sign_cert_round_trips_the_person() {
    let f = fixture();
    assert_eq!(test_pki::person_from_signing_cert(&f.card.sign_cert_der).unwrap(), person());
    assert_eq!(test_pki::person_from_signing_cert(&f.other.sign_cert_der).unwrap(), other_person());
    let (_, cert) = X509Certificate::from_der(&f.card.sign_cert_der).unwrap();
    assert_eq!(cert.subject().iter_common_name().next().unwrap().as_str().unwrap(), f.card.sign_serial);
    assert!(!cert.subject().to_string().contains("山田"));
    let text = openssl_text(&f.card.sign_cert_der);
    for arc in [1, 3, 4, 5] {
        assert!(text.contains(&format!("{JLIS_ARC}.{arc}")), "{text}");
    }
}

#[test]
fn serials_are_random_positive_16_byte_hex() {
    let f = fixture();
    let serials = [&f.card.auth_serial, &f.card.sign_serial, &f.other.auth_serial, &f.other.sign_serial];
    for (i, s) in serials.iter().enumerate() {
        assert_eq!(s.len(), 32, "{s}");
        assert!(s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{s}");
        assert!(serials[i + 1..].iter().all(|t| t != s), "serials repeat");
    }
    assert_eq!(test_pki::serial_hex(&f.card.auth_cert_der).unwrap(), f.card.auth_serial);
    let (_, cert) = X509Certificate::from_der(&f.card.sign_cert_der).unwrap();
    assert_eq!(cert.serial.to_str_radix(16), f.card.sign_serial);
}

#[test]
fn certs_chain_to_their_own_ca_only() {
    let f = fixture();
    let auth_ca = f.authority.dir().join("auth-ca.pem");
    let sign_ca = f.authority.dir().join("sign-ca.pem");
    for card in [&f.card, &f.other] {
        let (ok, text) = openssl_verify(&auth_ca, &card.auth_cert_der, None);
        assert!(ok, "{text}");
        let (ok, text) = openssl_verify(&sign_ca, &card.sign_cert_der, None);
        assert!(ok, "{text}");
        let (ok, _) = openssl_verify(&sign_ca, &card.auth_cert_der, None);
        assert!(!ok, "the auth cert must not chain to the signing CA");
        let (ok, _) = openssl_verify(&auth_ca, &card.sign_cert_der, None);
        assert!(!ok, "the signing cert must not chain to the authentication CA");
    }
    assert_eq!(std::fs::read_to_string(&auth_ca).unwrap(), f.authority.auth_ca_pem());
    assert_eq!(std::fs::read_to_string(&sign_ca).unwrap(), f.authority.sign_ca_pem());
    let auth_ca_text = openssl(&["x509", "-noout", "-text", "-in", auth_ca.to_str().unwrap()]).1;
    assert!(
        auth_ca_text.contains("CN=JPKI Test Authentication CA")
            || auth_ca_text.contains("CN = JPKI Test Authentication CA")
    );
    assert!(auth_ca_text.contains("Public-Key: (2048 bit)"), "{auth_ca_text}");
    assert!(auth_ca_text.contains("CA:TRUE"), "{auth_ca_text}");
    assert!(auth_ca_text.contains("Certificate Sign, CRL Sign"), "{auth_ca_text}");
}

#[test]
fn key_usages_and_algorithms_are_as_jpki() {
    let f = fixture();
    let (_, auth) = X509Certificate::from_der(&f.card.auth_cert_der).unwrap();
    let ku = auth.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert!(ku.value.digital_signature() && !ku.value.non_repudiation() && !ku.value.key_cert_sign());
    let eku = auth.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);

    let (_, sign) = X509Certificate::from_der(&f.card.sign_cert_der).unwrap();
    let ku = sign.key_usage().unwrap().unwrap();
    assert!(ku.value.digital_signature() && ku.value.non_repudiation() && !ku.value.key_cert_sign());
    assert!(sign.extended_key_usage().unwrap().is_none());

    for cert in [&auth, &sign] {
        assert_eq!(cert.signature_algorithm.algorithm, x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA);
        assert!(!cert.is_ca());
    }
    let text = openssl_text(&f.card.auth_cert_der);
    assert!(text.contains("Digital Signature") && !text.contains("Non Repudiation"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(text.contains("sha256WithRSAEncryption") && text.contains("Public-Key: (2048 bit)"), "{text}");
    let text = openssl_text(&f.card.sign_cert_der);
    assert!(text.contains("Digital Signature, Non Repudiation"), "{text}");
}

#[test]
fn validity_runs_from_yesterday_for_valid_days() {
    let f = fixture();
    let (_, cert) = X509Certificate::from_der(&f.card.auth_cert_der).unwrap();
    let now = Utc::now().timestamp();
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    assert!((now - 86_400 - 120..=now - 86_400 + 5).contains(&not_before), "{not_before} vs {now}");
    assert!((now + 365 * 86_400 - 120..=now + 365 * 86_400 + 5).contains(&not_after), "{not_after} vs {now}");
}

#[test]
fn private_keys_match_the_certificates() {
    let f = fixture();
    let digest: [u8; 32] = Sha256::digest(b"jp-ivote test challenge").into();
    for (key_der, cert_der) in
        [(&f.card.auth_key_pkcs8_der, &f.card.auth_cert_der), (&f.card.sign_key_pkcs8_der, &f.card.sign_cert_der)]
    {
        let key = RsaPrivateKey::from_pkcs8_der(key_der).unwrap();
        let signature = key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
        let public = CardPublicKey::from_spki_der(&test_pki::spki_der(cert_der).unwrap()).unwrap();
        public.verify_digest(&digest, &signature).unwrap();
    }
    // And not crosswise.
    let key = RsaPrivateKey::from_pkcs8_der(&f.card.auth_key_pkcs8_der).unwrap();
    let signature = key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
    let public = CardPublicKey::from_spki_der(&test_pki::spki_der(&f.card.sign_cert_der).unwrap()).unwrap();
    assert!(public.verify_digest(&digest, &signature).is_err());
}

#[test]
fn expired_window_shows_in_the_certificate() {
    let f = fixture();
    let not_before = Utc::now() - TimeDelta::days(400);
    let not_after = Utc::now() - TimeDelta::days(35);
    let card = f.authority.issue_with_validity(&person(), not_before, not_after).unwrap();
    for der in [&card.auth_cert_der, &card.sign_cert_der] {
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        assert_eq!(cert.validity().not_after.timestamp(), not_after.timestamp());
        assert_eq!(cert.validity().not_before.timestamp(), not_before.timestamp());
        assert!(!cert.validity().is_valid());
    }
    let (ok, text) = openssl_verify(&f.authority.dir().join("auth-ca.pem"), &card.auth_cert_der, None);
    assert!(!ok && text.contains("expired"), "{text}");
    assert!(f.authority.issue_with_validity(&person(), not_after, not_before).is_err());
}

#[test]
fn init_open_revoke_and_crls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authority");
    let created = TestAuthority::init(&path).unwrap();
    for name in [
        "auth-ca.pem",
        "sign-ca.pem",
        "INSECURE-auth-ca-key.pem",
        "INSECURE-sign-ca-key.pem",
        "auth.crl.pem",
        "sign.crl.pem",
    ] {
        assert!(path.join(name).is_file(), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.join("INSECURE-sign-ca-key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "CA key readable by others: {mode:o}");
    }

    // Fresh CRLs are empty, number 1, signed by their CA.
    for (crl_der, ca_pem) in [
        (created.auth_crl_der().unwrap(), created.auth_ca_pem()),
        (created.sign_crl_der().unwrap(), created.sign_ca_pem()),
    ] {
        let (_, crl) = CertificateRevocationList::from_der(&crl_der).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
        assert_eq!(crl.crl_number().unwrap().to_string(), "1");
        let (_, ca_pem) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).unwrap();
        let ca = ca_pem.parse_x509().unwrap();
        assert_eq!(crl.issuer(), ca.subject());
    }

    // init refuses an existing authority; open re-reads it.
    let err = TestAuthority::init(&path).unwrap_err();
    assert!(format!("{err:#}").contains("already holds a test authority"), "{err:#}");
    assert!(TestAuthority::open(&dir.path().join("nothing-here")).is_err());
    let opened = TestAuthority::open(&path).unwrap();
    assert_eq!(opened.auth_ca_pem(), created.auth_ca_pem());
    assert_eq!(opened.sign_ca_pem(), created.sign_ca_pem());
    assert_eq!(opened.dir(), path.as_path());
    drop(created);

    // The reopened authority issues and revokes; openssl accepts its certificates and CRLs.
    let revoked = opened.issue(&person(), 10).unwrap();
    let kept = opened.issue(&other_person(), 10).unwrap();
    opened.revoke(&revoked.auth_serial.to_uppercase()).unwrap();
    opened.revoke(&revoked.sign_serial).unwrap();
    opened.revoke(&revoked.sign_serial).unwrap(); // idempotent
    assert!(opened.revoke("0123456789abcdef").is_err(), "unknown serials are refused");
    assert!(opened.revoke("not hex").is_err());

    for (crl_der, serial, other_serial) in [
        (opened.auth_crl_der().unwrap(), &revoked.auth_serial, &revoked.sign_serial),
        (opened.sign_crl_der().unwrap(), &revoked.sign_serial, &revoked.auth_serial),
    ] {
        let (_, crl) = CertificateRevocationList::from_der(&crl_der).unwrap();
        let listed: Vec<String> = crl.iter_revoked_certificates().map(|r| r.serial().to_str_radix(16)).collect();
        assert_eq!(listed, vec![serial.clone()], "each CRL lists only its own CA's serials");
        assert!(!listed.contains(other_serial));
        assert_eq!(crl.crl_number().unwrap().to_string(), "4", "init 1, then three revocations");
        let next = crl.next_update().unwrap().timestamp();
        let in_7_days = Utc::now().timestamp() + 7 * 86_400;
        assert!((in_7_days - 60..=in_7_days + 5).contains(&next));
    }

    for (ca, crl, revoked_der, kept_der, serial) in [
        ("auth-ca.pem", "auth.crl.pem", &revoked.auth_cert_der, &kept.auth_cert_der, &revoked.auth_serial),
        ("sign-ca.pem", "sign.crl.pem", &revoked.sign_cert_der, &kept.sign_cert_der, &revoked.sign_serial),
    ] {
        let (ca, crl) = (path.join(ca), path.join(crl));
        let (ok, text) = openssl(&["crl", "-noout", "-text", "-in", crl.to_str().unwrap()]);
        assert!(ok, "{text}");
        assert!(text.contains(&openssl_serial(serial)), "{text}");
        let (ok, text) = openssl(&["crl", "-noout", "-in", crl.to_str().unwrap(), "-CAfile", ca.to_str().unwrap()]);
        assert!(ok && text.contains("verify OK"), "{text}");

        let (ok, text) = openssl_verify(&ca, revoked_der, Some(&crl));
        assert!(!ok && text.contains("revoked"), "{text}");
        let (ok, text) = openssl_verify(&ca, kept_der, Some(&crl));
        assert!(ok, "{text}");
    }

    // A third handle sees the revocations made through the second.
    let reopened = TestAuthority::open(&path).unwrap();
    assert_eq!(reopened.auth_crl_der().unwrap(), opened.auth_crl_der().unwrap());
}

#[test]
fn open_refuses_a_key_that_does_not_match() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    for name in ["auth-ca.pem", "sign-ca.pem", "INSECURE-auth-ca-key.pem", "INSECURE-sign-ca-key.pem", "state.json"] {
        std::fs::copy(f.authority.dir().join(name), dir.path().join(name)).unwrap();
    }
    TestAuthority::open(dir.path()).unwrap();
    std::fs::copy(f.authority.dir().join("INSECURE-sign-ca-key.pem"), dir.path().join("INSECURE-auth-ca-key.pem"))
        .unwrap();
    let err = TestAuthority::open(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains("does not hold the key"), "{err:#}");
}

#[test]
fn person_requires_all_four_entries() {
    let f = fixture();
    // A certificate without the SANs (the auth cert) and garbage are refused with a message.
    let err = test_pki::person_from_signing_cert(&f.card.auth_cert_der).unwrap_err();
    assert!(format!("{err:#}").contains("subjectAltName"), "{err:#}");
    let err = test_pki::person_from_signing_cert(b"not a certificate").unwrap_err();
    assert!(format!("{err:#}").contains("expected an X.509 certificate"), "{err:#}");
    assert!(test_pki::serial_hex(b"junk").is_err());
    assert!(test_pki::spki_der(b"junk").is_err());
}

#[test]
fn person_missing_an_entry_is_refused() {
    let jlis = |arc: u64, value: &str| {
        let mut oid: Vec<u64> = JLIS_ARC.split('.').map(|a| a.parse().unwrap()).collect();
        oid.push(arc);
        rcgen::SanType::OtherName((oid, value.into()))
    };
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![jlis(1, "山田 花子"), jlis(3, "2"), jlis(5, "東京都")];
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let err = test_pki::person_from_signing_cert(&der).unwrap_err();
    assert!(format!("{err:#}").contains(&format!("birth date (otherName {JLIS_ARC}.4)")), "{err:#}");

    params.subject_alt_names.push(jlis(4, "19900231"));
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let err = test_pki::person_from_signing_cert(&der).unwrap_err();
    assert!(format!("{err:#}").contains("YYYYMMDD"), "{err:#}");

    params.subject_alt_names[3] = jlis(4, "19900228");
    params.subject_alt_names[1] = jlis(3, "9");
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let err = test_pki::person_from_signing_cert(&der).unwrap_err();
    assert!(format!("{err:#}").contains("sex"), "{err:#}");

    params.subject_alt_names[1] = jlis(3, "1");
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let person = test_pki::person_from_signing_cert(&der).unwrap();
    assert_eq!(person.sex, Sex::Male);
    assert_eq!(person.birth_date, NaiveDate::from_ymd_opt(1990, 2, 28).unwrap());
}
