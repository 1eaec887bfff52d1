//! The history of every exchange with a voter (R-REG-11), as the voter and the committees see it.

use serde::{Deserialize, Serialize};

use super::{RegError, require};
use crate::operators::{Operator, Role};
use crate::store::Db;

/// One event of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEvent {
    /// When.
    pub at: String,
    /// A receipt number or a person id.
    pub subject: String,
    /// What.
    pub event: String,
    /// Details (JSON).
    pub detail: String,
}

/// Returns the history of one application (the voter's own view).
pub fn application_history(db: &Db, receipt_no: &str) -> Result<Vec<HistoryEvent>, RegError> {
    Ok(db.with(|c| {
        let mut st = c.prepare("SELECT at, subject, event, detail FROM history WHERE subject = ?1 ORDER BY seq")?;
        let rows = st.query_map([receipt_no], |r| {
            Ok(HistoryEvent { at: r.get(0)?, subject: r.get(1)?, event: r.get(2)?, detail: r.get(3)? })
        })?;
        rows.collect()
    })?)
}

/// Returns the history of a person and of every application that became that person (R-REG-11).
pub fn person_history(db: &Db, op: &Operator, person_id: &str) -> Result<Vec<HistoryEvent>, RegError> {
    let municipality = person_id.split(':').next().unwrap_or_default().to_string();
    require(op, &[Role::Clerk, Role::Approver, Role::Auditor], Some(&municipality))?;
    Ok(db.with(|c| {
        let mut st = c.prepare(
            "SELECT at, subject, event, detail FROM history WHERE subject = ?1
               OR subject IN (SELECT receipt_no FROM applications WHERE person_id = ?1) ORDER BY seq",
        )?;
        let rows = st.query_map([person_id], |r| {
            Ok(HistoryEvent { at: r.get(0)?, subject: r.get(1)?, event: r.get(2)?, detail: r.get(3)? })
        })?;
        rows.collect()
    })?)
}
