//! The bodies and answers of the committees' endpoints, public so that the contract ([`crate::contract`]) documents
//! them and the fuzz targets parse them as the routes do.

use serde::{Deserialize, Serialize};
use shared::election::{Id, WithdrawalReason};

use crate::operators::four_eyes;

/// The body of reject, emergency and pause: why. Public so that the fuzz targets parse it as the route does.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[schema(pattern = r"\S")]
    pub(super) reason: String,
}

/// The body of `POST /op/v1/switches/document`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSwitch {
    pub(super) person_id: String,
    pub(super) name: String,
}

/// The body of `POST /op/v1/postal-papers`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostalPapers {
    pub(super) person_id: String,
    pub(super) issued: bool,
    pub(super) returned: bool,
}

/// The body of `POST /op/v1/cutoff`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cutoff {
    pub(super) at: chrono::DateTime<chrono::Utc>,
}

/// The answer of `POST /op/v1/roll-changes`: how many changes were applied.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// Changes applied.
    pub applied: usize,
}

/// The answer of postal papers and emergency declarations: it was recorded.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// Always true.
    pub recorded: bool,
}

/// The answer of `POST /op/v1/cutoff`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CutoffSet {
    /// The cut-off instant now in force.
    pub cutoff: chrono::DateTime<chrono::Utc>,
}

/// The body of `POST /op/v1/withdrawals`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    /// The contest.
    #[schema(value_type = String)]
    pub contest: Id,
    /// The candidate's number.
    pub candidate: u16,
    /// `withdrew` or `died`.
    pub reason: WithdrawalReason,
}

/// The answer of a critical action's call (202): the four-eyes request that another operator must approve.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Requested {
    /// The request.
    pub request: four_eyes::Request,
    /// Where another operator approves it (`POST`).
    pub approve: String,
}

/// The answer of `POST /op/v1/requests/{id}/approve`: what was approved and carried out.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Approved {
    /// The request, now carried out.
    pub request: four_eyes::Request,
    /// Why voting is paused now, or null when it runs.
    pub paused: Option<String>,
}

/// One contest's stored ballots, for the counting officer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ContestBallots {
    /// The contest.
    pub contest: String,
    /// Its counting district (what `verifier export --district` takes).
    pub district: String,
    /// Ballots received (in the box, its pool, or sealed batches).
    pub ballots: i64,
}

/// The answer of `GET /op/v1/counting`: what the counting officer needs before approving an export (R-COUNT-1).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CountingStatus {
    /// The election.
    pub election: String,
    /// When voting closes (RFC 3339).
    pub closes_at: String,
    /// Whether voting has closed (exports are refused before).
    pub closed: bool,
    /// Ballots per contest.
    pub contests: Vec<ContestBallots>,
    /// Export requests waiting for a counting officer's approval on the host (`verifier approve ID`).
    pub exports_awaiting_approval: Vec<four_eyes::Request>,
}

/// The answer of `DELETE /op/v1/session`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ended {
    /// Always true.
    pub ended: bool,
}

/// Returns the roll-change CSV of a `POST /op/v1/roll-changes` body: the CSV as the body, or as a JSON string
/// (what the `operator call --json` client sends).
pub fn roll_csv_text(body: &[u8]) -> String {
    serde_json::from_slice::<String>(body).unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
}
