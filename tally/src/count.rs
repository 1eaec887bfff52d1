//! Counting (R-COUNT-2): decrypt every ballot inside the token, decode it, check it against its contest, and add
//! it up per contest kind.
//!
//! - A ballot that does not decrypt, does not decode, or belongs to another election or contest is INVALID; it
//!   is counted, never a crash.
//! - 白票 (an explicit blank) is counted separately: a voter, but not a vote for anyone.
//! - House of Councillors PR: a party's total is its party votes plus the personal votes of all its listed
//!   candidates (特定枠 candidates included, whose votes go to the party); personal votes are reported for the
//!   ranking of the list.
//! - Judicial review: dismiss marks per judge; a ballot with no mark is valid.
//! - Unopened batches (ballots the verifier could not move into the box itself, crate `ballot-box`): each batch's
//!   key is unwrapped inside the token like a ballot (its own OAEP label), the entries are opened on the host,
//!   and their ballots are counted with the rest; their trackers are listed, since the verifier could not
//!   publish them. An entry that does not open is an invalid ballot.
//! - The result is not a publication. The law mixes (混同) internet ballots with the paper ballots of their
//!   counting station before anything is counted in public; this tool's output is what the station adds to its
//!   paper count. A contest with fewer than k internet ballots (one voter, or a unanimous few, would be exposed
//!   by totals published alone) is flagged in the signed record and warned about on screen.
//! - A ciphertext received twice (someone re-signed another voter's ballot) is reported and counted once; the rest
//!   of the district is counted as usual.
//!
//! Map: the result's types and the count of a verified export are here; `contest`: one contest's ballots added
//! up by its rule; `output`: the result as CSV, as a table for the terminal, and as signed files.

mod contest;
mod output;

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use shared::crypto::{batch_key_label, oaep_label};
use shared::election::{ContestKind, Election};

use crate::error::TallyError;
use crate::hsm::{DecryptPath, Decrypted, Decryptor};
use crate::import::{VerifiedContest, VerifiedExport};

pub use contest::tally_contest;
pub use output::{to_csv, to_table, write_results};

/// The result file's format tag.
pub const RESULT_FORMAT: &str = "jp-ivote-tally/3";

/// What the result is for, written in every result.
pub const PURPOSE: &str = "Internet ballots for the counting station: add them to its paper ballots (混同) and \
                           publish only the combined count; not a publication";

/// The default k: a contest with fewer internet ballots is flagged (`tally count --small-count-k`).
pub const DEFAULT_SMALL_COUNT_K: u64 = 10;

/// A candidate's votes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateLine {
    /// The candidate's number.
    pub number: u16,
    /// The name.
    pub name: String,
    /// The party's number in a PR contest, if any.
    pub party: Option<u16>,
    /// 特定枠 (the votes count to the party).
    pub tokutei: bool,
    /// Personal votes.
    pub votes: u64,
    /// The candidate withdrew or died during voting (R-VOTE-3): the votes cast for them are invalid and counted
    /// in [`ContestResult::invalid_withdrawn`], never here.
    #[serde(default)]
    pub withdrawn: bool,
}

/// A party's votes in a PR contest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyLine {
    /// The party's number.
    pub number: u16,
    /// The name.
    pub name: String,
    /// Votes for the party itself.
    pub party_votes: u64,
    /// Votes for its listed candidates (House of Councillors PR).
    pub candidate_votes: u64,
    /// The party's total.
    pub total: u64,
}

/// A judge's dismiss marks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeLine {
    /// The judge's position, from 1.
    pub position: u8,
    /// The name.
    pub name: String,
    /// Dismiss (×) marks.
    pub dismiss: u64,
}

/// One contest's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContestResult {
    /// The contest.
    pub contest_id: String,
    /// Its kind.
    pub kind: ContestKind,
    /// Ballots in the file: everyone who voted in this contest (valid + blank + invalid + copies not counted).
    pub voters: u64,
    /// Ballots for a candidate, a party, or (review) with or without marks.
    pub valid: u64,
    /// 白票.
    pub blank: u64,
    /// Ballots that did not decrypt, did not decode, belong to another election or contest, or chose a candidate
    /// who withdrew or died during voting.
    pub invalid: u64,
    /// Of the invalid ballots, those for a candidate who withdrew or died during voting (a vote for someone who is
    /// not a candidate is invalid, 公職選挙法第68条).
    #[serde(default)]
    pub invalid_withdrawn: u64,
    /// Candidates, in filing or list order.
    pub candidates: Vec<CandidateLine>,
    /// Parties (PR contests), in filing order.
    pub parties: Vec<PartyLine>,
    /// Judges (review), in the official order.
    pub judges: Vec<JudgeLine>,
    /// Ballots that came in unopened batches and were opened here.
    pub from_unopened_batches: u64,
    /// Their trackers, sorted: a voter whose receipt is not in the verifier's published box finds it here.
    pub unopened_trackers: Vec<String>,
    /// Ciphertexts received more than once: counted once, each extra copy listed here.
    pub duplicates: Vec<DuplicateLine>,
    /// Fewer internet ballots than [`TallyReport::small_count_k`]: published alone, these totals could show how
    /// individual internet voters voted.
    #[serde(default)]
    pub below_k: bool,
}

/// A ciphertext received more than once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateLine {
    /// Its tracker.
    pub tracker: String,
    /// Copies beyond the one counted.
    pub extra_copies: u64,
}

/// The whole result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyReport {
    /// Always [`RESULT_FORMAT`].
    pub format: String,
    /// The election.
    pub election_id: String,
    /// The counting district.
    pub district: String,
    /// The export's ballot-box digest.
    pub ballot_box_digest: String,
    /// The election key's fingerprint.
    pub key_fingerprint: String,
    /// Which decryption path ran.
    pub decrypt_path: DecryptPath,
    /// When (UTC, RFC 3339).
    pub counted_at: String,
    /// Always [`PURPOSE`].
    pub purpose: String,
    /// The k below which a contest is flagged ([`ContestResult::below_k`]).
    pub small_count_k: u64,
    /// Per contest, in the export's order.
    pub contests: Vec<ContestResult>,
}

/// A contest's ballots once its unopened batches are opened: each distinct ciphertext once (`None` for an entry
/// that did not open), the trackers of the opened ones, and the copies found.
struct Gathered {
    ballots: Vec<Option<Vec<u8>>>,
    opened_trackers: Vec<String>,
    duplicates: Vec<DuplicateLine>,
}

fn gather(election: &Election, c: &VerifiedContest, keys: &mut impl Iterator<Item = Decrypted>) -> Gathered {
    let mut ballots: Vec<Option<Vec<u8>>> = c.ciphertexts.iter().cloned().map(Some).collect();
    let mut opened_trackers = Vec::new();
    for batch in &c.unopened {
        let key = keys.next().flatten().and_then(|k| ballot_box::sealing::key_from_bytes(&k));
        match key {
            Some(key) => {
                for ct in batch.open(&key, election.id.as_str(), &c.contest_id) {
                    if let Some(ct) = &ct {
                        opened_trackers.push(shared::crypto::tracker(ct));
                    }
                    ballots.push(ct);
                }
            }
            None => ballots.extend(batch.entries.iter().map(|_| None)),
        }
    }
    opened_trackers.sort();
    let mut copies: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen = HashSet::new();
    ballots.retain(|b| match b {
        Some(ct) => {
            let t = shared::crypto::tracker(ct);
            if seen.insert(t.clone()) {
                true
            } else {
                *copies.entry(t).or_default() += 1;
                false
            }
        }
        None => true,
    });
    let duplicates =
        copies.into_iter().map(|(tracker, extra_copies)| DuplicateLine { tracker, extra_copies }).collect();
    Gathered { ballots, opened_trackers, duplicates }
}

/// Decrypts every ballot of a verified export with the token and adds them up: first the keys of unopened
/// batches (in the token), then every distinct ballot (in the token). Contests with fewer than `small_count_k`
/// ballots are flagged.
pub fn count(
    election: &Election,
    export: &VerifiedExport,
    decryptor: &Decryptor,
    threads: usize,
    small_count_k: u64,
    progress: &indicatif::ProgressBar,
) -> Result<TallyReport, TallyError> {
    let key_jobs: Vec<(Vec<u8>, Vec<u8>)> = export
        .contests
        .iter()
        .flat_map(|c| {
            c.unopened
                .iter()
                .map(|b| (batch_key_label(election.id.as_str(), &c.contest_id, &b.id), b.wrapped_key.clone()))
        })
        .collect();
    let mut keys = decryptor.decrypt_all(&key_jobs, threads, &indicatif::ProgressBar::hidden())?.into_iter();
    let gathered: Vec<Gathered> = export.contests.iter().map(|c| gather(election, c, &mut keys)).collect();
    let mut jobs = Vec::new();
    for (c, g) in export.contests.iter().zip(&gathered) {
        let label = oaep_label(election.id.as_str(), &c.contest_id);
        // An entry that did not open has no ciphertext: an empty one decrypts to nothing, an invalid ballot.
        jobs.extend(g.ballots.iter().map(|ct| (label.clone(), ct.clone().unwrap_or_default())));
    }
    progress.set_length(jobs.len() as u64);
    let mut plaintexts = decryptor.decrypt_all(&jobs, threads, progress)?.into_iter();
    progress.finish();
    let mut contests = Vec::new();
    for (c, g) in export.contests.iter().zip(gathered) {
        let contest = election
            .contest(&c.contest_id)
            .ok_or_else(|| TallyError::Export(format!("contest {} is not in the election", c.contest_id)))?;
        let mine: Vec<Decrypted> = plaintexts.by_ref().take(g.ballots.len()).collect();
        let mut result = tally_contest(election, contest, &mine);
        result.voters += g.duplicates.iter().map(|d| d.extra_copies).sum::<u64>();
        result.from_unopened_batches = c.unopened.iter().map(|u| u.entries.len() as u64).sum();
        result.unopened_trackers = g.opened_trackers;
        result.duplicates = g.duplicates;
        result.below_k = result.voters < small_count_k;
        contests.push(result);
    }
    Ok(TallyReport {
        format: RESULT_FORMAT.into(),
        election_id: election.id.to_string(),
        district: export.manifest.district.clone(),
        ballot_box_digest: export.manifest.ballot_box_digest.clone(),
        key_fingerprint: export.manifest.key_fingerprint.clone(),
        decrypt_path: decryptor.path(),
        counted_at: chrono::Utc::now().to_rfc3339(),
        purpose: PURPOSE.into(),
        small_count_k,
        contests,
    })
}
