//! The summary measures of NIST's usability performance benchmarks for the VVSG (2007), per layout, from each
//! participant's ballot in an instructed study (every contest has a target the participant was told to choose):
//! - the total completion score: the share of participants who cast their ballot;
//! - the perfect-ballot index: cast ballots with no error against cast ballots with at least one, X / (N − X);
//! - the error rate: the share of contests whose choice was not the target.
//!
//! Rates get the Wilson interval ([`crate::stats::wilson`]); the index gets the Wilson interval of X / N mapped
//! through p / (1 − p), so that it is never negative and is open-ended when every ballot is perfect.

use crate::stats::{Z95, wilson};

/// One participant's ballot in one layout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ballot {
    /// The ballot was cast (the task was completed).
    pub cast: bool,
    /// The contests on it.
    pub contests: u32,
    /// The contests whose choice was not the target.
    pub errors: u32,
}

/// A layout's summary measures with their 95 % intervals.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Participants.
    pub participants: u64,
    /// Ballots cast.
    pub cast: u64,
    /// The total completion score, cast / participants.
    pub completion: f64,
    /// Its interval.
    pub completion_ci: (f64, f64),
    /// Cast ballots with no error.
    pub perfect: u64,
    /// The perfect-ballot index, perfect / (cast − perfect); none when every cast ballot is perfect.
    pub perfect_ballot_index: Option<f64>,
    /// Its interval (the upper end is none when it is unbounded).
    pub perfect_ballot_index_ci: (f64, Option<f64>),
    /// The error rate, contests in error / contests on cast ballots.
    pub error_rate: f64,
    /// Its interval.
    pub error_rate_ci: (f64, f64),
}

/// The summary measures of the ballots of one layout; none when there is no participant or no cast ballot.
pub fn summary(ballots: &[Ballot]) -> Option<Summary> {
    let participants = ballots.len() as u64;
    let cast: Vec<&Ballot> = ballots.iter().filter(|b| b.cast).collect();
    let n = cast.len() as u64;
    let perfect = cast.iter().filter(|b| b.errors == 0).count() as u64;
    let contests: u64 = cast.iter().map(|b| u64::from(b.contests)).sum();
    let errors: u64 = cast.iter().map(|b| u64::from(b.errors.min(b.contests))).sum();
    let completion_ci = wilson(n, participants, Z95)?;
    let error_rate_ci = wilson(errors, contests, Z95)?;
    let (lo, hi) = wilson(perfect, n, Z95)?;
    let odds = |p: f64| (p < 1.0).then(|| p / (1.0 - p));
    Some(Summary {
        participants,
        cast: n,
        completion: n as f64 / participants as f64,
        completion_ci,
        perfect,
        perfect_ballot_index: (perfect < n).then(|| perfect as f64 / (n - perfect) as f64),
        // With every ballot perfect the Wilson interval reaches 1 exactly (rounding may leave it a hair below).
        perfect_ballot_index_ci: (odds(lo).unwrap_or(f64::INFINITY), if perfect == n { None } else { odds(hi) }),
        error_rate: errors as f64 / contests as f64,
        error_rate_ci,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_participants_two_not_done_three_with_errors() {
        let mut ballots = vec![Ballot { cast: true, contests: 4, errors: 0 }; 15];
        ballots.extend([Ballot { cast: true, contests: 4, errors: 1 }; 2]);
        ballots.push(Ballot { cast: true, contests: 4, errors: 2 });
        ballots.extend([Ballot { cast: false, contests: 4, errors: 0 }; 2]);
        let s = summary(&ballots).unwrap();
        assert_eq!((s.participants, s.cast, s.perfect), (20, 18, 15));
        assert!((s.completion - 0.9).abs() < 1e-12);
        assert_eq!(s.perfect_ballot_index, Some(5.0));
        assert!((s.error_rate - 4.0 / 72.0).abs() < 1e-12);
        // The index's interval holds the index, and comes from the Wilson interval of 15 / 18.
        let (lo, hi) = s.perfect_ballot_index_ci;
        assert!(lo < 5.0 && hi.unwrap() > 5.0, "{lo} {hi:?}");
        let (plo, _) = wilson(15, 18, Z95).unwrap();
        assert!((lo - plo / (1.0 - plo)).abs() < 1e-12);
    }

    #[test]
    fn every_ballot_perfect_has_no_index_and_an_open_interval() {
        let s = summary(&[Ballot { cast: true, contests: 2, errors: 0 }; 10]).unwrap();
        assert_eq!(s.perfect_ballot_index, None);
        assert_eq!(s.perfect_ballot_index_ci.1, None);
        assert!(s.perfect_ballot_index_ci.0 > 1.0);
        assert_eq!(summary(&[]), None);
    }
}
