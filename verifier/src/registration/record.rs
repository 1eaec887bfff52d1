//! The post-close record (調書, R-VOTE-12) of one municipality: made, signed with the export key, and printed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RegError, refuse, require};
use crate::operators::{Operator, Role};
use crate::store::Db;

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
    let rows: Vec<(String, String)> = match db.voting_store() {
        Some(pg) => pg.marks_of_municipality(municipality, election.id.as_str()).map_err(crate::store::pg_error)?,
        None => db.with(|c| {
            // From the marks alone (each keeps the municipality it was cast under): a voter removed from the roll
            // after voting is still counted and listed.
            let mut st = c.prepare(
                "SELECT person_id, contest_id FROM voted WHERE municipality = ?1 AND election_id = ?2
             ORDER BY person_id, contest_id",
            )?;
            let rows = st.query_map([municipality, election.id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?,
    };
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
