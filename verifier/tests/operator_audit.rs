//! The audit log on the verifier host, through the real binary: `audit verify` names the first tampered entry, and
//! against the checkpoints an auditor kept as published, a cut-off tail, a rewritten and re-hashed chain, and a
//! forged checkpoint (issue 21, part 3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use support::host::{create, stderr, verifier};
use verifier::store::Db;

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db = create(dir.path(), "e", "2025-07-02", "2025-07-19");
    for reason in ["maintenance", "candidate change"] {
        assert!(verifier(&["pause", "--reason", reason], &db).status.success());
        assert!(verifier(&["resume"], &db).status.success());
    }
    let out = verifier(&["audit", "verify"], &db);
    let entries = Db::open(&db).unwrap().with(|c| verifier::store::audit::entries(c)).unwrap();
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains(&format!("intact: {} entries", entries.len())),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let seq = entries.iter().find(|e| e.action == "voting_paused").unwrap().seq;
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE audit_log SET detail = '{\"reason\":\"nothing\"}' WHERE seq = ?1", [seq]).unwrap();
    drop(conn);
    let out = verifier(&["audit", "verify"], &db);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&format!("broken at entry {seq}")), "{}", stderr(&out));
}

/// Re-hashes the audit chain from entry `from` on, as anyone can: the hash is public and unkeyed.
fn rehash_from(db: &Path, from: i64) {
    use sha2::Digest as _;
    let conn = rusqlite::Connection::open(db).unwrap();
    let rows: Vec<(i64, String, String, String, String)> = conn
        .prepare("SELECT seq, at, actor, action, detail FROM audit_log WHERE seq >= ?1 ORDER BY seq")
        .unwrap()
        .query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev: Vec<u8> = conn
        .query_row("SELECT hash FROM audit_log WHERE seq = ?1", [from - 1], |r| r.get(0))
        .unwrap_or_else(|_| vec![0; 32]);
    for (seq, at, actor, action, detail) in rows {
        let seq_bytes = seq.to_be_bytes();
        let framed = shared::frame::frame(&[
            &prev,
            &seq_bytes,
            at.as_bytes(),
            actor.as_bytes(),
            action.as_bytes(),
            detail.as_bytes(),
        ]);
        let hash = sha2::Sha256::digest(framed).to_vec();
        conn.execute(
            "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
}

/// Issue 21, part 3, as an insider who can write the database file tries it: the audit chain's hash is public,
/// so the insider cuts off the tail of the log, or rewrites an entry and re-hashes everything after it. Every
/// critical command signed a checkpoint with the audit key (a file apart from the database), and an auditor kept a
/// copy of them as published: `audit verify --checkpoints` names both attacks.
#[test]
fn a_cut_off_or_rewritten_audit_log_is_named_against_the_published_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = create(dir.path(), "e", "2025-07-02", "2025-07-19");
    for reason in ["maintenance", "candidate change"] {
        assert!(verifier(&["pause", "--reason", reason], &db).status.success());
        assert!(verifier(&["resume"], &db).status.success());
    }
    let entries = Db::open(&db).unwrap().with(|c| verifier::store::audit::entries(c)).unwrap().len() as i64;
    // The auditor's copy, and the audit key's public key as published when the key was made.
    let out = verifier(&["audit", "checkpoints"], &db);
    assert!(out.status.success(), "{}", stderr(&out));
    let kept = dir.path().join("kept-checkpoints.json");
    std::fs::write(&kept, &out.stdout).unwrap();
    let list: Vec<shared::export::AuditCheckpoint> = serde_json::from_slice(&out.stdout).unwrap();
    let reasons: Vec<&str> = list.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["operator_bootstrap", "election_create", "pause", "resume", "pause", "resume"],
        "one per critical action"
    );
    assert_eq!(list.last().unwrap().seq, entries - 1, "the last one vouches for the last resume");
    let audit_key = verifier::store::checkpoints::AuditKey::default_path(&db);
    let public = verifier::store::checkpoints::AuditKey::load_or_create(&audit_key).unwrap().0.public_hex();
    let check = |path: &Path| {
        let args = ["audit", "verify", "--checkpoints", kept.to_str().unwrap(), "--audit-public-key", &public];
        verifier(&args, path)
    };
    let intact = check(&db);
    assert!(intact.status.success(), "{}", stderr(&intact));
    let said = String::from_utf8_lossy(&intact.stdout);
    assert!(said.contains(&format!("6 checkpoint(s) vouch for it up to entry {}", entries - 1)), "{said}");

    // The insider cuts off the last pause and resume.
    let cut = dir.path().join("cut.sqlite");
    assert!(verifier(&["backup", "--out", cut.to_str().unwrap()], &db).status.success());
    let conn = rusqlite::Connection::open(&cut).unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq > ?1", [entries - 2]).unwrap();
    drop(conn);
    let out = check(&cut);
    assert!(!out.status.success(), "the cut-off log passed: {}", String::from_utf8_lossy(&out.stdout));
    let cut_at = entries - 1;
    assert!(stderr(&out).contains(&format!("entries {cut_at} to {cut_at} at least were cut off")), "{}", stderr(&out));

    // The insider rewrites the first pause's reason and re-hashes the rest of the chain.
    let rewritten = dir.path().join("rewritten.sqlite");
    assert!(verifier(&["backup", "--out", rewritten.to_str().unwrap()], &db).status.success());
    let conn = rusqlite::Connection::open(&rewritten).unwrap();
    let seq: i64 =
        conn.query_row("SELECT min(seq) FROM audit_log WHERE action = 'voting_paused'", [], |r| r.get(0)).unwrap();
    conn.execute("UPDATE audit_log SET detail = '{\"reason\":\"nothing\"}' WHERE seq = ?1", [seq]).unwrap();
    drop(conn);
    rehash_from(&rewritten, seq);
    let out = check(&rewritten);
    assert!(!out.status.success(), "the rewritten log passed: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr(&out).contains("the log was rewritten at or before entry"), "{}", stderr(&out));

    // A checkpoint signed with another key (the insider's own) is named as forged.
    let mut forged = list.clone();
    forged[0].head = "00".repeat(32);
    let other = verifier::store::checkpoints::AuditKey::load_or_create(&dir.path().join("insider.pk8")).unwrap().0;
    forged[0].public_key = other.public_hex();
    std::fs::write(&kept, serde_json::to_vec(&forged).unwrap()).unwrap();
    let out = check(&db);
    assert!(!out.status.success() && stderr(&out).contains("forged"), "{}", stderr(&out));
}
