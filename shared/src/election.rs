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
//!
//! This file holds the election, its identifiers and texts, and [`ModelError`]; the contests with their rules and
//! choices are in `election/contest.rs`.

mod contest;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::window::VotingWindow;

pub use contest::{
    Candidate, Choice, Contest, ContestKind, Judge, MAX_JUDGES, Party, Rules, Withdrawal, WithdrawalReason,
};

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
pub(crate) mod tests;
