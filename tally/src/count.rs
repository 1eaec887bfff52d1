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

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use shared::ballot;
use shared::crypto::{batch_key_label, oaep_label};
use shared::election::{Choice, Contest, ContestKind, Election};

use crate::error::TallyError;
use crate::hsm::{DecryptPath, Decrypted, Decryptor};
use crate::import::{VerifiedContest, VerifiedExport};
use crate::signing::SigningKey;

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

fn empty_result(contest: &Contest) -> ContestResult {
    let party_number = |id: &Option<shared::election::Id>| {
        id.as_ref().and_then(|p| contest.party(p)).map(|p| p.number).filter(|_| contest.kind() == ContestKind::HocPr)
    };
    let candidates = match contest.kind() {
        ContestKind::HorPr | ContestKind::JudicialReview => Vec::new(),
        _ => contest
            .selectable_candidates()
            .into_iter()
            .map(|c| CandidateLine {
                number: c.number,
                name: c.name.clone(),
                party: party_number(&c.party),
                tokutei: c.tokutei,
                votes: 0,
                withdrawn: contest.withdrawal(c.number).is_some(),
            })
            .collect(),
    };
    let parties = match contest.kind() {
        ContestKind::HorPr | ContestKind::HocPr => contest
            .parties()
            .iter()
            .map(|p| PartyLine { number: p.number, name: p.name.clone(), party_votes: 0, candidate_votes: 0, total: 0 })
            .collect(),
        _ => Vec::new(),
    };
    let judges = contest
        .judges()
        .iter()
        .enumerate()
        .map(|(i, j)| JudgeLine { position: u8::try_from(i + 1).unwrap_or(u8::MAX), name: j.name.clone(), dismiss: 0 })
        .collect();
    ContestResult {
        contest_id: contest.id.to_string(),
        kind: contest.kind(),
        voters: 0,
        valid: 0,
        blank: 0,
        invalid: 0,
        invalid_withdrawn: 0,
        candidates,
        parties,
        judges,
        from_unopened_batches: 0,
        unopened_trackers: Vec::new(),
        duplicates: Vec::new(),
        below_k: false,
    }
}

/// Adds up one contest's decrypted ballots.
pub fn tally_contest(election: &Election, contest: &Contest, plaintexts: &[Decrypted]) -> ContestResult {
    let mut r = empty_result(contest);
    // Ballots are read against the contest as filed, so that a vote for a candidate who withdrew during voting is
    // told apart from a malformed one; it is then counted as invalid.
    let mut filed = contest.clone();
    filed.withdrawn.clear();
    for p in plaintexts {
        r.voters += 1;
        let choice = p.as_deref().ok_or(()).and_then(|b| {
            ballot::decode(b).map_err(|_| ()).and_then(|d| d.check_for(election, &filed).map_err(|_| ()))
        });
        match choice {
            Err(()) => r.invalid += 1,
            Ok(Choice::Candidate(n)) if contest.withdrawal(n).is_some() => {
                r.invalid += 1;
                r.invalid_withdrawn += 1;
            }
            Ok(Choice::Blank) => r.blank += 1,
            Ok(Choice::Candidate(n)) => {
                r.valid += 1;
                if let Some(c) = r.candidates.iter_mut().find(|c| c.number == n) {
                    c.votes += 1;
                }
            }
            Ok(Choice::Party(n)) => {
                r.valid += 1;
                if let Some(p) = r.parties.iter_mut().find(|p| p.number == n) {
                    p.party_votes += 1;
                }
            }
            Ok(Choice::Review(marks)) => {
                r.valid += 1;
                for (i, j) in r.judges.iter_mut().enumerate() {
                    if i < 32 && marks & (1 << i) != 0 {
                        j.dismiss += 1;
                    }
                }
            }
        }
    }
    for p in &mut r.parties {
        p.candidate_votes = r.candidates.iter().filter(|c| c.party == Some(p.number)).map(|c| c.votes).sum();
        p.total = p.party_votes + p.candidate_votes;
    }
    r
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Renders the result as CSV: one row per line of every contest, then the contest's totals.
pub fn to_csv(report: &TallyReport) -> String {
    let mut out = String::from("contest_id,line,number,name,votes,party_votes,candidate_votes\n");
    for c in &report.contests {
        let id = csv_field(&c.contest_id);
        for p in &c.parties {
            let _ = writeln!(
                out,
                "{id},party,{},{},{},{},{}",
                p.number,
                csv_field(&p.name),
                p.total,
                p.party_votes,
                p.candidate_votes
            );
        }
        for k in &c.candidates {
            let line = match (k.withdrawn, k.tokutei) {
                (true, _) => "candidate_withdrawn",
                (false, true) => "candidate_tokutei",
                (false, false) => "candidate",
            };
            let _ = writeln!(out, "{id},{line},{},{},{},,", k.number, csv_field(&k.name), k.votes);
        }
        for j in &c.judges {
            let _ = writeln!(out, "{id},judge_dismiss,{},{},{},,", j.position, csv_field(&j.name), j.dismiss);
        }
        for (what, n) in [
            ("voters", c.voters),
            ("valid", c.valid),
            ("blank", c.blank),
            ("invalid", c.invalid),
            ("invalid_withdrawn", c.invalid_withdrawn),
        ] {
            let _ = writeln!(out, "{id},{what},,,{n},,");
        }
        if c.below_k {
            let _ = writeln!(out, "{id},below_k,,,{},,", report.small_count_k);
        }
    }
    out
}

/// Renders the result as a text table for the terminal.
pub fn to_table(report: &TallyReport) -> String {
    let mut out = format!(
        "Election {} district {}\nDecryption path {}\n{}.\n",
        report.election_id, report.district, report.decrypt_path, report.purpose
    );
    for c in &report.contests {
        let _ = writeln!(
            out,
            "\n== {} ({:?}): voters {}, valid {}, blank (白票) {}, invalid {} (for a withdrawn candidate {})",
            c.contest_id, c.kind, c.voters, c.valid, c.blank, c.invalid, c.invalid_withdrawn
        );
        if c.below_k {
            let _ = writeln!(
                out,
                "  WARNING: {} has {} internet ballots, fewer than k = {}: published alone, these totals could show \
                 how individual internet voters voted. Add them to the counting station's paper ballots first.",
                c.contest_id, c.voters, report.small_count_k
            );
        }
        if c.from_unopened_batches > 0 {
            let _ = writeln!(
                out,
                "  {} ballots came in batches the verifier could not open; opened here (trackers in result.json)",
                c.from_unopened_batches
            );
        }
        for d in &c.duplicates {
            let _ = writeln!(
                out,
                "  WARNING: ciphertext {} was received {} times (re-signed by another voter); counted once",
                d.tracker,
                d.extra_copies + 1
            );
        }
        for p in &c.parties {
            let _ = writeln!(
                out,
                "  party {:>3} {:<24} total {:>8} (party {}, candidates {})",
                p.number, p.name, p.total, p.party_votes, p.candidate_votes
            );
        }
        for k in &c.candidates {
            let mark = match (k.withdrawn, k.tokutei) {
                (true, _) => " withdrew or died during voting: votes for them are invalid",
                (false, true) => " 特定枠",
                (false, false) => "",
            };
            let _ = writeln!(out, "  cand  {:>3} {:<24} {:>8}{mark}", k.number, k.name, k.votes);
        }
        for j in &c.judges {
            let _ = writeln!(out, "  judge {:>3} {:<24} dismiss {:>8}", j.position, j.name, j.dismiss);
        }
    }
    out
}

/// Writes `result.json` and `result.csv` with Ed25519 signatures beside them (`.sig`, hex) into a new folder.
pub fn write_results(dir: &Path, report: &TallyReport, key: &SigningKey) -> Result<(), TallyError> {
    std::fs::create_dir_all(dir).map_err(|e| TallyError::Io(format!("creating {}: {e}", dir.display())))?;
    let json = serde_json::to_string_pretty(report).map_err(|e| TallyError::Io(e.to_string()))?;
    let csv = to_csv(report);
    for (name, text) in [("result.json", json), ("result.csv", csv)] {
        let signed = key.sign(text);
        files::create_new(&dir.join(name), signed.document.as_bytes(), files::Access::Everyone)?;
        files::create_new(
            &dir.join(format!("{name}.sig")),
            format!("{}\n{}\n", signed.signature, signed.public_key).as_bytes(),
            files::Access::Everyone,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use shared::election::Id;

    use super::*;

    fn election() -> Election {
        serde_json::from_str(include_str!("../tests/data/election.json")).unwrap()
    }

    fn hor_election() -> Election {
        serde_json::from_str(include_str!("../tests/data/election-hor.json")).unwrap()
    }

    fn encoded(e: &Election, contest: &str, choices: &[Choice]) -> Vec<Decrypted> {
        let c = e.contest(contest).unwrap();
        choices.iter().map(|choice| Some(ballot::encode(e, c, choice).unwrap().to_vec())).collect()
    }

    #[test]
    fn a_house_of_representatives_election_is_counted_by_each_contest_rule() {
        use Choice::{Blank, Candidate, Party, Review};
        let e = hor_election();
        e.validate().unwrap();
        let district = encoded(&e, "tokyo-1", &[Candidate(1), Candidate(2), Candidate(2), Candidate(3), Blank]);
        let r = tally_contest(&e, e.contest("tokyo-1").unwrap(), &district);
        assert_eq!((r.voters, r.valid, r.blank, r.invalid), (5, 4, 1, 0));
        assert_eq!(r.candidates.iter().map(|k| (k.number, k.votes)).collect::<Vec<_>>(), vec![(1, 1), (2, 2), (3, 1)]);

        let mut block = encoded(&e, "tokyo-block", &[Party(1), Party(1), Party(2)]);
        block.push(Some(vec![0u8; ballot::BALLOT_LEN]));
        let r = tally_contest(&e, e.contest("tokyo-block").unwrap(), &block);
        assert_eq!((r.voters, r.valid, r.blank, r.invalid), (4, 3, 0, 1));
        assert_eq!(r.parties.iter().map(|p| (p.number, p.total)).collect::<Vec<_>>(), vec![(1, 2), (2, 1)]);
        assert!(r.candidates.is_empty(), "House of Representatives PR lists are not counted per candidate");

        let review = e.contest("review").unwrap();
        let mut beyond_judges = ballot::encode(&e, review, &Review(0b011)).unwrap();
        beyond_judges[31] |= 0b1000;
        let mut marks = encoded(&e, "review", &[Review(0b001), Review(0b011), Review(0b110), Review(0), Blank]);
        marks.push(Some(beyond_judges.to_vec()));
        let r = tally_contest(&e, review, &marks);
        assert_eq!((r.voters, r.valid, r.blank, r.invalid), (6, 4, 1, 1), "no mark is valid; beyond the judges not");
        let judges: Vec<(u8, u64)> = r.judges.iter().map(|j| (j.position, j.dismiss)).collect();
        assert_eq!(judges, vec![(1, 2), (2, 2), (3, 1)]);
    }

    #[test]
    fn votes_for_a_candidate_who_withdrew_during_voting_are_invalid() {
        use shared::election::{Withdrawal, WithdrawalReason};
        let filed = election();
        // Cast before the change: two for candidate 2, one for candidate 1, one blank.
        let cast = encoded(&filed, "tokyo", &[Choice::Candidate(2), Choice::Candidate(1), Choice::Candidate(2)]);
        let mut amended = filed.clone();
        amended.contests[0].withdrawn.push(Withdrawal {
            candidate: 2,
            reason: WithdrawalReason::Died,
            effective_at: "2028-07-10T03:00:00Z".parse().unwrap(),
        });
        amended.validate().unwrap();
        let r = tally_contest(&amended, &amended.contests[0], &cast);
        assert_eq!((r.voters, r.valid, r.blank, r.invalid, r.invalid_withdrawn), (3, 1, 0, 2, 2));
        let lines: Vec<(u16, u64, bool)> = r.candidates.iter().map(|k| (k.number, k.votes, k.withdrawn)).collect();
        assert_eq!(lines, vec![(1, 1, false), (2, 0, true)]);
        let report = TallyReport {
            format: String::new(),
            election_id: amended.id.to_string(),
            district: "tokyo".into(),
            ballot_box_digest: String::new(),
            key_fingerprint: String::new(),
            decrypt_path: DecryptPath::InsecureFileKey,
            counted_at: String::new(),
            purpose: PURPOSE.into(),
            small_count_k: 0,
            contests: vec![r],
        };
        let csv = to_csv(&report);
        assert!(csv.contains("tokyo,candidate_withdrawn,2,"), "{csv}");
        assert!(csv.contains("tokyo,invalid_withdrawn,,,2,,"), "{csv}");
        // Under the definition as filed the same ballots count for the candidate: the definition decides, which
        // is why the export's signed manifest pins its digest.
        let r = tally_contest(&filed, &filed.contests[0], &cast);
        assert_eq!((r.valid, r.invalid), (3, 0));
    }

    #[test]
    fn ballots_of_another_election_undecryptable_or_malformed_are_invalid_never_a_crash() {
        let e = election();
        let c = e.contest("tokyo").unwrap();
        let mut other = e.clone();
        other.id = Id::new("hoc-2031").unwrap();
        let good = |choice| Some(ballot::encode(&e, c, &choice).unwrap().to_vec());
        let plaintexts = vec![
            good(Choice::Candidate(1)),
            good(Choice::Blank),
            Some(ballot::encode(&other, other.contest("tokyo").unwrap(), &Choice::Candidate(1)).unwrap().to_vec()),
            None,
            Some(vec![0xff; 3]),
            Some(Vec::new()),
        ];
        let r = tally_contest(&e, c, &plaintexts);
        assert_eq!((r.voters, r.valid, r.blank, r.invalid), (6, 1, 1, 4));
        assert_eq!(r.candidates.iter().map(|k| k.votes).collect::<Vec<_>>(), vec![1, 0]);
    }

    #[test]
    fn csv_quotes_names_with_commas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("山田 太郎"), "山田 太郎");
    }
}
