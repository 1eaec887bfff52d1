//! The voter store's schema across versions (issue 23 part 2): a database made by the released main opens with
//! its marks, research rows and audit log intact; a file left at each earlier version migrates to the same tables
//! and columns as a new one; and a file written by a newer build is refused rather than misread.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::Connection;
use verifier::store::{Db, ballot_box_path};

/// Every (table, column, type, not null, primary key) of a store, and its indexes' names.
fn shape(db: &Db) -> BTreeSet<String> {
    db.with(|c| {
        let mut s = c.prepare(
            "SELECT m.type || ' ' || m.name || ' ' || coalesce(p.name, '') || ' ' || coalesce(p.type, '') || ' ' ||
                    coalesce(p.\"notnull\", '') || ' ' || coalesce(p.pk, '')
             FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table'
             WHERE m.name NOT LIKE 'sqlite_%'",
        )?;
        let mut all = BTreeSet::new();
        for row in s.query_map([], |r| r.get::<_, String>(0))? {
            all.insert(row?);
        }
        Ok(all)
    })
    .unwrap()
}

fn fresh() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    shape(&Db::open(&dir.path().join("new.sqlite")).unwrap())
}

fn count(db: &Db, table: &str) -> i64 {
    db.with(|c| c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))).unwrap()
}

fn version(db: &Db) -> i64 {
    db.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0))).unwrap()
}

#[test]
fn a_database_made_by_the_released_main_opens_with_its_rows() {
    // Made on 5 December 2026 by main as CI landed it (schema version 3, the subsystems' tables unversioned): two
    // voters cast in the demo election (three marks), one UX-research task, the audit log.
    let released = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/released-2026-12-05");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("verifier.sqlite");
    std::fs::copy(released.join("verifier.sqlite"), &path).unwrap();
    std::fs::copy(released.join("verifier.ballot-box.sqlite"), ballot_box_path(&path)).unwrap();
    let before: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(before, 3);
    let db = Db::open(&path).unwrap();
    assert_eq!(version(&db), verifier::store::schema::VERSION);
    assert_eq!((count(&db, "voted"), count(&db, "research_tasks"), count(&db, "audit_log")), (3, 1, 5));
    assert_eq!(shape(&db), fresh(), "the migrated file has the tables and columns of a new one");
    let chain = db.with(|c| verifier::store::audit::verify(c)).unwrap();
    assert_eq!((chain.entries, chain.first_broken), (5, None), "the audit log's chain still verifies");
    drop(db);
    let again = Db::open(&path).unwrap();
    assert_eq!(
        (version(&again), count(&again, "voted")),
        (verifier::store::schema::VERSION, 3),
        "opening again changes nothing"
    );
}

#[test]
fn a_file_left_at_each_earlier_version_migrates_to_the_same_schema() {
    let want = fresh();
    let steps = verifier::store::schema::steps();
    for at in 1..verifier::store::schema::VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            for (v, step) in steps.iter().enumerate().take(at as usize) {
                c.execute_batch(step).unwrap();
                c.pragma_update(None, "user_version", v as i64 + 1).unwrap();
            }
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(version(&db), verifier::store::schema::VERSION, "from version {at}");
        assert_eq!(shape(&db), want, "from version {at}");
    }
}

#[test]
fn a_file_written_by_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.sqlite");
    drop(Db::open(&path).unwrap());
    Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let e = format!("{:#}", Db::open(&path).err().expect("a newer file must not open"));
    assert!(e.contains("schema version 99, newer than this build"), "{e}");
}
