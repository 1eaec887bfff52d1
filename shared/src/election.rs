//! The election model (R-SYS-4): elections, contests and their ballot rules, candidates, parties and judges.
//!
//! The contest kinds of a national election, each with its own rule, and an explicit 白票 (blank) in every one:
//! - House of Representatives single-member district (小選挙区): one candidate.
//! - House of Representatives PR block (比例代表): one party; the lists are shown for information only.
//! - House of Councillors prefectural district (選挙区): one candidate.
//! - House of Councillors national PR (比例代表): one party OR one listed candidate; 特定枠 candidates are marked
//!   and their votes count to the party.
//! - Supreme Court judicial review (最高裁判所裁判官国民審査): an independent dismiss mark per judge.
//!
//! The display order is the official filing order (届出順); for PR, parties in filing order and candidates in list
//! order. Each contest kind carries only the data its rule uses, so a PR candidate in a district contest or a
//! judge in a party contest cannot be written down.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::window::VotingWindow;

/// The most judges a judicial review can list (the Supreme Court has 15 justices).
pub const MAX_JUDGES: usize = 32;

/// A text in Japanese first and English second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Japanese.
    pub ja: String,
    /// English.
    pub en: String,
}

/// An identifier of an election or a contest: 1–64 characters of `a-z`, `0-9`, `-` and `_`.
///
/// The alphabet keeps identifiers safe inside the OAEP label, file names and URLs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some("^[a-z0-9_-]{1,64}$"))
            .description(Some(
                "An identifier of an election or a contest: 1–64 characters of `a-z`, `0-9`, `-` and `_`.",
            ))
            .build()
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Id {}

impl Id {
    /// Checks and wraps an identifier.
    pub fn new(s: impl Into<String>) -> Result<Id, ModelError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok { Ok(Id(s)) } else { Err(ModelError::BadId(s)) }
    }

    /// Returns the identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Id {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Id, ModelError> {
        Id::new(s)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of election (R-VOTE-2 applies the same window to all of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ElectionKind {
    /// 衆議院議員総選挙.
    HorGeneral,
    /// 参議院議員通常選挙.
    HocOrdinary,
    /// 補欠選挙.
    ByElection,
    /// 再選挙.
    ReElection,
}

impl ElectionKind {
    /// Returns the kind's name in Japanese and English.
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            ElectionKind::HorGeneral => ("衆議院議員総選挙", "House of Representatives general election"),
            ElectionKind::HocOrdinary => ("参議院議員通常選挙", "House of Councillors ordinary election"),
            ElectionKind::ByElection => ("補欠選挙", "By-election"),
            ElectionKind::ReElection => ("再選挙", "Re-election"),
        }
    }
}

/// An election with its dates and contests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Election {
    /// Stable identifier, bound into every ballot of this election.
    pub id: Id,
    /// The election's name.
    pub name: Text,
    /// The kind of election.
    pub kind: ElectionKind,
    /// The date of the public notice (公示日/告示日), JST.
    pub notice_date: NaiveDate,
    /// Election day (選挙期日), JST.
    pub election_day: NaiveDate,
    /// A practice election for demos and UX research, never a real one.
    #[serde(default)]
    pub practice: bool,
    /// The contests, in the order they are shown.
    pub contests: Vec<Contest>,
}

impl Election {
    /// Returns the online voting window (R-VOTE-2).
    pub fn window(&self) -> VotingWindow {
        VotingWindow::for_election(self.notice_date, self.election_day)
    }

    /// Finds a contest by its identifier.
    pub fn contest(&self, id: &str) -> Option<&Contest> {
        self.contests.iter().find(|c| c.id.as_str() == id)
    }

    /// Checks what the types cannot: dates in order, unique identifiers and numbers, references that resolve.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.notice_date >= self.election_day {
            return Err(ModelError::Invalid(format!(
                "notice date {} must be before election day {}",
                self.notice_date, self.election_day
            )));
        }
        if self.window().opens_at >= self.window().closes_at {
            return Err(ModelError::Invalid("the voting window is empty: notice and election day too close".into()));
        }
        if self.contests.is_empty() {
            return Err(ModelError::Invalid("an election needs at least one contest".into()));
        }
        unique(self.contests.iter().map(|c| c.id.as_str()), "contest id")?;
        self.contests.iter().try_for_each(Contest::validate)?;
        self.validate_kinds()
    }

    /// Checks that the election holds only the contest kinds its kind of election has: a House of
    /// Representatives general election its districts, its PR blocks and the Supreme Court review held with it; a
    /// House of Councillors ordinary election its districts and its national PR; a by-election or a re-election
    /// districts of one house.
    fn validate_kinds(&self) -> Result<(), ModelError> {
        use ContestKind::{HocDistrict, HocPr, HorDistrict, HorPr, JudicialReview};
        let (allowed, rule): (&[ContestKind], &str) = match self.kind {
            ElectionKind::HorGeneral => (
                &[HorDistrict, HorPr, JudicialReview],
                "a House of Representatives general election (衆議院議員総選挙) holds hor_district, hor_pr and \
                 judicial_review contests",
            ),
            ElectionKind::HocOrdinary => (
                &[HocDistrict, HocPr],
                "a House of Councillors ordinary election (参議院議員通常選挙) holds hoc_district and hoc_pr \
                 contests; the Supreme Court review (最高裁判所裁判官国民審査) is held only with a House of \
                 Representatives general election",
            ),
            ElectionKind::ByElection | ElectionKind::ReElection => {
                let house =
                    if self.contests.iter().any(|c| c.kind() == HorDistrict) { HorDistrict } else { HocDistrict };
                (
                    if house == HorDistrict { &[HorDistrict] } else { &[HocDistrict] },
                    "a by-election (補欠選挙) or re-election (再選挙) holds district contests of one house only \
                     (hor_district or hoc_district, not both)",
                )
            }
        };
        match self.contests.iter().find(|c| !allowed.contains(&c.kind())) {
            Some(c) => Err(ModelError::Invalid(format!("contest {} is {}, but {rule}", c.id, c.kind().name()))),
            None => Ok(()),
        }
    }
}

/// One contest on one ballot paper, with the district of voters who receive it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contest {
    /// Stable identifier, bound into every ballot of this contest.
    pub id: Id,
    /// The contest's name, e.g. 東京都第1区.
    pub name: Text,
    /// The district code that voters are assigned to (e.g. `tokyo-1`, `tokyo-block`, `national`).
    pub district: String,
    /// What may be chosen, by contest kind.
    pub rules: Rules,
    /// Candidates who withdrew or died after filing (R-VOTE-3, 候補者情報の異動), added while voting was paused.
    /// They are no longer offered, and a ballot cast for one before the change is counted as invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn: Vec<Withdrawal>,
}

/// Why a candidate left the contest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalReason {
    /// 立候補の辞退 (the candidacy was withdrawn).
    Withdrew,
    /// 死亡.
    Died,
}

impl WithdrawalReason {
    /// Returns the reason in Japanese and English.
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            WithdrawalReason::Withdrew => ("立候補辞退", "withdrew"),
            WithdrawalReason::Died => ("死亡", "died"),
        }
    }
}

/// A candidate who is no longer in the contest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// The candidate's number.
    pub candidate: u16,
    /// Why.
    pub reason: WithdrawalReason,
    /// When the change took effect (UTC).
    pub effective_at: chrono::DateTime<chrono::Utc>,
}

/// The contest kinds with the data each rule uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rules {
    /// 衆議院小選挙区: one candidate.
    HorDistrict {
        /// Parties the candidates belong to (for names only).
        #[serde(default)]
        parties: Vec<Party>,
        /// Candidates in filing order.
        candidates: Vec<Candidate>,
    },
    /// 衆議院比例代表: one party; the lists are for information.
    HorPr {
        /// Parties in filing order, each with its list.
        parties: Vec<Party>,
    },
    /// 参議院選挙区: one candidate.
    HocDistrict {
        /// Parties the candidates belong to (for names only).
        #[serde(default)]
        parties: Vec<Party>,
        /// Candidates in filing order.
        candidates: Vec<Candidate>,
    },
    /// 参議院比例代表: one party or one listed candidate.
    HocPr {
        /// Parties in filing order, each with its list.
        parties: Vec<Party>,
    },
    /// 最高裁判所裁判官国民審査: a dismiss mark per judge.
    JudicialReview {
        /// Judges in the official order.
        judges: Vec<Judge>,
    },
}

/// The contest kind as a code, written into the ballot bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ContestKind {
    /// 衆議院小選挙区.
    HorDistrict = 1,
    /// 衆議院比例代表.
    HorPr = 2,
    /// 参議院選挙区.
    HocDistrict = 3,
    /// 参議院比例代表.
    HocPr = 4,
    /// 最高裁判所裁判官国民審査.
    JudicialReview = 5,
}

impl ContestKind {
    /// Reads a code from the ballot bytes.
    pub fn from_code(code: u8) -> Option<ContestKind> {
        [Self::HorDistrict, Self::HorPr, Self::HocDistrict, Self::HocPr, Self::JudicialReview]
            .into_iter()
            .find(|k| *k as u8 == code)
    }

    /// Returns the kind's name as election files write it (`rules.kind`).
    pub fn name(self) -> &'static str {
        match self {
            Self::HorDistrict => "hor_district",
            Self::HorPr => "hor_pr",
            Self::HocDistrict => "hoc_district",
            Self::HocPr => "hoc_pr",
            Self::JudicialReview => "judicial_review",
        }
    }

    /// Returns whether this kind accepts a choice of that shape (ignoring numbers).
    pub fn accepts(self, choice: &Choice) -> bool {
        matches!(
            (self, choice),
            (_, Choice::Blank)
                | (Self::HorDistrict | Self::HocDistrict | Self::HocPr, Choice::Candidate(_))
                | (Self::HorPr | Self::HocPr, Choice::Party(_))
                | (Self::JudicialReview, Choice::Review(_))
        )
    }
}

/// A party or political group (政党・政治団体). Two parties may share an abbreviation: they are told apart by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The number written into a ballot; unique in the contest.
    pub number: u16,
    /// Identifier that candidates refer to.
    pub id: Id,
    /// The name as filed.
    pub name: String,
    /// The abbreviation as filed (略称).
    pub abbreviation: String,
    /// The reading of the name in kana.
    pub reading: String,
    /// The list in list order (PR contests); empty in district contests.
    #[serde(default)]
    pub list: Vec<Candidate>,
}

/// A candidate, as filed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The number written into a ballot; unique in the contest.
    pub number: u16,
    /// The name as filed (a registered common name, 通称, is allowed).
    pub name: String,
    /// The reading in kana.
    pub reading: String,
    /// The party's id, or none for an independent (無所属).
    #[serde(default)]
    pub party: Option<Id>,
    /// 特定枠 (House of Councillors PR): listed first, and a vote for this candidate counts to the party only.
    #[serde(default)]
    pub tokutei: bool,
}

/// A Supreme Court judge under review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Judge {
    /// The name.
    pub name: String,
    /// The reading in kana.
    pub reading: String,
}

/// A voter's choice in one contest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Choice {
    /// 白票: an explicit blank, chosen by the voter, never reached by skipping or timing out.
    Blank,
    /// A candidate by number.
    Candidate(u16),
    /// A party by number.
    Party(u16),
    /// Judicial review: bit `i` set means "dismiss" (×) for the `i`-th judge; no bit set is a valid ballot with
    /// no dismiss mark.
    Review(u32),
}

impl Contest {
    /// Returns the contest kind.
    pub fn kind(&self) -> ContestKind {
        match &self.rules {
            Rules::HorDistrict { .. } => ContestKind::HorDistrict,
            Rules::HorPr { .. } => ContestKind::HorPr,
            Rules::HocDistrict { .. } => ContestKind::HocDistrict,
            Rules::HocPr { .. } => ContestKind::HocPr,
            Rules::JudicialReview { .. } => ContestKind::JudicialReview,
        }
    }

    /// Returns the parties in display order (empty for judicial review).
    pub fn parties(&self) -> &[Party] {
        match &self.rules {
            Rules::HorDistrict { parties, .. }
            | Rules::HocDistrict { parties, .. }
            | Rules::HorPr { parties }
            | Rules::HocPr { parties } => parties,
            Rules::JudicialReview { .. } => &[],
        }
    }

    /// Returns the candidates a voter may choose, in display order (district candidates, or every listed
    /// candidate of a House of Councillors PR contest); empty where candidates cannot be chosen.
    pub fn selectable_candidates(&self) -> Vec<&Candidate> {
        match &self.rules {
            Rules::HorDistrict { candidates, .. } | Rules::HocDistrict { candidates, .. } => {
                candidates.iter().collect()
            }
            Rules::HocPr { parties } => parties.iter().flat_map(|p| &p.list).collect(),
            Rules::HorPr { .. } | Rules::JudicialReview { .. } => Vec::new(),
        }
    }

    /// Returns the judges (judicial review only).
    pub fn judges(&self) -> &[Judge] {
        match &self.rules {
            Rules::JudicialReview { judges } => judges,
            _ => &[],
        }
    }

    /// Returns the withdrawal of a candidate, if they withdrew or died.
    pub fn withdrawal(&self, candidate: u16) -> Option<&Withdrawal> {
        self.withdrawn.iter().find(|w| w.candidate == candidate)
    }

    /// Finds a party by id.
    pub fn party(&self, id: &Id) -> Option<&Party> {
        self.parties().iter().find(|p| &p.id == id)
    }

    /// Checks that a choice is allowed in this contest (R-SYS-4 rules).
    pub fn check(&self, choice: &Choice) -> Result<(), ModelError> {
        let refuse = |why: &str| Err(ModelError::BadChoice(format!("{}: {why}", self.id)));
        if !self.kind().accepts(choice) {
            return refuse("this kind of choice is not allowed in this contest");
        }
        match *choice {
            Choice::Blank => Ok(()),
            Choice::Candidate(n) if self.withdrawal(n).is_some() => {
                refuse(&format!("candidate number {n} is no longer a candidate (withdrew or died)"))
            }
            Choice::Candidate(n) if self.selectable_candidates().iter().any(|c| c.number == n) => Ok(()),
            Choice::Candidate(n) => refuse(&format!("no candidate number {n}")),
            Choice::Party(n) if self.parties().iter().any(|p| p.number == n) => Ok(()),
            Choice::Party(n) => refuse(&format!("no party number {n}")),
            Choice::Review(marks) => {
                let judges = self.judges().len();
                if judges < 32 && marks >> judges != 0 {
                    refuse(&format!("a mark beyond the {judges} judges"))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn validate(&self) -> Result<(), ModelError> {
        let what = |s: &str| format!("{s} in contest {}", self.id);
        unique(self.parties().iter().map(|p| p.id.as_str()), &what("party id"))?;
        unique(self.parties().iter().map(|p| p.number), &what("party number"))?;
        let listed = self.parties().iter().flat_map(|p| &p.list);
        let all_candidates: Vec<&Candidate> = match &self.rules {
            Rules::HorDistrict { candidates, .. } | Rules::HocDistrict { candidates, .. } => {
                candidates.iter().collect()
            }
            _ => listed.collect(),
        };
        unique(all_candidates.iter().map(|c| c.number), &what("candidate number"))?;
        for c in &all_candidates {
            if c.number == 0 {
                return Err(ModelError::Invalid(what("candidate number 0 (numbers start at 1)")));
            }
            if let Some(p) = &c.party
                && self.party(p).is_none()
            {
                return Err(ModelError::Invalid(what(&format!("candidate {} names unknown party {p}", c.number))));
            }
            if c.tokutei && self.kind() != ContestKind::HocPr {
                return Err(ModelError::Invalid(what("特定枠 outside House of Councillors PR")));
            }
        }
        if self.parties().iter().any(|p| p.number == 0) {
            return Err(ModelError::Invalid(what("party number 0 (numbers start at 1)")));
        }
        if self.judges().len() > MAX_JUDGES {
            return Err(ModelError::Invalid(what(&format!("more than {MAX_JUDGES} judges"))));
        }
        let empty = match &self.rules {
            Rules::HorDistrict { candidates, .. } | Rules::HocDistrict { candidates, .. } => candidates.is_empty(),
            Rules::HorPr { parties } | Rules::HocPr { parties } => parties.is_empty(),
            Rules::JudicialReview { judges } => judges.is_empty(),
        };
        if empty {
            return Err(ModelError::Invalid(what("nothing to choose")));
        }
        unique(self.withdrawn.iter().map(|w| w.candidate), &what("withdrawn candidate"))?;
        for w in &self.withdrawn {
            if !matches!(self.kind(), ContestKind::HorDistrict | ContestKind::HocDistrict) {
                return Err(ModelError::Invalid(what(
                    "a withdrawal outside a district contest (a PR list or a judicial review is not changed during \
                     voting: the counting rules for those follow the law outside this system)",
                )));
            }
            if !all_candidates.iter().any(|c| c.number == w.candidate) {
                return Err(ModelError::Invalid(what(&format!("withdrawal of unknown candidate {}", w.candidate))));
            }
        }
        Ok(())
    }
}

fn unique<T: Ord + std::fmt::Display>(items: impl Iterator<Item = T>, what: &str) -> Result<(), ModelError> {
    let mut seen = BTreeSet::new();
    for item in items {
        if let Some(dup) = seen.replace(item) {
            return Err(ModelError::Invalid(format!("duplicate {what}: {dup}")));
        }
    }
    Ok(())
}

/// Why an election definition or a choice was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// An identifier outside `a-z 0-9 - _`, empty, or longer than 64.
    #[error("identifier {0:?} must be 1–64 characters of a-z, 0-9, '-' and '_'")]
    BadId(String),
    /// The election definition is inconsistent.
    #[error("invalid election definition: {0}")]
    Invalid(String),
    /// A choice the contest's rule does not allow.
    #[error("choice not allowed: {0}")]
    BadChoice(String),
}

#[cfg(test)]
pub(crate) mod tests {
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
        Party {
            number, id: id(pid), name: name.into(), abbreviation: abbr.into(), reading: "せいとう".into(), list
        }
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
        e.contests[0].rules =
            Rules::HocDistrict { parties: vec![], candidates: vec![cand(1, "a", "あ", Some("nobody"))] };
        assert!(matches!(e.validate(), Err(ModelError::Invalid(m)) if m.contains("unknown party")));

        let mut e = sample_election();
        e.contests[0].rules = Rules::HocDistrict {
            parties: vec![],
            candidates: vec![cand(1, "a", "あ", None), cand(1, "b", "い", None)],
        };
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
}
