//! Contests (R-SYS-4): the contest kinds with the data each rule uses, parties, candidates and judges, a voter's
//! choice, and the checks of a contest's definition and of a choice against its rule.

use serde::{Deserialize, Serialize};

use super::{Id, ModelError, Text, unique};

/// The most judges a judicial review can list (the Supreme Court has 15 justices).
pub const MAX_JUDGES: usize = 32;

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

    pub(super) fn validate(&self) -> Result<(), ModelError> {
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
