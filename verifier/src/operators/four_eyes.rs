//! Four eyes (issue 21, R-SEC-4): a critical action is requested by one named operator and takes effect only when
//! another person approves it. The critical actions are [`Action`]: creating the election (it sets the election
//! key), pausing and resuming voting, exporting a district's ballots for counting, and issuing or revoking an
//! operator.
//!
//! A request stores the action whole (for `election create`, the definition and the key themselves, not their
//! file names), so the approver approves exactly what runs. The approver's own process then carries it out:
//! [`approve`] claims the request in one transaction (only one approval can win), and the caller runs the action
//! with the actor "REQUESTER + APPROVER" in the audit log. Who may request and who may approve is
//! [`Action::requesters`] and [`Action::approvers`]; an export is requested by an administrator and approved by a
//! counting officer, who receives the media.
//!
//! It must never let one person approve their own request, under a second certificate either (the certificate's
//! name is compared too), nor run a request twice, nor run one after [`REQUEST_MINUTES`].

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::operators::{Operator, Role};
use crate::registration::RegError;
use crate::store::Db;
use crate::store::audit;

/// How long a request waits for its approval.
pub const REQUEST_MINUTES: i64 = 60;

/// A critical action, as requested and as approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// `verifier election create`: the definition (TOML) and the election public key (PEM) themselves.
    ElectionCreate {
        /// The election definition (TOML).
        election_toml: String,
        /// The election public key (PEM).
        public_key_pem: String,
        /// Re-date the practice election so that voting is open now (demos).
        redate_for_demo: bool,
    },
    /// Pause voting with the reason shown to voters (R-VOTE-3).
    Pause {
        /// Why (shown to voters).
        reason: String,
    },
    /// Resume voting.
    Resume,
    /// Export a counting district's ballots on the host (R-COUNT-1).
    Export {
        /// The counting district.
        district: String,
        /// The export key file on the host.
        export_key: String,
        /// The export file to write on the host.
        out: String,
    },
    /// Issue an operator's certificate and TOTP secret on the host.
    OperatorIssue {
        /// The operator CA folder on the host.
        ca: String,
        /// The person's name.
        name: String,
        /// The role.
        role: Role,
        /// The municipality, for committee roles.
        municipality: Option<String>,
        /// Where the certificate and key are written on the host.
        out: String,
    },
    /// Revoke an operator's certificate.
    OperatorRevoke {
        /// The operator CA folder on the host.
        ca: String,
        /// The certificate serial (hex).
        serial: String,
    },
}

impl Action {
    /// The action's name in the audit log and in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Action::ElectionCreate { .. } => "election_create",
            Action::Pause { .. } => "pause",
            Action::Resume => "resume",
            Action::Export { .. } => "export",
            Action::OperatorIssue { .. } => "operator_issue",
            Action::OperatorRevoke { .. } => "operator_revoke",
        }
    }

    /// Who may request it.
    pub fn requesters(&self) -> &'static [Role] {
        &[Role::Admin]
    }

    /// Who may approve it (never the requester).
    pub fn approvers(&self) -> &'static [Role] {
        match self {
            Action::Export { .. } => &[Role::CountingOfficer],
            _ => &[Role::Admin],
        }
    }

    /// Whether the operator API can carry it out; the others write files on the verifier host and are approved
    /// there (`verifier approve`).
    pub fn runs_on_api(&self) -> bool {
        matches!(self, Action::Pause { .. } | Action::Resume)
    }

    /// What the approver is shown: the action in one line (the election definition by its digest).
    pub fn summary(&self) -> String {
        match self {
            Action::ElectionCreate { election_toml, public_key_pem, redate_for_demo } => format!(
                "create the election from a definition of SHA-256 {} with the election key of SHA-256 {}{}",
                hex::encode(Sha256::digest(election_toml.as_bytes())),
                hex::encode(Sha256::digest(public_key_pem.as_bytes())),
                if *redate_for_demo { ", re-dated for a demo" } else { "" }
            ),
            Action::Pause { reason } => format!("pause voting: {reason}"),
            Action::Resume => "resume voting".into(),
            Action::Export { district, out, .. } => format!("export district {district} to {out}"),
            Action::OperatorIssue { name, role, municipality, .. } => format!(
                "issue an operator certificate to {name} as {}{}",
                crate::operators::auth::role_str(*role),
                municipality.as_deref().map(|m| format!(" of {m}")).unwrap_or_default()
            ),
            Action::OperatorRevoke { serial, .. } => format!("revoke the operator certificate {serial}"),
        }
    }
}

/// A request as listed and as approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Request {
    /// The request's id (what `verifier approve` and `POST /op/v1/requests/{id}/approve` take).
    pub id: String,
    /// What is asked.
    pub action: Action,
    /// The action in one line.
    pub summary: String,
    /// Who asked (the audit log's actor).
    pub requested_by: String,
    /// When (RFC 3339).
    pub requested_at: String,
    /// Until when it may be approved (RFC 3339).
    pub expires_at: String,
}

impl Request {
    /// The actor written in the audit entries of the action itself: both people.
    pub fn actor(&self, approver: &Operator) -> String {
        format!("{} + approved by {}", self.requested_by, approver.actor())
    }
}

fn refuse(code: &'static str, message: impl Into<String>) -> RegError {
    RegError { code, message: message.into() }
}

fn storage(e: impl std::fmt::Display) -> RegError {
    tracing::error!(error = %e, "four-eyes storage failure");
    refuse("STORAGE_UNAVAILABLE", "The database is not available. Try again in a moment; nothing was done.")
}

/// Records a request (audited as `four_eyes_requested`); nothing else happens until another person approves.
pub fn request(db: &Db, op: &Operator, action: Action, now: DateTime<Utc>) -> Result<Request, RegError> {
    if !action.requesters().contains(&op.role) {
        return Err(forbidden(op, action.requesters()));
    }
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(storage)?;
    let request = Request {
        id: hex::encode(id),
        summary: action.summary(),
        requested_by: op.actor(),
        requested_at: now.to_rfc3339(),
        expires_at: (now + Duration::minutes(REQUEST_MINUTES)).to_rfc3339(),
        action,
    };
    let action_json = serde_json::to_string(&request.action).map_err(storage)?;
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO four_eyes (id, action, requester_fingerprint, requester_name, requested_by, requested_at, \
             expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                request.id,
                action_json,
                op.fingerprint,
                op.name,
                request.requested_by,
                request.requested_at,
                request.expires_at
            ],
        )?;
        let detail =
            serde_json::json!({ "request": request.id, "action": request.action.name(), "summary": request.summary });
        audit::append(&tx, now, &op.actor(), "four_eyes_requested", &detail)?;
        tx.commit()
    })
    .map_err(storage)?;
    Ok(request)
}

/// Returns the requests still waiting for approval.
pub fn pending(db: &Db, now: DateTime<Utc>) -> Result<Vec<Request>, RegError> {
    let rows = db
        .with(|c| {
            let mut st = c.prepare(
                "SELECT id, action, requested_by, requested_at, expires_at FROM four_eyes
                 WHERE outcome IS NULL AND expires_at > ?1 ORDER BY requested_at",
            )?;
            st.query_map([now.to_rfc3339()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<Vec<(String, String, String, String, String)>>>()
        })
        .map_err(storage)?;
    rows.into_iter().map(|(id, action, by, at, until)| to_request(id, &action, by, at, until)).collect()
}

fn to_request(id: String, action: &str, by: String, at: String, until: String) -> Result<Request, RegError> {
    let action: Action = serde_json::from_str(action).map_err(storage)?;
    Ok(Request { id, summary: action.summary(), action, requested_by: by, requested_at: at, expires_at: until })
}

/// Approves a request (`on_api`: through the operator API, which carries out only [`Action::runs_on_api`]): checks that the approver is another person with an approving role and that the request
/// still waits, and claims it in one transaction (audited as `four_eyes_approved`). The caller then carries the
/// action out with [`Request::actor`] and reports a failure with [`failed`]. A refused approval is audited as
/// `four_eyes_refused`.
pub fn approve(db: &Db, approver: &Operator, id: &str, on_api: bool, now: DateTime<Utc>) -> Result<Request, RegError> {
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<Stored> = tx
            .query_row(
                "SELECT id, action, requested_by, requested_at, expires_at, requester_fingerprint, requester_name, \
                 outcome FROM four_eyes WHERE id = ?1",
                [id],
                |r| {
                    Ok(Stored {
                        id: r.get(0)?,
                        action: r.get(1)?,
                        by: r.get(2)?,
                        at: r.get(3)?,
                        until: r.get(4)?,
                        fingerprint: r.get(5)?,
                        name: r.get(6)?,
                        outcome: r.get(7)?,
                    })
                },
            )
            .optional()?;
        let checked = match row {
            None => Err(refuse("UNKNOWN_REQUEST", format!("There is no request {id}. List them with `verifier requests`."))),
            Some(s) => to_request(s.id, &s.action, s.by, s.at, s.until.clone()).and_then(|r| {
                if on_api && !r.action.runs_on_api() {
                    return Err(refuse(
                        "APPROVE_ON_HOST",
                        format!(
                            "Request {} writes files on the verifier host: approve it there with `verifier approve {}`.",
                            r.id, r.id
                        ),
                    ));
                }
                check(&r, approver, &s.fingerprint, &s.name, s.outcome.as_deref(), &s.until, now).map(|()| r)
            }),
        };
        match &checked {
            Ok(r) => {
                tx.execute(
                    "UPDATE four_eyes SET approved_by = ?1, decided_at = ?2, outcome = 'approved' WHERE id = ?3",
                    params![approver.actor(), now.to_rfc3339(), r.id],
                )?;
                let detail =
                    serde_json::json!({ "request": r.id, "action": r.action.name(), "requested_by": r.requested_by });
                audit::append(&tx, now, &approver.actor(), "four_eyes_approved", &detail)?;
            }
            Err(e) => {
                let detail = serde_json::json!({ "request": id, "code": e.code });
                audit::append(&tx, now, &approver.actor(), "four_eyes_refused", &detail)?;
            }
        }
        tx.commit()?;
        Ok(checked)
    })
    .map_err(storage)?
}

/// A request's row: the request, who asked, and what became of it.
struct Stored {
    id: String,
    action: String,
    by: String,
    at: String,
    until: String,
    fingerprint: String,
    name: String,
    outcome: Option<String>,
}

fn check(
    r: &Request,
    approver: &Operator,
    requester_fingerprint: &str,
    requester_name: &str,
    outcome: Option<&str>,
    until: &str,
    now: DateTime<Utc>,
) -> Result<(), RegError> {
    if let Some(o) = outcome {
        return Err(refuse(
            "REQUEST_CLOSED",
            format!("Request {} was already {o}. Ask for a new one if needed.", r.id),
        ));
    }
    if DateTime::parse_from_rfc3339(until).map_or(true, |u| u.with_timezone(&Utc) <= now) {
        return Err(refuse(
            "REQUEST_EXPIRED",
            format!("Request {} waited more than {REQUEST_MINUTES} minutes. Ask for a new one.", r.id),
        ));
    }
    if approver.fingerprint == requester_fingerprint || approver.name == requester_name {
        return Err(refuse(
            "SAME_PERSON",
            "You asked for this yourself. Another person must approve it (four eyes); nothing was done.",
        ));
    }
    if !r.action.approvers().contains(&approver.role) {
        return Err(forbidden(approver, r.action.approvers()));
    }
    Ok(())
}

/// Records that an approved request could not be carried out (the action refused); audited.
pub fn failed(db: &Db, approver: &Operator, id: &str, why: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE four_eyes SET outcome = 'failed' WHERE id = ?1", [id])?;
        audit::append(
            &tx,
            now,
            &approver.actor(),
            "four_eyes_failed",
            &serde_json::json!({ "request": id, "why": why }),
        )?;
        tx.commit()
    })
}

fn forbidden(op: &Operator, roles: &[Role]) -> RegError {
    let r = crate::operators::api::forbidden_role(op.role, roles);
    refuse(r.code, r.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, fingerprint: &str, role: Role) -> Operator {
        Operator { fingerprint: fingerprint.into(), name: name.into(), role, municipality: None }
    }

    #[test]
    fn a_request_runs_once_only_with_another_person_and_only_in_time() {
        let db = Db::open_in_memory().unwrap();
        let now = Utc::now();
        let (ren, mei) = (op("Ren", "aa", Role::Admin), op("Mei", "bb", Role::Admin));
        let r = request(&db, &ren, Action::Pause { reason: "x".into() }, now).unwrap();
        assert_eq!(approve(&db, &ren, &r.id, false, now).unwrap_err().code, "SAME_PERSON");
        assert_eq!(approve(&db, &op("Ren", "cc", Role::Admin), &r.id, false, now).unwrap_err().code, "SAME_PERSON");
        let late = now + Duration::minutes(REQUEST_MINUTES);
        assert_eq!(approve(&db, &mei, &r.id, false, late).unwrap_err().code, "REQUEST_EXPIRED");
        assert_eq!(
            approve(&db, &mei, &r.id, false, now).unwrap().actor(&mei),
            format!("{} + approved by {}", ren.actor(), mei.actor())
        );
        assert_eq!(approve(&db, &mei, &r.id, false, now).unwrap_err().code, "REQUEST_CLOSED");
        assert_eq!(approve(&db, &mei, "nope", false, now).unwrap_err().code, "UNKNOWN_REQUEST");
        // Roles: a clerk asks nothing; an export waits for a counting officer; the API approves only pause and resume.
        assert_eq!(request(&db, &op("K", "dd", Role::Clerk), Action::Resume, now).unwrap_err().code, "FORBIDDEN_ROLE");
        let export = Action::Export { district: "tokyo".into(), export_key: "/k".into(), out: "/o".into() };
        let e = request(&db, &ren, export, now).unwrap();
        assert_eq!(approve(&db, &mei, &e.id, false, now).unwrap_err().code, "FORBIDDEN_ROLE");
        let counter = op("Kazu", "ee", Role::CountingOfficer);
        assert_eq!(approve(&db, &counter, &e.id, true, now).unwrap_err().code, "APPROVE_ON_HOST");
        assert_eq!(pending(&db, now).unwrap().len(), 1);
        approve(&db, &counter, &e.id, false, now).unwrap();
        assert!(pending(&db, now).unwrap().is_empty());
        let audit = db.with(|c| crate::store::audit::entries(c)).unwrap();
        let refused = audit.iter().filter(|e| e.action == "four_eyes_refused").count();
        assert_eq!(refused, 7, "every refused approval is audited");
    }
}
