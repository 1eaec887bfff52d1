//! The voter store's one schema (issue 23 part 2): every table of the verifier's SQLite file, in the order the
//! versions added them, migrated forward with SQLite's `user_version` when the store opens. The ballot box's file
//! has its own (`ballot_box::schema`).
//!
//! - 1: elections, the pause, the roll of internet voters (`voters`, `voter_certs`), the marks (`voted`), the
//!   audit log;
//! - 2: a mark names the cast group writing it until both stores have it (the ballots moved to the box's file);
//! - 3: a mark keeps the municipality of the roll it was cast under (the record, R-VOTE-12);
//! - 4: the subsystems' tables, which mains up to 5 December 2026 created unversioned whenever missing:
//!   registration (R-REG-*), notices, operators and their host sessions, four-eyes requests and the UX-research
//!   metrics. A file of those mains may hold any of them, so this step creates those still missing;
//! - 5: the instructed usability studies (issue 22 part 6).
//!
//! Each step runs in one transaction with its version. This must never change a step that has been released: a
//! change is a new step, and `verifier/tests/schema.rs` opens a file made by each released version.

use anyhow::{Context, ensure};
use rusqlite::Connection;

/// The schema version this build writes.
pub const VERSION: i64 = 5;

const V1: &str = "
    CREATE TABLE elections (
        id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        public_key_spki BLOB NOT NULL,
        key_fingerprint TEXT NOT NULL,
        current INTEGER NOT NULL CHECK (current IN (0, 1))
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX elections_one_current ON elections(current) WHERE current = 1;
    CREATE TABLE pause (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        reason TEXT NOT NULL,
        since TEXT NOT NULL
    );
    CREATE TABLE voters (
        person_id TEXT PRIMARY KEY,
        municipality TEXT NOT NULL,
        districts TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE voter_certs (
        fingerprint TEXT PRIMARY KEY,
        person_id TEXT NOT NULL REFERENCES voters(person_id),
        kind TEXT NOT NULL CHECK (kind IN ('auth', 'sign')),
        serial TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX voter_certs_person ON voter_certs(person_id);
    CREATE TABLE voted (
        person_id TEXT NOT NULL,
        election_id TEXT NOT NULL,
        contest_id TEXT NOT NULL,
        PRIMARY KEY (person_id, election_id, contest_id)
    ) WITHOUT ROWID;
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL
    );";

const V2: &str = "
    ALTER TABLE voted ADD COLUMN pending_group INTEGER;
    CREATE INDEX voted_pending ON voted(pending_group) WHERE pending_group IS NOT NULL;";

const V3: &str = "
    ALTER TABLE voted ADD COLUMN municipality TEXT;
    UPDATE voted SET municipality = (SELECT municipality FROM voters WHERE voters.person_id = voted.person_id);
    CREATE INDEX voted_municipality ON voted(municipality, election_id);";

const V4: &str = "
    CREATE TABLE IF NOT EXISTS roll (
        municipality TEXT NOT NULL,
        roll_entry TEXT NOT NULL,
        name TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        districts TEXT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (municipality, roll_entry)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS applications (
        receipt_no TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('apply', 'switch')),
        municipality TEXT NOT NULL,
        roll_entry TEXT,
        registration_pending INTEGER NOT NULL,
        name TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        address_abroad TEXT NOT NULL,
        email TEXT NOT NULL,
        application_json TEXT NOT NULL,
        signature BLOB NOT NULL,
        auth_fingerprint TEXT NOT NULL,
        auth_serial TEXT NOT NULL,
        auth_certificate BLOB NOT NULL,
        sign_fingerprint TEXT NOT NULL,
        sign_serial TEXT NOT NULL,
        sign_certificate BLOB NOT NULL,
        received_at TEXT NOT NULL,
        receipt_date TEXT NOT NULL,
        card_arrived INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        reason TEXT,
        person_id TEXT
    );
    CREATE INDEX IF NOT EXISTS applications_municipality ON applications(municipality, status);
    CREATE INDEX IF NOT EXISTS applications_auth ON applications(auth_fingerprint);
    CREATE TABLE IF NOT EXISTS history (
        seq INTEGER PRIMARY KEY,
        municipality TEXT NOT NULL,
        subject TEXT NOT NULL,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS history_subject ON history(subject);
    CREATE TABLE IF NOT EXISTS postal_papers (
        person_id TEXT PRIMARY KEY,
        issued INTEGER NOT NULL,
        returned INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS emergency_votes (
        person_id TEXT NOT NULL,
        election_id TEXT NOT NULL,
        declared_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (person_id, election_id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS notices (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at TEXT NOT NULL,
        sent_at TEXT,
        last_error TEXT
    );
    CREATE INDEX IF NOT EXISTS notices_due ON notices(next_attempt_at) WHERE sent_at IS NULL;
    CREATE TABLE IF NOT EXISTS operators (
        fingerprint TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        municipality TEXT,
        totp_secret TEXT NOT NULL,
        totp_last_step INTEGER NOT NULL DEFAULT -1,
        serial TEXT NOT NULL UNIQUE,
        revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
        created_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS host_sessions (
        token_sha256 TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) STRICT;
    CREATE TABLE IF NOT EXISTS host_totp_failures (
        fingerprint TEXT NOT NULL,
        at TEXT NOT NULL
    ) STRICT;
    CREATE TABLE IF NOT EXISTS four_eyes (
        id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        requester_fingerprint TEXT NOT NULL,
        requester_name TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        approved_by TEXT,
        decided_at TEXT,
        outcome TEXT
    ) STRICT;
    CREATE TABLE IF NOT EXISTS research_tasks (
        id BLOB PRIMARY KEY CHECK (length(id) = 16),
        election_id TEXT NOT NULL,
        participant TEXT NOT NULL,
        contest_kind TEXT NOT NULL,
        assigned INTEGER NOT NULL CHECK (assigned IN (0, 1)),
        selection TEXT NOT NULL,
        display TEXT NOT NULL,
        drum_start TEXT NOT NULL,
        candidates INTEGER NOT NULL,
        time_to_first_selection_ms INTEGER,
        time_to_confirm_ms INTEGER NOT NULL,
        changes_of_mind INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        search_keystrokes INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        chosen_position INTEGER,
        off_first_screen INTEGER,
        challenges INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;";

const V5: &str = "
    CREATE TABLE study_participants (
        study TEXT PRIMARY KEY,
        handed_out INTEGER NOT NULL CHECK (handed_out >= 0)
    ) WITHOUT ROWID;
    CREATE TABLE study_layouts (
        study TEXT NOT NULL,
        participant INTEGER NOT NULL,
        layout TEXT NOT NULL,
        position INTEGER NOT NULL,
        sus TEXT NOT NULL CHECK (length(sus) = 10),
        PRIMARY KEY (study, participant, layout)
    ) WITHOUT ROWID;
    CREATE TABLE study_trials (
        study TEXT NOT NULL,
        participant INTEGER NOT NULL,
        layout TEXT NOT NULL,
        task TEXT NOT NULL,
        completed INTEGER NOT NULL CHECK (completed IN (0, 1)),
        on_target INTEGER NOT NULL CHECK (on_target IN (0, 1)),
        time_ms INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        keystrokes INTEGER NOT NULL,
        changes_of_mind INTEGER NOT NULL,
        PRIMARY KEY (study, participant, layout, task)
    ) WITHOUT ROWID;";

/// Creates or upgrades the schema; refuses a file written by a newer build (it would be misread).
pub fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    ensure!(
        version <= VERSION,
        "the database is at schema version {version}, newer than this build's {VERSION}: open it with the build \
         that wrote it, or a later one"
    );
    for (to, step) in (1..=VERSION).zip([V1, V2, V3, V4, V5]) {
        if version < to {
            step_to(conn, to, step).with_context(|| format!("cannot migrate the database to schema version {to}"))?;
        }
    }
    Ok(())
}

fn step_to(conn: &Connection, to: i64, sql: &str) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE;")?;
    let done = (|| {
        conn.execute_batch(sql)?;
        if to == 4 {
            // A research table made before its challenges were counted (issue 18) gains the column.
            let has: bool = conn.query_row(
                "SELECT count(*) > 0 FROM pragma_table_info('research_tasks') WHERE name = 'challenges'",
                [],
                |r| r.get(0),
            )?;
            if !has {
                conn.execute_batch("ALTER TABLE research_tasks ADD COLUMN challenges INTEGER NOT NULL DEFAULT 0;")?;
            }
        }
        conn.pragma_update(None, "user_version", to)
    })();
    match done {
        Ok(()) => conn.execute_batch("COMMIT;"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK;");
            Err(e)
        }
    }
}

/// The script of each step, for tests that build a file as an earlier version left it.
pub fn steps() -> [&'static str; 5] {
    [V1, V2, V3, V4, V5]
}

impl super::Db {
    /// Moves the ballots of a version-1 file (stored in the voter store) into the ballot box, then drops them
    /// there. Repeating it after a crash is harmless: the box skips a ballot it has.
    pub(super) fn move_earlier_ballots(&self) -> anyhow::Result<()> {
        let earlier: Vec<(String, String, Vec<u8>)> = self.with(|c| {
            let exists: bool = c.query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'ballots'",
                [],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(Vec::new());
            }
            let mut st = c.prepare("SELECT election_id, contest_id, ciphertext FROM ballots")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        let mut by_election: std::collections::HashMap<String, Vec<(String, Vec<u8>)>> = Default::default();
        for (e, c, ct) in earlier {
            by_election.entry(e).or_default().push((c, ct));
        }
        for (election, mut ballots) in by_election {
            self.ballot_box.import_earlier(&election, &mut ballots)?;
        }
        self.with(|c| {
            let exists: bool = c.query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'ballots'",
                [],
                |r| r.get(0),
            )?;
            if exists {
                c.execute_batch("DROP TABLE ballots; VACUUM;")?;
            }
            Ok(())
        })?;
        Ok(())
    }
}
