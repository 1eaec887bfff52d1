//! Operator operations on the verifier host: the zero-vote check before opening (R-SYS-3), the export of a
//! counting district's ballots after the close (R-COUNT-1), the published ballot-box digest, and the export key
//! (Ed25519) that signs reports and exports.

pub mod build_check;

use std::path::Path;

use chrono::{DateTime, Utc};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::crypto::{ElectionPublicKey, tracker};
use shared::election::Election;
use shared::export::{
    EXPORT_FORMAT, ExportFile, Manifest, PublishedBallotBox, PublishedContest, Unopened, contest_entry, tracker_root,
};
use shared::window::WindowState;

use crate::store::Db;

/// The verifier's signing key for reports and exports (Ed25519, PKCS#8 file readable by its owner only).
pub struct ExportKey(Ed25519KeyPair);

impl ExportKey {
    /// Generates a key and writes it (refusing to overwrite); returns it.
    pub fn generate(path: &Path) -> anyhow::Result<ExportKey> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("key generation failed"))?;
        files::create_new(path, pkcs8.as_ref(), files::Access::Owner)?;
        ExportKey::load(path)
    }

    /// A key held in memory only, for the in-memory demo.
    pub fn ephemeral() -> anyhow::Result<ExportKey> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("key generation failed"))?;
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("key generation failed"))?;
        Ok(ExportKey(kp))
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> anyhow::Result<ExportKey> {
        let bytes =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read the export key {}: {e}", path.display()))?;
        let kp = Ed25519KeyPair::from_pkcs8(&bytes)
            .map_err(|_| anyhow::anyhow!("{} is not an Ed25519 PKCS#8 key", path.display()))?;
        Ok(ExportKey(kp))
    }

    /// Returns the public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.public_key().as_ref())
    }

    /// Signs bytes; returns the signature, hex.
    pub fn sign(&self, bytes: &[u8]) -> String {
        hex::encode(self.0.sign(bytes).as_ref())
    }
}

/// Verifies an Ed25519 signature (hex) over bytes with a public key (hex).
pub fn verify_signature(public_hex: &str, bytes: &[u8], signature_hex: &str) -> bool {
    let (Ok(public), Ok(sig)) = (hex::decode(public_hex), hex::decode(signature_hex)) else { return false };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public).verify(bytes, &sig).is_ok()
}

/// The zero-vote check's findings (R-SYS-3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZeroCheckReport {
    /// The election.
    pub election_id: String,
    /// When (UTC).
    pub checked_at: String,
    /// Ballots per contest (all zero).
    pub ballots_per_contest: Vec<(String, i64)>,
    /// Voters marked as having voted (zero).
    pub vote_marks: i64,
    /// Audit entries read, and the chain's head hash.
    pub audit_entries: i64,
    /// The hash of the last audit entry.
    pub audit_head: String,
    /// Rows of the election in the ballot box's file, of any table (ballots, pool, batches, cast groups): zero.
    pub ballot_box_writes: i64,
    /// SHA-256 of this command's verifier binary (R-SYS-2).
    pub binary_sha256: String,
    /// The comparison of this binary, the running server's binary and the served voter app with the audited
    /// build's published hashes: required for a real election, optional in a practice one (issue 21).
    #[serde(default)]
    pub build: Option<crate::ops::build_check::BuildCheck>,
    /// The election key's fingerprint.
    pub key_fingerprint: String,
}

/// Runs the zero-vote check; refused once voting has opened, and failing if anything is not zero.
pub fn zero_check(
    db: &Db,
    election: &Election,
    key: &ElectionPublicKey,
    now: DateTime<Utc>,
    build: Option<crate::ops::build_check::BuildCheck>,
    actor: &str,
) -> anyhow::Result<ZeroCheckReport> {
    anyhow::ensure!(
        build.is_some() || election.practice,
        "ZERO_CHECK_UNPROVEN: {} is a real election, and its zero-vote check must show which programs run: give \
         --expected-hashes (the audited build's published hashes), --server (the running verifier's voter origin) \
         and --server-pid",
        election.id
    );
    anyhow::ensure!(
        election.window().state(now) == WindowState::NotYetOpen,
        "voting has opened ({}); the zero-vote check is done before opening",
        shared::jst::format_jst(election.window().opens_at)
    );
    let counts = db.ballot_counts(election.id.as_str())?;
    let per_contest: Vec<(String, i64)> = election
        .contests
        .iter()
        .map(|c| (c.id.to_string(), counts.iter().find(|(id, _)| id == c.id.as_str()).map_or(0, |(_, n)| *n)))
        .collect();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let id = election.id.as_str();
    let (marks, audit) = db.with(|c| {
        let marks: i64 = c.query_row("SELECT count(*) FROM voted WHERE election_id = ?1", [id], |r| r.get(0))?;
        Ok((marks, crate::store::audit::verify(c)?))
    })?;
    let (marks, writes) = match db.voting_store() {
        // Both stores are checked: the voting store on PostgreSQL, and this file (which a cast never writes then).
        Some(pg) => {
            let (rows, pg_marks) = pg.rows_and_marks(id)?;
            (marks + pg_marks, (rows + db.ballot_box().rows(id)?) as i64)
        }
        None => (marks, db.ballot_box().rows(id)? as i64),
    };
    if let Some((seq, why)) = &audit.first_broken {
        anyhow::bail!("the audit log is broken at entry {seq}: {why}");
    }
    anyhow::ensure!(
        total == 0 && marks == 0 && writes == 0,
        "the ballot box is not empty: {total} ballots, {marks} marks, {writes} recorded writes"
    );
    let binary = std::env::current_exe().and_then(std::fs::read).map(|b| hex::encode(Sha256::digest(b)))?;
    let report = ZeroCheckReport {
        election_id: election.id.to_string(),
        checked_at: now.to_rfc3339(),
        ballots_per_contest: per_contest,
        vote_marks: marks,
        audit_entries: audit.entries,
        audit_head: audit.head,
        ballot_box_writes: writes,
        binary_sha256: binary,
        build,
        key_fingerprint: key.fingerprint(),
    };
    db.audit(now, actor, "zero_check", serde_json::to_value(&report)?)?;
    Ok(report)
}

/// Exports a counting district's contests after the close: ciphertexts in tracker order and a signed manifest.
pub fn export(
    db: &Db,
    election: &Election,
    key: &ElectionPublicKey,
    export_key: &ExportKey,
    district: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<ExportFile> {
    anyhow::ensure!(
        election.window().state(now) == WindowState::Closed,
        "voting closes at {}; export only after the close",
        shared::jst::format_jst(election.window().closes_at)
    );
    let contests: Vec<_> = election.contests.iter().filter(|c| c.district == district).collect();
    anyhow::ensure!(!contests.is_empty(), "no contest of this election has district {district:?}");
    db.seal(election.id.as_str())?;
    let mut entries = Vec::new();
    let mut ballots = Vec::new();
    for c in contests {
        let (cts, unopened) = contest_contents(db, election, c.id.as_str())?;
        let (entry, contest_ballots) = contest_entry(c.id.as_str(), &cts, &unopened);
        entries.push(entry);
        ballots.push(contest_ballots);
    }
    let manifest = Manifest {
        format: EXPORT_FORMAT.into(),
        election_id: election.id.to_string(),
        district: district.into(),
        ballot_box_digest: Manifest::compute_digest(&entries),
        contests: entries,
        key_fingerprint: key.fingerprint(),
        definition_digest: shared::export::definition_digest(&serde_json::to_vec(election)?),
        exported_at: now.to_rfc3339(),
    };
    let manifest_json = serde_json::to_string(&manifest)?;
    let file = ExportFile {
        signature: export_key.sign(manifest_json.as_bytes()),
        manifest: manifest_json,
        export_public_key: export_key.public_hex(),
        ballots,
    };
    db.audit(
        now,
        actor,
        "ballots_exported",
        serde_json::json!({ "district": district, "ballot_box_digest": manifest.ballot_box_digest }),
    )?;
    Ok(file)
}

/// A contest's ballots in the sealed box, in tracker order, and its unopened batches.
fn contest_contents(db: &Db, election: &Election, contest: &str) -> anyhow::Result<(Vec<Vec<u8>>, Vec<Unopened>)> {
    let (cts, unopened) = match db.voting_store() {
        Some(pg) => pg.contest_contents(election.id.as_str(), contest)?,
        None => {
            let ballot_box = db.ballot_box();
            (
                ballot_box.ciphertexts(election.id.as_str(), contest)?,
                ballot_box.unopened_batches(election.id.as_str(), contest)?,
            )
        }
    };
    let unopened = unopened
        .into_iter()
        .map(|b| Unopened { batch: b.id, wrapped_key: b.wrapped_key, entries: b.entries })
        .collect();
    Ok((cts, unopened))
}

/// Returns every contest's sorted trackers and their root, and how many ballots wait in unopened batches, for
/// publication once the box is sealed after the close; `None` before the seal.
pub fn published_ballot_box(db: &Db, election: &Election) -> anyhow::Result<Option<PublishedBallotBox>> {
    let sealed = match db.voting_store() {
        Some(pg) => pg.is_sealed(election.id.as_str())?,
        None => db.ballot_box().is_sealed(election.id.as_str())?,
    };
    if !sealed {
        return Ok(None);
    }
    let mut contests = Vec::new();
    for c in &election.contests {
        let (cts, unopened) = contest_contents(db, election, c.id.as_str())?;
        let mut trackers: Vec<String> = cts.iter().map(|ct| tracker(ct)).collect();
        let root = tracker_root(&mut trackers);
        let unopened = unopened.iter().map(|u| u.entries.len() as u64).sum();
        contests.push(PublishedContest { contest_id: c.id.to_string(), trackers, root, unopened });
    }
    let audit_checkpoints = db.with(|c| crate::store::audit::checkpoints(c))?;
    Ok(Some(PublishedBallotBox { election_id: election.id.to_string(), contests, audit_checkpoints }))
}
