//! The acceptance of an established application (R-REG-4, R-REG-5): the person it is about, their card's
//! certificates, and the notice (R-REG-7); or, for a switch request, their return to paper (R-REG-9).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{RegError, history, refuse, remove_internet_voter, require};
use crate::certs::CertKind;
use crate::operators::{Operator, Role};
use crate::store::Db;
use crate::store::audit;

use super::applications::{Application, load};

/// The refusal of an acceptance whose card certificate is registered to another person (R-REG-2).
pub const CERT_OF_ANOTHER_PERSON: &str = "CERT_OF_ANOTHER_PERSON";

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
    let person_id = person_of(tx, &app, receipt_no)?;
    if app.kind == "apply" {
        register_internet_voter(tx, &app, receipt_no, &person_id, now)?;
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

/// The person an application is about: the internet voter holding the signing card (a switch), the roll entry's
/// person if it is registered, or a pending person (R-REG-4).
fn person_of(tx: &Connection, app: &Application, receipt_no: &str) -> Result<String, RegError> {
    Ok(match &app.roll_entry {
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
    })
}

/// Makes the person an internet voter (R-REG-5): refused while postal papers are outstanding (R-REG-8) or when a
/// card certificate is another person's (R-REG-2); the acceptance notice is queued in the same transaction (R-REG-7).
fn register_internet_voter(
    tx: &Connection,
    app: &Application,
    receipt_no: &str,
    person_id: &str,
    now: DateTime<Utc>,
) -> Result<(), RegError> {
    let papers: Option<(bool, bool)> = tx
        .query_row("SELECT issued, returned FROM postal_papers WHERE person_id = ?1", [person_id], |r| {
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
        let holder: Option<String> =
            tx.query_row("SELECT person_id FROM voter_certs WHERE fingerprint = ?1", [&fp], |r| r.get(0)).optional()?;
        if holder.as_ref().is_some_and(|h| h != person_id) {
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
    Ok(())
}
