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

pub mod notify;
pub mod routes;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use shared::api::ApplicationInput;

use crate::certs::CertKind;
use crate::operators::{Operator, Role};
use crate::store::Db;
use crate::store::audit;

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

/// The refusal of an acceptance whose card certificate is registered to another person (R-REG-2).
pub const CERT_OF_ANOTHER_PERSON: &str = "CERT_OF_ANOTHER_PERSON";

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

fn load(conn: &Connection, receipt_no: &str) -> Result<Application, RegError> {
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

/// Accepts an established application (approver): eligibility on the roll or pending (R-REG-4), postal papers
/// returned if issued (R-REG-8); the person becomes (or for a switch stops being) an internet voter, for every
/// later election (R-REG-5), and the e-mail notice is queued in the same transaction (R-REG-7).
pub fn accept(db: &Db, op: &Operator, receipt_no: &str, now: DateTime<Utc>) -> Result<Application, RegError> {
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = accept_in(&tx, op, receipt_no, now);
        if result.is_ok() {
            tx.commit()?;
        } else {
            drop(tx);
        }
        // A certificate of another person is kept on the record of both the application and the audit log.
        if let Err(e) = &result
            && e.code == CERT_OF_ANOTHER_PERSON
        {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let municipality: String =
                tx.query_row("SELECT municipality FROM applications WHERE receipt_no = ?1", [receipt_no], |r| {
                    r.get(0)
                })?;
            let detail = serde_json::json!({ "receipt_no": receipt_no, "refused": CERT_OF_ANOTHER_PERSON });
            history(&tx, &municipality, receipt_no, now, "acceptance_refused", detail.clone())?;
            audit::append(&tx, now, &op.actor(), "application_acceptance_refused", &detail)?;
            tx.commit()?;
        }
        Ok(result.and_then(|_| load(c, receipt_no)))
    })?
}

fn accept_in(tx: &Connection, op: &Operator, receipt_no: &str, now: DateTime<Utc>) -> Result<(), RegError> {
    let app = load(tx, receipt_no)?;
    require(op, &[Role::Approver], Some(&app.municipality))?;
    if app.status != "established" {
        return Err(refuse(
            "NOT_ESTABLISHED",
            format!(
                "The application is {}: it is established only when the online application and the overseas voter card have both arrived.",
                app.status
            ),
        ));
    }
    let person_id = match &app.roll_entry {
        // A switch request (R-REG-9) is about the internet voter whose card signed it, pending or not.
        _ if app.kind == "switch" => {
            let holder: Option<String> = tx
                .query_row(
                    "SELECT c.person_id FROM voter_certs c JOIN applications a
                       ON c.fingerprint IN (a.auth_fingerprint, a.sign_fingerprint)
                     WHERE a.receipt_no = ?1 LIMIT 1",
                    [receipt_no],
                    |r| r.get(0),
                )
                .optional()?;
            let expected = app.roll_entry.as_ref().map(|e| format!("{}:{e}", app.municipality));
            match holder {
                Some(p) if expected.as_ref().is_none_or(|e| *e == p) => p,
                Some(_) => {
                    return Err(refuse(
                        "NOT_AN_INTERNET_VOTER",
                        "The card that signed this request belongs to another roll entry than the one it names. \
                         Check the request against the roll.",
                    ));
                }
                None => {
                    return Err(refuse(
                        "NOT_AN_INTERNET_VOTER",
                        "No internet voter holds the card that signed this request, so there is nothing to switch.",
                    ));
                }
            }
        }
        Some(entry) => {
            let roll: Option<(String, String)> = tx
                .query_row(
                    "SELECT status, districts FROM roll WHERE municipality = ?1 AND roll_entry = ?2",
                    params![app.municipality, entry],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match roll {
                Some((status, _)) if status == "registered" => format!("{}:{entry}", app.municipality),
                Some((status, _)) => {
                    return Err(refuse("NOT_ELIGIBLE", format!("The roll entry is {status}, not registered.")));
                }
                None => return Err(refuse("NOT_ON_ROLL", "This roll entry is not on the overseas electoral roll.")),
            }
        }
        None => format!("{}:pending:{receipt_no}", app.municipality),
    };
    if app.kind == "apply" {
        let papers: Option<(bool, bool)> = tx
            .query_row("SELECT issued, returned FROM postal_papers WHERE person_id = ?1", [&person_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if matches!(papers, Some((true, false))) {
            return Err(refuse(
                "POSTAL_PAPERS_OUTSTANDING",
                "Postal-voting papers were issued to this voter: accept only after they are returned (R-REG-8).",
            ));
        }
        let districts: String = app
            .roll_entry
            .as_ref()
            .and_then(|e| {
                tx.query_row(
                    "SELECT districts FROM roll WHERE municipality = ?1 AND roll_entry = ?2",
                    params![app.municipality, e],
                    |r| r.get(0),
                )
                .optional()
                .ok()
                .flatten()
            })
            .unwrap_or_else(|| "[]".into());
        tx.execute(
            "INSERT INTO voters (person_id, municipality, districts) VALUES (?1, ?2, ?3)
             ON CONFLICT (person_id) DO UPDATE SET districts = excluded.districts",
            params![person_id, app.municipality, districts],
        )?;
        let (auth_fp, auth_serial, sign_fp, sign_serial): (String, String, String, String) = tx.query_row(
            "SELECT auth_fingerprint, auth_serial, sign_fingerprint, sign_serial FROM applications WHERE receipt_no = ?1",
            [receipt_no],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        for (fp, kind, serial) in [(auth_fp, CertKind::Auth, auth_serial), (sign_fp, CertKind::Sign, sign_serial)] {
            // One card, one person (R-REG-2): a certificate registered to another person is never moved.
            let holder: Option<String> = tx
                .query_row("SELECT person_id FROM voter_certs WHERE fingerprint = ?1", [&fp], |r| r.get(0))
                .optional()?;
            if holder.as_ref().is_some_and(|h| *h != person_id) {
                return Err(refuse(
                    CERT_OF_ANOTHER_PERSON,
                    format!(
                        "The card's {} certificate is registered to another voter. Ask the applicant to apply with their own \
                         card; the other voter's registration is unchanged.",
                        kind.code()
                    ),
                ));
            }
            tx.execute(
                "INSERT INTO voter_certs (fingerprint, person_id, kind, serial) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (fingerprint) DO NOTHING",
                params![fp, person_id, kind.code(), serial],
            )?;
        }
        crate::registration::notify::enqueue(
            tx,
            &crate::registration::notify::acceptance_notice(&app.email, &app.name, receipt_no, &app.municipality),
            now,
        )?;
    } else {
        remove_internet_voter(tx, &person_id)?;
        crate::registration::notify::enqueue(
            tx,
            &crate::registration::notify::switch_accepted_notice(&app.email, &app.name, &app.municipality),
            now,
        )?;
    }
    tx.execute(
        "UPDATE applications SET status = 'accepted', person_id = ?2 WHERE receipt_no = ?1",
        params![receipt_no, person_id],
    )?;
    history(
        tx,
        &app.municipality,
        receipt_no,
        now,
        "accepted",
        serde_json::json!({ "person": person_id, "kind": app.kind }),
    )?;
    history(
        tx,
        &app.municipality,
        &person_id,
        now,
        if app.kind == "apply" { "became_internet_voter" } else { "became_paper_voter" },
        serde_json::json!({ "receipt_no": receipt_no }),
    )?;
    audit::append(
        tx,
        now,
        &op.actor(),
        "application_accepted",
        &serde_json::json!({ "receipt_no": receipt_no, "person": person_id }),
    )?;
    Ok(())
}

fn remove_internet_voter(tx: &Connection, person_id: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM voter_certs WHERE person_id = ?1", [person_id])?;
    tx.execute("DELETE FROM voters WHERE person_id = ?1", [person_id])?;
    Ok(())
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

/// One line of a roll-change file (CSV: `municipality,roll_entry,name,birth_date,districts,change`), where
/// `districts` is `|`-separated and `change` is `registered`, `pending`, `removed`, `moved`, `deceased` or
/// `ineligible` (R-REG-6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollChange {
    /// Municipality code.
    pub municipality: String,
    /// Roll entry.
    pub roll_entry: String,
    /// Name.
    pub name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// District codes.
    pub districts: Vec<String>,
    /// The change.
    pub change: String,
}

/// Parses a roll-change CSV, naming the first bad line.
pub fn parse_roll_csv(text: &str) -> Result<Vec<RollChange>, RegError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = |why: &str| refuse("MALFORMED", format!("line {}: {why}", i + 1));
        if f.len() != 6 {
            return Err(bad("expected 6 fields: municipality,roll_entry,name,birth_date,districts,change"));
        }
        if f[0] == "municipality" {
            continue;
        }
        let change = f[5].to_string();
        if !["registered", "pending", "removed", "moved", "deceased", "ineligible"].contains(&change.as_str()) {
            return Err(bad("change must be registered, pending, removed, moved, deceased or ineligible"));
        }
        out.push(RollChange {
            municipality: f[0].into(),
            roll_entry: f[1].into(),
            name: f[2].into(),
            birth_date: f[3].parse().map_err(|_| bad("birth_date must be YYYY-MM-DD"))?,
            districts: f[4].split('|').filter(|d| !d.is_empty()).map(String::from).collect(),
            change,
        });
    }
    Ok(out)
}

/// Applies roll changes (clerk, own municipality only): the internet-voter records follow every change, so the
/// roll and the registration subsystem never disagree (R-REG-6), and each change is in the history (R-REG-11).
pub fn apply_roll_changes(
    db: &Db,
    op: &Operator,
    changes: &[RollChange],
    now: DateTime<Utc>,
) -> Result<usize, RegError> {
    for ch in changes {
        require(op, &[Role::Clerk], Some(&ch.municipality))?;
    }
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for ch in changes {
            let districts = serde_json::to_string(&ch.districts).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO roll (municipality, roll_entry, name, birth_date, districts, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (municipality, roll_entry) DO UPDATE SET name = excluded.name, birth_date = excluded.birth_date,
                 districts = excluded.districts, status = excluded.status",
                params![ch.municipality, ch.roll_entry, ch.name, ch.birth_date.to_string(), districts, ch.change],
            )?;
            let person_id = format!("{}:{}", ch.municipality, ch.roll_entry);
            match ch.change.as_str() {
                "registered" | "pending" => {
                    if ch.change == "registered" {
                        complete_pending(&tx, ch, &person_id, &districts, now)?;
                    }
                    tx.execute("UPDATE voters SET districts = ?2 WHERE person_id = ?1", params![person_id, districts])?;
                }
                _ => remove_internet_voter(&tx, &person_id)?,
            }
            history(&tx, &ch.municipality, &person_id, now, "roll_change", serde_json::json!({ "change": ch.change }))?;
        }
        audit::append(&tx, now, &op.actor(), "roll_changes_applied", &serde_json::json!({ "count": changes.len() }))?;
        tx.commit()
    })?;
    Ok(changes.len())
}

/// R-REG-4: a voter accepted while their roll registration was pending (`<municipality>:pending:<receipt no>`,
/// with no districts) becomes the person of the roll entry that completes it: the one pending voter of this
/// municipality whose application has the entry's name and birth date. Their certificates, applications, marks
/// and papers move to the entry's person id, which receives the entry's districts. Two pending voters that match
/// are left pending, and the history says so: a clerk links them by hand.
fn complete_pending(
    tx: &Connection,
    ch: &RollChange,
    person_id: &str,
    districts: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let same_name =
        |a: &str| a.split_whitespace().collect::<String>() == ch.name.split_whitespace().collect::<String>();
    let mut pending: Vec<String> = tx
        .prepare(
            "SELECT DISTINCT a.person_id, a.name FROM applications a JOIN voters v ON v.person_id = a.person_id
             WHERE a.municipality = ?1 AND a.status = 'accepted' AND a.kind = 'apply' AND a.registration_pending = 1
               AND a.birth_date = ?2 AND a.person_id LIKE ?1 || ':pending:%'
             ORDER BY a.person_id",
        )?
        .query_map(params![ch.municipality, ch.birth_date.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .filter_map(|r| r.ok().filter(|(_, name)| same_name(name)).map(|(p, _)| p))
        .collect();
    pending.dedup();
    match pending.as_slice() {
        [] => Ok(()),
        [old] => {
            tx.execute(
                "INSERT INTO voters (person_id, municipality, districts) VALUES (?1, ?2, ?3) ON CONFLICT (person_id) DO NOTHING",
                params![person_id, ch.municipality, districts],
            )?;
            tx.execute("UPDATE voter_certs SET person_id = ?2 WHERE person_id = ?1", params![old, person_id])?;
            for table in ["applications", "voted", "postal_papers", "emergency_votes"] {
                tx.execute(
                    &format!("UPDATE OR IGNORE {table} SET person_id = ?2 WHERE person_id = ?1"),
                    params![old, person_id],
                )?;
            }
            tx.execute("DELETE FROM voters WHERE person_id = ?1", [old])?;
            let detail = serde_json::json!({ "from": old, "to": person_id });
            history(tx, &ch.municipality, old, now, "registration_completed", detail.clone())?;
            history(tx, &ch.municipality, person_id, now, "registration_completed", detail)
        }
        several => history(
            tx,
            &ch.municipality,
            person_id,
            now,
            "pending_match_ambiguous",
            serde_json::json!({ "pending": several, "note": "link by hand: more than one pending voter matches" }),
        ),
    }
}

/// Records a switch back to paper voting requested by a hand-signed document (clerk, R-REG-9): the person stops
/// being an internet voter, the endorsement's removal is recorded, and a printable letter for the postal notice
/// is returned (HTML).
pub fn document_switch(
    db: &Db,
    op: &Operator,
    person_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<String, RegError> {
    let municipality = person_id.split(':').next().unwrap_or_default().to_string();
    require(op, &[Role::Clerk], Some(&municipality))?;
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        remove_internet_voter(&tx, person_id)?;
        history(
            &tx,
            &municipality,
            person_id,
            now,
            "became_paper_voter",
            serde_json::json!({ "by": "document", "endorsement_removed": true }),
        )?;
        audit::append(&tx, now, &op.actor(), "document_switch", &serde_json::json!({ "person": person_id }))?;
        tx.commit()
    })?;
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    Ok(format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>切替申出受理通知</title></head><body>\
         <p>{date}</p><p>{name} 様</p><h1>在外選挙インターネット投票の切替申出の受理について（通知）</h1>\
         <p>あなたからの切替申出（書面）を受理しました。今後の選挙では、在外公館投票、郵便等投票または日本国内における投票により\
         投票してください。在外選挙人証のインターネット投票の裏書きは消除しました。再びインターネット投票を希望する場合は、改めて申出が必要です。</p>\
         <p lang=\"en\">Your written request to switch back to paper voting has been accepted. From now on, vote at an embassy or \
         consulate, by post, or in Japan. The internet-voting endorsement on your overseas voter card has been removed. To vote \
         online again, apply again.</p><p>{municipality} 選挙管理委員会</p></body></html>",
        date = shared::jst::jst_date(now),
        name = esc(name),
        municipality = esc(&municipality),
    ))
}

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
    let result = db.with(|c| {
        let internet_voter: bool =
            c.query_row("SELECT count(*) > 0 FROM voters WHERE person_id = ?1", [person_id], |r| r.get(0))?;
        let mut st =
            c.prepare("SELECT contest_id FROM voted WHERE person_id = ?1 AND election_id = ?2 ORDER BY contest_id")?;
        let voted_online: Vec<String> =
            st.query_map([person_id, election_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let emergency_declared: bool = c.query_row(
            "SELECT count(*) > 0 FROM emergency_votes WHERE person_id = ?1 AND election_id = ?2",
            params![person_id, election_id],
            |r| r.get(0),
        )?;
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
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let voted: i64 = tx.query_row(
            "SELECT count(*) FROM voted WHERE person_id = ?1 AND election_id = ?2",
            [person_id, election_id],
            |r| r.get(0),
        )?;
        if voted > 0 {
            return Ok(Err(refuse("ALREADY_VOTED_ONLINE", "This person has already voted online: no paper ballot may be issued.")));
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

/// Returns whether a person declared an emergency paper vote for an election (checked at every cast).
pub fn emergency_declared(db: &Db, person_id: &str, election_id: &str) -> rusqlite::Result<bool> {
    db.read(|c| {
        c.prepare_cached("SELECT count(*) > 0 FROM emergency_votes WHERE person_id = ?1 AND election_id = ?2")?
            .query_row(params![person_id, election_id], |r| r.get(0))
    })
}

/// Moves the applications kept past an earlier election's cut-off on to a new election (R-REG-11), inside the
/// transaction that creates it: to `established` where the card has arrived, else to `awaiting_card`. Returns how
/// many moved.
pub fn requeue_held(tx: &Connection, election_id: &str, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let held: Vec<(String, String, bool)> = tx
        .prepare(
            "SELECT receipt_no, municipality, card_arrived FROM applications WHERE status = 'kept_for_next_election'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (receipt_no, municipality, card_arrived) in &held {
        let status = if *card_arrived { "established" } else { "awaiting_card" };
        tx.execute("UPDATE applications SET status = ?2 WHERE receipt_no = ?1", params![receipt_no, status])?;
        let detail = serde_json::json!({ "election": election_id, "status": status });
        history(tx, municipality, receipt_no, now, "requeued_for_next_election", detail)?;
    }
    if !held.is_empty() {
        audit::append(
            tx,
            now,
            audit::SYSTEM,
            "applications_requeued",
            &serde_json::json!({ "count": held.len(), "election": election_id }),
        )?;
    }
    Ok(held.len())
}

/// Sets the application cut-off of an election (admin, R-REG-11): applications arriving later are kept for the
/// next election, with a notice.
pub fn set_cutoff(
    db: &Db,
    op: &Operator,
    election_id: &str,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), RegError> {
    require(op, &[Role::Admin], None)?;
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [format!("application_cutoff:{election_id}"), cutoff.to_rfc3339()],
        )?;
        let detail = serde_json::json!({ "election": election_id, "cutoff": cutoff.to_rfc3339() });
        audit::append(&tx, now, &op.actor(), "application_cutoff_set", &detail)?;
        tx.commit()
    })?;
    Ok(())
}

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

/// The post-close record (調書) of one municipality (R-VOTE-12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Record {
    /// The election.
    pub election_id: String,
    /// The municipality.
    pub municipality: String,
    /// Internet voters who voted, per contest.
    pub voters_per_contest: Vec<(String, i64)>,
    /// The internet-voter list: person ids with the contests they voted in.
    pub voters: Vec<(String, Vec<String>)>,
    /// When the record was made.
    pub made_at: String,
}

/// Makes the record (調書) of a municipality after the close (clerk, approver, auditor).
pub fn record(
    db: &Db,
    op: &Operator,
    election: &shared::election::Election,
    municipality: &str,
    now: DateTime<Utc>,
) -> Result<Record, RegError> {
    require(op, &[Role::Clerk, Role::Approver, Role::Auditor], Some(municipality))?;
    if election.window().state(now) != shared::window::WindowState::Closed {
        return Err(refuse("VOTING_NOT_CLOSED", "The record is made after online voting closes."));
    }
    let rows: Vec<(String, String)> = db.with(|c| {
        // From the marks alone (each keeps the municipality it was cast under): a voter removed from the roll
        // after voting is still counted and listed.
        let mut st = c.prepare(
            "SELECT person_id, contest_id FROM voted WHERE municipality = ?1 AND election_id = ?2
             ORDER BY person_id, contest_id",
        )?;
        let rows = st.query_map([municipality, election.id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    })?;
    let voters_per_contest = election
        .contests
        .iter()
        .map(|c| (c.id.to_string(), rows.iter().filter(|(_, k)| k == c.id.as_str()).count() as i64))
        .collect();
    let mut voters: Vec<(String, Vec<String>)> = Vec::new();
    for (p, contest) in rows {
        match voters.last_mut() {
            Some((last, list)) if *last == p => list.push(contest),
            _ => voters.push((p, vec![contest])),
        }
    }
    db.audit(now, &op.actor(), "record_made", serde_json::json!({ "municipality": municipality }))?;
    Ok(Record {
        election_id: election.id.to_string(),
        municipality: municipality.into(),
        voters_per_contest,
        voters,
        made_at: now.to_rfc3339(),
    })
}

/// The record as the file that goes to the committee of its 指定在外選挙投票区 (R-VOTE-12): the record's JSON,
/// signed with the verifier's export key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    /// [`Record`] as JSON, exactly the bytes signed.
    pub record: String,
    /// Ed25519 over `record`, hex.
    pub signature: String,
    /// The export key's public half, hex (published before the election).
    pub export_public_key: String,
}

impl SignedRecord {
    /// Signs a record.
    pub fn sign(record: &Record, key: &crate::ops::ExportKey) -> serde_json::Result<SignedRecord> {
        let json = serde_json::to_string(record)?;
        Ok(SignedRecord { signature: key.sign(json.as_bytes()), export_public_key: key.public_hex(), record: json })
    }

    /// Returns the record if the signature is by `public_hex` (the published export key).
    pub fn open(&self, public_hex: &str) -> Option<Record> {
        (self.export_public_key == public_hex
            && crate::ops::verify_signature(public_hex, self.record.as_bytes(), &self.signature))
        .then(|| serde_json::from_str(&self.record).ok())
        .flatten()
    }
}

/// Renders the record as a printable page (Japanese first, English second). Every value is escaped: person ids
/// come from the roll's CSV, which a clerk writes.
pub fn record_html(r: &Record) -> String {
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    let rows: String =
        r.voters_per_contest.iter().map(|(c, n)| format!("<tr><td>{}</td><td>{n}</td></tr>", esc(c))).collect();
    let list: String = r
        .voters
        .iter()
        .map(|(p, cs)| format!("<tr><td>{}</td><td>{}</td></tr>", esc(p), esc(&cs.join(", "))))
        .collect();
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>インターネット投票調書 / Internet voting record</title></head><body>\
         <h1>インターネット投票に関する調書 <span lang=\"en\">Record of internet voting</span></h1>\
         <p>選挙 / Election: {e}　市区町村 / Municipality: {m}　作成 / Made: {t}</p>\
         <h2>投票者数（選挙ごと） <span lang=\"en\">Voters per contest</span></h2><table><tr><th>選挙 / Contest</th><th>人数 / Voters</th></tr>{rows}</table>\
         <h2>インターネット投票者名簿 <span lang=\"en\">Internet-voter list</span></h2><table><tr><th>選挙人 / Voter</th><th>投票した選挙 / Contests</th></tr>{list}</table>\
         </body></html>",
        e = esc(&r.election_id),
        m = esc(&r.municipality),
        t = esc(&r.made_at),
    )
}
