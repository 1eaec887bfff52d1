//! The disk reader of the threat model (ARCHITECTURE.md): given copies of the verifier's data directory taken at
//! moments of its choosing, the voter list and the published trackers, it tries to name the voter of every ballot
//! and of every UX-research row. It knows the schema and the code, and reads the files with [`sqlite_file`], from
//! SQLite's file format alone:
//!
//! - **WAL frames grouped by commit**, current and stale generations: what one transaction wrote together;
//! - **page diffs between copies**: what appeared between two copies;
//! - **cell placement in leaf pages**: the order in which a page's cells were written;
//! - **audit and research rows** against anything else that is time-ordered.
//!
//! Every observation gives an item (a voter's mark in a contest, a ballot, a research row) a place in time: the
//! first copy it is seen in, then within that copy the WAL commit that first holds it when nothing before it in
//! that copy did (the main file, then the WAL's commits oldest first), then its cell's rank. Per contest, the attacker lines the ballots up with the marks in that order (a box that
//! fills in casting order is read in casting order) and guesses that the i-th ballot is the i-th voter's. Its
//! *crowd* is the number of items of the same contest that became visible in the same commit, or in the same
//! copy when no commit of theirs was seen: the voters among whom it hides, whatever order the attacker guesses.

pub mod sqlite_file;

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};
use sqlite_file::{Cell, Value};

/// One copy of the data directory: each file's name and bytes, as read at one moment.
pub struct Copy {
    pub files: Vec<(String, Vec<u8>)>,
}

impl Copy {
    /// Reads every file of a folder (not recursing), tolerating files that vanish or change while read.
    pub fn take(dir: &std::path::Path) -> Copy {
        let mut files = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.path().is_file()
                    && let Ok(bytes) = std::fs::read(e.path())
                {
                    files.push((e.file_name().to_string_lossy().into_owned(), bytes));
                }
            }
        }
        Copy { files }
    }

    pub fn bytes(&self) -> usize {
        self.files.iter().map(|(_, b)| b.len()).sum()
    }
}

/// What the attacker knows besides the copies: the voter list, the published trackers and the schema's codes.
pub struct Known {
    /// Every registered voter's person id.
    pub persons: Vec<String>,
    /// The contests.
    pub contests: Vec<String>,
    /// Published trackers (hex SHA-256 of the ciphertext) and their contest.
    pub trackers: HashMap<String, String>,
    /// The contest kind code of each contest (research rows name the kind, not the contest).
    pub contest_of_kind: HashMap<String, String>,
}

/// What the attacker concluded about one ballot or research row.
#[derive(Clone, Debug)]
pub struct Link {
    /// The item: a tracker, or a research row's id (hex).
    pub item: String,
    /// The voter the attacker names, if it could line the item up with one.
    pub guess: Option<String>,
    /// How many items of the contest became visible together with this one.
    pub crowd: usize,
}

/// The attacker's findings.
pub struct Findings {
    pub ballots: Vec<Link>,
    pub research: Vec<Link>,
    /// How many distinct marks (voter, contest) it saw, and in how many commits and copies.
    pub marks_seen: usize,
    pub commits_read: usize,
}

/// A place in time: copy, then 0 for the main file (older than its WAL) or 1 for the WAL, then the file, the WAL
/// generation (older first) and commit, then the cell's rank. Items with the same first five are one crowd, and
/// became visible together.
type Key = (usize, u8, usize, i64, usize, usize);
type CrowdKey = (usize, u8, usize, i64, usize);

fn crowd_key(k: &Key) -> CrowdKey {
    (k.0, k.1, k.2, k.3, k.4)
}

enum Item {
    Mark { person: String, contest: String },
    Ballot { tracker: String, contest: String },
    Research { id: String, contest: String },
}

fn classify(cell: &Cell, known: &Known, persons: &HashMap<&str, ()>) -> Vec<Item> {
    let mut items = Vec::new();
    // Ballots: a blob whose hash is a published tracker.
    for v in &cell.values {
        if let Value::Blob(b) = v
            && b.len() >= 256
        {
            let t = hex::encode(Sha256::digest(b));
            if let Some(contest) = known.trackers.get(&t) {
                items.push(Item::Ballot { tracker: t, contest: contest.clone() });
            }
        }
    }
    // Marks: a person (or `voter:person`) and a contest in one record, as a column or inside a JSON detail.
    let texts: Vec<&str> = cell.values.iter().filter_map(Value::as_text).collect();
    let person = texts.iter().find_map(|t| {
        let p = t.strip_prefix("voter:").unwrap_or(t);
        persons.contains_key(p).then(|| p.to_string())
    });
    if let Some(person) = person {
        for c in &known.contests {
            let quoted = format!("\"contest\":\"{c}\"");
            if texts.iter().any(|t| *t == c || t.contains(&quoted)) {
                items.push(Item::Mark { person: person.clone(), contest: c.clone() });
            }
        }
    }
    // Research rows: a 16-byte random id, then the election, the participant and the contest kind.
    if let (Some(Value::Blob(id)), Some(Value::Text(participant)), Some(Value::Text(kind))) =
        (cell.values.first(), cell.values.get(2), cell.values.get(3))
        && let (16, Some(contest)) = (id.len(), known.contest_of_kind.get(kind))
    {
        items.push(Item::Research { id: format!("{participant}\u{0}{contest}"), contest: contest.clone() });
    }
    items
}

/// The earliest place each item was seen, with its contest.
type Timeline = HashMap<String, (Key, String)>;

/// Reads every copy and names a voter for every ballot and research row it can.
pub fn attack(copies: &[Copy], known: &Known) -> Findings {
    let persons: HashMap<&str, ()> = known.persons.iter().map(|p| (p.as_str(), ())).collect();
    let mut file_index: HashMap<String, usize> = HashMap::new();
    let (mut marks, mut ballots, mut research) = (Timeline::new(), Timeline::new(), Timeline::new());
    let mut commits_read = 0;
    for (s, copy) in copies.iter().enumerate() {
        let (mut m, mut b, mut r) = (Timeline::new(), Timeline::new(), Timeline::new());
        let mut note = |cell: &Cell, key: Key| {
            for item in classify(cell, known, &persons) {
                let (map, id, contest) = match item {
                    Item::Mark { person, contest } => (&mut m, format!("{person}\u{0}{contest}"), contest),
                    Item::Ballot { tracker, contest } => (&mut b, tracker, contest),
                    Item::Research { id, contest } => (&mut r, id, contest),
                };
                // What a file holds was written before any commit its WAL still shows as new; among commits, the
                // first that holds an item is the one that wrote it.
                map.entry(id).or_insert((key, contest));
            }
        };
        // The main files first, then every WAL's commits in time order (older generations first): an item is
        // placed where it is first seen, so a commit places only what no earlier state of the files held.
        let mut wals = Vec::new();
        for (name, bytes) in &copy.files {
            let base = name.trim_end_matches("-wal").to_string();
            let n = file_index.len();
            let f = *file_index.entry(base).or_insert(n);
            if name.ends_with("-wal") {
                wals.push((f, bytes));
            } else {
                for cell in sqlite_file::database_cells(bytes) {
                    note(&cell, (s, 0, f, 0, 0, cell.rank));
                }
            }
        }
        for (f, bytes) in wals {
            let mut commits = sqlite_file::wal_commits(bytes);
            commits_read += commits.len();
            let oldest = commits.iter().map(|c| c.generation).max().unwrap_or(0) as i64;
            commits.sort_by_key(|c| (oldest - c.generation as i64, c.index));
            for c in &commits {
                for cell in &c.cells {
                    note(cell, (s, 1, f, oldest - c.generation as i64, c.index, cell.rank));
                }
            }
        }
        for (seen, all) in [(m, &mut marks), (b, &mut ballots), (r, &mut research)] {
            for (id, v) in seen {
                all.entry(id).or_insert(v);
            }
        }
    }
    let marks_seen = marks.len();
    // Per contest: the voters in the order their marks appeared, and the marks of each commit.
    let mut voters_in_order: BTreeMap<String, Vec<(Key, String)>> = BTreeMap::new();
    for (id, (key, contest)) in &marks {
        let person = id.split('\u{0}').next().unwrap_or_default().to_string();
        voters_in_order.entry(contest.clone()).or_default().push((*key, person));
    }
    let mut marks_of_commit: HashMap<(CrowdKey, String), Vec<(Key, String)>> = HashMap::new();
    for v in voters_in_order.values_mut() {
        v.sort();
    }
    for (contest, v) in &voters_in_order {
        for (k, p) in v {
            if k.1 == 1 {
                marks_of_commit.entry((crowd_key(k), contest.clone())).or_default().push((*k, p.clone()));
            }
        }
    }
    let line_up = |t: &Timeline| -> Vec<Link> {
        let mut per_contest: BTreeMap<String, Vec<(Key, String)>> = BTreeMap::new();
        for (id, (key, contest)) in t {
            per_contest.entry(contest.clone()).or_default().push((*key, id.clone()));
        }
        let mut links = Vec::new();
        for (contest, mut items) in per_contest {
            items.sort();
            let mut crowds: HashMap<CrowdKey, Vec<usize>> = HashMap::new();
            for (i, (k, _)) in items.iter().enumerate() {
                crowds.entry(crowd_key(k)).or_default().push(i);
            }
            let voters = voters_in_order.get(&contest);
            for (i, (k, id)) in items.iter().enumerate() {
                let crowd = &crowds[&crowd_key(k)];
                // A commit that wrote marks and items of this contest together links them, in cell order.
                let together = marks_of_commit.get(&(crowd_key(k), contest.clone()));
                let guess = match together {
                    Some(m) => m.get(crowd.iter().position(|j| *j == i).unwrap_or(0)).map(|(_, p)| p.clone()),
                    None => voters.and_then(|v| v.get(i)).map(|(_, p)| p.clone()),
                };
                links.push(Link { item: id.clone(), guess, crowd: crowd.len() });
            }
        }
        links
    };
    Findings { ballots: line_up(&ballots), research: line_up(&research), marks_seen, commits_read }
}

/// How well the attacker did against the truth (item → voter).
#[derive(Debug)]
pub struct Score {
    /// Items the attacker saw.
    pub items: usize,
    /// Items whose voter it named correctly.
    pub named: usize,
    /// Items named correctly while alone in their crowd: certain links.
    pub certain: usize,
    /// The smallest crowd.
    pub min_crowd: usize,
    /// What a guesser that knows only each crowd would name correctly on average: the sum of 1/crowd.
    pub expected_by_crowd: f64,
}

pub fn score(links: &[Link], truth: &HashMap<String, String>) -> Score {
    let mut s = Score { items: links.len(), named: 0, certain: 0, min_crowd: usize::MAX, expected_by_crowd: 0.0 };
    for l in links {
        let right = l.guess.is_some() && truth.get(&l.item) == l.guess.as_ref();
        s.named += usize::from(right);
        s.certain += usize::from(right && l.crowd == 1);
        s.min_crowd = s.min_crowd.min(l.crowd);
        s.expected_by_crowd += 1.0 / l.crowd as f64;
    }
    s
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} named ({} with certainty); smallest crowd {}; a guess within each crowd would name {:.1}",
            self.named, self.items, self.certain, self.min_crowd, self.expected_by_crowd
        )
    }
}
