#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The PKCS#11 backend against a real PKCS#11 module: SoftHSM2, provisioned with a token pair laid out as OpenSC's
//! JPKI driver lays out a My Number card (one token per PIN).
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once, at `C_Initialize`, and a module is initialised once per process; setting
//! an environment variable is `unsafe` in Rust 2024, which the workspace forbids. So the one test here re-runs
//! its own test binary with `SOFTHSM2_CONF` pointing at a fresh token directory, and that child runs the
//! scenarios in order against one module instance.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use card_helper::backend::{CardBackend, CardError, Tries};
use card_helper::pin::{KeyKind, Pin};
use card_helper::pkcs11::{Pkcs11Card, Pkcs11Config, provision_token_pair};
use rsa::pkcs8::EncodePrivateKey as _;
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use shared::crypto::CardPublicKey;

const TEST_NAME: &str = "pkcs11_backend_against_softhsm2";
/// Set in the child: the scratch directory (tokens, state file).
const CHILD_ENV: &str = "CARD_HELPER_SOFTHSM_SCRATCH";
const SO_PIN: &str = "87654321";
const AUTH_PIN: &str = "1234";
const SIGN_PASSWORD: &str = "ABC123";

#[test]
fn pkcs11_backend_against_softhsm2() {
    if let Some(scratch) = std::env::var_os(CHILD_ENV) {
        scenarios(Path::new(&scratch));
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let lab = hsm_lab::Lab::new(scratch.path()).unwrap();
    let out = lab
        .command(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_MODULE", &lab.module)
        .env(CHILD_ENV, scratch.path())
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the SoftHSM2 scenarios failed: {} (output above)", out.status);
    // Make sure the child really ran the scenarios rather than filtering the test out.
    assert!(String::from_utf8_lossy(&out.stdout).contains("SCENARIOS DONE"), "the child did not run the scenarios");
}

fn auth_pin(s: &str) -> Pin {
    Pin::parse(KeyKind::Auth, SecretString::from(s.to_string())).unwrap()
}

fn sign_pin(s: &str) -> Pin {
    Pin::parse(KeyKind::Sign, SecretString::from(s.to_string())).unwrap()
}

/// An RSA-2048 key (PKCS#8 DER) and a self-signed certificate for it (DER).
fn key_and_cert(name: &str) -> (Vec<u8>, Vec<u8>) {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
    let pkcs8 = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_slice().into(), &rcgen::PKCS_RSA_SHA256)
        .expect("rcgen takes the rsa crate's PKCS#8");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("SoftHSM2 test card, {name} key"));
    let cert = params.self_signed(&key_pair).unwrap();
    (pkcs8, cert.der().to_vec())
}

fn spki_der(cert: &[u8]) -> Vec<u8> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).unwrap();
    parsed.public_key().raw.to_vec()
}

/// Verifies with the verifier's own code and, for interoperability, with `openssl pkeyutl`.
fn assert_verifies(cert: &[u8], digest: &[u8; 32], signature: &[u8]) {
    let spki = spki_der(cert);
    CardPublicKey::from_spki_der(&spki).unwrap().verify_digest(digest, signature).expect("shared::crypto verifies");
    let mut other = *digest;
    other[0] ^= 1;
    assert!(CardPublicKey::from_spki_der(&spki).unwrap().verify_digest(&other, signature).is_err());

    let dir = tempfile::tempdir().unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD
            .encode(&spki)
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::fs::write(dir.path().join("pub.pem"), pem).unwrap();
    std::fs::write(dir.path().join("digest.bin"), digest).unwrap();
    std::fs::write(dir.path().join("sig.bin"), signature).unwrap();
    let out = Command::new("openssl")
        .current_dir(dir.path())
        .args(["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-pkeyopt", "digest:sha256"])
        .args(["-in", "digest.bin", "-sigfile", "sig.bin"])
        .output()
        .expect("openssl is needed for the interoperability check; `cargo xtask setup` installs it");
    assert!(
        out.status.success(),
        "openssl pkeyutl -verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));
}

/// The scenarios in order, against one module instance: each reopening of the card reads what the last one left.
fn scenarios(scratch: &Path) {
    let f = Fixture::new(scratch);
    no_card_before_provisioning(&f);
    f.provision();
    let card = Pkcs11Card::open(f.config.clone()).unwrap();
    provisioned(&f, &card);
    let digest = auth_key_signs(&f, &card);
    wrong_pins_lock_the_auth_key(&card, &digest);
    drop(card);
    let card = Pkcs11Card::open(f.config.clone()).unwrap();
    assert_eq!(card.status().unwrap().auth_tries, Tries { left: 0, max: 3 });
    assert_eq!(card.sign(&auth_pin(AUTH_PIN), &digest).unwrap_err(), CardError::Locked(KeyKind::Auth));
    let digest = sign_key_unlocks(&f, &card);
    drop(card);
    let card = Pkcs11Card::open(f.config.clone()).unwrap();
    let st = card.status().unwrap();
    assert_eq!(st.signing_certificate.as_deref(), Some(f.sign_cert.as_slice()), "the unlock is persisted");
    assert_eq!(st.sign_tries, Tries { left: 5, max: 5 });
    assert_eq!(st.auth_tries, Tries { left: 0, max: 3 });
    state_file_holds_no_pin(&f);

    // Re-provisioning the pair forgets the counters of the tokens it initialised.
    f.provision();
    let reprovisioned = Pkcs11Card::open(f.config.clone()).unwrap();
    let st = reprovisioned.status().unwrap();
    assert_eq!((st.auth_tries.left, st.sign_tries.left), (3, 5));
    assert_eq!(st.signing_certificate, None);
    reprovisioned.sign(&auth_pin(AUTH_PIN), &digest).unwrap();
    opensc_layout(&f, &reprovisioned, &digest);

    println!("SCENARIOS DONE");
}

/// What the scenarios share: the module, the token pair's configuration, and the keys and certificates the tokens
/// are provisioned with.
struct Fixture {
    module: std::path::PathBuf,
    config: Pkcs11Config,
    auth_key: Vec<u8>,
    auth_cert: Vec<u8>,
    sign_key: Vec<u8>,
    sign_cert: Vec<u8>,
}

impl Fixture {
    fn new(scratch: &Path) -> Fixture {
        let module = hsm_lab::module().unwrap();
        let config = Pkcs11Config {
            module: module.clone(),
            auth_token_label: "MyNumber test (auth PIN)".to_string(),
            sign_token_label: "MyNumber test (sign PIN)".to_string(),
            auth_key_label: "User Authentication Key".to_string(),
            sign_key_label: "Digital Signature Key".to_string(),
            state_file: scratch.join("state").join("tries.json"),
        };
        let (auth_key, auth_cert) = key_and_cert("authentication");
        let (sign_key, sign_cert) = key_and_cert("signing");
        Fixture { module, config, auth_key, auth_cert, sign_key, sign_cert }
    }

    /// Initialises both tokens (again) with the keys, certificates, PIN and password.
    fn provision(&self) {
        provision_token_pair(
            &self.module,
            SO_PIN,
            &self.config,
            (&self.auth_key, &self.auth_cert, AUTH_PIN),
            (&self.sign_key, &self.sign_cert, SIGN_PASSWORD),
        )
        .unwrap();
    }
}

/// Step 0, no tokens yet: no card, with a message that names the token and the module.
fn no_card_before_provisioning(f: &Fixture) {
    let card = Pkcs11Card::open(f.config.clone()).unwrap();
    let st = card.status().unwrap();
    assert!(!st.card_present);
    assert_eq!(st.auth_certificate, None);
    match card.sign(&auth_pin(AUTH_PIN), &[0; 32]) {
        Err(CardError::NoCard(msg)) => {
            assert!(msg.contains("'MyNumber test (auth PIN)'") && msg.contains("libsofthsm2"), "{msg}");
        }
        other => panic!("expected NoCard, got {other:?}"),
    }
}

/// Step 1, provisioned: both tokens, the auth certificate without any PIN, the signing one not yet; all tries.
fn provisioned(f: &Fixture, card: &Pkcs11Card) {
    let st = card.status().unwrap();
    assert_eq!(st.backend, "pkcs11");
    assert!(st.card_present);
    assert!(
        st.reader.contains("MyNumber test (auth PIN)") && st.reader.contains("MyNumber test (sign PIN)"),
        "{}",
        st.reader
    );
    assert_eq!(st.auth_certificate.as_deref(), Some(f.auth_cert.as_slice()));
    assert_eq!(st.signing_certificate, None, "the signing certificate needs the password first");
    assert_eq!(st.auth_tries, Tries { left: 3, max: 3 });
    assert_eq!(st.sign_tries, Tries { left: 5, max: 5 });
}

/// Step 2: the authentication key signs with the right PIN; the signature verifies here and with OpenSSL. Returns the
/// digest it signed.
fn auth_key_signs(f: &Fixture, card: &Pkcs11Card) -> [u8; 32] {
    let digest: [u8; 32] = Sha256::digest(b"card-helper pkcs11 test: auth challenge").into();
    let signed = card.sign(&auth_pin(AUTH_PIN), &digest).unwrap();
    assert_eq!(signed.certificate, f.auth_cert);
    assert_eq!(signed.signature.len(), 256);
    assert_verifies(&signed.certificate, &digest, &signed.signature);
    digest
}

/// Step 3: three wrong PINs lock the authentication key; then even the right PIN is not tried (the caller checks that
/// it persists).
fn wrong_pins_lock_the_auth_key(card: &Pkcs11Card, digest: &[u8; 32]) {
    let wrong = auth_pin("0000");
    assert_eq!(card.sign(&wrong, digest).unwrap_err(), CardError::WrongPin { kind: KeyKind::Auth, tries_left: 2 });
    assert_eq!(card.status().unwrap().auth_tries, Tries { left: 2, max: 3 });
    assert_eq!(card.sign(&wrong, digest).unwrap_err(), CardError::WrongPin { kind: KeyKind::Auth, tries_left: 1 });
    assert_eq!(card.sign(&wrong, digest).unwrap_err(), CardError::Locked(KeyKind::Auth));
    // SoftHSM2 itself would accept the right PIN, so Locked here shows that no login was attempted.
    assert_eq!(card.sign(&auth_pin(AUTH_PIN), digest).unwrap_err(), CardError::Locked(KeyKind::Auth));
    let st = card.status().unwrap();
    assert_eq!(st.auth_tries, Tries { left: 0, max: 3 });
    assert_eq!(st.sign_tries, Tries { left: 5, max: 5 }, "the signing password has its own counter");
}

/// Step 4, the signing key: one wrong password, then the right one (typed in lower case) resets the count and shows the
/// signing certificate (the caller checks it after reopening). Returns the digest it signed.
fn sign_key_unlocks(f: &Fixture, card: &Pkcs11Card) -> [u8; 32] {
    let digest: [u8; 32] = Sha256::digest(b"card-helper pkcs11 test: ballot envelope").into();
    assert_eq!(
        card.sign(&sign_pin("WRONG1"), &digest).unwrap_err(),
        CardError::WrongPin { kind: KeyKind::Sign, tries_left: 4 }
    );
    let st = card.status().unwrap();
    assert_eq!(st.sign_tries, Tries { left: 4, max: 5 });
    assert_eq!(st.signing_certificate, None);
    let signed = card.sign(&sign_pin("abc123"), &digest).unwrap();
    assert_eq!(signed.certificate, f.sign_cert);
    assert_verifies(&signed.certificate, &digest, &signed.signature);
    let st = card.status().unwrap();
    assert_eq!(st.sign_tries, Tries { left: 5, max: 5 });
    assert_eq!(st.signing_certificate.as_deref(), Some(f.sign_cert.as_slice()));
    digest
}

/// The state file holds counters, never a PIN.
fn state_file_holds_no_pin(f: &Fixture) {
    let state = std::fs::read_to_string(&f.config.state_file).unwrap();
    assert!(!state.contains(SIGN_PASSWORD) && !state.to_lowercase().contains("abc123"), "{state}");
    assert!(state.contains("sign_unlocked_once"), "{state}");
}

/// OpenSC's JPKI layout: the certificates are labelled "… Certificate", not with the key's label. The auth
/// certificate is then the token's only end-entity certificate, the signing one is found by the key's CKA_ID.
fn opensc_layout(f: &Fixture, card: &Pkcs11Card, digest: &[u8; 32]) {
    relabel_certificates(&f.module, &f.config);
    let st = card.status().unwrap();
    assert_eq!(st.auth_certificate.as_deref(), Some(f.auth_cert.as_slice()));
    assert_eq!(card.sign(&auth_pin(AUTH_PIN), digest).unwrap().certificate, f.auth_cert);
    let signed = card.sign(&sign_pin(SIGN_PASSWORD), digest).unwrap();
    assert_eq!(signed.certificate, f.sign_cert);
    assert_verifies(&signed.certificate, digest, &signed.signature);
}

/// Renames each certificate object as OpenSC names the JPKI certificates, and adds a CA certificate to the auth
/// token as OpenSC does, through a second cryptoki context on the same (already initialised) module.
fn relabel_certificates(module: &Path, config: &Pkcs11Config) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, CertificateType, ObjectClass};
    use cryptoki::session::UserType;

    let ctx = Pkcs11::new(module).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Test JPKI CA");
    let ca_cert = ca_params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().der().to_vec();
    for (token_label, key_label, new_label, pin) in [
        (&config.auth_token_label, &config.auth_key_label, "User Authentication Certificate", AUTH_PIN),
        (&config.sign_token_label, &config.sign_key_label, "Digital Signature Certificate", SIGN_PASSWORD),
    ] {
        let slot = ctx
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|&s| ctx.get_token_info(s).unwrap().label() == token_label.as_str())
            .unwrap();
        let session = ctx.open_rw_session(slot).unwrap();
        session.login(UserType::User, Some(&SecretString::from(pin.to_string()))).unwrap();
        let certs = session
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::Label(key_label.as_bytes().to_vec()),
            ])
            .unwrap();
        assert_eq!(certs.len(), 1);
        session.update_attributes(certs[0], &[Attribute::Label(new_label.as_bytes().to_vec())]).unwrap();
        if token_label == &config.auth_token_label {
            let (_, parsed) = x509_parser::parse_x509_certificate(&ca_cert).unwrap();
            session
                .create_object(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::CertificateType(CertificateType::X_509),
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Label(b"User Authentication Certificate CA".to_vec()),
                    Attribute::Id(vec![3]),
                    Attribute::Subject(parsed.subject().as_raw().to_vec()),
                    Attribute::Value(ca_cert.clone()),
                ])
                .unwrap();
        }
        session.logout().unwrap();
    }
}
