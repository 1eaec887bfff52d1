//! The cast envelope as the verifier receives it (`POST /api/v1/ballots`): the JSON body, its base64 fields,
//! the signing certificate against the test authority and the verifier's signature check over the envelope
//! message (`CheckedCert::verify_signature`, *ring*); `shared::crypto`'s envelope digest and `CardPublicKey` check
//! (the browser's and the helper's); and the same bytes as a SubjectPublicKeyInfo of a card and an election key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::api::CastRequest;
use shared::crypto::{CardPublicKey, ElectionPublicKey, envelope_digest, envelope_message};
use verifier::certs::CertKind;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = CardPublicKey::from_spki_der(data) {
        let _ = key.verify_digest(&[0; 32], data);
    }
    if let Ok(key) = ElectionPublicKey::from_spki_der(data) {
        let _ = (key.fingerprint(), key.ciphertext_len());
    }

    let Ok(cast) = serde_json::from_slice::<CastRequest>(data) else { return };
    let election = jp_ivote_fuzz::demo_election();
    let _ = election.contest(cast.contest.as_str());
    // The body's base64 fields were decoded while it was read (`shared::wire::Base64`).
    let (ciphertext, certificate, signature) = (&cast.ciphertext.0, &cast.certificate.0, &cast.signature.0);
    let _ = ciphertext.len() == jp_ivote_fuzz::election_key().ciphertext_len();
    let digest = envelope_digest(election.id.as_str(), cast.contest.as_str(), ciphertext);
    // As the verifier: the key comes from a certificate the trust store accepted.
    if let Ok(checked) = jp_ivote_fuzz::trust_store().check(CertKind::Sign, certificate, jp_ivote_fuzz::now()) {
        let message = envelope_message(election.id.as_str(), cast.contest.as_str(), ciphertext);
        let by_verifier = checked.verify_signature(&message, signature).is_ok();
        if let Ok(spki) = jpki::spki_der(certificate)
            && let Ok(key) = CardPublicKey::from_spki_der(&spki)
        {
            let by_shared = key.verify_digest(&digest, signature).is_ok();
            assert_eq!(by_verifier, by_shared, "the verifier (ring) and shared::crypto (rsa) disagree on a signature");
        }
    }
    // And straight from any certificate, so that signatures reach RSA verification without a trusted chain.
    if let Ok(spki) = jpki::spki_der(certificate)
        && let Ok(key) = CardPublicKey::from_spki_der(&spki)
    {
        let _ = key.verify_digest(&digest, signature);
    }
});
