//! Ballot bytes: the versioned, fixed-length encoding of one contest's choice, the plaintext that the browser
//! encrypts (R-VOTE-7) and the counting tool decodes after decryption (R-COUNT-2).
//!
//! Every ballot has the same length whatever was chosen, so the ciphertext's length says nothing. Layout
//! (version 1, 64 bytes, integers big-endian):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `JIVB` |
//! | 4 | 1 | version = 1 |
//! | 5 | 1 | contest kind code ([`ContestKind`]) |
//! | 6 | 1 | choice tag: 0 blank, 1 candidate, 2 party, 3 review |
//! | 7 | 1 | reserved, 0 |
//! | 8 | 16 | contest binding: the first 16 bytes of SHA-256 over the framed election and contest ids |
//! | 24 | 2 | candidate or party number; 0 for blank and review |
//! | 26 | 1 | number of judges (review), else 0 |
//! | 27 | 1 | reserved, 0 |
//! | 28 | 4 | dismiss marks, bit `i` for judge `i` (review), else 0 |
//! | 32 | 32 | zero padding |
//!
//! Decoding refuses anything else with a typed error: the counting tool counts such a ballot as invalid, never
//! crashes on it.

use sha2::{Digest, Sha256};

use crate::election::{Choice, Contest, ContestKind, Election, MAX_JUDGES};
use crate::frame::frame;

/// The length of every version-1 ballot.
pub const BALLOT_LEN: usize = 64;
/// The magic at the start of every ballot.
pub const MAGIC: [u8; 4] = *b"JIVB";
/// The current encoding version.
pub const VERSION: u8 = 1;

/// A decoded ballot: which contest it claims to belong to and the choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BallotPlaintext {
    /// The contest kind written in the ballot.
    pub kind: ContestKind,
    /// The contest binding written in the ballot.
    pub binding: [u8; 16],
    /// Number of judges (judicial review), else 0.
    pub judges: u8,
    /// The voter's choice.
    pub choice: Choice,
}

/// Returns the contest binding of an election's contest: 16 bytes of SHA-256 over the framed ids.
pub fn contest_binding(election_id: &str, contest_id: &str) -> [u8; 16] {
    let digest = Sha256::digest(frame(&[b"jp-ivote:v1:contest", election_id.as_bytes(), contest_id.as_bytes()]));
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// Encodes a choice for a contest after checking it against the contest's rule.
pub fn encode(election: &Election, contest: &Contest, choice: &Choice) -> Result<[u8; BALLOT_LEN], BallotError> {
    encode_for(election.id.as_str(), contest, choice)
}

/// Encodes a choice for a contest of the election with this id (what the browser knows from the ballot view).
pub fn encode_for(election_id: &str, contest: &Contest, choice: &Choice) -> Result<[u8; BALLOT_LEN], BallotError> {
    contest.check(choice).map_err(|e| BallotError::NotAllowed(e.to_string()))?;
    let judges = u8::try_from(contest.judges().len()).map_err(|_| BallotError::NotAllowed("too many judges".into()))?;
    let mut b = [0u8; BALLOT_LEN];
    b[0..4].copy_from_slice(&MAGIC);
    b[4] = VERSION;
    b[5] = contest.kind() as u8;
    b[8..24].copy_from_slice(&contest_binding(election_id, contest.id.as_str()));
    match *choice {
        Choice::Blank => b[6] = 0,
        Choice::Candidate(n) => {
            b[6] = 1;
            b[24..26].copy_from_slice(&n.to_be_bytes());
        }
        Choice::Party(n) => {
            b[6] = 2;
            b[24..26].copy_from_slice(&n.to_be_bytes());
        }
        Choice::Review(marks) => {
            b[6] = 3;
            b[26] = judges;
            b[28..32].copy_from_slice(&marks.to_be_bytes());
        }
    }
    Ok(b)
}

/// Decodes ballot bytes, refusing anything that is not exactly a well-formed version-1 ballot.
pub fn decode(bytes: &[u8]) -> Result<BallotPlaintext, BallotError> {
    let b: &[u8; BALLOT_LEN] = bytes.try_into().map_err(|_| BallotError::Length(bytes.len()))?;
    if b[0..4] != MAGIC {
        return Err(BallotError::Magic);
    }
    if b[4] != VERSION {
        return Err(BallotError::Version(b[4]));
    }
    let kind = ContestKind::from_code(b[5]).ok_or(BallotError::Kind(b[5]))?;
    if b[7] != 0 || b[27] != 0 || b[32..].iter().any(|x| *x != 0) {
        return Err(BallotError::Padding);
    }
    let number = u16::from_be_bytes([b[24], b[25]]);
    let judges = b[26];
    let marks = u32::from_be_bytes([b[28], b[29], b[30], b[31]]);
    let choice = match b[6] {
        0 => Choice::Blank,
        1 => Choice::Candidate(number),
        2 => Choice::Party(number),
        3 => Choice::Review(marks),
        tag => return Err(BallotError::Tag(tag)),
    };
    let fields_ok = match choice {
        Choice::Blank => number == 0 && judges == 0 && marks == 0,
        Choice::Candidate(n) | Choice::Party(n) => n != 0 && judges == 0 && marks == 0,
        Choice::Review(m) => number == 0 && usize::from(judges) <= MAX_JUDGES && (judges >= 32 || m >> judges == 0),
    };
    if !fields_ok || !kind.accepts(&choice) {
        return Err(BallotError::Fields);
    }
    let mut binding = [0u8; 16];
    binding.copy_from_slice(&b[8..24]);
    Ok(BallotPlaintext { kind, binding, judges, choice })
}

impl BallotPlaintext {
    /// Checks that a decoded ballot belongs to this election's contest and its choice exists there.
    pub fn check_for(&self, election: &Election, contest: &Contest) -> Result<Choice, BallotError> {
        if self.binding != contest_binding(election.id.as_str(), contest.id.as_str()) || self.kind != contest.kind() {
            return Err(BallotError::OtherContest);
        }
        if matches!(self.choice, Choice::Review(_)) && usize::from(self.judges) != contest.judges().len() {
            return Err(BallotError::Fields);
        }
        contest.check(&self.choice).map_err(|e| BallotError::NotAllowed(e.to_string()))?;
        Ok(self.choice)
    }
}

/// Why ballot bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BallotError {
    /// Not 64 bytes.
    #[error("a ballot is {BALLOT_LEN} bytes, got {0}")]
    Length(usize),
    /// The magic is not `JIVB`.
    #[error("not a ballot: wrong magic")]
    Magic,
    /// An unknown version.
    #[error("unknown ballot version {0} (expected {VERSION})")]
    Version(u8),
    /// An unknown contest kind code.
    #[error("unknown contest kind code {0}")]
    Kind(u8),
    /// An unknown choice tag.
    #[error("unknown choice tag {0}")]
    Tag(u8),
    /// Non-zero reserved bytes or padding.
    #[error("reserved bytes or padding are not zero")]
    Padding,
    /// Fields inconsistent with the choice or the contest kind.
    #[error("fields do not fit the choice or the contest kind")]
    Fields,
    /// Bound to another election or contest.
    #[error("the ballot belongs to another election or contest")]
    OtherContest,
    /// The contest's rule does not allow the choice.
    #[error("{0}")]
    NotAllowed(String),
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::election::tests::{sample_election, sample_hor_election};

    #[test]
    fn known_answer_vectors() {
        let (hoc, hor) = (sample_election(), sample_hor_election());
        let vectors = [
            (&hoc, "tokyo", Choice::Candidate(2)),
            (&hoc, "tokyo", Choice::Blank),
            (&hoc, "national-pr", Choice::Party(2)),
            (&hoc, "national-pr", Choice::Candidate(11)),
            (&hor, "review", Choice::Review(0b10)),
        ];
        let got: Vec<String> = vectors
            .iter()
            .map(|(e, c, choice)| hex::encode(encode(e, e.contest(c).unwrap(), choice).unwrap()))
            .collect();
        let expected: Vec<&str> = include_str!("../tests/data/ballot_vectors.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn every_allowed_choice_round_trips() {
        for (e, contest) in
            [sample_election(), sample_hor_election()].iter().flat_map(|e| e.contests.iter().map(move |c| (e, c)))
        {
            let mut choices = vec![Choice::Blank];
            choices.extend(contest.selectable_candidates().iter().map(|c| Choice::Candidate(c.number)));
            if contest.kind().accepts(&Choice::Party(1)) {
                choices.extend(contest.parties().iter().map(|p| Choice::Party(p.number)));
            }
            if !contest.judges().is_empty() {
                choices.extend((0..4).map(Choice::Review));
            }
            for choice in choices {
                let bytes = encode(e, contest, &choice).unwrap();
                let plain = decode(&bytes).unwrap();
                assert_eq!(plain.check_for(e, contest), Ok(choice));
            }
        }
    }

    #[test]
    fn wrong_contest_or_election_is_detected() {
        let e = sample_election();
        let bytes = encode(&e, &e.contests[0], &Choice::Candidate(1)).unwrap();
        let plain = decode(&bytes).unwrap();
        let mut other = e.clone();
        other.id = crate::election::Id::new("hoc-2031").unwrap();
        assert_eq!(plain.check_for(&other, &other.contests[0]), Err(BallotError::OtherContest));
        assert_eq!(plain.check_for(&e, &e.contests[1]), Err(BallotError::OtherContest));
    }

    #[test]
    fn disallowed_choices_are_not_encoded() {
        let e = sample_election();
        assert!(matches!(encode(&e, &e.contests[0], &Choice::Party(1)), Err(BallotError::NotAllowed(_))));
        let hor = sample_hor_election();
        assert!(matches!(encode(&hor, &hor.contests[2], &Choice::Review(0b100)), Err(BallotError::NotAllowed(_))));
    }

    #[test]
    fn malformed_bytes_are_refused_with_a_reason() {
        let e = sample_election();
        let good = encode(&e, &e.contests[0], &Choice::Candidate(1)).unwrap();
        let with = |i: usize, v: u8| {
            let mut b = good;
            b[i] = v;
            decode(&b)
        };
        assert_eq!(decode(&good[..63]), Err(BallotError::Length(63)));
        assert_eq!(with(0, b'X'), Err(BallotError::Magic));
        assert_eq!(with(4, 2), Err(BallotError::Version(2)));
        assert_eq!(with(5, 9), Err(BallotError::Kind(9)));
        assert_eq!(with(6, 7), Err(BallotError::Tag(7)));
        assert_eq!(with(7, 1), Err(BallotError::Padding));
        assert_eq!(with(63, 1), Err(BallotError::Padding));
        assert_eq!(with(6, 2), Err(BallotError::Fields), "a party choice in a district contest");
        assert_eq!(with(6, 0), Err(BallotError::Fields), "a blank with a number");
        assert_eq!(with(26, 3), Err(BallotError::Fields), "judges on a candidate choice");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::election::Election;
    use crate::election::tests::{sample_election, sample_hor_election};

    /// The sample contests: the House of Councillors election's two, then the review of the House of
    /// Representatives election.
    fn sample_contest(i: usize) -> (Election, usize) {
        if i < 2 { (sample_election(), i) } else { (sample_hor_election(), 2) }
    }

    fn any_choice() -> impl Strategy<Value = (usize, Choice)> {
        prop_oneof![
            Just((0, Choice::Blank)),
            (1u16..=2).prop_map(|n| (0, Choice::Candidate(n))),
            prop_oneof![Just(11u16), Just(12), Just(21)].prop_map(|n| (1, Choice::Candidate(n))),
            (1u16..=2).prop_map(|n| (1, Choice::Party(n))),
            (0u32..4).prop_map(|m| (2, Choice::Review(m))),
        ]
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip((contest, choice) in any_choice()) {
            let (e, contest) = sample_contest(contest);
            let c = &e.contests[contest];
            let bytes = encode(&e, c, &choice).unwrap();
            prop_assert_eq!(decode(&bytes).unwrap().check_for(&e, c), Ok(choice));
        }

        #[test]
        fn any_single_byte_change_is_refused_or_changes_the_meaning(
            (contest, choice) in any_choice(), at in 0usize..BALLOT_LEN, flip in 1u8..=255
        ) {
            let (e, contest) = sample_contest(contest);
            let c = &e.contests[contest];
            let mut bytes = encode(&e, c, &choice).unwrap();
            bytes[at] ^= flip;
            // A mutated ballot either fails to decode, fails the contest check, or (only when the number or
            // marks byte changed into another valid choice) decodes to a different choice: never the same one.
            if let Ok(plain) = decode(&bytes)
                && let Ok(other) = plain.check_for(&e, c)
            {
                prop_assert_ne!(other, choice);
                prop_assert!((24..32).contains(&at));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode(&bytes);
        }
    }
}
