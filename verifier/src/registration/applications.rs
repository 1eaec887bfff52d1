//! Applications and switch requests from their arrival to their acceptance or rejection (R-REG-1..5, R-REG-7..10).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use shared::api::ApplicationInput;

use super::{RegError, history, refuse, require};
use crate::operators::{Operator, Role};
use crate::store::Db;
use crate::store::audit;

/// The certificates of an application, already checked by the caller (chain, validity, CRL).
#[derive(Clone, Debug)]
pub struct ApplicantCerts {
    /// Authentication certificate fingerprint and serial.
    pub auth: (String, String),
    /// The authentication certificate (DER): stored with the application, it binds this card to the person.
    pub auth_der: Vec<u8>,
    /// Signing certificate fingerprint and serial.
    pub sign: (String, String),
    /// The signing certificate (DER), kept as evidence with the application.
    pub sign_der: Vec<u8>,
}

/// A stored application as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Application {
    /// Receipt number.
    pub receipt_no: String,
    /// `apply` or `switch`.
    pub kind: String,
    /// Municipality.
    pub municipality: String,
    /// Roll entry, if registered.
    pub roll_entry: Option<String>,
    /// Roll registration pending.
    pub registration_pending: bool,
    /// Name.
    pub name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Address abroad.
    pub address_abroad: String,
    /// E-mail.
    pub email: String,
    /// When it arrived (UTC).
    pub received_at: String,
    /// When it counts as received (R-REG-10).
    pub receipt_date: NaiveDate,
    /// Whether the overseas voter card has arrived (R-REG-3).
    pub card_arrived: bool,
    /// `awaiting_card`, `established`, `accepted`, `rejected`, `kept_for_next_election`.
    pub status: String,
    /// Rejection reason.
    pub reason: Option<String>,
    /// The person, once accepted.
    pub person_id: Option<String>,
}

const APPLICATION_COLUMNS: &str = "receipt_no, kind, municipality, roll_entry, registration_pending, name, birth_date, \
     address_abroad, email, received_at, receipt_date, card_arrived, status, reason, person_id";

fn application_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Application> {
    let birth: String = r.get(6)?;
    let receipt: String = r.get(10)?;
    Ok(Application {
        receipt_no: r.get(0)?,
        kind: r.get(1)?,
        municipality: r.get(2)?,
        roll_entry: r.get(3)?,
        registration_pending: r.get(4)?,
        name: r.get(5)?,
        birth_date: birth.parse().unwrap_or_default(),
        address_abroad: r.get(7)?,
        email: r.get(8)?,
        received_at: r.get(9)?,
        receipt_date: receipt.parse().unwrap_or_default(),
        card_arrived: r.get(11)?,
        status: r.get(12)?,
        reason: r.get(13)?,
        person_id: r.get(14)?,
    })
}

fn new_receipt_no(municipality: &str) -> String {
    let mut b = [0u8; 5];
    if getrandom::fill(&mut b).is_err() {
        std::process::abort();
    }
    format!("R-{municipality}-{}", hex::encode_upper(b))
}

/// Stores a signed application or switch request (R-REG-1, R-REG-2, R-REG-9, R-REG-10, R-REG-11). The caller
/// has verified both certificates and the signature over the application's exact JSON; the person named in the
/// signing certificate must be the applicant.
pub fn submit(
    db: &Db,
    input: &ApplicationInput,
    application_json: &str,
    signature: &[u8],
    certs: &ApplicantCerts,
    signer: &jpki::Person,
    now: DateTime<Utc>,
) -> Result<(String, NaiveDate, String), RegError> {
    if input.kind != "apply" && input.kind != "switch" {
        return Err(refuse("MALFORMED", "The kind must be apply or switch."));
    }
    if signer.name.split_whitespace().collect::<String>() != input.name.split_whitespace().collect::<String>()
        || signer.birth_date != input.birth_date
    {
        return Err(refuse(
            "APPLICANT_MISMATCH",
            "The name and birth date must be those in your card's signing certificate. Apply with your own card.",
        ));
    }
    if input.roll_entry.is_none() != input.registration_pending {
        return Err(refuse("MALFORMED", "Give your roll entry number, or say that your registration is pending."));
    }
    if !input.email.contains('@') || input.email.len() > 254 {
        return Err(refuse("MALFORMED", "Give an e-mail address where notices can reach you."));
    }
    let receipt_date = shared::calendar::receipt_date(now);
    // The cut-off of the current election, if one is set (R-REG-11).
    let cutoff: Option<String> = db.with(|c| {
        c.query_row(
            "SELECT s.value FROM settings s JOIN elections e ON s.key = 'application_cutoff:' || e.id WHERE e.current = 1",
            [],
            |r| r.get(0),
        )
        .optional()
    })?;
    let after_cutoff = cutoff.and_then(|c| DateTime::parse_from_rfc3339(&c).ok()).is_some_and(|c| now >= c);
    let status = if after_cutoff && input.kind == "apply" { "kept_for_next_election" } else { "awaiting_card" };
    let receipt_no = new_receipt_no(&input.municipality);
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            &format!("INSERT INTO applications ({APPLICATION_COLUMNS}, application_json, signature, auth_fingerprint, \
                      auth_serial, auth_certificate, sign_fingerprint, sign_serial, sign_certificate) VALUES (?1, ?2, ?3, ?4, \
                      ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, NULL, NULL, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"),
            params![
                receipt_no,
                input.kind,
                input.municipality,
                input.roll_entry,
                input.registration_pending,
                input.name,
                input.birth_date.to_string(),
                input.address_abroad,
                input.email,
                now.to_rfc3339(),
                receipt_date.to_string(),
                status,
                application_json,
                signature,
                certs.auth.0,
                certs.auth.1,
                certs.auth_der,
                certs.sign.0,
                certs.sign.1,
                certs.sign_der,
            ],
        )?;
        let detail = serde_json::json!({ "receipt_no": receipt_no, "kind": input.kind, "receipt_date": receipt_date });
        history(&tx, &input.municipality, &receipt_no, now, "application_received", detail.clone())?;
        if status == "kept_for_next_election" {
            crate::registration::notify::enqueue(&tx, &crate::registration::notify::kept_for_next_election_notice(&input.email, &input.name, &receipt_no), now)?;
        }
        audit::append(&tx, now, audit::SYSTEM, "application_received", &detail)?;
        tx.commit()
    })?;
    Ok((receipt_no, receipt_date, status.to_string()))
}

/// Returns the applications made with an authentication certificate (the voter's own view).
pub fn own_applications(db: &Db, auth_fingerprint: &str) -> Result<Vec<Application>, RegError> {
    Ok(db.with(|c| {
        let mut st = c.prepare(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE auth_fingerprint = ?1 ORDER BY received_at"
        ))?;
        let rows = st.query_map([auth_fingerprint], application_row)?;
        rows.collect()
    })?)
}

/// Lists a municipality's applications, optionally of one status (clerk, approver).
pub fn list(db: &Db, op: &Operator, municipality: &str, status: Option<&str>) -> Result<Vec<Application>, RegError> {
    require(op, &[Role::Clerk, Role::Approver, Role::Auditor], Some(municipality))?;
    Ok(db.with(|c| {
        let mut st = c.prepare(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE municipality = ?1 AND (?2 IS NULL OR status = ?2) \
             ORDER BY received_at"
        ))?;
        let rows = st.query_map(params![municipality, status], application_row)?;
        rows.collect()
    })?)
}

pub(super) fn load(conn: &Connection, receipt_no: &str) -> Result<Application, RegError> {
    conn.query_row(
        &format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE receipt_no = ?1"),
        [receipt_no],
        application_row,
    )
    .optional()?
    .ok_or_else(|| refuse("UNKNOWN_APPLICATION", "No application has this receipt number."))
}

/// Records that the overseas voter card arrived and was endorsed (裏書き); the application is established now
/// that both have arrived (R-REG-3).
pub fn card_arrived(db: &Db, op: &Operator, receipt_no: &str, now: DateTime<Utc>) -> Result<Application, RegError> {
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let app = match load(&tx, receipt_no) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = require(op, &[Role::Clerk], Some(&app.municipality)) {
            return Ok(Err(e));
        }
        // An application kept for the next election (R-REG-11) records its card too, and stays kept until that
        // election is created; then it is established at once (`requeue_held`).
        let held = app.status == "kept_for_next_election";
        if (app.status != "awaiting_card" && !held) || app.card_arrived {
            return Ok(Err(refuse(
                "WRONG_STATE",
                format!("The application is {}, not awaiting the card.", app.status),
            )));
        }
        tx.execute(
            "UPDATE applications SET card_arrived = 1,
             status = CASE status WHEN 'kept_for_next_election' THEN status ELSE 'established' END
             WHERE receipt_no = ?1",
            [receipt_no],
        )?;
        history(
            &tx,
            &app.municipality,
            receipt_no,
            now,
            "card_arrived",
            serde_json::json!({ "endorsed": app.kind == "apply" }),
        )?;
        audit::append(&tx, now, &op.actor(), "card_arrived", &serde_json::json!({ "receipt_no": receipt_no }))?;
        tx.commit()?;
        Ok(load(c, receipt_no))
    })?
}

/// Rejects an application with a reason (approver); the reason goes to the voter by e-mail (R-REG-7).
pub fn reject(
    db: &Db,
    op: &Operator,
    receipt_no: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Application, RegError> {
    if reason.trim().is_empty() {
        return Err(refuse("REASON_REQUIRED", "Give the reason; the voter receives it by e-mail."));
    }
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let app = match load(&tx, receipt_no)
            .and_then(|a| require(op, &[Role::Approver], Some(&a.municipality)).map(|_| a))
        {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        if app.status == "accepted" || app.status == "rejected" {
            return Ok(Err(refuse("WRONG_STATE", format!("The application is already {}.", app.status))));
        }
        tx.execute(
            "UPDATE applications SET status = 'rejected', reason = ?2 WHERE receipt_no = ?1",
            params![receipt_no, reason],
        )?;
        crate::registration::notify::enqueue(
            &tx,
            &crate::registration::notify::rejection_notice(
                &app.email,
                &app.name,
                receipt_no,
                &app.municipality,
                reason,
            ),
            now,
        )?;
        history(&tx, &app.municipality, receipt_no, now, "rejected", serde_json::json!({ "reason": reason }))?;
        audit::append(&tx, now, &op.actor(), "application_rejected", &serde_json::json!({ "receipt_no": receipt_no }))?;
        tx.commit()?;
        Ok(load(c, receipt_no))
    })?
}
