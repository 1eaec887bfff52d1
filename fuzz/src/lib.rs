//! Fixtures shared by the fuzz targets (issue 10): the demo election read by the verifier's own loader, and a
//! trust store of the committed JPKI-like test authority, checked at a fixed time inside its CRLs' validity.
//!
//! Each target in `fuzz_targets/` feeds arbitrary bytes to the project's real code paths; none may panic. The
//! fixtures are loaded once per process and fail loudly if they are broken, because a target that silently ran
//! against nothing would find nothing. `tests/seeds.rs` writes the fixtures and the seed corpora.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use shared::crypto::ElectionPublicKey;
use shared::election::Election;
use verifier::certs::TrustStore;

/// The origin the fuzzed login digests are bound to (any fixed origin will do: it is hashed, never parsed).
pub const ORIGIN: &str = "http://127.0.0.1:8080";

/// Returns a path inside the fuzz crate.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Returns the demo election (`verifier/elections/demo.toml`), read and validated by `verifier::cli::load_election`.
pub fn demo_election() -> &'static Election {
    static ELECTION: OnceLock<Election> = OnceLock::new();
    ELECTION.get_or_init(|| {
        let path = fuzz_dir().join("../verifier/elections/demo.toml");
        verifier::cli::load_election(&path).unwrap_or_else(|e| panic!("fixture: the demo election: {e:#}"))
    })
}

/// Returns the committed test election key (`shared/tests/data/test-election-key.pub.pem`), RSA-3072.
pub fn election_key() -> &'static ElectionPublicKey {
    static KEY: OnceLock<ElectionPublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        ElectionPublicKey::from_pem(include_str!("../../shared/tests/data/test-election-key.pub.pem"))
            .unwrap_or_else(|e| panic!("fixture: the test election key: {e}"))
    })
}

/// Returns a fresh trust store of the committed test authority (`fixtures/ca`), loaded by `TrustStore::from_dir`.
pub fn new_trust_store() -> TrustStore {
    TrustStore::from_dir(&fuzz_dir().join("fixtures/ca")).unwrap_or_else(|e| panic!("fixture: the trust store: {e:#}"))
}

/// Returns one trust store of the committed test authority, shared by every run of a target.
pub fn trust_store() -> &'static TrustStore {
    static STORE: OnceLock<TrustStore> = OnceLock::new();
    STORE.get_or_init(new_trust_store)
}

/// Returns the time of every check: an hour after the test authority wrote its CRLs, so that the committed
/// certificates are valid and the CRLs current whatever the date of the run.
pub fn now() -> DateTime<Utc> {
    let text = include_str!("../fixtures/now.txt").trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("fixtures/now.txt: {e}"))
}
