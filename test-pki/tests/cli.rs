//! The `test-pki` binary, as the demo, the rehearsal and the end-to-end tests run it (formerly
//! `card-helper test-pki`): `init`, `issue --out` (a soft card the helper opens and signs with), `revoke`, and
//! the refusals, each with its output. Its PKCS#11 `issue` is run by the helper's `tests/api_flow.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use card_helper::backend::CardBackend;
use card_helper::pin::{KeyKind, Pin};
use card_helper::soft::SoftCard;
use secrecy::SecretString;
use x509_parser::prelude::{CertificateRevocationList, FromDer};

fn test_pki(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_test-pki")).args(args).arg("--dir").arg(dir).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn init_issue_a_soft_card_and_revoke() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let out = stdout(&test_pki(&["init"], &pki));
    assert_eq!(
        out,
        format!("test authority created in {} (TEST ONLY: its CA keys are stored in clear)\n", pki.display())
    );

    let card = tmp.path().join("card.json");
    let out = Command::new(env!("CARGO_BIN_EXE_test-pki"))
        .args(["issue", "--dir"])
        .arg(&pki)
        .args(["--name", "在外 花子", "--address", "ニューヨーク", "--birth-date", "1990-04-01", "--sex", "female"])
        .args(["--auth-pin", "1234", "--sign-password", "HANAKO1", "--out"])
        .arg(&card)
        .output()
        .unwrap();
    let out = stdout(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("soft card written to {}", card.display()));
    let auth_serial = lines[1].strip_prefix("authentication certificate serial ").unwrap();
    let sign_serial = lines[2].strip_prefix("signing certificate serial ").unwrap();
    assert_eq!(lines.len(), 3, "{out}");

    // The helper opens the card, and its certificates are the ones the tool named.
    let soft = SoftCard::open(&card).unwrap();
    let status = soft.status().unwrap();
    assert_eq!(test_pki::serial_hex(&status.auth_certificate.unwrap()).unwrap(), auth_serial);
    let pin = Pin::parse(KeyKind::Sign, SecretString::from("HANAKO1".to_string())).unwrap();
    let signed = soft.sign(&pin, &[7u8; 32]).unwrap();
    assert_eq!(test_pki::serial_hex(&signed.certificate).unwrap(), sign_serial);
    assert_eq!(test_pki::person_from_signing_cert(&signed.certificate).unwrap().name, "在外 花子");

    let out = Command::new(env!("CARGO_BIN_EXE_test-pki"))
        .args(["revoke", "--dir"])
        .arg(&pki)
        .args(["--serial", sign_serial])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), format!("revoked {sign_serial}; CRLs rewritten in {}\n", pki.display()));
    let crl = test_pki::TestAuthority::open(&pki).unwrap().sign_crl_der().unwrap();
    let (_, crl) = CertificateRevocationList::from_der(&crl).unwrap();
    let listed: Vec<String> = crl.iter_revoked_certificates().map(|r| r.serial().to_str_radix(16)).collect();
    assert_eq!(listed, [sign_serial], "the signing CRL lists the revoked serial");
}

#[test]
fn refusals_exit_non_zero_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    stdout(&test_pki(&["init"], &pki));
    let again = test_pki(&["init"], &pki);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.starts_with("test-pki: error: ") && err.contains("already holds a test authority"), "{err}");

    let unknown = Command::new(env!("CARGO_BIN_EXE_test-pki"))
        .args(["revoke", "--dir"])
        .arg(&pki)
        .args(["--serial", "0abc"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("serial 0abc was not issued by this test authority"));

    // `issue` needs a soft card file or a PKCS#11 module, and a PIN of the card's form.
    let neither = Command::new(env!("CARGO_BIN_EXE_test-pki"))
        .args(["issue", "--dir"])
        .arg(&pki)
        .args(["--name", "a", "--address", "b", "--birth-date", "1990-04-01", "--sex", "male"])
        .args(["--auth-pin", "1234", "--sign-password", "HANAKO1"])
        .output()
        .unwrap();
    assert!(!neither.status.success());
    let bad_pin = Command::new(env!("CARGO_BIN_EXE_test-pki"))
        .args(["issue", "--dir"])
        .arg(&pki)
        .args(["--name", "a", "--address", "b", "--birth-date", "1990-04-01", "--sex", "male"])
        .args(["--auth-pin", "12", "--sign-password", "HANAKO1", "--out"])
        .arg(tmp.path().join("card.json"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad_pin.stderr).contains("--auth-pin"), "the PIN is checked before issuing");
    assert!(!tmp.path().join("card.json").exists());
}
