//! What the rehearsal found: per election, what the browsers voted beside what the count in the token found, the
//! trackers, the notices and the record; the table `cargo xtask rehearsal` prints, and whether it passed.

use std::collections::BTreeMap;

/// One election's outcome.
#[derive(Debug)]
pub struct ElectionOutcome {
    /// The election's id.
    pub election_id: String,
    /// What the rehearsal voted: (contest, line) → ballots, lines `candidate:N`, `party:N`, `blank`, `judge:P`.
    pub voted: BTreeMap<(String, String), u64>,
    /// What the count found, in the same terms (lines with zero left out).
    pub counted: BTreeMap<(String, String), u64>,
    /// Ballots the count could not read.
    pub invalid: u64,
    /// The receipts' trackers.
    pub trackers: Vec<String>,
    /// How many of them the published ballot box holds.
    pub trackers_published: usize,
    /// The notices the SMTP server received.
    pub notices: usize,
    /// The record's (調書) voters per contest.
    pub record: BTreeMap<String, i64>,
}

/// The rehearsal's outcome.
#[derive(Debug)]
pub struct Outcome {
    /// One per election.
    pub elections: Vec<ElectionOutcome>,
    /// Every selection × display pair used in a real vote.
    pub layouts: Vec<(String, String)>,
    /// The second attempt's refusal code.
    pub second_attempt: String,
    /// The session-ended screen's text.
    pub session_end: String,
}

impl Outcome {
    /// The result table, as `cargo xtask rehearsal` prints it.
    pub fn table(&self) -> String {
        let mut out = String::from("election        contest       line          voted  counted\n");
        for e in &self.elections {
            let keys: std::collections::BTreeSet<_> = e.voted.keys().chain(e.counted.keys()).collect();
            for k in keys {
                let v = e.voted.get(k).copied().unwrap_or(0);
                let c = e.counted.get(k).copied().unwrap_or(0);
                let mark = if v == c { "" } else { "  <- DIFFERS" };
                out.push_str(&format!("{:<15} {:<13} {:<13} {v:>5}  {c:>7}{mark}\n", e.election_id, k.0, k.1));
            }
            out.push_str(&format!(
                "{:<15} trackers published {}/{}, invalid ballots {}, notices by SMTP {}\n",
                e.election_id,
                e.trackers_published,
                e.trackers.len(),
                e.invalid,
                e.notices
            ));
        }
        out
    }

    /// Whether the counts equal the votes and every tracker was published.
    pub fn passed(&self) -> bool {
        self.elections
            .iter()
            .all(|e| e.voted == e.counted && e.invalid == 0 && e.trackers_published == e.trackers.len())
    }
}
