//! The registration subsystem (名簿サブシステム, R-REG-1..11, R-VOTE-10..12): applications and switch requests,
//! the overseas roll as far as internet voting needs it, roll changes, the history of every exchange with a voter,
//! postal papers, emergency paper votes, the cross-channel check, and the post-close record (調書).
//!
//! A person, not a certificate, is the unit: person ids are `<municipality>:<roll entry>` (or
//! `<municipality>:pending:<receipt no>` while the roll registration is pending), and an accepted application
//! from a renewed card adds its certificates to the same person, so a new card never gives a second vote.
//!
//! Operators are checked here too (R-SYS-1): every function that an operator calls takes the [`Operator`] and
//! refuses another municipality's data and the wrong role, whatever the caller did before.
//!
//! Map: [`applications`] (arrival, the card, rejection), [`acceptance`], [`roll`] (roll changes), [`paper`]
//! (postal papers, the cross-channel check, emergency paper votes), [`cutoff`], [`history`], [`record`] (調書),
//! [`notify`] (e-mail notices, R-REG-7) and [`routes`] (the committees' endpoints on the operator API).

pub mod acceptance;
pub mod applications;
pub mod cutoff;
pub mod history;
pub mod notify;
pub mod paper;
pub mod record;
pub mod roll;
pub mod routes;

pub use acceptance::{CERT_OF_ANOTHER_PERSON, accept};
pub use applications::{ApplicantCerts, Application, card_arrived, list, own_applications, reject, submit};
pub use cutoff::{requeue_held, set_cutoff};
pub use history::{HistoryEvent, application_history, person_history};
pub use paper::{CrossChannel, cross_channel, declare_emergency, emergency_declared, postal_papers};
pub use record::{Record, SignedRecord, record, record_html};
pub use roll::{RollChange, apply_roll_changes, document_switch, parse_roll_csv};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::operators::{Operator, Role};

/// Why a registration action was refused: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RegError {
    /// Stable code.
    pub code: &'static str,
    /// What to do.
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> RegError {
    RegError { code, message: message.into() }
}

impl From<rusqlite::Error> for RegError {
    fn from(e: rusqlite::Error) -> RegError {
        tracing::error!(error = %e, "registration storage failure");
        refuse("STORAGE_UNAVAILABLE", "The registration database cannot be written right now; nothing was recorded.")
    }
}

/// Refuses an operator whose role is not one of `roles` (`FORBIDDEN_ROLE`).
pub fn require_role(op: &Operator, roles: &[Role]) -> Result<(), RegError> {
    require(op, roles, None)
}

fn require(op: &Operator, roles: &[Role], municipality: Option<&str>) -> Result<(), RegError> {
    if !roles.contains(&op.role) {
        return Err(refuse("FORBIDDEN_ROLE", format!("This needs the role {roles:?}; you are {:?}.", op.role)));
    }
    if let Some(m) = municipality
        && !op.may_see(m)
    {
        return Err(refuse("OTHER_MUNICIPALITY", "This belongs to another municipality's election committee."));
    }
    Ok(())
}

fn history(
    conn: &Connection,
    municipality: &str,
    subject: &str,
    now: DateTime<Utc>,
    event: &str,
    detail: serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO history (municipality, subject, at, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![municipality, subject, now.to_rfc3339(), event, detail.to_string()],
    )?;
    Ok(())
}

/// Removes a person's internet-voter record and certificates (a switch back to paper, a roll removal).
fn remove_internet_voter(tx: &Connection, person_id: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM voter_certs WHERE person_id = ?1", [person_id])?;
    tx.execute("DELETE FROM voters WHERE person_id = ?1", [person_id])?;
    Ok(())
}
