//! What leaves the ballot box after the close (R-COUNT-1, R-VOTE-8): the published digest that lets a voter find
//! a receipt's tracker, and the export file that carries a counting district's ciphertexts on a medium to offline
//! counting.
//!
//! - Trackers are sorted; the digest is the RFC 6962 Merkle tree hash over them (leaf `SHA-256(0x00 ‖ tracker)`,
//!   node `SHA-256(0x01 ‖ left ‖ right)`), so a voter can check inclusion against the published root.
//! - An export holds, per contest, the ciphertexts in tracker order (hash order, never casting order), and a
//!   manifest (election, contests, counts, digests, election key fingerprint) signed by the verifier's export key
//!   (Ed25519). The signature covers the manifest's exact bytes, kept as a string in the file.
//! - Ballots the verifier could not move into the box itself (it stopped while it held their batch's key, crate
//!   `ballot-box`) travel as *unopened batches*: the batch's key wrapped under the election key
//!   ([`crate::crypto::wrap_batch_key`]) and its sealed entries. The manifest counts and digests them too; the
//!   counting tool unwraps the key in the HSM and counts them with the rest.

use crate::wire::Base64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The export file's format tag.
pub const EXPORT_FORMAT: &str = "jp-ivote-ballot-box/3";

/// The domain of [`definition_digest`].
pub const DEFINITION_DOMAIN: &[u8] = b"jp-ivote:v1:election-definition";

/// Returns SHA-256 (hex) over an election definition's JSON as the model writes it (`serde_json::to_vec` of
/// [`crate::election::Election`]), framed with its domain. The export's signed manifest carries it, so that the
/// count runs under the definition in force at the close, candidate withdrawals included (R-VOTE-3).
pub fn definition_digest(definition_json: &[u8]) -> String {
    hex::encode(Sha256::digest(crate::frame::frame(&[DEFINITION_DOMAIN, definition_json])))
}

/// Returns the RFC 6962 Merkle tree hash over trackers (raw 32-byte hashes), in the order given.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(leaves[0]);
            h.finalize().into()
        }
        n => {
            let k = largest_power_of_two_below(n);
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(merkle_root(&leaves[..k]));
            h.update(merkle_root(&leaves[k..]));
            h.finalize().into()
        }
    }
}

fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Sorts hex trackers, decodes them and returns the sorted list with its Merkle root (hex).
pub fn tracker_root(trackers: &mut [String]) -> String {
    trackers.sort();
    let leaves: Vec<[u8; 32]> = trackers
        .iter()
        .filter_map(|t| hex::decode(t).ok().and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()))
        .collect();
    hex::encode(merkle_root(&leaves))
}

/// Returns SHA-256 over the ciphertexts, each framed with its length, in the given order.
pub fn content_digest(ciphertexts: &[Vec<u8>]) -> String {
    let mut h = Sha256::new();
    for ct in ciphertexts {
        h.update(crate::frame::frame(&[ct]));
    }
    hex::encode(h.finalize())
}

/// One contest in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestManifest {
    /// The contest.
    pub contest_id: String,
    /// How many ballots.
    pub count: u64,
    /// [`content_digest`] of the ciphertexts in the file's order.
    pub content_digest: String,
    /// [`tracker_root`] of the contest's trackers.
    pub tracker_root: String,
    /// The contest's unopened batches, in the file's order.
    pub unopened: Vec<UnopenedManifest>,
}

/// One unopened batch in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnopenedManifest {
    /// The batch id (16 bytes, hex).
    pub batch: String,
    /// How many sealed ballots it holds.
    pub count: u64,
    /// [`unopened_digest`] of its wrapped key and entries.
    pub digest: String,
}

/// An unopened batch as the ballot box gives it: id, wrapped key, sealed entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unopened {
    /// The batch id.
    pub batch: [u8; 16],
    /// The batch key wrapped under the election key.
    pub wrapped_key: Vec<u8>,
    /// The sealed entries.
    pub entries: Vec<Vec<u8>>,
}

/// Returns SHA-256 over an unopened batch's wrapped key and entries, each framed with its length.
pub fn unopened_digest(wrapped_key: &[u8], entries: &[Vec<u8>]) -> String {
    let mut h = Sha256::new();
    h.update(crate::frame::frame(&[wrapped_key]));
    for e in entries {
        h.update(crate::frame::frame(&[e]));
    }
    hex::encode(h.finalize())
}

/// Describes one contest's ciphertexts (already in tracker order) and unopened batches for an export: its
/// manifest entry and its base64 ballots. The verifier writes exports with it and the counting tool's tests
/// rebuild them with it.
pub fn contest_entry(
    contest_id: &str,
    ciphertexts: &[Vec<u8>],
    unopened: &[Unopened],
) -> (ContestManifest, ContestBallots) {
    let mut trackers: Vec<String> = ciphertexts.iter().map(|ct| crate::crypto::tracker(ct)).collect();
    let manifest = ContestManifest {
        contest_id: contest_id.to_string(),
        count: ciphertexts.len() as u64,
        content_digest: content_digest(ciphertexts),
        tracker_root: tracker_root(&mut trackers),
        unopened: unopened
            .iter()
            .map(|u| UnopenedManifest {
                batch: hex::encode(u.batch),
                count: u.entries.len() as u64,
                digest: unopened_digest(&u.wrapped_key, &u.entries),
            })
            .collect(),
    };
    let ballots = ContestBallots {
        contest_id: contest_id.to_string(),
        ciphertexts: ciphertexts.iter().map(|ct| Base64(ct.clone())).collect(),
        unopened: unopened
            .iter()
            .map(|u| UnopenedBatchFile {
                batch: hex::encode(u.batch),
                wrapped_key: Base64(u.wrapped_key.clone()),
                entries: u.entries.iter().map(|e| Base64(e.clone())).collect(),
            })
            .collect(),
    };
    (manifest, ballots)
}

/// What the export key signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The election.
    pub election_id: String,
    /// The counting district (the contests' district code).
    pub district: String,
    /// The contests exported.
    pub contests: Vec<ContestManifest>,
    /// The election key's fingerprint (hex SHA-256 of its SubjectPublicKeyInfo).
    pub key_fingerprint: String,
    /// [`definition_digest`] of the election definition in force at the close (candidate withdrawals included).
    pub definition_digest: String,
    /// SHA-256 over the framed contest ids and content digests: one value for the whole file.
    pub ballot_box_digest: String,
    /// When (UTC, RFC 3339).
    pub exported_at: String,
}

impl Manifest {
    /// Computes [`Manifest::ballot_box_digest`] from the contest entries (their unopened batches included).
    pub fn compute_digest(contests: &[ContestManifest]) -> String {
        let mut h = Sha256::new();
        for c in contests {
            h.update(crate::frame::frame(&[c.contest_id.as_bytes(), c.content_digest.as_bytes()]));
            for u in &c.unopened {
                h.update(crate::frame::frame(&[u.batch.as_bytes(), u.digest.as_bytes()]));
            }
        }
        hex::encode(h.finalize())
    }
}

/// The export file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportFile {
    /// The manifest's JSON, exactly the bytes that are signed.
    pub manifest: String,
    /// Ed25519 signature over `manifest`, hex.
    pub signature: String,
    /// The export public key (Ed25519, 32 bytes hex), to compare with the published one.
    pub export_public_key: String,
    /// Per contest, in the manifest's order: the ciphertexts in base64, in tracker order.
    pub ballots: Vec<ContestBallots>,
}

/// The ciphertexts of one contest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestBallots {
    /// The contest.
    pub contest_id: String,
    /// Ciphertexts, base64, in tracker order.
    pub ciphertexts: Vec<Base64>,
    /// The contest's unopened batches, in the manifest's order.
    pub unopened: Vec<UnopenedBatchFile>,
}

/// An unopened batch in the export file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnopenedBatchFile {
    /// The batch id (hex).
    pub batch: String,
    /// The batch key wrapped under the election key, base64.
    pub wrapped_key: Base64,
    /// The sealed entries, base64.
    pub entries: Vec<Base64>,
}

/// `GET /api/v1/elections/current/ballot-box` after the close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedBallotBox {
    /// The election.
    pub election_id: String,
    /// Per contest: trackers sorted, and their root.
    pub contests: Vec<PublishedContest>,
    /// Every signed checkpoint of the verifier's audit log up to the close: a copy anchors the log (issue 21).
    #[serde(default)]
    pub audit_checkpoints: Vec<AuditCheckpoint>,
}

/// `GET /api/v1/audit/checkpoints`: every signed checkpoint of the audit log so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedCheckpoints {
    /// In the log's order.
    pub checkpoints: Vec<AuditCheckpoint>,
}

/// The domain of an audit checkpoint's signed message.
pub const AUDIT_CHECKPOINT_DOMAIN: &[u8] = b"jp-ivote:v1:audit-checkpoint";

/// A signed checkpoint of the verifier's audit log (R-SEC-5): the chain's head at an entry, signed with the audit
/// key (Ed25519, held apart from the database). Anyone who keeps a copy can later show that the log was cut off
/// or rewritten up to that entry (`verifier audit verify --checkpoints`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditCheckpoint {
    /// The entry whose hash is signed.
    pub seq: i64,
    /// That entry's hash (hex): the head of the chain at that point.
    pub head: String,
    /// When it was signed (UTC, RFC 3339).
    pub signed_at: String,
    /// Why: `interval`, or the critical action that preceded it (e.g. `pause`, `export`).
    pub reason: String,
    /// The audit key's public key (Ed25519, hex).
    pub public_key: String,
    /// The Ed25519 signature of [`AuditCheckpoint::message`] (hex).
    pub signature: String,
}

impl AuditCheckpoint {
    /// The signed message: the domain, then the sequence number, head, time and reason, framed.
    pub fn message(&self) -> Vec<u8> {
        let seq = self.seq.to_be_bytes();
        crate::frame::frame(&[
            AUDIT_CHECKPOINT_DOMAIN,
            &seq,
            self.head.as_bytes(),
            self.signed_at.as_bytes(),
            self.reason.as_bytes(),
        ])
    }
}

/// One contest's published trackers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedContest {
    /// The contest.
    pub contest_id: String,
    /// Sorted trackers (hex).
    pub trackers: Vec<String>,
    /// Their Merkle root (hex).
    pub root: String,
    /// Ballots received but held in batches the verifier could not open itself (it stopped while holding them):
    /// the counting tool opens and counts them, and publishes their trackers with the result.
    pub unopened: u64,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn merkle_root_matches_rfc6962_shape() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        let leaf = |x: &[u8; 32]| -> [u8; 32] { Sha256::digest([&[0u8][..], x].concat()).into() };
        let node = |l: [u8; 32], r: [u8; 32]| -> [u8; 32] { Sha256::digest([&[1u8][..], &l, &r].concat()).into() };
        assert_eq!(merkle_root(&[a]), leaf(&a));
        assert_eq!(merkle_root(&[a, b]), node(leaf(&a), leaf(&b)));
        assert_eq!(merkle_root(&[a, b, c]), node(node(leaf(&a), leaf(&b)), leaf(&c)));
        assert_ne!(merkle_root(&[a, b]), merkle_root(&[b, a]));
    }

    #[test]
    fn tracker_root_sorts_first() {
        let mut x = vec!["bb".repeat(32), "aa".repeat(32)];
        let mut y = vec!["aa".repeat(32), "bb".repeat(32)];
        assert_eq!(tracker_root(&mut x), tracker_root(&mut y));
        assert_eq!(x, y);
    }

    #[test]
    fn content_digest_depends_on_order_and_boundaries() {
        assert_ne!(content_digest(&[vec![1], vec![2]]), content_digest(&[vec![2], vec![1]]));
        assert_ne!(content_digest(&[vec![1, 2]]), content_digest(&[vec![1], vec![2]]));
    }
}
