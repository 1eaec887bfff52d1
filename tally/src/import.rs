//! Import of a counting district's export (R-COUNT-1): everything is checked before anything is decrypted.
//!
//! The export key's Ed25519 signature over the manifest's exact bytes, then the manifest against the election
//! (format, election, district, contests), the ceremony's key fingerprint, and each contest's ciphertexts
//! against the signed count, content digest (detects a changed, dropped, added or re-ordered ciphertext) and
//! tracker root, and the whole file against the ballot-box digest. Duplicate ciphertexts, ciphertexts of the
//! wrong length, and a count other than the committee record's (R-VOTE-12) are refused. Every refusal names what
//! differs.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use shared::ballot_box::{EXPORT_FORMAT, ExportFile, Manifest, content_digest, tracker_root};
use shared::crypto::tracker;
use shared::election::Election;

use crate::error::TallyError;

/// What the counting officer compares the file with.
#[derive(Clone, Debug)]
pub struct Expectations {
    /// The verifier's export public key (Ed25519, hex) as published.
    pub export_key_public: String,
    /// The election key's fingerprint from the ceremony record.
    pub key_fingerprint: String,
    /// The ciphertext length of the election key, in bytes.
    pub ciphertext_len: usize,
    /// The committee record's number of internet voters: every contest of the district must hold this many
    /// ballots (each voter casts one ballot, possibly blank, in every contest).
    pub expected_count: u64,
    /// Per-contest overrides of `expected_count`.
    pub expected_count_per_contest: BTreeMap<String, u64>,
}

/// An export that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedExport {
    /// The signed manifest.
    pub manifest: Manifest,
    /// Per contest, in the manifest's order: its id and the ciphertexts.
    pub contests: Vec<(String, Vec<Vec<u8>>)>,
}

fn refuse(msg: String) -> TallyError {
    TallyError::Export(msg)
}

/// Parses and checks an export file's bytes.
pub fn verify_export(bytes: &[u8], election: &Election, want: &Expectations) -> Result<VerifiedExport, TallyError> {
    let file: ExportFile = serde_json::from_slice(bytes)
        .map_err(|e| refuse(format!("not an export file (truncated or changed?): {e}")))?;
    if !file.export_public_key.eq_ignore_ascii_case(&want.export_key_public) {
        return Err(refuse(format!(
            "signed by export key {}, expected {}",
            file.export_public_key, want.export_key_public
        )));
    }
    if !crate::signing::verify(&want.export_key_public, file.manifest.as_bytes(), &file.signature) {
        return Err(refuse("the export key's signature does not verify over the manifest".into()));
    }
    let manifest: Manifest =
        serde_json::from_str(&file.manifest).map_err(|e| refuse(format!("the signed manifest is malformed: {e}")))?;
    if manifest.format != EXPORT_FORMAT {
        return Err(refuse(format!("format {:?}, expected {EXPORT_FORMAT:?}", manifest.format)));
    }
    if manifest.election_id != election.id.as_str() {
        return Err(refuse(format!("election {:?}, expected {:?}", manifest.election_id, election.id.as_str())));
    }
    if manifest.key_fingerprint != want.key_fingerprint {
        return Err(refuse(format!(
            "election key fingerprint {}, the ceremony's is {}",
            manifest.key_fingerprint, want.key_fingerprint
        )));
    }
    let district: Vec<&str> =
        election.contests.iter().filter(|c| c.district == manifest.district).map(|c| c.id.as_str()).collect();
    let listed: Vec<&str> = manifest.contests.iter().map(|c| c.contest_id.as_str()).collect();
    if district.is_empty() || listed != district {
        return Err(refuse(format!(
            "contests {listed:?} for district {:?}, the election has {district:?}",
            manifest.district
        )));
    }
    let in_file: Vec<&str> = file.ballots.iter().map(|b| b.contest_id.as_str()).collect();
    if in_file != listed {
        return Err(refuse(format!("ballots for contests {in_file:?}, the manifest lists {listed:?}")));
    }
    let digest = Manifest::compute_digest(&manifest.contests);
    if digest != manifest.ballot_box_digest {
        return Err(refuse(format!(
            "ballot-box digest {} does not match its contests ({digest})",
            manifest.ballot_box_digest
        )));
    }
    for key in want.expected_count_per_contest.keys() {
        if !listed.contains(&key.as_str()) {
            return Err(refuse(format!("--expected-count-per-contest names {key:?}, not in this export")));
        }
    }
    let mut contests = Vec::new();
    for (entry, ballots) in manifest.contests.iter().zip(&file.ballots) {
        let id = &entry.contest_id;
        let cts: Vec<Vec<u8>> = ballots
            .ciphertexts
            .iter()
            .enumerate()
            .map(|(i, b)| B64.decode(b).map_err(|e| refuse(format!("contest {id}: ciphertext {i} is not base64: {e}"))))
            .collect::<Result<_, _>>()?;
        let expected = want.expected_count_per_contest.get(id).copied().unwrap_or(want.expected_count);
        if entry.count != expected {
            return Err(refuse(format!(
                "contest {id}: the manifest counts {} ballots, the committee record says {expected}",
                entry.count
            )));
        }
        if cts.len() as u64 != entry.count {
            return Err(refuse(format!(
                "contest {id}: {} ciphertexts in the file, the manifest counts {}",
                cts.len(),
                entry.count
            )));
        }
        if let Some(i) = cts.iter().position(|c| c.len() != want.ciphertext_len) {
            return Err(refuse(format!(
                "contest {id}: ciphertext {i} has {} bytes, the election key makes {}",
                cts[i].len(),
                want.ciphertext_len
            )));
        }
        let digest = content_digest(&cts);
        if digest != entry.content_digest {
            return Err(refuse(format!(
                "contest {id}: content digest {digest}, the manifest says {} (a ciphertext was changed, added, \
                 removed or re-ordered)",
                entry.content_digest
            )));
        }
        let trackers: Vec<String> = cts.iter().map(|c| tracker(c)).collect();
        let mut seen = HashSet::new();
        if let Some(dup) = trackers.iter().find(|t| !seen.insert(t.as_str())) {
            return Err(refuse(format!("contest {id}: duplicate ciphertext (tracker {dup})")));
        }
        if trackers.windows(2).any(|w| w[0] > w[1]) {
            return Err(refuse(format!("contest {id}: ciphertexts are not in tracker order")));
        }
        let root = tracker_root(&mut trackers.clone());
        if root != entry.tracker_root {
            return Err(refuse(format!("contest {id}: tracker root {root}, the manifest says {}", entry.tracker_root)));
        }
        contests.push((id.clone(), cts));
    }
    Ok(VerifiedExport { manifest, contests })
}
