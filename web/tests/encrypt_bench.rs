//! The app's ballot encryption against the browser's own RSA-OAEP (tracker issue 10), in headless Chromium on the
//! committed RSA-3072 test key: each side's ciphertext decrypts on the other side to the same ballot bytes
//! (interoperability, asserted), and one `BENCH {…}` line gives the median time of one encryption on each side
//! (reported, never asserted: `cargo xtask bench --only browser` runs this with `--release` and `--nocapture` and
//! puts the figures in README.md's Performance table; timing belongs in benchmarks, not in pass/fail tests).
//!
//! The wasm side is the app's own encryption: `shared::crypto::encrypt_ballot` with the browser's randomness
//! (`getrandom::SysRng`), the same OAEP as `shared::sealed::seal`, which the app calls (services/cast.rs).
//! WebCrypto encrypts with `RSA-OAEP`, SHA-256 and the same OAEP label. Both keys are parsed or imported once,
//! outside the timed loop; the key parse is timed separately.
//!
//! The line also gives the check of the encryption on the confirmation screen (the Benaloh challenge, issue 18) as
//! the app does it: open the sealed ballot (`Sealed::challenge`), write its opening as the JSON the screen shows,
//! and seal the choice afresh (`services::cast::seal`), beside its limit of 50 ms (`challenge_reseal_*`).
//!
//! The line also gives the RSA crate's own OAEP encryption of the same ballot for comparison: its exponentiation
//! is the constant-time window made for secret exponents, in `crypto-bigint`'s limbs (shared/src/oaep.rs and
//! shared/src/rsaep.rs say why the app does its own).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::{Oaep, PrivateKey, PublicKey};
use shared::ballot::{BALLOT_LEN, encode_for};
use shared::crypto::{ElectionPublicKey, encrypt_ballot, oaep_label};
use shared::election::{Choice, Election};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web::services::cast::{self, ElectionKey};
use web_sys::{CryptoKey, SubtleCrypto};

wasm_bindgen_test_configure!(run_in_browser);

mod watch;

const ELECTION_PUB: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");
/// The committed INSECURE test key of `shared`'s crypto tests: only tests may decrypt.
const ELECTION_KEY_INSECURE: &str = include_str!("../../shared/tests/data/INSECURE-test-election-key.pem");
/// The demo election `verifier serve --demo` runs: a real contest with real candidates.
const DEMO_ELECTION: &str = include_str!("../../verifier/elections/demo.toml");

/// The longest the check of the encryption and the fresh seal may take in the browser, in ms.
const CHALLENGE_RESEAL_LIMIT_MS: f64 = 50.0;

/// Encryptions per timed batch: Chromium coarsens `performance.now()` to 0.1 ms, so one encryption is not timed
/// alone.
const BATCH: usize = 8;

/// Encryptions on each side before timing starts, so that both are timed at their steady speed.
const WARM_UP: usize = 100;

/// Timed batches per side: few in a debug build (`cargo xtask test` runs this as a correctness test), more in the
/// release build that `cargo xtask bench` measures.
fn batches() -> usize {
    if cfg!(debug_assertions) { 3 } else { 41 }
}

fn subtle() -> SubtleCrypto {
    web_sys::window().unwrap().crypto().unwrap().subtle()
}

fn now_ms() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

/// Builds a plain JS object from string keys and values.
fn object(entries: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in entries {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o
}

/// Returns the DER inside a PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    B64.decode(body).unwrap()
}

fn oaep_params(label: &[u8]) -> Object {
    object(&[("name", "RSA-OAEP".into()), ("label", Uint8Array::from(label).into())])
}

async fn import(format: &str, der: &[u8], usage: &str) -> CryptoKey {
    let alg = object(&[("name", "RSA-OAEP".into()), ("hash", "SHA-256".into())]);
    let usages = Array::of1(&usage.into());
    let promise = subtle().import_key_with_object(format, &Uint8Array::from(der), &alg, false, &usages).unwrap();
    JsFuture::from(promise).await.unwrap().unchecked_into()
}

async fn webcrypto_encrypt(key: &CryptoKey, label: &[u8], plain: &[u8]) -> Vec<u8> {
    let promise =
        subtle().encrypt_with_object_and_js_u8_array(&oaep_params(label), key, &Uint8Array::from(plain)).unwrap();
    let buf: ArrayBuffer = JsFuture::from(promise).await.unwrap().unchecked_into();
    Uint8Array::new(&buf).to_vec()
}

async fn webcrypto_decrypt(key: &CryptoKey, label: &[u8], ct: &[u8]) -> Result<Vec<u8>, JsValue> {
    let promise = subtle().decrypt_with_object_and_js_u8_array(&oaep_params(label), key, &Uint8Array::from(ct))?;
    let buf: ArrayBuffer = JsFuture::from(promise).await?.unchecked_into();
    Ok(Uint8Array::new(&buf).to_vec())
}

/// The app's encryption primitive (the app seals through `shared::sealed::seal`, the same OAEP).
fn app_encrypt(key: &ElectionPublicKey, election: &str, contest: &str, plain: &[u8; BALLOT_LEN]) -> Vec<u8> {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    encrypt_ballot(&mut rng, key, election, contest, plain).unwrap()
}

/// Times `f` in batches of [`BATCH`] and returns the median time of one call, in ms.
fn timed(mut f: impl FnMut()) -> f64 {
    let mut xs = Vec::new();
    for _ in 0..batches() {
        let t = now_ms();
        for _ in 0..BATCH {
            f();
        }
        xs.push((now_ms() - t) / BATCH as f64);
    }
    median(&mut xs)
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

#[wasm_bindgen_test]
async fn app_encryption_interoperates_with_webcrypto_and_is_timed_against_it() {
    let _watch = watch::Watch::start();
    let election: Election = toml::from_str(DEMO_ELECTION).unwrap();
    let contest = election.contest("tokyo").unwrap();
    let (eid, cid) = (election.id.as_str(), contest.id.as_str());
    let plain = encode_for(eid, contest, &Choice::Candidate(3)).unwrap();
    let label = oaep_label(eid, cid);
    let key = ElectionPublicKey::from_pem(ELECTION_PUB).unwrap();
    assert_eq!(key.ciphertext_len(), 384, "the test key is RSA-3072");
    let wc_pub = import("spki", key.spki_der(), "encrypt").await;
    let wc_priv = import("pkcs8", &pem_der(ELECTION_KEY_INSECURE), "decrypt").await;
    let rs_priv = PrivateKey::from_pkcs8_pem(ELECTION_KEY_INSECURE).unwrap();

    // Interoperability: the app's ciphertext opens in WebCrypto, and only under its own contest's label.
    let ct = app_encrypt(&key, eid, cid, &plain);
    assert_eq!(ct.len(), 384);
    assert_eq!(webcrypto_decrypt(&wc_priv, &label, &ct).await.unwrap(), plain);
    assert!(webcrypto_decrypt(&wc_priv, &oaep_label(eid, "national-pr"), &ct).await.is_err());
    // …and WebCrypto's ciphertext opens with the RSA crate the app and the servers build on (as shared's own
    // crypto tests decrypt), to the same ballot bytes.
    let wc_ct = webcrypto_encrypt(&wc_pub, &label, &plain).await;
    assert_eq!(wc_ct.len(), 384);
    assert_ne!(wc_ct, ct, "OAEP is randomised");
    assert_eq!(rs_priv.decrypt(Oaep::<Sha256>::new_with_label(label.clone()), &wc_ct).unwrap(), plain.to_vec());
    assert!(rs_priv.decrypt(Oaep::<Sha256>::new_with_label(oaep_label(eid, "national-pr")), &wc_ct).is_err());

    // Timing: warm both sides up (V8 first runs wasm with its baseline compiler and moves hot functions to the
    // optimising one after a while), then alternate batches so that load from elsewhere hits both alike.
    for _ in 0..WARM_UP {
        app_encrypt(&key, eid, cid, &plain);
        webcrypto_encrypt(&wc_pub, &label, &plain).await;
    }
    let (mut wasm, mut webcrypto, mut parse) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..batches() {
        let t = now_ms();
        for _ in 0..BATCH {
            app_encrypt(&key, eid, cid, &plain);
        }
        wasm.push((now_ms() - t) / BATCH as f64);
        let t = now_ms();
        for _ in 0..BATCH {
            webcrypto_encrypt(&wc_pub, &label, &plain).await;
        }
        webcrypto.push((now_ms() - t) / BATCH as f64);
        // The app parses the key from the ballot view's SPKI once per cast.
        let t = now_ms();
        for _ in 0..BATCH {
            ElectionPublicKey::from_spki_der(key.spki_der()).unwrap();
        }
        parse.push((now_ms() - t) / BATCH as f64);
    }
    // The ratio is the median over adjacent pairs of batches (wasm, then WebCrypto right after it), so that the
    // load of a shared machine, which drifts over seconds, mostly cancels out of each pair.
    let mut pairs: Vec<f64> = wasm.iter().zip(&webcrypto).map(|(w, c)| w / c).collect();
    let ratio = median(&mut pairs);
    let (w, c, p) = (median(&mut wasm), median(&mut webcrypto), median(&mut parse));

    // For comparison: the RSA crate's own OAEP encryption of the same ballot, whose exponentiation is the
    // constant-time window for secret exponents (shared/src/oaep.rs says why the app does not use it).
    let pk = PublicKey::from_public_key_pem(ELECTION_PUB).unwrap();
    let rsa_crate = timed(|| {
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        drop(pk.encrypt(&mut rng, Oaep::<Sha256>::new_with_label(label.clone()), &plain).unwrap());
    });
    // The check of the encryption as the confirmation screen does it: open the sealed ballot, write the opening's
    // JSON, seal the choice afresh (the key is read from a ballot view, as at login).
    let view = shared::api::BallotView {
        election_id: election.id.clone(),
        contests: vec![],
        public_key: shared::wire::Base64(key.spki_der().to_vec()),
        key_fingerprint: key.fingerprint(),
        session_expires_at: chrono::DateTime::UNIX_EPOCH,
        session_extensions_left: 0,
        window_closes_at: chrono::DateTime::UNIX_EPOCH,
        paused: None,
    };
    let app_key = ElectionKey::from_view(&view).unwrap();
    let reseal = || cast::seal(&app_key, &election.id, contest, Choice::Candidate(3)).unwrap();
    let mut sealed = Some(reseal());
    let challenge_reseal = timed(|| {
        let opening = sealed.take().unwrap().challenge();
        std::hint::black_box(serde_json::to_string_pretty(&opening).unwrap());
        sealed = Some(reseal());
    });
    let report = serde_json::json!({
        "what": "RSA-OAEP-3072 SHA-256 encryption of one 64-byte ballot with its label",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "wasm_median_ms": w,
        "webcrypto_median_ms": c,
        "ratio": ratio,
        "ratio_of_medians": w / c,
        "wasm_key_parse_median_ms": p,
        "wasm_rsa_crate_encrypt_median_ms": rsa_crate,
        "challenge_reseal_median_ms": challenge_reseal,
        "challenge_reseal_limit_ms": CHALLENGE_RESEAL_LIMIT_MS,
        "challenge_reseal_ratio_to_limit": challenge_reseal / CHALLENGE_RESEAL_LIMIT_MS,
        "samples": wasm.len(),
        "encryptions_per_sample": BATCH,
        "wasm_min_ms": wasm[0],
        "wasm_max_ms": wasm[wasm.len() - 1],
        "webcrypto_min_ms": webcrypto[0],
        "webcrypto_max_ms": webcrypto[webcrypto.len() - 1],
        "user_agent": web_sys::window().unwrap().navigator().user_agent().unwrap_or_default(),
    });
    wasm_bindgen_test::console_log!("BENCH {report}");
}
