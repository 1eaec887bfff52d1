//! Paper beside the internet: postal-voting papers (R-REG-8), the cross-channel check for committees handing out
//! paper ballots (R-VOTE-10), and emergency paper votes at an embassy (R-VOTE-11).

use chrono::{DateTime, Utc};
use rusqlite::{TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{RegError, history, refuse, require};
use crate::operators::{Operator, Role};
use crate::store::audit;
use crate::store::{Db, pg_error};

/// Records postal-voting papers issued to or returned by a person (clerk, R-REG-8).
pub fn postal_papers(
    db: &Db,
    op: &Operator,
    person_id: &str,
    issued: bool,
    returned: bool,
    now: DateTime<Utc>,
) -> Result<(), RegError> {
    let municipality = person_id.split(':').next().unwrap_or_default().to_string();
    require(op, &[Role::Clerk], Some(&municipality))?;
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO postal_papers (person_id, issued, returned) VALUES (?1, ?2, ?3)
             ON CONFLICT (person_id) DO UPDATE SET issued = excluded.issued, returned = excluded.returned",
            params![person_id, issued, returned],
        )?;
        history(
            &tx,
            &municipality,
            person_id,
            now,
            "postal_papers",
            serde_json::json!({ "issued": issued, "returned": returned }),
        )?;
        audit::append(&tx, now, &op.actor(), "postal_papers", &serde_json::json!({ "person": person_id }))?;
        tx.commit()
    })?;
    Ok(())
}

/// What a committee handing out paper ballots needs to know about a person (R-VOTE-10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CrossChannel {
    /// The person.
    pub person_id: String,
    /// Registered as an internet voter now.
    pub internet_voter: bool,
    /// Contests of this election in which an online ballot was accepted.
    pub voted_online: Vec<String>,
    /// An emergency paper vote was declared for this election (R-VOTE-11).
    pub emergency_declared: bool,
}

/// Answers the cross-channel check (clerk, own municipality): is this an internet voter, and have they voted online?
pub fn cross_channel(
    db: &Db,
    op: &Operator,
    person_id: &str,
    election_id: &str,
    now: DateTime<Utc>,
) -> Result<CrossChannel, RegError> {
    let municipality = person_id.split(':').next().unwrap_or_default().to_string();
    require(op, &[Role::Clerk, Role::Approver], Some(&municipality))?;
    // The voting store on PostgreSQL is read before this file's writer is taken: through a failover it may wait.
    let on_pg = match db.voting_store() {
        Some(pg) => Some((
            pg.voted_contests(person_id, election_id).map_err(pg_error)?,
            pg.emergency_declared(person_id, election_id).map_err(pg_error)?,
        )),
        None => None,
    };
    let result = db.with(|c| {
        let internet_voter: bool =
            c.query_row("SELECT count(*) > 0 FROM voters WHERE person_id = ?1", [person_id], |r| r.get(0))?;
        let (voted_online, emergency_declared) = match on_pg {
            Some(found) => found,
            None => {
                let mut st = c.prepare(
                    "SELECT contest_id FROM voted WHERE person_id = ?1 AND election_id = ?2 ORDER BY contest_id",
                )?;
                let voted: Vec<String> =
                    st.query_map([person_id, election_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
                let declared: bool = c.query_row(
                    "SELECT count(*) > 0 FROM emergency_votes WHERE person_id = ?1 AND election_id = ?2",
                    params![person_id, election_id],
                    |r| r.get(0),
                )?;
                (voted, declared)
            }
        };
        audit::append(c, now, &op.actor(), "cross_channel_check", &serde_json::json!({ "person": person_id }))?;
        Ok(CrossChannel { person_id: person_id.into(), internet_voter, voted_online, emergency_declared })
    })?;
    Ok(result)
}

/// Records an emergency paper vote at an embassy (clerk, R-VOTE-11): refused if the person already voted
/// online; afterwards an online ballot from them is refused for this election.
pub fn declare_emergency(
    db: &Db,
    op: &Operator,
    person_id: &str,
    election_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), RegError> {
    let municipality = person_id.split(':').next().unwrap_or_default().to_string();
    require(op, &[Role::Clerk], Some(&municipality))?;
    if reason.trim().is_empty() {
        return Err(refuse("REASON_REQUIRED", "Record the reason the voter declared."));
    }
    // On PostgreSQL the declaration is decided there against the marks (the cast takes the same person lock), and
    // then recorded here with its history; a declaration made there and not here is declared again by the retry.
    if let Some(pg) = db.voting_store()
        && !pg.declare_emergency(person_id, election_id).map_err(|e| RegError::from(pg_error(e)))?
    {
        return Err(already_voted());
    }
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let voted: i64 = tx.query_row(
            "SELECT count(*) FROM voted WHERE person_id = ?1 AND election_id = ?2",
            [person_id, election_id],
            |r| r.get(0),
        )?;
        if voted > 0 {
            return Ok(Err(already_voted()));
        }
        tx.execute(
            "INSERT OR REPLACE INTO emergency_votes (person_id, election_id, declared_at, reason) VALUES (?1, ?2, ?3, ?4)",
            params![person_id, election_id, now.to_rfc3339(), reason],
        )?;
        history(&tx, &municipality, person_id, now, "emergency_paper_vote", serde_json::json!({ "election": election_id, "reason": reason }))?;
        audit::append(&tx, now, &op.actor(), "emergency_paper_vote", &serde_json::json!({ "person": person_id, "election": election_id }))?;
        tx.commit()?;
        Ok(Ok(()))
    })?
}

fn already_voted() -> RegError {
    refuse("ALREADY_VOTED_ONLINE", "This person has already voted online: no paper ballot may be issued.")
}

/// Returns whether a person declared an emergency paper vote for an election (checked at every cast).
pub fn emergency_declared(db: &Db, person_id: &str, election_id: &str) -> rusqlite::Result<bool> {
    if let Some(pg) = db.voting_store() {
        return pg.emergency_declared(person_id, election_id).map_err(pg_error);
    }
    db.read(|c| {
        c.prepare_cached("SELECT count(*) > 0 FROM emergency_votes WHERE person_id = ?1 AND election_id = ?2")?
            .query_row(params![person_id, election_id], |r| r.get(0))
    })
}
