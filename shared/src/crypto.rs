//! Ballot encryption and the digests the card signs (R-VOTE-5..8); the same bytes in the browser and the servers.
//!
//! - A ballot is encrypted with RSA-OAEP (SHA-256, MGF1-SHA-256) under the election's public key (RSA-3072 or
//!   larger); the OAEP label `jp-ivote:v1:ballot:<election>:<contest>` binds the ciphertext to its contest, so a
//!   ciphertext moved to another contest or election fails to decrypt.
//! - The signing key of the card signs [`envelope_digest`] (election, contest, ciphertext) with PKCS#1 v1.5 and
//!   SHA-256 (R-VOTE-6); the authentication key signs [`auth_digest`] (origin, server nonce) at login (R-VOTE-5).
//! - The ballot tracker is the hex SHA-256 of the ciphertext: the receipt a voter checks after the close.
//!
//! Inputs to every digest are framed (each part prefixed by its 4-byte big-endian length) after a domain string,
//! so no two different inputs share a digest and no digest of one kind can be replayed as another.
//! There is no decryption here: only the counting tool decrypts, inside an HSM (R-COUNT-2).

use rand_core::CryptoRng;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PublicKey};
use sha2::{Digest, Sha256};

use crate::ballot::BALLOT_LEN;
use crate::frame::frame;
use crate::rsaep::Rsaep;

/// The smallest election key accepted, in bits.
pub const MIN_ELECTION_KEY_BITS: usize = 3072;
/// The smallest card key accepted, in bits (JPKI keys are RSA-2048).
pub const MIN_CARD_KEY_BITS: usize = 2048;
/// The largest RSA key accepted anywhere, in bits.
pub const MAX_KEY_BITS: usize = 4096;

/// Domain string of the ballot envelope digest.
pub const ENVELOPE_DOMAIN: &[u8] = b"jp-ivote:v1:envelope";
/// Domain string of the login (authentication) digest.
pub const AUTH_DOMAIN: &[u8] = b"jp-ivote:v1:auth";

/// The election's public key, with the fingerprint that is published and shown to voters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionPublicKey {
    key: Rsaep,
    spki_der: Vec<u8>,
}

impl ElectionPublicKey {
    /// Reads a SubjectPublicKeyInfo (DER), refusing keys smaller than 3072 or larger than 4096 bits.
    pub fn from_spki_der(der: &[u8]) -> Result<ElectionPublicKey, CryptoError> {
        let key = PublicKey::from_public_key_der(der).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        check_bits(&key, MIN_ELECTION_KEY_BITS)?;
        let spki_der = key.to_public_key_der().map_err(|e| CryptoError::BadKey(e.to_string()))?.into_vec();
        Ok(ElectionPublicKey { key: Rsaep::new(&key), spki_der })
    }

    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn from_pem(pem: &str) -> Result<ElectionPublicKey, CryptoError> {
        let key = PublicKey::from_public_key_pem(pem).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        let der = key.to_public_key_der().map_err(|e| CryptoError::BadKey(e.to_string()))?;
        ElectionPublicKey::from_spki_der(der.as_bytes())
    }

    /// Returns the SubjectPublicKeyInfo in DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Returns the fingerprint: hex SHA-256 of the SubjectPublicKeyInfo DER.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.spki_der))
    }

    pub(crate) fn rsaep(&self) -> &Rsaep {
        &self.key
    }

    /// Returns the length of every ciphertext under this key, in bytes.
    pub fn ciphertext_len(&self) -> usize {
        self.key.size()
    }
}

/// Returns the OAEP label that binds a ciphertext to its election and contest.
pub fn oaep_label(election_id: &str, contest_id: &str) -> Vec<u8> {
    format!("jp-ivote:v1:ballot:{election_id}:{contest_id}").into_bytes()
}

/// Encrypts ballot bytes for a contest (R-VOTE-7). The caller passes the randomness (the browser's).
pub fn encrypt_ballot<R: CryptoRng + ?Sized>(
    rng: &mut R,
    key: &ElectionPublicKey,
    election_id: &str,
    contest_id: &str,
    ballot: &[u8; BALLOT_LEN],
) -> Result<Vec<u8>, CryptoError> {
    crate::oaep::encrypt(rng, &key.key, &oaep_label(election_id, contest_id), ballot)
        .map_err(|e| CryptoError::Encrypt(e.to_string()))
}

/// Returns the OAEP label of a ballot-box batch key: `jp-ivote:v1:batch-key:<election>:<contest>:<batch hex>`. It
/// differs from every ballot label, so a wrapped key can never be taken for a ballot, nor a ballot for a key.
pub fn batch_key_label(election_id: &str, contest_id: &str, batch: &[u8]) -> Vec<u8> {
    format!("jp-ivote:v1:batch-key:{election_id}:{contest_id}:{}", hex::encode(batch)).into_bytes()
}

/// Encrypts a ballot-box batch key (the symmetric key that seals ballots waiting in the box's pool) under the
/// election key, so that only the counting tool, in the HSM, can open a batch the verifier could not (R-VOTE-8).
pub fn wrap_batch_key<R: CryptoRng + ?Sized>(
    rng: &mut R,
    key: &ElectionPublicKey,
    election_id: &str,
    contest_id: &str,
    batch: &[u8],
    secret: &[u8; 32],
) -> Result<Vec<u8>, CryptoError> {
    crate::oaep::encrypt(rng, &key.key, &batch_key_label(election_id, contest_id, batch), secret)
        .map_err(|e| CryptoError::Encrypt(e.to_string()))
}

/// Returns the message whose SHA-256 the card's signing key signs for a ballot (R-VOTE-6).
pub fn envelope_message(election_id: &str, contest_id: &str, ciphertext: &[u8]) -> Vec<u8> {
    frame(&[ENVELOPE_DOMAIN, election_id.as_bytes(), contest_id.as_bytes(), ciphertext])
}

/// Returns the digest the card's signing key signs for a ballot (R-VOTE-6): SHA-256 of [`envelope_message`].
pub fn envelope_digest(election_id: &str, contest_id: &str, ciphertext: &[u8]) -> [u8; 32] {
    Sha256::digest(envelope_message(election_id, contest_id, ciphertext)).into()
}

/// Returns the message whose SHA-256 the card's authentication key signs at login: the web origin that asked
/// (from the request's `Origin` header, as the helper sees it) and the server's single-use nonce (R-VOTE-5).
pub fn auth_message(origin: &str, nonce: &[u8]) -> Vec<u8> {
    frame(&[AUTH_DOMAIN, origin.as_bytes(), nonce])
}

/// Returns the digest the card's authentication key signs at login: SHA-256 of [`auth_message`].
pub fn auth_digest(origin: &str, nonce: &[u8]) -> [u8; 32] {
    Sha256::digest(auth_message(origin, nonce)).into()
}

/// Domain string of the application digest.
pub const APPLICATION_DOMAIN: &[u8] = b"jp-ivote:v1:application";

/// Returns the message whose SHA-256 the card's signing key signs for an application or a switch request
/// (R-REG-2, R-REG-9): the exact bytes of the application's JSON, as sent, and the authentication certificate
/// (DER) of the same card, which the card helper reads from the card it signs with. The verifier checks it with
/// the certificate of the applicant's session: an application signed with one card in a session of another is
/// refused (one card, one person).
pub fn application_message(application_json: &[u8], auth_certificate: &[u8]) -> Vec<u8> {
    frame(&[APPLICATION_DOMAIN, application_json, auth_certificate])
}

/// Returns the digest the card's signing key signs for an application: SHA-256 of [`application_message`].
pub fn application_digest(application_json: &[u8], auth_certificate: &[u8]) -> [u8; 32] {
    Sha256::digest(application_message(application_json, auth_certificate)).into()
}

/// Returns the ballot tracker: hex SHA-256 of the ciphertext.
pub fn tracker(ciphertext: &[u8]) -> String {
    hex::encode(Sha256::digest(ciphertext))
}

/// A card's public key (authentication or signing), read from a SubjectPublicKeyInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardPublicKey(PublicKey);

impl CardPublicKey {
    /// Reads a SubjectPublicKeyInfo (DER), refusing keys outside 2048–4096 bits.
    pub fn from_spki_der(der: &[u8]) -> Result<CardPublicKey, CryptoError> {
        let key = PublicKey::from_public_key_der(der).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        check_bits(&key, MIN_CARD_KEY_BITS)?;
        Ok(CardPublicKey(key))
    }

    /// Reads a PEM `PUBLIC KEY`.
    pub fn from_pem(pem: &str) -> Result<CardPublicKey, CryptoError> {
        let key = PublicKey::from_public_key_pem(pem).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        check_bits(&key, MIN_CARD_KEY_BITS)?;
        Ok(CardPublicKey(key))
    }

    /// Verifies a PKCS#1 v1.5 signature over a SHA-256 digest, as the card makes it.
    pub fn verify_digest(&self, digest: &[u8; 32], signature: &[u8]) -> Result<(), CryptoError> {
        if signature.len() != self.0.size() {
            return Err(CryptoError::BadSignature);
        }
        self.0.verify(Pkcs1v15Sign::new::<Sha256>(), digest, signature).map_err(|_| CryptoError::BadSignature)
    }
}

fn check_bits(key: &PublicKey, min: usize) -> Result<(), CryptoError> {
    let bits = key.n().bit_width() as usize;
    if (min..=MAX_KEY_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(CryptoError::KeySize { bits, min, max: MAX_KEY_BITS })
    }
}

/// Why a key, an encryption or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not an RSA SubjectPublicKeyInfo.
    #[error("not an RSA public key (SubjectPublicKeyInfo): {0}")]
    BadKey(String),
    /// An RSA key of the wrong size.
    #[error("RSA key of {bits} bits; expected {min} to {max}")]
    KeySize {
        /// The key's size.
        bits: usize,
        /// The smallest accepted.
        min: usize,
        /// The largest accepted.
        max: usize,
    },
    /// Encryption failed (the randomness source failed).
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// The signature does not verify over the digest with this key.
    #[error("the signature does not verify")]
    BadSignature,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::{Oaep, PrivateKey};

    use super::*;
    use crate::ballot;
    use crate::election::{Choice, tests::sample_election};

    const ELECTION_PUB: &str = include_str!("../tests/data/test-election-key.pub.pem");
    const ELECTION_KEY_INSECURE: &str = include_str!("../tests/data/INSECURE-test-election-key.pem");
    const CARD_PUB: &str = include_str!("../tests/data/test-card-signing-key.pub.pem");
    const VECTORS: &str = include_str!("../tests/data/crypto_vectors.txt");

    /// Reads `name = hex` lines of the committed vectors.
    fn vector(name: &str) -> Vec<u8> {
        let line = VECTORS.lines().find(|l| l.starts_with(&format!("{name} = "))).unwrap();
        hex::decode(line.split_once(" = ").unwrap().1).unwrap()
    }

    fn test_decrypt(label: &[u8], ct: &[u8]) -> rsa::Result<Vec<u8>> {
        // Decryption exists only in tests with the committed INSECURE test key, to prove the format.
        let sk = PrivateKey::from_pkcs8_pem(ELECTION_KEY_INSECURE).unwrap();
        sk.decrypt(Oaep::<Sha256>::new_with_label(label.to_vec()), ct)
    }

    #[test]
    fn frame_prefixes_lengths() {
        assert_eq!(frame(&[b"ab", b""]), vec![0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0]);
        assert_ne!(frame(&[b"ab", b"c"]), frame(&[b"a", b"bc"]));
    }

    #[test]
    fn digest_known_answers() {
        assert_eq!(envelope_digest("hoc-2028", "tokyo", b"ciphertext").to_vec(), vector("envelope_digest"));
        assert_eq!(auth_digest("https://vote.example.jp", &[7u8; 32]).to_vec(), vector("auth_digest"));
        assert_eq!(tracker(b"ciphertext"), hex::encode(vector("tracker")));
    }

    #[test]
    fn election_key_fingerprint_and_size() {
        let key = ElectionPublicKey::from_pem(ELECTION_PUB).unwrap();
        assert_eq!(key.ciphertext_len(), 384);
        assert_eq!(key.fingerprint(), hex::encode(vector("election_key_fingerprint")));
        assert!(matches!(ElectionPublicKey::from_pem(CARD_PUB), Err(CryptoError::KeySize { bits: 2048, .. })));
        assert!(matches!(ElectionPublicKey::from_spki_der(b"junk"), Err(CryptoError::BadKey(_))));
    }

    #[test]
    fn encryption_decrypts_with_the_label_and_only_with_it() {
        let e = sample_election();
        let contest = &e.contests[0];
        let key = ElectionPublicKey::from_pem(ELECTION_PUB).unwrap();
        let plain = ballot::encode(&e, contest, &Choice::Candidate(2)).unwrap();
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let ct = encrypt_ballot(&mut rng, &key, "hoc-2028", "tokyo", &plain).unwrap();
        assert_eq!(ct.len(), 384);
        let ct2 = encrypt_ballot(&mut rng, &key, "hoc-2028", "tokyo", &plain).unwrap();
        assert_ne!(ct, ct2, "OAEP is randomised: equal choices give different ciphertexts");
        assert_eq!(test_decrypt(&oaep_label("hoc-2028", "tokyo"), &ct).unwrap(), plain);
        assert!(test_decrypt(&oaep_label("hoc-2028", "national-pr"), &ct).is_err());
        assert!(test_decrypt(&oaep_label("hoc-2031", "tokyo"), &ct).is_err());
    }

    #[test]
    fn openssl_ciphertext_decrypts_to_the_vector_ballot() {
        // Made by `openssl pkeyutl -encrypt` with OAEP SHA-256/MGF1-SHA-256 and the label (interoperability).
        let ct = vector("openssl_oaep_ciphertext");
        let plain = test_decrypt(&oaep_label("hoc-2028", "tokyo"), &ct).unwrap();
        let e = sample_election();
        assert_eq!(plain, ballot::encode(&e, &e.contests[0], &Choice::Candidate(2)).unwrap());
    }

    #[test]
    fn openssl_signature_verifies_and_tampering_fails() {
        // Made by `openssl pkeyutl -sign -pkeyopt digest:sha256` over envelope_digest (PKCS#1 v1.5).
        let key = CardPublicKey::from_pem(CARD_PUB).unwrap();
        let digest = envelope_digest("hoc-2028", "tokyo", b"ciphertext");
        let sig = vector("openssl_card_signature");
        key.verify_digest(&digest, &sig).unwrap();
        let other = envelope_digest("hoc-2028", "national-pr", b"ciphertext");
        assert_eq!(key.verify_digest(&other, &sig), Err(CryptoError::BadSignature));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(key.verify_digest(&digest, &bad), Err(CryptoError::BadSignature));
        assert_eq!(key.verify_digest(&digest, &sig[1..]), Err(CryptoError::BadSignature));
    }
}
