//! EME-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 §7.1): encryption of ballots (R-VOTE-7) in the browser and
//! the mask function the counting tool's decoder shares.
//!
//! Why not `rsa`'s own OAEP encryption: its RSAEP raises to the public exponent with the constant-time 4-bit window
//! it uses for secret exponents, about 37 Montgomery multiplications for e = 65537, in `crypto-bigint`'s 32-bit
//! limbs. Here RSAEP is [`crate::rsaep`]: square-and-multiply over the public exponent's bits (16 squarings and
//! 1 multiplication), each constant-time in the message, in limbs shaped for wasm. The encoding is checked byte
//! for byte against `rsa`'s encryption with the same randomness, and decrypted by `rsa`, WebCrypto
//! (web/tests/encrypt_bench.rs), OpenSSL and SoftHSM2 (the counting tool's tests).

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::rsaep::Rsaep;

/// The length of a SHA-256 digest, the OAEP hash here.
pub const H_LEN: usize = 32;

/// Why a message could not be encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a message of {len} bytes does not fit an OAEP block of a {k}-byte key (at most {max} bytes)")]
pub struct MessageTooLong {
    /// The message's length.
    pub len: usize,
    /// The key's length in bytes.
    pub k: usize,
    /// The longest message that fits.
    pub max: usize,
}

/// XORs `out` with MGF1-SHA-256 of `seed` (RFC 8017 §B.2.1).
pub fn mgf1_xor(out: &mut [u8], seed: &[u8]) {
    for (counter, chunk) in (0u32..).zip(out.chunks_mut(H_LEN)) {
        let mask = Sha256::new().chain_update(seed).chain_update(counter.to_be_bytes()).finalize();
        for (o, m) in chunk.iter_mut().zip(mask.iter()) {
            *o ^= m;
        }
    }
}

/// RSAES-OAEP-ENCRYPT (RFC 8017 §7.1.1) of `msg` under `key` with `label`, the seed drawn from `rng`.
pub fn encrypt<R: CryptoRng + ?Sized>(
    rng: &mut R,
    key: &Rsaep,
    label: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, MessageTooLong> {
    let mut seed = Zeroizing::new([0u8; H_LEN]);
    rng.fill_bytes(seed.as_mut_slice());
    encrypt_with_seed(key, label, msg, &seed)
}

/// RSAES-OAEP-ENCRYPT with a given seed: deterministic, so that whoever holds the seed and the message can
/// re-encrypt and compare (the voter's check of an encryption, `crate::sealed`). The seed must be fresh
/// randomness, used once, and revealed only for a ballot that is never cast.
pub fn encrypt_with_seed(key: &Rsaep, label: &[u8], msg: &[u8], seed: &[u8; H_LEN]) -> Result<Vec<u8>, MessageTooLong> {
    let k = key.size();
    let max = k.saturating_sub(2 * H_LEN + 2);
    if msg.len() > max {
        return Err(MessageTooLong { len: msg.len(), k, max });
    }
    // EM = 0x00 || maskedSeed || maskedDB, DB = lHash || PS (zeros) || 0x01 || M.
    let mut em = Zeroizing::new(vec![0u8; k]);
    let (seed_out, db) = em[1..].split_at_mut(H_LEN);
    seed_out.copy_from_slice(seed);
    let seed = seed_out;
    db[..H_LEN].copy_from_slice(&Sha256::digest(label));
    let m_start = db.len() - msg.len();
    db[m_start - 1] = 1;
    db[m_start..].copy_from_slice(msg);
    mgf1_xor(db, seed);
    mgf1_xor(seed, db);
    Ok(key.apply(&em))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use rsa::{Oaep, PrivateKey, PublicKey};

    use super::*;

    const PUB: &str = include_str!("../tests/data/test-election-key.pub.pem");
    /// The committed INSECURE test key: only tests decrypt.
    const KEY_INSECURE: &str = include_str!("../tests/data/INSECURE-test-election-key.pem");

    #[test]
    fn equals_the_rsa_crates_encryption_byte_for_byte_with_the_same_randomness() {
        let key = PublicKey::from_public_key_pem(PUB).unwrap();
        for (i, len) in [0usize, 1, 31, 32, 33, 64, 200, 318].into_iter().enumerate() {
            let msg: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
            let label = format!("jp-ivote:v1:ballot:e{i}:c{len}").into_bytes();
            let seed = [i as u8; 32];
            let ours = encrypt(&mut ChaCha20Rng::from_seed(seed), &Rsaep::new(&key), &label, &msg).unwrap();
            let padding = Oaep::<Sha256>::new_with_label(label.clone());
            let theirs = key.encrypt(&mut ChaCha20Rng::from_seed(seed), padding, &msg).unwrap();
            assert_eq!(ours, theirs, "message of {len} bytes");
        }
    }

    #[test]
    fn decrypts_with_the_rsa_crate_and_only_with_its_label() {
        let key = PublicKey::from_public_key_pem(PUB).unwrap();
        let sk = PrivateKey::from_pkcs8_pem(KEY_INSECURE).unwrap();
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        let ct = encrypt(&mut rng, &Rsaep::new(&key), b"label-a", b"ballot bytes").unwrap();
        assert_eq!(ct.len(), 384);
        let ok = sk.decrypt(Oaep::<Sha256>::new_with_label(b"label-a".to_vec()), &ct).unwrap();
        assert_eq!(ok, b"ballot bytes");
        assert!(sk.decrypt(Oaep::<Sha256>::new_with_label(b"label-b".to_vec()), &ct).is_err());
    }

    #[test]
    fn refuses_a_message_longer_than_the_block_allows() {
        let key = Rsaep::new(&PublicKey::from_public_key_pem(PUB).unwrap());
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        assert!(encrypt(&mut rng, &key, b"", &[0; 318]).is_ok());
        assert_eq!(encrypt(&mut rng, &key, b"", &[0; 319]), Err(MessageTooLong { len: 319, k: 384, max: 318 }));
    }

    #[test]
    fn mgf1_matches_rfc_8017s_construction() {
        // MGF1-SHA-256(seed, 40) = SHA-256(seed || 0) || SHA-256(seed || 1)[..8].
        let mut out = [0u8; 40];
        mgf1_xor(&mut out, b"seed");
        let first = Sha256::new().chain_update(b"seed").chain_update([0, 0, 0, 0]).finalize();
        let second = Sha256::new().chain_update(b"seed").chain_update([0, 0, 0, 1]).finalize();
        assert_eq!(&out[..32], &first[..]);
        assert_eq!(&out[32..], &second[..8]);
    }
}
