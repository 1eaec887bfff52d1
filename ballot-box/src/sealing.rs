//! How a ballot waits in the pool: sealed with AES-256-GCM under its batch's key, which exists only in the
//! verifier's memory and, wrapped under the election public key, beside the batch (R-VOTE-8).
//!
//! - The sealed entry is `nonce (12 bytes) ‖ AES-256-GCM(ciphertext) ‖ tag (16 bytes)`; the associated data frames
//!   a domain string, the election, the contest and the batch id, so an entry moved to another batch or contest
//!   does not open.
//! - A reader of the disk sees entries it cannot open and so cannot match with the ballots that later enter the
//!   box; only the counting tool, which unwraps the key in the HSM, can open a batch the verifier could not.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// Domain string of the associated data of a pool entry.
pub const ENTRY_DOMAIN: &[u8] = b"jp-ivote:v1:pool-entry";

/// A batch's id: 16 random bytes.
pub type BatchId = [u8; 16];

/// A batch's symmetric key, wiped from memory when dropped.
pub type BatchKey = Zeroizing<[u8; 32]>;

fn aad(election: &str, contest: &str, batch: &BatchId) -> Vec<u8> {
    shared::frame::frame(&[ENTRY_DOMAIN, election.as_bytes(), contest.as_bytes(), batch])
}

fn cipher(key: &BatchKey) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key.as_slice()).ok().map(LessSafeKey::new)
}

/// Makes a fresh batch key.
pub fn new_key() -> Result<BatchKey, getrandom::Error> {
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut_slice())?;
    Ok(key)
}

/// Seals a ballot's ciphertext for the pool under its batch's key.
pub fn seal_entry(
    key: &BatchKey,
    election: &str,
    contest: &str,
    batch: &BatchId,
    ciphertext: &[u8],
) -> Result<Vec<u8>, getrandom::Error> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)?;
    let mut body = ciphertext.to_vec();
    let sealed = cipher(key).and_then(|c| {
        c.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(election, contest, batch)),
            &mut body,
        )
        .ok()
    });
    // AES-256-GCM with a 32-byte key and a fresh 96-bit nonce cannot fail on a ciphertext this short.
    debug_assert!(sealed.is_some());
    let mut out = nonce.to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens a sealed pool entry; `None` if the key, batch, contest or election is not the one it was sealed with,
/// or the entry was changed.
pub fn open_entry(key: &BatchKey, election: &str, contest: &str, batch: &BatchId, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = body.to_vec();
    let plain = cipher(key)?.open_in_place(nonce, Aad::from(aad(election, contest, batch)), &mut body).ok()?;
    Some(plain.to_vec())
}

/// Reads an unwrapped batch key (what the HSM returns for a wrapped one); `None` unless it is 32 bytes.
pub fn key_from_bytes(bytes: &[u8]) -> Option<BatchKey> {
    let key: [u8; 32] = bytes.try_into().ok()?;
    Some(Zeroizing::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_opens_only_with_its_key_batch_contest_and_election() {
        let key = new_key().unwrap();
        let batch = [7u8; 16];
        let sealed = seal_entry(&key, "e", "c", &batch, b"ciphertext").unwrap();
        assert_eq!(open_entry(&key, "e", "c", &batch, &sealed).as_deref(), Some(&b"ciphertext"[..]));
        assert_eq!(open_entry(&new_key().unwrap(), "e", "c", &batch, &sealed), None);
        assert_eq!(open_entry(&key, "e", "c", &[8u8; 16], &sealed), None);
        assert_eq!(open_entry(&key, "e", "d", &batch, &sealed), None);
        assert_eq!(open_entry(&key, "f", "c", &batch, &sealed), None);
        let mut changed = sealed.clone();
        changed[20] ^= 1;
        assert_eq!(open_entry(&key, "e", "c", &batch, &changed), None);
        assert_eq!(open_entry(&key, "e", "c", &batch, &sealed[..20]), None);
    }

    #[test]
    fn two_seals_of_one_ballot_differ() {
        let key = new_key().unwrap();
        let a = seal_entry(&key, "e", "c", &[1; 16], b"x").unwrap();
        let b = seal_entry(&key, "e", "c", &[1; 16], b"x").unwrap();
        assert_ne!(a, b);
    }
}
