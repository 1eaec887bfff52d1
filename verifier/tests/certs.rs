//! Card certificate checks (R-VOTE-5) against the JPKI-like test authority of `test_pki`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use test_pki::{IssuedCard, Person, Sex, TestAuthority, serial_hex, spki_der};
use verifier::certs::{CertError, CertKind, TrustStore};

fn person() -> Person {
    Person {
        name: "山田 花子".to_owned(),
        address: "東京都千代田区霞が関2-1-2".to_owned(),
        birth_date: NaiveDate::from_ymd_opt(1980, 4, 1).unwrap(),
        sex: Sex::Female,
    }
}

fn authority() -> (TempDir, TestAuthority) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestAuthority::init(&dir.path().join("pki")).unwrap();
    (dir, ca)
}

fn store(ca: &TestAuthority) -> TrustStore {
    TrustStore::new(&ca.auth_ca_pem(), &[ca.auth_crl_der().unwrap()], &ca.sign_ca_pem(), &[ca.sign_crl_der().unwrap()])
        .unwrap()
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn refresh_crls(store: &TrustStore, ca: &TestAuthority) {
    store.replace_crls(CertKind::Auth, &[ca.auth_crl_der().unwrap()]).unwrap();
    store.replace_crls(CertKind::Sign, &[ca.sign_crl_der().unwrap()]).unwrap();
}

fn check_both(store: &TrustStore, card: &IssuedCard, at: DateTime<Utc>) -> [Result<(), CertError>; 2] {
    [
        store.check(CertKind::Auth, &card.auth_cert_der, at).map(drop),
        store.check(CertKind::Sign, &card.sign_cert_der, at).map(drop),
    ]
}

#[test]
fn good_certificates_pass_with_what_the_verifier_keeps() {
    let (_dir, ca) = authority();
    let card = ca.issue(&person(), 365).unwrap();
    let store = store(&ca);
    let at = now();
    for (kind, der, serial) in [
        (CertKind::Auth, &card.auth_cert_der, &card.auth_serial),
        (CertKind::Sign, &card.sign_cert_der, &card.sign_serial),
    ] {
        let checked = store.check(kind, der, at).unwrap();
        assert_eq!(checked.kind, kind);
        assert_eq!(checked.fingerprint, hex::encode(Sha256::digest(der)));
        assert_eq!(&checked.serial, serial);
        assert_eq!(checked.serial, serial_hex(der).unwrap());
        assert!(spki_der(der).unwrap().ends_with(&checked.public_key), "the key inside the SubjectPublicKeyInfo");
        let expected_end = at + TimeDelta::days(365);
        assert!((checked.not_after - expected_end).abs() < TimeDelta::minutes(5), "{}", checked.not_after);
        // A second check (from the cache) answers the same.
        assert_eq!(store.check(kind, der, at + TimeDelta::seconds(1)).unwrap(), checked);
    }
}

#[test]
fn from_dir_reads_the_authority_directory() {
    let (_dir, ca) = authority();
    let card = ca.issue(&person(), 30).unwrap();
    let store = TrustStore::from_dir(ca.dir()).unwrap();
    assert_eq!(check_both(&store, &card, now()), [Ok(()), Ok(())]);
    assert!(TrustStore::from_dir(&ca.dir().join("missing")).is_err());
}

#[test]
fn one_kind_is_refused_as_the_other_as_wrong_usage() {
    let (_dir, ca) = authority();
    let card = ca.issue(&person(), 30).unwrap();
    let store = store(&ca);
    let at = now();
    let as_sign = store.check(CertKind::Sign, &card.auth_cert_der, at).unwrap_err();
    let as_auth = store.check(CertKind::Auth, &card.sign_cert_der, at).unwrap_err();
    assert!(matches!(as_sign, CertError::WrongUsage(_)), "{as_sign:?}");
    assert!(matches!(as_auth, CertError::WrongUsage(_)), "{as_auth:?}");
    assert_eq!(as_sign.code(), "CERT_WRONG_USAGE");
}

#[test]
fn a_card_of_another_authority_is_an_unknown_ca() {
    let (_dir, ca) = authority();
    let (_other_dir, other) = authority();
    let foreign = other.issue(&person(), 30).unwrap();
    let store = store(&ca);
    // The second authority uses the same CA names: only the signature tells them apart.
    assert_eq!(check_both(&store, &foreign, now()), [Err(CertError::UnknownCa), Err(CertError::UnknownCa)]);
    // Nor are its CRLs accepted, and the current ones stay in force.
    let refused = store.replace_crls(CertKind::Auth, &[other.auth_crl_der().unwrap()]).unwrap_err();
    assert!(matches!(refused, CertError::CrlUnavailable(_)), "{refused:?}");
    let card = ca.issue(&person(), 30).unwrap();
    assert_eq!(check_both(&store, &card, now()), [Ok(()), Ok(())]);
}

#[test]
fn expired_and_not_yet_valid_cards_are_refused() {
    let (_dir, ca) = authority();
    let at = now();
    let expired = ca.issue_with_validity(&person(), at - TimeDelta::days(30), at - TimeDelta::days(1)).unwrap();
    let future = ca.issue_with_validity(&person(), at + TimeDelta::days(1), at + TimeDelta::days(30)).unwrap();
    let store = store(&ca);
    assert_eq!(check_both(&store, &expired, at), [Err(CertError::Expired), Err(CertError::Expired)]);
    assert_eq!(check_both(&store, &future, at), [Err(CertError::NotYetValid), Err(CertError::NotYetValid)]);
}

#[test]
fn a_revoked_card_is_refused_and_the_cache_does_not_hide_it() {
    let (_dir, ca) = authority();
    let revoked = ca.issue(&person(), 30).unwrap();
    let kept = ca.issue(&person(), 30).unwrap();
    let store = store(&ca);
    let at = now();
    // Both pass and are now cached.
    assert_eq!(check_both(&store, &revoked, at), [Ok(()), Ok(())]);
    assert_eq!(check_both(&store, &kept, at), [Ok(()), Ok(())]);

    ca.revoke(&revoked.auth_serial).unwrap();
    ca.revoke(&revoked.sign_serial).unwrap();
    // Until the new CRLs are installed, the store knows nothing of it.
    assert_eq!(check_both(&store, &revoked, at), [Ok(()), Ok(())]);
    refresh_crls(&store, &ca);
    assert_eq!(check_both(&store, &revoked, at), [Err(CertError::Revoked), Err(CertError::Revoked)]);
    assert_eq!(check_both(&store, &kept, at), [Ok(()), Ok(())]);

    // A store built afresh agrees.
    let fresh = TrustStore::from_dir(ca.dir()).unwrap();
    assert_eq!(check_both(&fresh, &revoked, at), [Err(CertError::Revoked), Err(CertError::Revoked)]);
    assert_eq!(check_both(&fresh, &kept, at), [Ok(()), Ok(())]);
    assert_eq!(CertError::Revoked.code(), "CERT_REVOKED");
}

#[test]
fn of_several_crls_from_one_ca_the_newest_counts() {
    let (_dir, ca) = authority();
    let card = ca.issue(&person(), 30).unwrap();
    let (old_auth, old_sign) = (ca.auth_crl_der().unwrap(), ca.sign_crl_der().unwrap());
    ca.revoke(&card.auth_serial).unwrap();
    ca.revoke(&card.sign_serial).unwrap();
    let (new_auth, new_sign) = (ca.auth_crl_der().unwrap(), ca.sign_crl_der().unwrap());
    let at = now();
    for (auth_crls, sign_crls) in [
        (vec![old_auth.clone(), new_auth.clone()], vec![old_sign.clone(), new_sign.clone()]),
        (vec![new_auth.clone(), old_auth.clone()], vec![new_sign.clone(), old_sign.clone()]),
    ] {
        let store = TrustStore::new(&ca.auth_ca_pem(), &auth_crls, &ca.sign_ca_pem(), &sign_crls).unwrap();
        assert_eq!(check_both(&store, &card, at), [Err(CertError::Revoked), Err(CertError::Revoked)]);
    }
}

#[test]
fn an_expired_crl_fails_closed() {
    let (_dir, ca) = authority();
    let card = ca.issue(&person(), 365).unwrap();
    let store = store(&ca);
    let at = now();
    assert_eq!(check_both(&store, &card, at), [Ok(()), Ok(())]);
    // The test CRLs are valid 7 days; the cached success must not outlive them.
    let next_update = store.crl_next_update(CertKind::Auth).unwrap();
    assert!(next_update > at && next_update <= at + TimeDelta::days(7), "{next_update}");
    let later = at + TimeDelta::days(8);
    for result in check_both(&store, &card, later) {
        let error = result.unwrap_err();
        assert!(matches!(error, CertError::CrlUnavailable(_)), "{error:?}");
        assert_eq!(error.code(), "CRL_UNAVAILABLE");
    }
}

#[test]
fn crls_must_match_the_kind_and_cover_every_ca() {
    let (_dir, ca) = authority();
    let auth_crl = ca.auth_crl_der().unwrap();
    let sign_crl = ca.sign_crl_der().unwrap();
    // The signing CA's CRL is not the authentication CA's.
    let swapped = TrustStore::new(
        &ca.auth_ca_pem(),
        std::slice::from_ref(&sign_crl),
        &ca.sign_ca_pem(),
        std::slice::from_ref(&auth_crl),
    );
    assert!(matches!(swapped, Err(CertError::CrlUnavailable(_))), "{swapped:?}");
    let none = TrustStore::new(&ca.auth_ca_pem(), &[], &ca.sign_ca_pem(), std::slice::from_ref(&sign_crl));
    assert!(matches!(none, Err(CertError::CrlUnavailable(_))), "{none:?}");
    let garbage = TrustStore::new(&ca.auth_ca_pem(), &[b"not a crl".to_vec()], &ca.sign_ca_pem(), &[sign_crl]);
    assert!(matches!(garbage, Err(CertError::CrlUnavailable(_))), "{garbage:?}");
    let no_ca = TrustStore::new("", &[auth_crl], &ca.sign_ca_pem(), &[]);
    assert!(matches!(no_ca, Err(CertError::Malformed(_))), "{no_ca:?}");
}

#[test]
fn garbage_is_malformed() {
    let (_dir, ca) = authority();
    let card = ca.issue(&person(), 30).unwrap();
    let store = store(&ca);
    let truncated = &card.auth_cert_der[..card.auth_cert_der.len() - 10];
    let mut trailing = card.sign_cert_der.clone();
    trailing.push(0);
    for (kind, der) in [
        (CertKind::Auth, &b"garbage bytes"[..]),
        (CertKind::Sign, &[][..]),
        (CertKind::Auth, truncated),
        (CertKind::Sign, &trailing[..]),
    ] {
        let error = store.check(kind, der, now()).unwrap_err();
        assert!(matches!(error, CertError::Malformed(_)), "{error:?}");
        assert_eq!(error.code(), "CERT_MALFORMED");
    }
}

#[test]
fn error_codes_are_stable() {
    let cases = [
        (CertError::Malformed(String::new()), "CERT_MALFORMED"),
        (CertError::UnknownCa, "UNKNOWN_CA"),
        (CertError::Expired, "CERT_EXPIRED"),
        (CertError::NotYetValid, "CERT_NOT_YET_VALID"),
        (CertError::Revoked, "CERT_REVOKED"),
        (CertError::WrongUsage(String::new()), "CERT_WRONG_USAGE"),
        (CertError::CrlUnavailable(String::new()), "CRL_UNAVAILABLE"),
        (CertError::Other(String::new()), "CERT_INVALID"),
    ];
    for (error, code) in cases {
        assert_eq!(error.code(), code);
    }
}

#[test]
fn the_store_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<TrustStore>();
}

/// Times uncached checks: `cargo test --release -p verifier --test certs -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a test"]
fn time_uncached_and_cached_checks() {
    let (_dir, ca) = authority();
    let card = ca.issue(&person(), 365).unwrap();
    let store = store(&ca);
    let start = now();
    let rounds: i32 = 500;
    let begin = std::time::Instant::now();
    for i in 0..rounds {
        // Eleven minutes apart: every check misses the cache.
        let at = start + TimeDelta::minutes(11 * i64::from(i));
        store.check(CertKind::Sign, &card.sign_cert_der, at).unwrap();
    }
    let uncached = begin.elapsed() / rounds.unsigned_abs();
    let begin = std::time::Instant::now();
    for _ in 0..rounds {
        store.check(CertKind::Sign, &card.sign_cert_der, start).unwrap();
    }
    let cached = begin.elapsed() / rounds.unsigned_abs();
    println!("uncached check: {uncached:?}, cached check: {cached:?}");
}
