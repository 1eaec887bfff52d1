//! Card certificates and CRLs: `TrustStore::check` for signing and authentication against the committed test
//! authority, `jpki`'s person, serial and key readers, and the bytes as a CRL replacing the store's. Never
//! panics; a certificate the store accepts reads the same serial and key through `jpki`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verifier::certs::{CertKind, TrustStore};

fuzz_target!(|data: &[u8]| {
    let store = jp_ivote_fuzz::trust_store();
    let now = jp_ivote_fuzz::now();
    for kind in [CertKind::Sign, CertKind::Auth] {
        if let Ok(checked) = store.check(kind, data, now) {
            assert_eq!(jpki::serial_hex(data).ok().as_deref(), Some(checked.serial.as_str()), "serials differ");
            let spki = jpki::spki_der(data).expect("a certificate the store accepts has a key");
            assert!(spki.ends_with(&checked.public_key), "keys differ");
        }
    }
    let _ = jpki::person_from_signing_cert(data);
    let _ = jpki::serial_hex(data);
    let _ = jpki::spki_der(data);

    // A store of its own for CRLs, so that a CRL the fuzzer could get accepted never changes the checks above.
    static CRL_STORE: OnceLock<TrustStore> = OnceLock::new();
    let crl_store = CRL_STORE.get_or_init(jp_ivote_fuzz::new_trust_store);
    for kind in [CertKind::Sign, CertKind::Auth] {
        let _ = crl_store.replace_crls(kind, &[data.to_vec()]);
    }
});
