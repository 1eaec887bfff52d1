//! One contest's decrypted ballots added up by its rule: read against the contest as filed, 白票 apart, a vote for
//! a candidate who withdrew during voting invalid, a PR party's total with its listed candidates' votes.

use shared::ballot;
use shared::election::{Choice, Contest, ContestKind, Election};

use super::{CandidateLine, ContestResult, JudgeLine, PartyLine};
use crate::hsm::Decrypted;

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

#[cfg(test)]
mod tests {
    use shared::election::Id;

    use super::*;
    use crate::count::{PURPOSE, TallyReport, to_csv};
    use crate::hsm::DecryptPath;

    fn election() -> Election {
        serde_json::from_str(include_str!("../../tests/data/election.json")).unwrap()
    }

    fn hor_election() -> Election {
        serde_json::from_str(include_str!("../../tests/data/election-hor.json")).unwrap()
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
}
