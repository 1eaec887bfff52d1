//! EME-OAEP decoding on the host (RFC 8017 §7.1.2) with SHA-256 and MGF1-SHA-256, for tokens that only offer raw
//! RSA (`CKM_RSA_X_509`): the private operation stays in the token, only the padding is removed here.
//!
//! Every check runs over the whole block and the outcome is one error with no detail, so the time taken and the
//! answer say nothing about which check failed (Manger's attack needs exactly that distinction).

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use shared::oaep::{H_LEN, mgf1_xor};

/// Why an encoded block was refused: deliberately one opaque reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("OAEP decoding failed (wrong key, wrong label, or a damaged ciphertext)")]
pub struct OaepError;

/// Removes OAEP padding from the raw RSA output `em` of a `k`-byte modulus, checking the label's hash.
///
/// `em` may be shorter than `k` when a token strips leading zero bytes; it is left-padded first.
pub fn decode(em: &[u8], k: usize, label: &[u8]) -> Result<Vec<u8>, OaepError> {
    if k < 2 * H_LEN + 2 || em.len() > k {
        return Err(OaepError);
    }
    let mut block = vec![0u8; k];
    block[k - em.len()..].copy_from_slice(em);
    let (y, rest) = block.split_at_mut(1);
    let (seed, db) = rest.split_at_mut(H_LEN);
    mgf1_xor(seed, db);
    mgf1_xor(db, seed);
    let l_hash = Sha256::digest(label);
    let mut good = y[0].ct_eq(&0) & db[..H_LEN].ct_eq(&l_hash[..]);
    let mut looking = subtle::Choice::from(1u8);
    let mut index = 0u32;
    for (i, b) in db[H_LEN..].iter().enumerate() {
        let is_one = b.ct_eq(&1);
        let is_zero = b.ct_eq(&0);
        // The block is at most a few hundred bytes, far below u32::MAX.
        index.conditional_assign(&(i as u32), looking & is_one);
        looking &= !is_one;
        good &= !(looking & !is_zero);
    }
    good &= !looking;
    if bool::from(good) { Ok(db[H_LEN + index as usize + 1..].to_vec()) } else { Err(OaepError) }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use shared::ballot;
    use shared::crypto::{ElectionPublicKey, encrypt_ballot, oaep_label};

    use super::*;

    const PUB: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");
    const KEY_INSECURE: &str = include_str!("../../shared/tests/data/INSECURE-test-election-key.pem");
    const VECTORS: &str = include_str!("../../shared/tests/data/crypto_vectors.txt");

    fn vector(name: &str) -> Vec<u8> {
        let line = VECTORS.lines().find(|l| l.starts_with(&format!("{name} = "))).unwrap();
        hex::decode(line.split_once(" = ").unwrap().1).unwrap()
    }

    /// The raw RSA private operation with the committed INSECURE test key, by `openssl pkeyutl` (no padding).
    fn raw_decrypt(ct: &[u8]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.pem"), KEY_INSECURE).unwrap();
        std::fs::write(dir.path().join("ct.bin"), ct).unwrap();
        let out = Command::new("openssl")
            .current_dir(dir.path())
            .args(["pkeyutl", "-decrypt", "-inkey", "key.pem", "-pkeyopt", "rsa_padding_mode:none"])
            .args(["-in", "ct.bin"])
            .output()
            .expect("openssl is needed for the known-answer tests; `cargo xtask setup` installs it");
        assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn sample() -> (shared::election::Election, [u8; ballot::BALLOT_LEN]) {
        let e: shared::election::Election = serde_json::from_str(include_str!("../tests/data/election.json")).unwrap();
        let c = e.contest("tokyo").unwrap();
        let b = ballot::encode(&e, c, &shared::election::Choice::Candidate(2)).unwrap();
        (e, b)
    }

    #[test]
    fn decodes_what_shared_encrypts_and_only_with_its_label() {
        let (_, plain) = sample();
        let key = ElectionPublicKey::from_pem(PUB).unwrap();
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let ct = encrypt_ballot(&mut rng, &key, "hoc-2028", "tokyo", &plain).unwrap();
        let em = raw_decrypt(&ct);
        assert_eq!(decode(&em, 384, &oaep_label("hoc-2028", "tokyo")).unwrap(), plain);
        assert_eq!(decode(&em, 384, &oaep_label("hoc-2028", "national-pr")), Err(OaepError));
        let mut bad = em.clone();
        bad[200] ^= 1;
        assert_eq!(decode(&bad, 384, &oaep_label("hoc-2028", "tokyo")), Err(OaepError));
        assert_eq!(decode(&em[1..], 384, &oaep_label("hoc-2028", "tokyo")).unwrap(), plain, "leading zero stripped");
    }

    #[test]
    fn decodes_the_openssl_known_answer_vector() {
        // Made by `openssl pkeyutl -encrypt` with OAEP SHA-256/MGF1-SHA-256 and the label (shared's vectors).
        let (_, plain) = sample();
        let em = raw_decrypt(&vector("openssl_oaep_ciphertext"));
        assert_eq!(decode(&em, 384, &oaep_label("hoc-2028", "tokyo")).unwrap(), plain);
    }

    #[test]
    fn refuses_short_moduli_and_oversized_blocks() {
        assert_eq!(decode(&[0; 10], 60, b""), Err(OaepError));
        assert_eq!(decode(&[0; 385], 384, b""), Err(OaepError));
        assert_eq!(decode(&[0; 384], 384, b""), Err(OaepError));
    }
}
