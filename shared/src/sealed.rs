//! The ballot as one type from the browser to the count, and the opening that lets a voter check an encryption
//! (cast-as-intended, the Benaloh challenge; R-VOTE-7).
//!
//! - [`SealedBallot`]: one contest's ciphertext with its election and contest. It has a [`SealedBallot::tracker`]
//!   and the digest the card signs, and nothing here or anywhere but the counting tool decrypts it.
//! - [`seal`]: the browser's encryption of a choice. It returns the ballot and its [`Opening`] (the choice and the
//!   OAEP seed), which the browser keeps until the ballot is cast (then the opening is dropped) or challenged.
//! - [`BallotOpening`]: a ballot with its opening revealed. The card helper receives one to sign (it re-encrypts
//!   and shows the choice itself), and a challenged ballot is shown as one to the independent checkers (the
//!   helper's page and `ballot-check`). [`BallotOpening::check`] re-encrypts under the election's key and
//!   compares, byte for byte.
//! - [`describe`]: a choice in words, as the confirmation screen, the helper's page and `ballot-check` show it.
//!
//! Why a challenged ballot can never be cast: its seed is revealed, so anyone who sees the opening knows the
//! choice. The app's `Sealed` value is consumed by the challenge (Rust moves it), so no ciphertext is left to
//! sign; the helper remembers the tracker of every ballot it checked and refuses to sign one of them
//! (`CHALLENGED_BALLOT`); and the app always seals afresh, with a new seed, after a challenge.
//!
//! What this module must never do: decrypt, or reuse a seed.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ballot::{BallotError, encode_for};
use crate::crypto::{ElectionPublicKey, envelope_digest, oaep_label, tracker};
use crate::election::{Choice, Contest, Election, Id, Text};
use crate::oaep::H_LEN;
use crate::wire::Base64;

/// One contest's encrypted ballot: RSA-OAEP ciphertext bound to its election and contest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedBallot {
    election: Id,
    contest: Id,
    ciphertext: Base64,
}

impl SealedBallot {
    /// Wraps a ciphertext of an election's contest.
    pub fn new(election: Id, contest: Id, ciphertext: Vec<u8>) -> SealedBallot {
        SealedBallot { election, contest, ciphertext: Base64(ciphertext) }
    }

    /// The election.
    pub fn election(&self) -> &Id {
        &self.election
    }

    /// The contest.
    pub fn contest(&self) -> &Id {
        &self.contest
    }

    /// The ciphertext.
    pub fn ciphertext(&self) -> &[u8] {
        self.ciphertext.as_bytes()
    }

    /// The tracker: hex SHA-256 of the ciphertext, which the voter finds in the published list after the close.
    pub fn tracker(&self) -> String {
        tracker(self.ciphertext())
    }

    /// The digest the card's signing key signs for this ballot (`crypto::envelope_digest`, R-VOTE-6).
    pub fn envelope_digest(&self) -> [u8; 32] {
        envelope_digest(self.election.as_str(), self.contest.as_str(), self.ciphertext())
    }
}

/// What the browser keeps beside a sealed ballot: the choice and the OAEP seed. It leaves the browser only to the
/// card helper (to be shown and signed) or, for a challenged ballot, to the checkers.
#[derive(Clone, PartialEq, Eq)]
pub struct Opening {
    /// The choice encrypted.
    pub choice: Choice,
    seed: Zeroizing<[u8; H_LEN]>,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opening(..)")
    }
}

impl Opening {
    /// Reveals the opening with its ballot.
    pub fn reveal(&self, ballot: SealedBallot) -> BallotOpening {
        BallotOpening { ballot, choice: self.choice, seed: Base64(self.seed.to_vec()) }
    }
}

/// A sealed ballot with its opening: what the card helper re-encrypts before it signs, and what a challenged
/// ballot reveals to the checkers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BallotOpening {
    /// The ballot.
    pub ballot: SealedBallot,
    /// The choice it claims to hold.
    pub choice: Choice,
    /// The OAEP seed used, 32 bytes.
    pub seed: Base64,
}

/// Why a ballot could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The choice does not fit the contest.
    #[error(transparent)]
    Ballot(#[from] BallotError),
    /// The encryption failed.
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// Encrypts a choice for a contest with a fresh seed from `rng` (R-VOTE-7), returning the ballot and its opening.
pub fn seal<R: CryptoRng + ?Sized>(
    rng: &mut R,
    key: &ElectionPublicKey,
    election: &Id,
    contest: &Contest,
    choice: Choice,
) -> Result<(SealedBallot, Opening), SealError> {
    let mut seed = Zeroizing::new([0u8; H_LEN]);
    rng.fill_bytes(seed.as_mut_slice());
    let ballot = seal_with_seed(key, election, contest, choice, &seed)?;
    Ok((ballot, Opening { choice, seed }))
}

fn seal_with_seed(
    key: &ElectionPublicKey,
    election: &Id,
    contest: &Contest,
    choice: Choice,
    seed: &[u8; H_LEN],
) -> Result<SealedBallot, SealError> {
    let plain = Zeroizing::new(encode_for(election.as_str(), contest, &choice)?);
    let label = oaep_label(election.as_str(), contest.id.as_str());
    let ct = crate::oaep::encrypt_with_seed(key.rsaep(), &label, plain.as_slice(), seed)
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    Ok(SealedBallot::new(election.clone(), contest.id.clone(), ct))
}

/// A ballot whose opening re-encrypted to exactly its ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked<'a> {
    /// The contest it belongs to.
    pub contest: &'a Contest,
    /// The choice it holds.
    pub choice: Choice,
    /// The choice in words.
    pub words: Text,
    /// The ballot's tracker.
    pub tracker: String,
    /// The fingerprint of the key it was checked under.
    pub fingerprint: String,
}

/// Why an opening does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The ballot names another election.
    #[error("the ballot is for election {0}, not this one")]
    OtherElection(String),
    /// The election has no such contest.
    #[error("the election has no contest {0}")]
    UnknownContest(String),
    /// The seed is not 32 bytes.
    #[error("the seed is {0} bytes, not 32")]
    Seed(usize),
    /// The choice does not fit the contest.
    #[error("the choice does not fit the contest: {0}")]
    Choice(String),
    /// Re-encrypting the choice with the seed gives another ciphertext: the ballot does not hold this choice.
    #[error("the ciphertext does not hold this choice")]
    Mismatch,
}

impl BallotOpening {
    /// Re-encrypts the claimed choice with the revealed seed under `key` and compares with the ciphertext.
    pub fn check<'a>(&self, election: &'a Election, key: &ElectionPublicKey) -> Result<Checked<'a>, CheckError> {
        if self.ballot.election != election.id {
            return Err(CheckError::OtherElection(self.ballot.election.to_string()));
        }
        let contest = election
            .contest(self.ballot.contest.as_str())
            .ok_or_else(|| CheckError::UnknownContest(self.ballot.contest.to_string()))?;
        let seed: [u8; H_LEN] =
            self.seed.as_bytes().try_into().map_err(|_| CheckError::Seed(self.seed.as_bytes().len()))?;
        let again = seal_with_seed(key, &election.id, contest, self.choice, &seed).map_err(|e| match e {
            SealError::Ballot(b) => CheckError::Choice(b.to_string()),
            SealError::Encrypt(_) => CheckError::Mismatch,
        })?;
        if again.ciphertext() != self.ballot.ciphertext() {
            return Err(CheckError::Mismatch);
        }
        Ok(Checked {
            contest,
            choice: self.choice,
            words: describe(contest, &self.choice),
            tracker: self.ballot.tracker(),
            fingerprint: key.fingerprint(),
        })
    }
}

/// Describes a choice in words (R-SYS-4): the candidate's name with its reading, the party, 白票, or the judges
/// marked for dismissal. Names are Japanese as filed in both languages.
pub fn describe(contest: &Contest, choice: &Choice) -> Text {
    let both = |s: String| Text { ja: s.clone(), en: s };
    match choice {
        Choice::Blank => {
            Text { ja: "白票（だれにも投票しない）".into(), en: "Blank ballot (白票, no choice)".into() }
        }
        Choice::Candidate(n) => both(
            contest
                .selectable_candidates()
                .into_iter()
                .find(|c| c.number == *n)
                .map(|c| format!("{}（{}）", c.name, c.reading))
                .unwrap_or_else(|| format!("#{n}")),
        ),
        Choice::Party(n) => both(
            contest
                .parties()
                .iter()
                .find(|p| p.number == *n)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| format!("#{n}")),
        ),
        Choice::Review(marks) => {
            let dismissed: Vec<&str> = contest
                .judges()
                .iter()
                .enumerate()
                .filter(|(i, _)| marks >> i & 1 == 1)
                .map(|(_, j)| j.name.as_str())
                .collect();
            if dismissed.is_empty() {
                Text { ja: "×をつけた裁判官はいません".into(), en: "No judge marked for dismissal".into() }
            } else {
                Text {
                    ja: format!("×（罷免を可とする）: {}", dismissed.join("、")),
                    en: format!("× (dismiss): {}", dismissed.join("、")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::election::tests::sample_election;

    const PUB: &str = include_str!("../tests/data/test-election-key.pub.pem");

    fn sealed(choice: Choice) -> (Election, ElectionPublicKey, SealedBallot, Opening) {
        let e = sample_election();
        let key = ElectionPublicKey::from_pem(PUB).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let (b, o) = seal(&mut rng, &key, &e.id, &e.contests[0], choice).unwrap();
        (e, key, b, o)
    }

    #[test]
    fn an_honest_opening_checks_and_says_the_choice_in_words() {
        let (e, key, b, o) = sealed(Choice::Candidate(2));
        let opened = o.reveal(b.clone());
        let checked = opened.check(&e, &key).unwrap();
        assert_eq!(checked.choice, Choice::Candidate(2));
        assert_eq!(checked.tracker, b.tracker());
        assert_eq!(checked.fingerprint, key.fingerprint());
        assert_eq!(checked.words, describe(&e.contests[0], &Choice::Candidate(2)));
        let json = serde_json::to_string(&opened).unwrap();
        assert_eq!(serde_json::from_str::<BallotOpening>(&json).unwrap(), opened);
    }

    /// A page loaded before a candidate withdrew may still offer them; the card helper checks every opening against
    /// the definition it reads from the verifier when it signs, and the changed definition refuses the choice.
    #[test]
    fn an_opening_for_a_candidate_who_withdrew_since_is_refused() {
        let (e, key, b, o) = sealed(Choice::Candidate(2));
        let opened = o.reveal(b);
        let mut changed = e.clone();
        changed.contests[0].withdrawn.push(crate::election::Withdrawal {
            candidate: 2,
            reason: crate::election::WithdrawalReason::Withdrew,
            effective_at: "2028-07-10T03:00:00Z".parse().unwrap(),
        });
        assert!(opened.check(&e, &key).is_ok());
        let refused = opened.check(&changed, &key).unwrap_err();
        assert!(matches!(&refused, CheckError::Choice(m) if m.contains("no longer a candidate")), "{refused:?}");
    }

    #[test]
    fn an_opening_that_claims_another_choice_or_seed_is_refused() {
        let (e, key, b, o) = sealed(Choice::Candidate(2));
        let mut lie = o.reveal(b.clone());
        lie.choice = Choice::Candidate(1);
        assert_eq!(lie.check(&e, &key), Err(CheckError::Mismatch));
        let mut seed = o.reveal(b.clone());
        seed.seed.0[0] ^= 1;
        assert_eq!(seed.check(&e, &key), Err(CheckError::Mismatch));
        let mut short = o.reveal(b.clone());
        short.seed.0.pop();
        assert_eq!(short.check(&e, &key), Err(CheckError::Seed(31)));
        let mut other = e.clone();
        other.id = Id::new("other").unwrap();
        assert!(matches!(o.reveal(b).check(&other, &key), Err(CheckError::OtherElection(_))));
    }

    #[test]
    fn two_seals_of_one_choice_differ() {
        let e = sample_election();
        let key = ElectionPublicKey::from_pem(PUB).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (a, _) = seal(&mut rng, &key, &e.id, &e.contests[0], Choice::Blank).unwrap();
        let (b, _) = seal(&mut rng, &key, &e.id, &e.contests[0], Choice::Blank).unwrap();
        assert_ne!(a.tracker(), b.tracker());
        assert_eq!(a.envelope_digest(), envelope_digest(e.id.as_str(), e.contests[0].id.as_str(), a.ciphertext()));
    }
}
