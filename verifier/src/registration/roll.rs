//! The overseas roll as internet voting needs it: roll changes (R-REG-6), a pending registration completed (R-REG-4), and
//! a switch back to paper by a hand-signed document (R-REG-9).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, TransactionBehavior, params};

use super::{RegError, history, refuse, remove_internet_voter, require};
use crate::operators::{Operator, Role};
use crate::store::Db;
use crate::store::audit;

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
                        complete_pending(&tx, db.voting_store().map(|s| &**s), ch, (&person_id, &districts), now)?;
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
/// and papers (on the voting store on PostgreSQL too) move to the entry's person id, which receives the entry's districts. Two pending voters that match
/// are left pending, and the history says so: a clerk links them by hand.
fn complete_pending(
    tx: &Connection,
    voting_store: Option<&crate::store::pg::PgStore>,
    ch: &RollChange,
    (person_id, districts): (&str, &str),
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
            // The marks and declarations on PostgreSQL move first (issue 24): if this file's commit then fails, they
            // wait under the new id while the pending person, who has no districts, cannot vote.
            if let Some(store) = voting_store {
                store.rename_person(old, person_id).map_err(crate::store::pg_error)?;
            }
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
