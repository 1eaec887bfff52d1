//! The voter store and the cast protocol on in-memory and file stores.

use super::cast::MAX_BATCH;
use super::*;

const KEY: &str = include_str!("../../../shared/tests/data/test-election-key.pub.pem");

fn with_election(db: &Db) {
    let mut e = crate::demo::demo_election(Utc::now()).unwrap();
    e.id = shared::election::Id::new("e").unwrap();
    db.create_election(&e, &ElectionPublicKey::from_pem(KEY).unwrap(), "test", Utc::now()).unwrap();
}

fn ct(t: usize, v: usize) -> Vec<u8> {
    let mut c = vec![0u8; 384];
    c[..16].copy_from_slice(&[(t as u64).to_be_bytes(), (v as u64).to_be_bytes()].concat());
    c
}

/// Casts from many threads at once (each voter twice, from two threads) share groups: every voter gets
/// exactly one stored ballot and one `AlreadyVoted`, and marks equal ballots.
#[test]
fn group_commit_decides_each_cast_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(&dir.path().join("v.sqlite")).unwrap());
    with_election(&db);
    let voters = 150;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                (0..voters)
                    .filter(|v| v % 4 == t % 4)
                    .map(|v| db.cast(&format!("p{v}"), "e", "tokyo", &ct(t, v)).is_ok())
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let stored: usize = threads.into_iter().map(|t| t.join().unwrap().into_iter().filter(|ok| *ok).count()).sum();
    assert_eq!(stored, voters);
    let marks = db.with(|c| c.query_row("SELECT count(*) FROM voted", [], |r| r.get::<_, i64>(0))).unwrap();
    assert_eq!(marks, voters as i64);
    assert_eq!(db.ballot_counts("e").unwrap(), vec![("tokyo".to_string(), voters as i64)]);
    let pending = db
        .with(|c| c.query_row("SELECT count(*) FROM voted WHERE pending_group IS NOT NULL", [], |r| r.get::<_, i64>(0)))
        .unwrap();
    assert!(pending <= MAX_BATCH as i64, "only the last group's marks may still be pending: {pending}");
}

/// The reader connections see a cast as soon as it is committed; a copy of a ciphertext is refused.
#[test]
fn readers_see_committed_casts_and_a_copy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("v.sqlite")).unwrap();
    with_election(&db);
    assert!(db.voted_contests("p", "e").unwrap().is_empty());
    db.cast("p", "e", "tokyo", &ct(0, 0)).unwrap();
    for _ in 0..READERS {
        assert_eq!(db.voted_contests("p", "e").unwrap(), vec!["tokyo".to_owned()]);
    }
    assert!(matches!(db.cast("p", "e", "tokyo", &ct(0, 1)), Err(CastError::AlreadyVoted)));
    assert!(matches!(db.cast("q", "e", "tokyo", &ct(0, 0)), Err(CastError::Duplicate)));
    assert!(db.voted_contests("q", "e").unwrap().is_empty(), "a refused copy leaves no mark");
}

/// A command line tool opened while the verifier casts (here: between a group's two transactions) must not
/// run recovery, which would take the group for an interrupted one and remove its marks.
#[test]
fn a_tool_opened_while_a_verifier_casts_leaves_its_group_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.sqlite");
    with_election(&Db::open(&path).unwrap());
    let tool_path = path.clone();
    let faults = Faults::new(move |step| {
        if step == Step::MarksWritten {
            drop(Db::open(&tool_path).unwrap());
        }
    });
    let db = Db::open_with(&path, DbOptions { serving: true, faults, ..Default::default() }).unwrap();
    db.cast("p", "e", "tokyo", &ct(0, 0)).unwrap();
    let marks = db.with(|c| c.query_row("SELECT count(*) FROM voted", [], |r| r.get::<_, i64>(0))).unwrap();
    assert_eq!((marks, db.ballot_counts("e").unwrap()), (1, vec![("tokyo".to_string(), 1)]));
}

/// A version-1 file's ballots move into the ballot box when it is opened, once.
#[test]
fn a_version_1_database_opens_with_its_ballots_moved_to_the_box() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE voted (person_id TEXT NOT NULL, election_id TEXT NOT NULL, contest_id TEXT NOT NULL,
                 PRIMARY KEY (person_id, election_id, contest_id)) WITHOUT ROWID;
             CREATE TABLE ballots (id BLOB PRIMARY KEY, election_id TEXT NOT NULL, contest_id TEXT NOT NULL,
                 ciphertext BLOB NOT NULL) WITHOUT ROWID;
             INSERT INTO voted VALUES ('p', 'e', 'tokyo');
             INSERT INTO ballots VALUES (x'01', 'e', 'tokyo', x'0102');",
        )
        .unwrap();
    }
    // A version-1 file has every table of version 1; build one with this build's version-1 script instead.
    std::fs::remove_file(&path).unwrap();
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(V1_FOR_TESTS).unwrap();
        c.execute_batch(
            "INSERT INTO voted VALUES ('p', 'e', 'tokyo');
             INSERT INTO ballots VALUES (zeroblob(32), 'e', 'tokyo', x'0102');",
        )
        .unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(db.ballot_counts("e").unwrap(), vec![("tokyo".to_string(), 1)]);
    assert_eq!(db.voted_contests("p", "e").unwrap(), vec!["tokyo".to_string()]);
    let version: i64 = db.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0))).unwrap();
    assert_eq!(version, crate::store::schema::VERSION, "a version-1 file is migrated to this build's version");
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(db.ballot_counts("e").unwrap(), vec![("tokyo".to_string(), 1)]);
}

/// The version-1 schema as main wrote it before the ballot box moved out (tracker issue 16).
const V1_FOR_TESTS: &str = "
    CREATE TABLE elections (id TEXT PRIMARY KEY, definition TEXT NOT NULL, public_key_spki BLOB NOT NULL,
        key_fingerprint TEXT NOT NULL, current INTEGER NOT NULL CHECK (current IN (0, 1))) WITHOUT ROWID;
    CREATE UNIQUE INDEX elections_one_current ON elections(current) WHERE current = 1;
    CREATE TABLE pause (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), reason TEXT NOT NULL,
        since TEXT NOT NULL);
    CREATE TABLE voters (person_id TEXT PRIMARY KEY, municipality TEXT NOT NULL, districts TEXT NOT NULL)
        WITHOUT ROWID;
    CREATE TABLE voter_certs (fingerprint TEXT PRIMARY KEY, person_id TEXT NOT NULL REFERENCES voters(person_id),
        kind TEXT NOT NULL CHECK (kind IN ('auth', 'sign')), serial TEXT NOT NULL) WITHOUT ROWID;
    CREATE INDEX voter_certs_person ON voter_certs(person_id);
    CREATE TABLE voted (person_id TEXT NOT NULL, election_id TEXT NOT NULL, contest_id TEXT NOT NULL,
        PRIMARY KEY (person_id, election_id, contest_id)) WITHOUT ROWID;
    CREATE TABLE ballots (id BLOB PRIMARY KEY CHECK (length(id) = 32), election_id TEXT NOT NULL,
        contest_id TEXT NOT NULL, ciphertext BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        detail TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
    PRAGMA user_version = 1;";
