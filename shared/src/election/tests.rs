//! The election model's tests, and the sample elections that tests across the crate build on.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

fn cand(number: u16, name: &str, reading: &str, party: Option<&str>) -> Candidate {
    Candidate { number, name: name.into(), reading: reading.into(), party: party.map(id), tokutei: false }
}

fn party(number: u16, pid: &str, name: &str, abbr: &str, list: Vec<Candidate>) -> Party {
    Party { number, id: id(pid), name: name.into(), abbreviation: abbr.into(), reading: "せいとう".into(), list }
}

/// A House of Councillors election with both contest kinds that it has, for tests across the crate.
pub(crate) fn sample_election() -> Election {
    let mut tokutei = cand(11, "特定 一郎", "とくてい いちろう", Some("p1"));
    tokutei.tokutei = true;
    Election {
        id: id("hoc-2028"),
        name: Text {
            ja: "第28回参議院議員通常選挙".into(), en: "28th House of Councillors election".into()
        },
        kind: ElectionKind::HocOrdinary,
        notice_date: "2028-07-06".parse().unwrap(),
        election_day: "2028-07-23".parse().unwrap(),
        practice: false,
        contests: vec![
            Contest {
                id: id("tokyo"),
                name: Text { ja: "東京都選挙区".into(), en: "Tokyo district".into() },
                district: "tokyo".into(),
                rules: Rules::HocDistrict {
                    parties: vec![party(1, "p1", "未来党", "未来", vec![])],
                    candidates: vec![
                        cand(1, "山田 太郎", "やまだ たろう", Some("p1")),
                        cand(2, "佐藤 花子", "さとう はなこ", None),
                    ],
                },
                withdrawn: Vec::new(),
            },
            Contest {
                id: id("national-pr"),
                name: Text { ja: "比例代表".into(), en: "National PR".into() },
                district: "national".into(),
                rules: Rules::HocPr {
                    parties: vec![
                        party(
                            1,
                            "p1",
                            "未来党",
                            "未来",
                            vec![tokutei, cand(12, "鈴木 次郎", "すずき じろう", Some("p1"))],
                        ),
                        party(
                            2,
                            "p2",
                            "みらいの会",
                            "未来",
                            vec![cand(21, "田中 三郎", "たなか さぶろう", Some("p2"))],
                        ),
                    ],
                },
                withdrawn: Vec::new(),
            },
        ],
    }
}

/// A House of Representatives general election with the Supreme Court review held with it.
pub(crate) fn sample_hor_election() -> Election {
    let parties = vec![party(1, "p1", "未来党", "未来", vec![cand(11, "鈴木 次郎", "すずき じろう", Some("p1"))])];
    Election {
        id: id("hor-2029"),
        name: Text {
            ja: "第52回衆議院議員総選挙".into(), en: "52nd House of Representatives election".into()
        },
        kind: ElectionKind::HorGeneral,
        notice_date: "2029-10-16".parse().unwrap(),
        election_day: "2029-10-28".parse().unwrap(),
        practice: false,
        contests: vec![
            Contest {
                id: id("tokyo-1"),
                name: Text { ja: "東京都第1区".into(), en: "Tokyo 1st district".into() },
                district: "tokyo-1".into(),
                rules: Rules::HorDistrict {
                    parties: parties.clone(),
                    candidates: vec![cand(1, "山田 太郎", "やまだ たろう", Some("p1"))],
                },
                withdrawn: Vec::new(),
            },
            Contest {
                id: id("tokyo-block"),
                name: Text { ja: "比例代表（東京都）".into(), en: "Tokyo PR block".into() },
                district: "tokyo-block".into(),
                rules: Rules::HorPr { parties },
                withdrawn: Vec::new(),
            },
            Contest {
                id: id("review"),
                name: Text { ja: "最高裁判所裁判官国民審査".into(), en: "Supreme Court review".into() },
                district: "national".into(),
                rules: Rules::JudicialReview {
                    judges: vec![
                        Judge { name: "高橋 正".into(), reading: "たかはし ただし".into() },
                        Judge { name: "伊藤 誠".into(), reading: "いとう まこと".into() },
                    ],
                },
                withdrawn: Vec::new(),
            },
        ],
    }
}

#[test]
fn samples_are_valid_and_round_trip_through_json() {
    for e in [sample_election(), sample_hor_election()] {
        e.validate().unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Election>(&json).unwrap(), e);
    }
}

#[test]
fn an_election_holds_only_the_contest_kinds_of_its_kind() {
    let review = sample_hor_election().contests[2].clone();
    // The old demo's mistake: a House of Councillors election with a Supreme Court review.
    let mut e = sample_election();
    e.contests.push(review.clone());
    let err = e.validate().unwrap_err().to_string();
    assert!(err.contains("contest review is judicial_review"), "{err}");
    assert!(err.contains("only with a House of Representatives general election"), "{err}");
    // House of Representatives contests in a House of Councillors election, and the other way round.
    let mut e = sample_election();
    e.contests[0] = sample_hor_election().contests[0].clone();
    assert!(e.validate().unwrap_err().to_string().contains("contest tokyo-1 is hor_district"));
    let mut e = sample_hor_election();
    e.contests[1] = sample_election().contests[1].clone();
    assert!(e.validate().unwrap_err().to_string().contains("contest national-pr is hoc_pr"));
    // By-elections and re-elections: districts of one house.
    for kind in [ElectionKind::ByElection, ElectionKind::ReElection] {
        let mut e = sample_election();
        e.kind = kind;
        assert!(e.validate().unwrap_err().to_string().contains("contest national-pr is hoc_pr"));
        e.contests.truncate(1);
        e.validate().unwrap();
        e.contests.push(sample_hor_election().contests[0].clone());
        assert!(e.validate().unwrap_err().to_string().contains("of one house only"));
        let mut e = sample_hor_election();
        e.kind = kind;
        e.contests.truncate(1);
        e.validate().unwrap();
    }
}

#[test]
fn a_withdrawn_candidate_cannot_be_chosen_and_only_district_candidates_withdraw() {
    let mut e = sample_election();
    let w = Withdrawal {
        candidate: 2,
        reason: WithdrawalReason::Died,
        effective_at: "2028-07-10T03:00:00Z".parse().unwrap(),
    };
    e.contests[0].withdrawn.push(w.clone());
    e.validate().unwrap();
    assert!(e.contests[0].check(&Choice::Candidate(1)).is_ok());
    let err = e.contests[0].check(&Choice::Candidate(2)).unwrap_err().to_string();
    assert!(err.contains("no longer a candidate"), "{err}");
    assert_eq!(e.contests[0].withdrawal(2), Some(&w));

    e.contests[0].withdrawn.push(w.clone());
    assert!(e.validate().unwrap_err().to_string().contains("duplicate withdrawn candidate"));
    e.contests[0].withdrawn = vec![Withdrawal { candidate: 9, ..w.clone() }];
    assert!(e.validate().unwrap_err().to_string().contains("withdrawal of unknown candidate 9"));
    e.contests[0].withdrawn.clear();
    e.contests[1].withdrawn = vec![Withdrawal { candidate: 12, ..w }];
    assert!(e.validate().unwrap_err().to_string().contains("a withdrawal outside a district contest"));
}

#[test]
fn ids_are_restricted() {
    assert!(Id::new("tokyo-1_a").is_ok());
    for bad in ["", "Tokyo", "a:b", "a/b", "東京", &"x".repeat(65)] {
        assert!(Id::new(bad).is_err(), "{bad}");
    }
    assert!(serde_json::from_str::<Id>("\"A\"").is_err());
}

#[test]
fn unknown_fields_are_refused() {
    let json = r#"{"name":"x","reading":"x","extra":1}"#;
    assert!(serde_json::from_str::<Judge>(json).is_err());
}

#[test]
fn choices_follow_each_contest_rule() {
    let e = sample_election();
    let district = e.contest("tokyo").unwrap();
    let pr = e.contest("national-pr").unwrap();
    let hor = sample_hor_election();
    let review = hor.contest("review").unwrap();
    for c in [district, pr, review] {
        assert!(c.check(&Choice::Blank).is_ok(), "白票 is allowed in every contest");
    }
    assert!(district.check(&Choice::Candidate(2)).is_ok());
    assert!(district.check(&Choice::Candidate(3)).is_err());
    assert!(district.check(&Choice::Party(1)).is_err());
    assert!(pr.check(&Choice::Party(2)).is_ok());
    assert!(pr.check(&Choice::Candidate(11)).is_ok(), "特定枠 candidates can be chosen; they count to the party");
    assert!(pr.check(&Choice::Candidate(21)).is_ok());
    assert!(pr.check(&Choice::Candidate(1)).is_err());
    assert!(pr.check(&Choice::Review(0)).is_err());
    assert!(review.check(&Choice::Review(0b11)).is_ok());
    assert!(review.check(&Choice::Review(0)).is_ok());
    assert!(review.check(&Choice::Review(0b100)).is_err());
    assert!(review.check(&Choice::Candidate(1)).is_err());
}

#[test]
fn hor_pr_lists_are_not_selectable() {
    let mut e = sample_election();
    let parties = e.contests[1].parties().to_vec();
    e.contests[1].rules = Rules::HorPr { parties };
    let c = &e.contests[1];
    assert!(c.selectable_candidates().is_empty());
    assert!(c.check(&Choice::Candidate(12)).is_err());
    assert!(c.check(&Choice::Party(1)).is_ok());
}

#[test]
fn shared_abbreviation_is_told_apart_by_id() {
    let e = sample_election();
    let pr = e.contest("national-pr").unwrap();
    let both: Vec<_> = pr.parties().iter().filter(|p| p.abbreviation == "未来").collect();
    assert_eq!(both.len(), 2);
    assert_ne!(both[0].id, both[1].id);
}

#[test]
fn inconsistent_definitions_are_refused() {
    let mut e = sample_election();
    e.contests[0].rules = Rules::HocDistrict { parties: vec![], candidates: vec![cand(1, "a", "あ", Some("nobody"))] };
    assert!(matches!(e.validate(), Err(ModelError::Invalid(m)) if m.contains("unknown party")));

    let mut e = sample_election();
    e.contests[0].rules =
        Rules::HocDistrict { parties: vec![], candidates: vec![cand(1, "a", "あ", None), cand(1, "b", "い", None)] };
    assert!(matches!(e.validate(), Err(ModelError::Invalid(m)) if m.contains("duplicate candidate number")));

    let mut e = sample_election();
    e.contests.push(e.contests[0].clone());
    assert!(matches!(e.validate(), Err(ModelError::Invalid(m)) if m.contains("duplicate contest id")));

    let mut e = sample_election();
    e.election_day = e.notice_date;
    assert!(e.validate().is_err());

    let mut e = sample_election();
    let mut c = cand(1, "a", "あ", None);
    c.tokutei = true;
    e.contests[0].rules = Rules::HocDistrict { parties: vec![], candidates: vec![c] };
    assert!(matches!(e.validate(), Err(ModelError::Invalid(m)) if m.contains("特定枠")));
}
