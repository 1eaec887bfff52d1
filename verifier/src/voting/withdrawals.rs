//! Candidate changes during voting (R-VOTE-3, 候補者情報の異動): a district candidate who withdrew or died
//! leaves the list that voters are offered.
//!
//! - An admin makes the change through the operator API (client certificate and TOTP) while voting is paused.
//!   The changed definition and its audit entry are written in one transaction, and the running server offers
//!   the changed list to the next voter who loads the ballot.
//! - Every export's signed manifest pins the definition's digest
//!   ([`shared::export::definition_digest`]). The counting tool refuses a definition with another digest, so
//!   the count runs under exactly this list. A ballot cast for the candidate before the change is counted there
//!   as an invalid vote, as the law counts it.
//!
//! This module must never:
//! - change the list while voting runs, or after the close;
//! - touch a ballot already cast;
//! - let a change take effect anywhere without its audit entry.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use shared::election::{Election, Id, Withdrawal, WithdrawalReason};
use shared::window::WindowState;

use crate::CurrentElection;
use crate::registration::RegError;
use crate::store::Db;

/// The answer of `POST /op/v1/withdrawals`: the change in force and the digest of the definition that now
/// holds it (the next export's manifest carries this digest).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Withdrawn {
    /// The contest.
    #[schema(value_type = String)]
    pub contest: Id,
    /// The candidate's name as filed.
    pub name: String,
    /// The change.
    pub withdrawal: Withdrawal,
    /// [`shared::export::definition_digest`] of the changed definition.
    pub definition_digest: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> RegError {
    RegError { code, message: message.into() }
}

/// Withdraws a district candidate from the current election while voting is paused; returns the change.
pub fn withdraw(
    db: &Db,
    current: &CurrentElection,
    actor: &str,
    contest_id: &Id,
    candidate: u16,
    reason: WithdrawalReason,
    now: DateTime<Utc>,
) -> Result<Withdrawn, RegError> {
    let outcome = db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let paused: Option<String> = tx.query_row("SELECT reason FROM pause", [], |r| r.get(0)).optional()?;
        let stored: Option<String> =
            tx.query_row("SELECT definition FROM elections WHERE current = 1", [], |r| r.get(0)).optional()?;
        let Some(stored) = stored else {
            return Ok(Err(refuse("NO_ELECTION", "No election has been created in this database.")));
        };
        let mut election: Election = match serde_json::from_str(&stored) {
            Ok(e) => e,
            Err(e) => {
                return Ok(Err(refuse("STORAGE_UNAVAILABLE", format!("The stored election cannot be read: {e}"))));
            }
        };
        let (name, withdrawal) = match amend(&mut election, paused.is_some(), contest_id, candidate, reason, now) {
            Ok(change) => change,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let json = serde_json::to_string(&election).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        tx.execute("UPDATE elections SET definition = ?1 WHERE current = 1", params![json])?;
        let definition_digest = shared::export::definition_digest(json.as_bytes());
        let done = Withdrawn { contest: contest_id.clone(), name, withdrawal, definition_digest };
        let detail = serde_json::json!({
            "contest": done.contest.as_str(),
            "candidate": candidate,
            "name": done.name,
            "reason": reason,
            "effective_at": now.to_rfc3339(),
            "definition_digest": done.definition_digest,
        });
        crate::store::audit::append(&tx, now, actor, "candidate_withdrawn", &detail)?;
        tx.commit()?;
        Ok(Ok((done, election)))
    })?;
    let (done, election) = outcome?;
    current.replace(election);
    tracing::info!(contest = %done.contest, candidate, "candidate withdrawn from the list offered to voters");
    Ok(done)
}

/// Applies the change to the definition and returns the candidate's name and the withdrawal, or says why it cannot
/// be made.
fn amend(
    election: &mut Election,
    paused: bool,
    contest_id: &Id,
    candidate: u16,
    reason: WithdrawalReason,
    now: DateTime<Utc>,
) -> Result<(String, Withdrawal), RegError> {
    if election.window().state(now) == WindowState::Closed {
        return Err(refuse(
            "VOTING_CLOSED",
            "Voting has closed: the candidate list is final for the count. A change after the close is for the \
             counting room under the law, not for this system.",
        ));
    }
    if !paused {
        return Err(refuse(
            "NOT_PAUSED",
            "Pause voting first (POST /op/v1/pause with the reason voters will see), then change the list, then \
             resume.",
        ));
    }
    let Some(contest) = election.contests.iter_mut().find(|c| &c.id == contest_id) else {
        return Err(refuse("UNKNOWN_CONTEST", format!("This election has no contest {contest_id}.")));
    };
    let Some(name) = contest.selectable_candidates().iter().find(|c| c.number == candidate).map(|c| c.name.clone())
    else {
        return Err(refuse("UNKNOWN_CANDIDATE", format!("Contest {contest_id} has no candidate number {candidate}.")));
    };
    if contest.withdrawal(candidate).is_some() {
        return Err(refuse(
            "ALREADY_WITHDRAWN",
            format!("Candidate {candidate} ({name}) has already left contest {contest_id}; nothing was changed."),
        ));
    }
    let withdrawal = Withdrawal { candidate, reason, effective_at: now };
    contest.withdrawn.push(withdrawal.clone());
    election.validate().map_err(|e| refuse("INVALID_CHANGE", format!("The change is not allowed: {e}.")))?;
    Ok((name, withdrawal))
}
