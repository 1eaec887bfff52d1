//! Import of a counting district's export (R-COUNT-1): everything is checked before anything is decrypted.
//!
//! The export key's Ed25519 signature over the manifest's exact bytes, then the manifest against the election
//! (format, election, district, contests), the ceremony's key fingerprint, and each contest's ciphertexts
//! against the signed count, content digest (detects a changed, dropped, added or re-ordered ciphertext) and
//! tracker root, each unopened batch (ballots the verifier could not move into the box itself, crate
//! `ballot-box`) against its signed count and digest, and the whole file against the ballot-box digest.
//! Ciphertexts of the wrong length, and a count (box plus unopened batches) other than the committee record's
//! (R-VOTE-12) are refused. Every refusal names what differs. A ciphertext found twice is not refused here: the
//! count reports it and counts it once (it can only come from a voter who re-signed another's ballot).

use std::collections::BTreeMap;

use shared::crypto::tracker;
use shared::election::Election;
use shared::export::{
    EXPORT_FORMAT, ExportFile, Manifest, UnopenedBatchFile, UnopenedManifest, content_digest, tracker_root,
    unopened_digest,
};

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
    /// Per contest, in the manifest's order.
    pub contests: Vec<VerifiedContest>,
}

/// One contest of a verified export.
#[derive(Clone, Debug)]
pub struct VerifiedContest {
    /// The contest.
    pub contest_id: String,
    /// The ciphertexts of the box, in tracker order.
    pub ciphertexts: Vec<Vec<u8>>,
    /// Its unopened batches.
    pub unopened: Vec<ballot_box::UnopenedBatch>,
}

impl VerifiedContest {
    /// Every ballot received: in the box and in unopened batches.
    pub fn received(&self) -> u64 {
        (self.ciphertexts.len() + self.unopened.iter().map(|u| u.entries.len()).sum::<usize>()) as u64
    }
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
    let definition =
        serde_json::to_vec(election).map_err(|e| refuse(format!("the definition cannot be written: {e}")))?;
    if manifest.definition_digest != shared::export::definition_digest(&definition) {
        return Err(refuse(
            "the election definition differs from the one in force when the verifier exported (a candidate \
             withdrawal added or missing, or another change): count with the definition `verifier export` wrote \
             beside the export (its name with .election.json), and compare it with the filed one and the audit log"
                .into(),
        ));
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
        let cts: Vec<Vec<u8>> = ballots.ciphertexts.iter().map(|b| b.0.clone()).collect();
        let expected = want.expected_count_per_contest.get(id).copied().unwrap_or(want.expected_count);
        let held: u64 = entry.unopened.iter().map(|u| u.count).sum();
        if entry.count + held != expected {
            return Err(refuse(format!(
                "contest {id}: the manifest counts {} ballots ({} in the box, {held} in unopened batches), the \
                 committee record says {expected}",
                entry.count + held,
                entry.count
            )));
        }
        let unopened = verify_unopened(id, &entry.unopened, &ballots.unopened, want.ciphertext_len)?;
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
        if trackers.windows(2).any(|w| w[0] > w[1]) {
            return Err(refuse(format!("contest {id}: ciphertexts are not in tracker order")));
        }
        let root = tracker_root(&mut trackers.clone());
        if root != entry.tracker_root {
            return Err(refuse(format!("contest {id}: tracker root {root}, the manifest says {}", entry.tracker_root)));
        }
        contests.push(VerifiedContest { contest_id: id.clone(), ciphertexts: cts, unopened });
    }
    Ok(VerifiedExport { manifest, contests })
}

/// Checks a contest's unopened batches in the file against the manifest's: ids, counts, digests, key length.
fn verify_unopened(
    id: &str,
    listed: &[UnopenedManifest],
    in_file: &[UnopenedBatchFile],
    ciphertext_len: usize,
) -> Result<Vec<ballot_box::UnopenedBatch>, TallyError> {
    if listed.len() != in_file.len() {
        return Err(refuse(format!(
            "contest {id}: {} unopened batches in the file, the manifest lists {}",
            in_file.len(),
            listed.len()
        )));
    }
    let mut out = Vec::new();
    for (m, f) in listed.iter().zip(in_file) {
        let batch = &m.batch;
        let decoded_id = hex::decode(&f.batch).ok().and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok());
        let Some(batch_id) = decoded_id.filter(|_| f.batch == m.batch) else {
            return Err(refuse(format!(
                "contest {id}: unopened batch {:?} in the file, the manifest lists {batch}",
                f.batch
            )));
        };
        let wrapped_key = f.wrapped_key.0.clone();
        if wrapped_key.len() != ciphertext_len {
            return Err(refuse(format!(
                "contest {id}: unopened batch {batch}: the wrapped key has {} bytes, the election key makes {ciphertext_len}",
                wrapped_key.len()
            )));
        }
        let entries: Vec<Vec<u8>> = f.entries.iter().map(|e| e.0.clone()).collect();
        if entries.len() as u64 != m.count {
            return Err(refuse(format!(
                "contest {id}: unopened batch {batch}: {} entries in the file, the manifest counts {}",
                entries.len(),
                m.count
            )));
        }
        let digest = unopened_digest(&wrapped_key, &entries);
        if digest != m.digest {
            return Err(refuse(format!(
                "contest {id}: unopened batch {batch}: digest {digest}, the manifest says {} (changed?)",
                m.digest
            )));
        }
        out.push(ballot_box::UnopenedBatch { id: batch_id, wrapped_key, entries });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ring::signature::{Ed25519KeyPair, KeyPair as _};

    use super::*;

    fn election() -> Election {
        serde_json::from_str(include_str!("../tests/data/election.json")).unwrap()
    }

    /// Signs an export whose ciphertexts are given as they are, so checks behind the signature can be reached.
    fn signed_export(per_contest: &dyn Fn(&str) -> Vec<Vec<u8>>, election_id: &str) -> (Vec<u8>, Expectations) {
        let rng = ring::rand::SystemRandom::new();
        let kp = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
        let e = election();
        let mut entries = Vec::new();
        let mut ballots = Vec::new();
        for c in &e.contests {
            let (entry, contest_ballots) =
                shared::export::contest_entry(c.id.as_str(), &per_contest(c.id.as_str()), &[]);
            entries.push(entry);
            ballots.push(contest_ballots);
        }
        let manifest = Manifest {
            format: EXPORT_FORMAT.into(),
            election_id: election_id.into(),
            district: "tokyo".into(),
            ballot_box_digest: Manifest::compute_digest(&entries),
            contests: entries,
            key_fingerprint: "ab".repeat(32),
            definition_digest: shared::export::definition_digest(&serde_json::to_vec(&e).unwrap()),
            exported_at: "2028-07-23T11:00:00+00:00".into(),
        };
        let json = serde_json::to_string(&manifest).unwrap();
        let file = ExportFile {
            signature: hex::encode(kp.sign(json.as_bytes()).as_ref()),
            manifest: json,
            export_public_key: hex::encode(kp.public_key().as_ref()),
            ballots,
        };
        let want = Expectations {
            export_key_public: file.export_public_key.clone(),
            key_fingerprint: "ab".repeat(32),
            ciphertext_len: 384,
            expected_count: 2,
            expected_count_per_contest: BTreeMap::new(),
        };
        (serde_json::to_vec(&file).unwrap(), want)
    }

    fn sorted(mut cts: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        cts.sort_by_key(|c| tracker(c));
        cts
    }

    fn two(id: &str) -> Vec<Vec<u8>> {
        sorted(vec![vec![id.len() as u8; 384], vec![0xee; 384]])
    }

    fn refusal(bytes: &[u8], want: &Expectations) -> String {
        verify_export(bytes, &election(), want).unwrap_err().to_string()
    }

    #[test]
    fn a_well_formed_export_passes() {
        let (bytes, want) = signed_export(&two, "hoc-2028");
        let v = verify_export(&bytes, &election(), &want).unwrap();
        assert_eq!(v.contests.len(), 2);
        assert_eq!(v.contests[0].ciphertexts, two("tokyo"));
    }

    #[test]
    fn signed_but_wrong_contents_are_refused_by_name() {
        // A ciphertext twice passes the import: the count reports it and counts it once.
        let (bytes, want) = signed_export(&|_| vec![vec![1; 384], vec![1; 384]], "hoc-2028");
        assert!(verify_export(&bytes, &election(), &want).is_ok());

        let (bytes, want) = signed_export(&|id| two(id).into_iter().rev().collect(), "hoc-2028");
        assert!(refusal(&bytes, &want).contains("contest tokyo: ciphertexts are not in tracker order"));

        let (bytes, want) = signed_export(&|_| vec![vec![1; 383], vec![2; 384]], "hoc-2028");
        assert!(refusal(&bytes, &want).contains("ciphertext 0 has 383 bytes, the election key makes 384"));

        let (bytes, want) = signed_export(&two, "hor-2029");
        assert!(refusal(&bytes, &want).contains("election \"hor-2029\", expected \"hoc-2028\""));

        let (bytes, mut want) = signed_export(&two, "hoc-2028");
        want.expected_count = 3;
        assert!(
            refusal(&bytes, &want)
                .contains("contest tokyo: the manifest counts 2 ballots (2 in the box, 0 in unopened batches), the committee record says 3")
        );
        want.expected_count = 2;
        want.expected_count_per_contest.insert("nowhere".into(), 2);
        assert!(refusal(&bytes, &want).contains("\"nowhere\", not in this export"));
        want.expected_count_per_contest.clear();
        want.key_fingerprint = "cd".repeat(32);
        assert!(refusal(&bytes, &want).contains("the ceremony's is"));
    }

    #[test]
    fn a_definition_other_than_the_one_in_force_at_the_close_is_refused() {
        use shared::election::{Withdrawal, WithdrawalReason};
        // The export was made under the definition as filed; a withdrawal added on the way to the counting room
        // (or one dropped, the other way round) changes the digest the signed manifest carries.
        let (bytes, want) = signed_export(&two, "hoc-2028");
        let mut changed = election();
        changed.contests[0].withdrawn.push(Withdrawal {
            candidate: 1,
            reason: WithdrawalReason::Withdrew,
            effective_at: "2028-07-10T03:00:00Z".parse().unwrap(),
        });
        let err = verify_export(&bytes, &changed, &want).unwrap_err().to_string();
        assert!(err.contains("the election definition differs from the one in force"), "{err}");
    }
}
