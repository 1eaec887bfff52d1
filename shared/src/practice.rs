//! Practice elections for UX research (R-SYS-4, tracker issue 9): one mock contest of any kind with 5 to 200
//! entries, made from the common Japanese names and fictional parties shipped in `data/names.tsv`.
//!
//! The same kind, size and seed always give the same election (a small SplitMix64 generator seeded by the caller:
//! no randomness of its own, no I/O). Every election made here has `practice = true`: it can never pass for a real
//! one, and only practice elections accept UX metrics.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::election::{
    Candidate, Contest, ContestKind, Election, ElectionKind, Id, Judge, MAX_JUDGES, Party, Rules, Text,
};

/// The fewest entries of a practice contest.
pub const MIN_CANDIDATES: usize = 5;
/// The most entries of a practice contest.
pub const MAX_CANDIDATES: usize = 200;

/// The shipped name lists (family and given names with readings, fictional parties).
pub const NAMES_TSV: &str = include_str!("../data/names.tsv");

/// Why no practice election was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PracticeError {
    /// Fewer than 5 or more than 200 candidates (or more judges than a review can list).
    #[error("a practice contest has {min} to {max} candidates; got {got}. Choose a number in that range.")]
    Size {
        /// The fewest allowed for this kind.
        min: usize,
        /// The most allowed for this kind.
        max: usize,
        /// What was asked for.
        got: usize,
    },
    /// The shipped name list is malformed (a build defect).
    #[error("the name list data/names.tsv is malformed at line {0}")]
    Data(usize),
}

/// A family or given name with its reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The name in kanji or kana.
    pub kanji: String,
    /// Its reading in hiragana.
    pub reading: String,
}

/// A fictional party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyName {
    /// Its identifier.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its abbreviation.
    pub abbreviation: String,
    /// The reading of its name.
    pub reading: String,
}

/// The shipped name lists, parsed.
#[derive(Clone, Debug, Default)]
pub struct NameLists {
    /// Family names.
    pub family: Vec<Name>,
    /// Given names.
    pub given: Vec<Name>,
    /// Fictional parties.
    pub parties: Vec<PartyName>,
}

/// Parses a name list in the format of `data/names.tsv`.
pub fn parse_names(tsv: &str) -> Result<NameLists, PracticeError> {
    let mut lists = NameLists::default();
    for (i, line) in tsv.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let name = |f: &[&str]| Name { kanji: f[1].to_string(), reading: f[2].to_string() };
        match (f.first().copied(), f.len()) {
            (Some("family"), 3) => lists.family.push(name(&f)),
            (Some("given"), 3) => lists.given.push(name(&f)),
            (Some("party"), 5) => lists.parties.push(PartyName {
                id: f[1].into(),
                name: f[2].into(),
                abbreviation: f[3].into(),
                reading: f[4].into(),
            }),
            _ => return Err(PracticeError::Data(i + 1)),
        }
    }
    if lists.family.is_empty() || lists.given.is_empty() || lists.parties.len() < 3 {
        return Err(PracticeError::Data(0));
    }
    Ok(lists)
}

/// Returns the shipped name lists.
pub fn names() -> Result<NameLists, PracticeError> {
    parse_names(NAMES_TSV)
}

/// SplitMix64: small, deterministic, good enough to shuffle mock names (never used for anything secret).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Returns the contest kind named by its code (`hor_district`, `hor_pr`, `hoc_district`, `hoc_pr`,
/// `judicial_review`).
pub fn parse_kind(code: &str) -> Option<ContestKind> {
    (1..=5).filter_map(ContestKind::from_code).find(|k| k.name() == code)
}

/// Returns the range of entries allowed for a kind: 5 to 200, and at most 32 judges in a review.
pub fn allowed(kind: ContestKind) -> (usize, usize) {
    match kind {
        ContestKind::JudicialReview => (MIN_CANDIDATES, MAX_JUDGES),
        _ => (MIN_CANDIDATES, MAX_CANDIDATES),
    }
}

fn id(s: &str) -> Id {
    // Every identifier here is a constant or made of `a-z`, digits, `-` and `_`.
    Id::new(s).unwrap_or_else(|_| Id::new("practice").unwrap_or_else(|_| unreachable!()))
}

/// Makes a practice election with one contest of `kind` and `candidates` entries (candidates; listed candidates
/// spread over the parties in PR; judges in a review), deterministically from `seed`. Names are unique, readings
/// are hiragana, about one district candidate in six is an independent, and House of Councillors PR lists start
/// with a 特定枠 candidate in the first two parties. District contests are in district `tokyo`, the others in
/// `national`; the dates are fixed (use `verifier election create --redate-for-demo` to open it now).
pub fn generate(kind: ContestKind, candidates: usize, seed: u64) -> Result<Election, PracticeError> {
    let (min, max) = allowed(kind);
    if !(min..=max).contains(&candidates) {
        return Err(PracticeError::Size { min, max, got: candidates });
    }
    let lists = names()?;
    let mut rng = Mix(seed ^ 0x005e_ed0f_9a11_0e1e);
    let people = unique_people(&lists, candidates, &mut rng);
    let n_parties = match kind {
        ContestKind::HorPr | ContestKind::HocPr => (candidates / 8).clamp(3, lists.parties.len()),
        _ => (2 + candidates / 10).min(lists.parties.len()),
    };
    let mut pool = lists.parties.clone();
    rng.shuffle(&mut pool);
    let mut parties: Vec<Party> = pool
        .iter()
        .take(n_parties)
        .enumerate()
        .map(|(i, p)| Party {
            number: i as u16 + 1,
            id: id(&p.id),
            name: p.name.clone(),
            abbreviation: p.abbreviation.clone(),
            reading: p.reading.clone(),
            list: Vec::new(),
        })
        .collect();
    let (code, ja, en, district, election_kind) = match kind {
        ContestKind::HorDistrict => {
            ("hor_district", "東京都第1区", "Tokyo 1st district", "tokyo", ElectionKind::HorGeneral)
        }
        ContestKind::HorPr => ("hor_pr", "比例代表（東京都）", "Tokyo PR block", "national", ElectionKind::HorGeneral),
        ContestKind::HocDistrict => {
            ("hoc_district", "東京都選挙区", "Tokyo district", "tokyo", ElectionKind::HocOrdinary)
        }
        ContestKind::HocPr => ("hoc_pr", "比例代表", "National PR", "national", ElectionKind::HocOrdinary),
        ContestKind::JudicialReview => (
            "judicial_review",
            "最高裁判所裁判官国民審査",
            "Supreme Court review",
            "national",
            ElectionKind::HorGeneral,
        ),
    };
    let rules = match kind {
        ContestKind::HorDistrict | ContestKind::HocDistrict => {
            let list = people
                .into_iter()
                .enumerate()
                .map(|(i, (name, reading))| {
                    // The first ones guarantee every party a candidate; then one in six is an independent.
                    let party = if i < n_parties {
                        Some(parties[i].id.clone())
                    } else if rng.below(6) == 0 {
                        None
                    } else {
                        Some(parties[rng.below(n_parties)].id.clone())
                    };
                    Candidate { number: 0, name, reading, party, tokutei: false }
                })
                .collect::<Vec<_>>();
            let mut list = list;
            rng.shuffle(&mut list);
            for (i, c) in list.iter_mut().enumerate() {
                c.number = i as u16 + 1;
            }
            if kind == ContestKind::HorDistrict {
                Rules::HorDistrict { parties, candidates: list }
            } else {
                Rules::HocDistrict { parties, candidates: list }
            }
        }
        ContestKind::HorPr | ContestKind::HocPr => {
            for (i, (name, reading)) in people.into_iter().enumerate() {
                let p = if i < n_parties { i } else { rng.below(n_parties) };
                let party = &mut parties[p];
                let number = party.number * 1000 + party.list.len() as u16 + 1;
                let tokutei = kind == ContestKind::HocPr && p < 2 && party.list.is_empty();
                party.list.push(Candidate { number, name, reading, party: Some(party.id.clone()), tokutei });
            }
            if kind == ContestKind::HorPr { Rules::HorPr { parties } } else { Rules::HocPr { parties } }
        }
        ContestKind::JudicialReview => Rules::JudicialReview {
            judges: people.into_iter().map(|(name, reading)| Judge { name, reading }).collect(),
        },
    };
    let (kind_ja, kind_en) = election_kind.text();
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
    let election = Election {
        id: id(&format!("practice-{code}-{candidates}-{seed}").replace('_', "-")),
        name: Text {
            ja: format!("模擬選挙（練習用）{kind_ja}・{ja}（{candidates}人）"),
            en: format!("Practice election: {kind_en}, {en} ({candidates} entries)"),
        },
        kind: election_kind,
        notice_date: date("2026-07-02"),
        election_day: date("2026-07-19"),
        practice: true,
        contests: vec![Contest {
            id: id(&code.replace('_', "-")),
            name: Text { ja: ja.into(), en: en.into() },
            district: district.into(),
            rules,
            withdrawn: Vec::new(),
        }],
    };
    election.validate().map_err(|_| PracticeError::Data(0))?;
    Ok(election)
}

/// Draws `n` people with unique names (family × given, more than 10,000 combinations).
fn unique_people(lists: &NameLists, n: usize, rng: &mut Mix) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let f = &lists.family[rng.below(lists.family.len())];
        let g = &lists.given[rng.below(lists.given.len())];
        let name = format!("{} {}", f.kanji, g.kanji);
        if seen.insert(name.clone()) {
            out.push((name, format!("{} {}", f.reading, g.reading)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const KINDS: [ContestKind; 5] = [
        ContestKind::HorDistrict,
        ContestKind::HorPr,
        ContestKind::HocDistrict,
        ContestKind::HocPr,
        ContestKind::JudicialReview,
    ];

    fn is_hiragana_reading(s: &str) -> bool {
        !s.is_empty() && s.chars().all(|c| ('\u{3041}'..='\u{3096}').contains(&c) || c == 'ー' || c == ' ')
    }

    #[test]
    fn the_shipped_lists_are_large_and_read_in_hiragana() {
        let l = names().unwrap();
        assert!(l.family.len() >= 100 && l.given.len() >= 100 && l.parties.len() >= 10, "{l:?}");
        for n in l.family.iter().chain(&l.given) {
            assert!(is_hiragana_reading(&n.reading), "{n:?}");
            assert!(crate::kana::initial_row(&n.reading).is_some(), "{n:?} has a 五十音 row");
        }
        for p in &l.parties {
            assert!(is_hiragana_reading(&p.reading) && Id::new(p.id.clone()).is_ok(), "{p:?}");
        }
        let kanji: BTreeSet<_> = l.family.iter().map(|n| &n.kanji).collect();
        assert_eq!(kanji.len(), l.family.len(), "no family name twice");
    }

    #[test]
    fn every_kind_and_size_makes_a_valid_practice_election() {
        for kind in KINDS {
            let (min, max) = allowed(kind);
            for n in [min, 17, max] {
                let e = generate(kind, n, 7).unwrap();
                e.validate().unwrap();
                assert!(e.practice);
                let c = &e.contests[0];
                assert_eq!(c.kind(), kind);
                let people: Vec<(String, String)> = match &c.rules {
                    Rules::JudicialReview { judges } => {
                        judges.iter().map(|j| (j.name.clone(), j.reading.clone())).collect()
                    }
                    Rules::HorDistrict { candidates, .. } | Rules::HocDistrict { candidates, .. } => {
                        candidates.iter().map(|c| (c.name.clone(), c.reading.clone())).collect()
                    }
                    Rules::HorPr { parties } | Rules::HocPr { parties } => {
                        parties.iter().flat_map(|p| &p.list).map(|c| (c.name.clone(), c.reading.clone())).collect()
                    }
                };
                assert_eq!(people.len(), n, "{kind:?} {n}");
                let unique: BTreeSet<_> = people.iter().map(|p| &p.0).collect();
                assert_eq!(unique.len(), n, "names are unique");
                assert!(people.iter().all(|p| is_hiragana_reading(&p.1)));
            }
        }
    }

    #[test]
    fn parties_and_independents_are_assigned() {
        let e = generate(ContestKind::HocDistrict, 120, 7).unwrap();
        let c = &e.contests[0];
        let cands = c.selectable_candidates();
        let independents = cands.iter().filter(|c| c.party.is_none()).count();
        assert!(independents > 5 && independents < 40, "about one in six: {independents}");
        for p in c.parties() {
            assert!(cands.iter().any(|c| c.party.as_ref() == Some(&p.id)), "{} has a candidate", p.name);
        }
        let pr = generate(ContestKind::HocPr, 60, 3).unwrap();
        let tokutei = pr.contests[0].selectable_candidates().iter().filter(|c| c.tokutei).count();
        assert_eq!(tokutei, 2);
        assert!(pr.contests[0].parties().iter().all(|p| !p.list.is_empty()));
    }

    #[test]
    fn the_same_seed_gives_the_same_election_and_another_seed_another() {
        let a = generate(ContestKind::HorDistrict, 40, 7).unwrap();
        assert_eq!(a, generate(ContestKind::HorDistrict, 40, 7).unwrap());
        assert_ne!(a.contests, generate(ContestKind::HorDistrict, 40, 8).unwrap().contests);
    }

    #[test]
    fn sizes_outside_the_range_are_refused_with_the_range() {
        for (kind, n) in
            [(ContestKind::HocDistrict, 4), (ContestKind::HocDistrict, 201), (ContestKind::JudicialReview, 33)]
        {
            let e = generate(kind, n, 1).unwrap_err();
            assert!(matches!(e, PracticeError::Size { got, .. } if got == n));
            assert!(e.to_string().contains(&format!("got {n}")), "{e}");
        }
        assert_eq!(parse_kind("hoc_district"), Some(ContestKind::HocDistrict));
        assert_eq!(parse_kind("senate"), None);
    }
}
