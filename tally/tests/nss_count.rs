#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The count against NSS softokn, a second real PKCS#11 module that does OAEP with SHA-256 natively, so path A
//! (CKM_RSA_PKCS_OAEP in the token) must run without `--allow-raw-rsa-with-host-oaep`.
//!
//! NSS keys here are session keys: the key is generated, the ballots encrypted and exported, imported and
//! counted in this one process. NSS needs its parameter string at `C_Initialize`, which cryptoki only takes
//! through an `unsafe` constructor (forbidden in this workspace); the test initialises the module through the
//! `pkcs11` crate's safe API first, and the tool's own loader then finds it already initialised.

mod common;

use std::ffi::CString;
use std::path::PathBuf;

use tally::ceremony::{CeremonyParams, read_record, write_record};
use tally::hsm::{DecryptPath, Decryptor, Hsm, generate_election_key};
use tally::import::{Expectations, verify_export};

const NSS_CANDIDATES: [&str; 2] = ["/usr/lib/x86_64-linux-gnu/libsoftokn3.so", "/usr/lib64/libsoftokn3.so"];
const NSS_PARAMS: &str =
    "configdir='' certPrefix='' keyPrefix='' secmod='' flags=readOnly,noCertDB,noModDB,forceOpen,optimizeSpace";

fn nss_module() -> PathBuf {
    NSS_CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("NSS softokn is not installed (none of {NSS_CANDIDATES:?} exists); `cargo xtask setup` installs libnss3")
    })
}

fn init_nss(module: &PathBuf) {
    let mut ctx = pkcs11::Ctx::new(module).unwrap();
    let params = CString::new(NSS_PARAMS).unwrap();
    let mut args = pkcs11::types::CK_C_INITIALIZE_ARGS::new();
    args.flags = pkcs11::types::CKF_OS_LOCKING_OK;
    args.pReserved = params.as_ptr() as *mut pkcs11::types::CK_VOID;
    ctx.initialize(Some(args)).expect("NSS softokn accepts its parameter string");
    // Keep the module loaded and initialised for the whole process (dropping the context would finalise it).
    std::mem::forget(ctx);
    std::mem::forget(params);
}

#[test]
fn count_with_nss_softokn_oaep_in_the_token() {
    let module = nss_module();
    init_nss(&module);
    let hsm = Hsm::load(&module).unwrap();
    let slot = hsm.find_slot("NSS Generic Crypto Services").unwrap();
    let session = hsm.open_session(slot).unwrap();
    let key = generate_election_key(&session, "election-key", false).unwrap();
    assert_eq!(key.public.ciphertext_len(), 384, "RSA-3072");

    // NSS softokn marks the keys it generates sensitive from birth and never extractable, but not CKA_LOCAL, so the
    // count would refuse an NSS key: NSS is here as a second module for path A, never as the election's token.
    let err = tally::hsm::check_key_policy(&session, key.private).unwrap_err();
    assert!(err.to_string().contains("CKA_LOCAL = Some(false)"), "{err}");
    // A key that could leave the token is refused by the policy check that the count runs.
    use cryptoki::object::Attribute as A;
    let (_, weak) = session
        .generate_key_pair(
            &cryptoki::mechanism::Mechanism::RsaPkcsKeyPairGen,
            &[A::Token(false), A::Encrypt(true), A::ModulusBits(2048.into()), A::PublicExponent(vec![1, 0, 1])],
            &[A::Token(false), A::Sensitive(false), A::Extractable(true), A::Decrypt(true), A::Sign(true)],
        )
        .unwrap();
    let err = tally::hsm::check_key_policy(&session, weak).unwrap_err();
    assert!(err.to_string().contains("expected"), "{err}");
    // A key made outside the token and imported with every flag of a good one is still refused: LOCAL,
    // ALWAYS_SENSITIVE and NEVER_EXTRACTABLE say that it was born in the token and never left it.
    let imported = import_host_key(&session);
    let err = tally::hsm::check_key_policy(&session, imported).expect_err("an imported key is not the election key");
    assert!(err.to_string().contains("CKA_ALWAYS_SENSITIVE = Some(false)"), "{err}");
    assert!(err.to_string().contains("was not born in the token"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let params = CeremonyParams {
        election_id: "hoc-2028".into(),
        officials: vec!["Test officer".into()],
        token_label: "NSS Generic Crypto Services".into(),
        key_label: "election-key".into(),
        threshold: 0,
        shares: 0,
        so_pin: tally::ceremony::SoPinCustody::None,
        out: dir.path().join("ceremony"),
    };
    let (record, signer) = write_record(&params, &module.display().to_string(), "", &key.public, false).unwrap();
    let (read_back, signer_hex) = read_record(&params.out.join("ceremony.json")).unwrap();
    assert_eq!(read_back, record);
    assert_eq!(signer_hex, signer.public_hex());
    let pem = std::fs::read_to_string(params.out.join("election-public-key.pem")).unwrap();

    let contests = common::encrypt_all(&key.public, &pem);
    let (file, export_pub) = common::export(dir.path(), &key.public, &contests);
    let election = common::election();
    let want = Expectations {
        export_key_public: export_pub,
        key_fingerprint: record.key_fingerprint.clone(),
        ciphertext_len: 384,
        expected_count: common::VOTERS,
        expected_count_per_contest: Default::default(),
    };
    let bytes = serde_json::to_vec(&file).unwrap();
    let export = verify_export(&bytes, &election, &want).unwrap();
    let mut tampered = file.clone();
    tampered.ballots[1].ciphertexts.reverse();
    let err = verify_export(&serde_json::to_vec(&tampered).unwrap(), &election, &want).unwrap_err();
    assert!(err.to_string().contains("contest national-pr: content digest"), "{err}");
    let mut other_key = want.clone();
    other_key.key_fingerprint = "00".repeat(32);
    let err = verify_export(&bytes, &election, &other_key).unwrap_err();
    assert!(err.to_string().contains("the ceremony's is"), "{err}");

    let decryptor = Decryptor::select(&hsm, &session, slot, &key, false).expect("NSS does OAEP-SHA256 in the token");
    assert_eq!(decryptor.path(), DecryptPath::TokenOaep);
    let progress = indicatif::ProgressBar::hidden();
    let report = tally::count::count(&election, &export, &decryptor, 2, common::VOTERS, &progress).unwrap();
    assert!(report.contests.iter().all(|c| !c.below_k), "k = 8: eight ballots are enough");
    let hidden = indicatif::ProgressBar::hidden();
    let strict = tally::count::count(&election, &export, &decryptor, 2, common::VOTERS + 1, &hidden).unwrap();
    assert!(strict.contests.iter().all(|c| c.below_k), "k = 9: eight ballots are flagged");
    assert!(tally::count::to_csv(&strict).contains("tokyo,below_k,,,9,,\n"));
    assert_eq!(report.decrypt_path, DecryptPath::TokenOaep);
    assert_eq!(progress.position(), 2 * common::VOTERS);
    common::assert_expected_totals(&report);
    tally::count::write_results(&dir.path().join("results"), &report, &signer).unwrap();
    assert!(tally::count::to_table(&report).contains("A: CKM_RSA_PKCS_OAEP"));
}

/// Imports an RSA key made on the host into the token, flagged sensitive, not extractable, decrypt only.
fn import_host_key(session: &cryptoki::session::Session) -> cryptoki::object::ObjectHandle {
    use cryptoki::object::{Attribute as A, KeyType, ObjectClass};
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
    let key = rsa::PrivateKey::new(&mut rand_core::UnwrapErr(getrandom::SysRng), 2048).unwrap();
    let bytes = |u: &rsa::BoxedUint| u.to_be_bytes_trimmed_vartime().to_vec();
    let template = [
        A::Class(ObjectClass::PRIVATE_KEY),
        A::KeyType(KeyType::RSA),
        A::Token(false),
        A::Private(true),
        A::Sensitive(true),
        A::Extractable(false),
        A::Decrypt(true),
        A::Sign(false),
        A::Unwrap(false),
        A::Modulus(key.n_bytes().to_vec()),
        A::PublicExponent(key.e_bytes().to_vec()),
        A::PrivateExponent(bytes(key.d())),
        A::Prime1(bytes(&key.primes()[0])),
        A::Prime2(bytes(&key.primes()[1])),
        A::Exponent1(bytes(key.dp().unwrap())),
        A::Exponent2(bytes(key.dq().unwrap())),
        A::Coefficient(bytes(&key.crt_coefficient().unwrap())),
    ];
    session.create_object(&template).expect("NSS imports an RSA private key")
}
