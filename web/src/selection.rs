//! Candidate selection modes and display modes (R-SYS-4), as plain logic the screens use and tests check.
//!
//! Selection modes: list (一覧選択), free-word search (フリーワード検索, with `shared::kana::search_key`: kanji,
//! either kana script, half- or full-width; readings also by romaji, `shared::kana::matches_reading`, for a PC
//! without a Japanese input method), initial-letter input (頭文字入力: typing a kana filters its 五十音
//! row), initial-letter select (頭文字選択: buttons あ か さ …). Display modes: one screen (一画面), scroll, drum
//! roll (one entry at a time, turned like a wheel; its start is the first entry or rotated per voter).

use shared::election::{Candidate, Choice, Contest, Rules};
use shared::kana;

/// How the voter finds an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectionMode {
    /// 一覧選択.
    List,
    /// フリーワード検索.
    Search,
    /// 頭文字入力.
    InitialInput,
    /// 頭文字選択.
    InitialSelect,
}

/// How the entries are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayMode {
    /// 一画面表示: all entries at once.
    OneScreen,
    /// スクロール表示: a scrolling list.
    Scroll,
    /// ドラムロール: one entry at a time, turned like a wheel.
    DrumRoll,
}

impl SelectionMode {
    /// Every mode, in the order they are offered.
    pub const ALL: [SelectionMode; 4] =
        [SelectionMode::List, SelectionMode::Search, SelectionMode::InitialInput, SelectionMode::InitialSelect];

    /// Returns the mode's name (Japanese, English).
    pub fn name(self) -> (&'static str, &'static str) {
        match self {
            SelectionMode::List => ("一覧選択", "List"),
            SelectionMode::Search => ("フリーワード検索", "Free-word search"),
            SelectionMode::InitialInput => ("頭文字入力", "Initial-letter input"),
            SelectionMode::InitialSelect => ("頭文字選択", "Initial-letter select"),
        }
    }
}

impl DisplayMode {
    /// Every mode, in the order they are offered.
    pub const ALL: [DisplayMode; 3] = [DisplayMode::OneScreen, DisplayMode::Scroll, DisplayMode::DrumRoll];

    /// Returns the mode's name (Japanese, English).
    pub fn name(self) -> (&'static str, &'static str) {
        match self {
            DisplayMode::OneScreen => ("一画面表示", "One screen"),
            DisplayMode::Scroll => ("スクロール表示", "Scroll"),
            DisplayMode::DrumRoll => ("ドラムロール", "Drum roll"),
        }
    }
}

/// One selectable entry: a candidate or a party, in display order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What choosing it means.
    pub choice: Choice,
    /// The name as filed.
    pub name: String,
    /// Its reading.
    pub reading: String,
    /// The party (name and abbreviation) or 無所属 for a candidate; none for a party entry.
    pub group: Option<String>,
    /// 特定枠.
    pub tokutei: bool,
}

/// Returns a contest's entries in the official display order (judges are not entries: they are marked).
pub fn entries(contest: &Contest) -> Vec<Entry> {
    let group = |party: &Option<shared::election::Id>| {
        Some(
            party
                .as_ref()
                .and_then(|p| contest.party(p))
                .map_or_else(|| "無所属 / Independent".to_string(), |p| format!("{}（{}）", p.name, p.abbreviation)),
        )
    };
    match &contest.rules {
        Rules::HorDistrict { candidates, .. } | Rules::HocDistrict { candidates, .. } => candidates
            .iter()
            // A candidate who withdrew or died during voting is no longer offered (R-VOTE-3).
            .filter(|c| contest.withdrawal(c.number).is_none())
            .map(|c| Entry {
                choice: Choice::Candidate(c.number),
                name: c.name.clone(),
                reading: c.reading.clone(),
                group: group(&c.party),
                tokutei: false,
            })
            .collect(),
        Rules::HorPr { parties } | Rules::HocPr { parties } => {
            let hoc = matches!(contest.rules, Rules::HocPr { .. });
            let mut out = Vec::new();
            for p in parties {
                out.push(Entry {
                    choice: Choice::Party(p.number),
                    name: p.name.clone(),
                    reading: p.reading.clone(),
                    group: None,
                    tokutei: false,
                });
                if hoc {
                    out.extend(p.list.iter().map(|c| Entry {
                        choice: Choice::Candidate(c.number),
                        name: c.name.clone(),
                        reading: c.reading.clone(),
                        group: group(&c.party),
                        tokutei: c.tokutei,
                    }));
                }
            }
            out
        }
        Rules::JudicialReview { .. } => Vec::new(),
    }
}

/// Returns the indexes of the entries a mode shows for the voter's input (a query, or a chosen row).
pub fn visible(entries: &[Entry], mode: SelectionMode, query: &str, row: Option<char>) -> Vec<usize> {
    let all = || (0..entries.len()).collect();
    match mode {
        SelectionMode::List => all(),
        SelectionMode::Search => {
            if kana::search_key(query).is_empty() {
                return all();
            }
            (0..entries.len())
                .filter(|&i| {
                    let e = &entries[i];
                    kana::matches(query, &e.name)
                        || kana::matches_reading(query, &e.reading)
                        || e.group.as_deref().is_some_and(|g| kana::matches(query, g))
                })
                .collect()
        }
        SelectionMode::InitialInput | SelectionMode::InitialSelect => {
            let row = match mode {
                SelectionMode::InitialInput => kana::initial_row(query),
                _ => row,
            };
            match row {
                None => all(),
                Some(r) => (0..entries.len()).filter(|&i| kana::initial_row(&entries[i].reading) == Some(r)).collect(),
            }
        }
    }
}

/// Returns the list shown under an entry for information only: a party's candidates in a House of Representatives
/// PR contest, where the voter writes a party and the list cannot be chosen; empty for every other entry.
pub fn info_list(contest: &Contest, choice: Choice) -> &[Candidate] {
    match (&contest.rules, choice) {
        (Rules::HorPr { parties }, Choice::Party(n)) => parties.iter().find(|p| p.number == n).map_or(&[], |p| &p.list),
        _ => &[],
    }
}

/// The groups a voter can narrow the entries to: each party by name, and 無所属 (independents) as its own group.
pub fn groups(entries: &[Entry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in entries {
        let g = match (&e.group, e.choice) {
            (Some(g), _) => g.clone(),
            (None, _) => e.name.clone(),
        };
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// Returns the entries of a group (a party's own entry and its candidates, or the independents).
pub fn in_group(entries: &[Entry], shown: &[usize], group: &str) -> Vec<usize> {
    shown
        .iter()
        .copied()
        .filter(|&i| {
            let e = &entries[i];
            e.group.as_deref() == Some(group) || (e.group.is_none() && e.name == group)
        })
        .collect()
}

/// Returns the drum roll's starting position: the first entry, or rotated by a per-voter seed (fairness research).
pub fn drum_start(len: usize, rotate: bool, seed: u64) -> usize {
    if len == 0 || !rotate { 0 } else { (seed % len as u64) as usize }
}

/// Turns the drum roll by `steps` (negative turns back), wrapping around.
pub fn drum_turn(position: usize, len: usize, steps: i64) -> usize {
    if len == 0 {
        return 0;
    }
    let len = len as i64;
    (((position as i64 + steps) % len + len) % len) as usize
}

#[cfg(test)]
mod tests {
    use shared::election::{Candidate, Contest, Id, Party, Rules, Text};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn contest() -> Contest {
        let cand = |number, name: &str, reading: &str, party: Option<&str>| Candidate {
            number,
            name: name.into(),
            reading: reading.into(),
            party: party.map(|p| Id::new(p).unwrap_or_else(|_| unreachable!())),
            tokutei: false,
        };
        Contest {
            id: Id::new("tokyo").unwrap_or_else(|_| unreachable!()),
            name: Text { ja: "東京都選挙区".into(), en: "Tokyo".into() },
            district: "tokyo".into(),
            rules: Rules::HocDistrict {
                parties: vec![Party {
                    number: 1,
                    id: Id::new("mirai").unwrap_or_else(|_| unreachable!()),
                    name: "未来創造党".into(),
                    abbreviation: "未来".into(),
                    reading: "みらいそうぞうとう".into(),
                    list: vec![],
                }],
                candidates: vec![
                    cand(1, "青木 さくら", "あおき さくら", Some("mirai")),
                    cand(2, "加藤 健一", "かとう けんいち", None),
                    cand(3, "佐々木 里美", "ささき さとみ", None),
                    cand(4, "ガルシア ロペス", "がるしあ ろぺす", None),
                ],
            },
            withdrawn: Vec::new(),
        }
    }

    #[wasm_bindgen_test]
    fn a_candidate_who_withdrew_during_voting_is_not_offered() {
        let mut c = contest();
        c.withdrawn.push(shared::election::Withdrawal {
            candidate: 2,
            reason: shared::election::WithdrawalReason::Withdrew,
            effective_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        });
        let e = entries(&c);
        let offered: Vec<Choice> = e.iter().map(|e| e.choice).collect();
        assert_eq!(offered, [Choice::Candidate(1), Choice::Candidate(3), Choice::Candidate(4)]);
        assert!(visible(&e, SelectionMode::Search, "かとう", None).is_empty());
    }

    #[wasm_bindgen_test]
    fn list_shows_every_entry_in_filing_order() {
        let e = entries(&contest());
        assert_eq!(visible(&e, SelectionMode::List, "", None), vec![0, 1, 2, 3]);
        assert_eq!(e[1].group.as_deref(), Some("無所属 / Independent"));
        assert_eq!(e[0].group.as_deref(), Some("未来創造党（未来）"));
    }

    #[wasm_bindgen_test]
    fn search_folds_scripts_and_widths() {
        let e = entries(&contest());
        for q in ["さとみ", "サトミ", "ｻﾄﾐ", "佐々木", "里美"] {
            assert_eq!(visible(&e, SelectionMode::Search, q, None), vec![2], "{q}");
        }
        assert_eq!(visible(&e, SelectionMode::Search, "未来", None), vec![0], "party names are searched too");
        assert_eq!(visible(&e, SelectionMode::Search, "かとう", None), vec![1]);
        assert!(visible(&e, SelectionMode::Search, "がとう", None).is_empty(), "voiced marks count");
        assert_eq!(visible(&e, SelectionMode::Search, "  ", None).len(), 4);
    }

    #[wasm_bindgen_test]
    fn search_finds_readings_by_romaji() {
        let e = entries(&contest());
        for q in ["satomi", "SATOMI", "sasaki", "Sasaki Satomi", "ｓａｔｏｍｉ"] {
            assert_eq!(visible(&e, SelectionMode::Search, q, None), vec![2], "{q}");
        }
        for q in ["katou", "kato", "katoh", "katō", "kenichi", "ken'ichi"] {
            assert_eq!(visible(&e, SelectionMode::Search, q, None), vec![1], "{q}");
        }
        assert_eq!(visible(&e, SelectionMode::Search, "aoki sakura", None), vec![0]);
        assert_eq!(visible(&e, SelectionMode::Search, "garushia", None), vec![3]);
        assert!(visible(&e, SelectionMode::Search, "abc", None).is_empty());
    }

    #[wasm_bindgen_test]
    fn hor_pr_lists_are_information_only() {
        let id = |s: &str| Id::new(s).unwrap_or_else(|_| unreachable!());
        let party = |number, name: &str, list: Vec<Candidate>| Party {
            number,
            id: id(&format!("p{number}")),
            name: name.into(),
            abbreviation: name.into(),
            reading: "とう".into(),
            list,
        };
        let cand = |number, name: &str| Candidate {
            number,
            name: name.into(),
            reading: "よみ".into(),
            party: None,
            tokutei: false,
        };
        let c = Contest {
            id: id("kinki"),
            name: Text { ja: "近畿".into(), en: "Kinki".into() },
            district: "kinki".into(),
            rules: Rules::HorPr {
                parties: vec![party(1, "甲党", vec![cand(11, "一"), cand(12, "二")]), party(2, "乙党", vec![])],
            },
            withdrawn: Vec::new(),
        };
        let e = entries(&c);
        assert_eq!(e.iter().map(|e| e.choice).collect::<Vec<_>>(), vec![Choice::Party(1), Choice::Party(2)]);
        let names: Vec<&str> = info_list(&c, Choice::Party(1)).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["一", "二"]);
        assert!(info_list(&c, Choice::Party(2)).is_empty());
        assert!(info_list(&c, Choice::Candidate(11)).is_empty());
        assert!(info_list(&contest(), Choice::Party(1)).is_empty(), "only House of Representatives PR");
    }

    #[wasm_bindgen_test]
    fn initial_letters_filter_their_row() {
        let e = entries(&contest());
        assert_eq!(visible(&e, SelectionMode::InitialSelect, "", Some('か')), vec![1, 3], "が is in the か row");
        assert_eq!(visible(&e, SelectionMode::InitialInput, "ｻ", None), vec![2]);
        assert_eq!(visible(&e, SelectionMode::InitialInput, "", None).len(), 4);
    }

    #[wasm_bindgen_test]
    fn independents_are_their_own_group() {
        let e = entries(&contest());
        let g = groups(&e);
        assert_eq!(g, vec!["未来創造党（未来）".to_string(), "無所属 / Independent".to_string()]);
        let all: Vec<usize> = (0..e.len()).collect();
        assert_eq!(in_group(&e, &all, "無所属 / Independent"), vec![1, 2, 3]);
        assert_eq!(in_group(&e, &all, "未来創造党（未来）"), vec![0]);
    }

    #[wasm_bindgen_test]
    fn drum_roll_wraps_and_rotates() {
        assert_eq!(drum_start(9, false, 12345), 0);
        assert_eq!(drum_start(9, true, 12345), 12345 % 9);
        assert_eq!(drum_turn(0, 9, -1), 8);
        assert_eq!(drum_turn(8, 9, 1), 0);
        assert_eq!(drum_turn(3, 9, 20), 5);
    }
}
