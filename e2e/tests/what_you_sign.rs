//! What you see is what you sign (issue 18), against the real verifier and card helper. A hostile page on the
//! allowed origin (an injected script, a compromised build) talks to the helper directly, and the voter is as
//! trusting as can be: whatever the helper's page shows, they type the signing password. The helper must still
//! sign nothing it did not compute from a ballot it re-encrypted, or from an application it showed in full.
//!
//! Each attack's outcome is printed as a table before the assertions, so a run against an older helper shows
//! which attack won (`E2E_BIN_DIR` at the older build).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use e2e::LiveElection;
use rand_core::SeedableRng;
use shared::api::{ApiError, ElectionDefinition};
use shared::crypto::ElectionPublicKey;
use shared::election::Choice;
use shared::helper_api::{CheckStarted, OperationStarted, OperationView};
use shared::sealed::{BallotOpening, seal};

struct Page<'a> {
    http: reqwest::Client,
    live: &'a LiveElection,
    origin: String,
    helper: String,
}

impl Page<'_> {
    async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        let url = format!("{}{path}", self.helper);
        self.http.post(url).header("origin", &self.origin).json(body).send().await.unwrap()
    }

    /// Plays the trusting voter: opens the helper's page, types the signing password, and returns what the page
    /// showed and whether the card signed.
    async fn voter_confirms(&self, started: &OperationStarted) -> (String, bool) {
        let page = self.http.get(&started.confirm_url).send().await.unwrap().text().await.unwrap();
        let form = [("pin", self.live.sign_password), ("action", "confirm")];
        self.http.post(&started.confirm_url).header("origin", &self.helper).form(&form).send().await.unwrap();
        let url = format!("{}/api/v1/operations/{}", self.helper, started.operation_id);
        let view: OperationView =
            self.http.get(url).header("origin", &self.origin).send().await.unwrap().json().await.unwrap();
        (page, matches!(view, OperationView::Done { .. }))
    }

    /// Sends an attack; returns "signed" if the card signed, else the refusal.
    async fn attack(&self, path: &str, body: &serde_json::Value) -> String {
        let r = self.post(path, body).await;
        let status = r.status().as_u16();
        if status == 201 {
            let started: OperationStarted = r.json().await.unwrap();
            let (_, signed) = self.voter_confirms(&started).await;
            return if signed { "signed".into() } else { "started, not signed".into() };
        }
        let code = r.json::<ApiError>().await.map(|e| e.code).unwrap_or_default();
        format!("refused {status} {code}")
    }
}

/// Prints an attack's outcome as it happens (a run against an older helper may stop at the next step).
fn record(outcomes: &mut Vec<(&'static str, String)>, (attack, outcome): (&'static str, String)) {
    println!("{attack} | {outcome}");
    outcomes.push((attack, outcome));
}

fn ballot_check(definition: &std::path::Path, opening: &BallotOpening) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opening.json");
    std::fs::write(&file, serde_json::to_string(opening).unwrap()).unwrap();
    let out = Command::new(e2e::bin_dir().join("ballot-check"))
        .arg("--definition")
        .arg(definition)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_page_gets_nothing_signed_that_the_helper_did_not_compute_and_show() {
    let live = LiveElection::start().unwrap();
    let page = Page {
        http: reqwest::Client::new(),
        live: &live,
        origin: live.base_url.trim_end_matches('/').to_string(),
        helper: live.helper_origin(),
    };
    let mut outcomes: Vec<(&'static str, String)> = Vec::new();
    println!("attack | outcome\n--- | ---");

    // A. A raw digest (a switch request, an outside document…) described as a ballot.
    let raw = serde_json::json!({ "digest": hex::encode([0x5au8; 32]), "what": { "ja": "投票（東京都選挙区）", "en": "Ballot (Tokyo)" } });
    record(&mut outcomes, ("A raw digest, described by the page as a ballot", page.attack("/api/v1/sign", &raw).await));

    // The page encrypts candidate 1 and tells the helper it is candidate 2.
    let def: ElectionDefinition = reqwest::get(format!("{}/api/v1/elections/current/definition", page.origin))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = ElectionPublicKey::from_spki_der(def.public_key.as_bytes()).unwrap();
    let tokyo = def.election.contest("tokyo").unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(18);
    let (ballot, opening) = seal(&mut rng, &key, &def.election.id, tokyo, Choice::Candidate(1)).unwrap();
    let mut lie = opening.reveal(ballot);
    lie.choice = Choice::Candidate(2);
    let lie_json = serde_json::to_value(&lie).unwrap();
    outcomes
        .push(("B a ballot of candidate 1 shown as candidate 2", page.attack("/api/v1/sign/ballot", &lie_json).await));
    record(&mut outcomes, ("B' the same lie sent for a check", page.attack("/api/v1/check/ballot", &lie_json).await));

    // C. An honestly encrypted ballot, opened for a check (a Benaloh challenge), then sent to be signed.
    let (ballot, opening) = seal(&mut rng, &key, &def.election.id, tokyo, Choice::Candidate(3)).unwrap();
    let challenged = opening.reveal(ballot);
    let r = page.post("/api/v1/check/ballot", &serde_json::to_value(&challenged).unwrap()).await;
    assert_eq!(r.status(), 201);
    let check: CheckStarted = r.json().await.unwrap();
    assert_eq!(check.tracker, challenged.ballot.tracker());
    let shown = page.http.get(&check.check_url).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains("佐々木 里美（ささき さとみ）") && shown.contains("送られません"), "{shown}");
    assert!(!shown.contains("id=\"pin\""), "a check asks for no password");
    let challenged_json = serde_json::to_value(&challenged).unwrap();
    outcomes
        .push(("C a challenged ballot sent to be signed", page.attack("/api/v1/sign/ballot", &challenged_json).await));

    let codes: Vec<&str> = outcomes.iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(
        codes,
        [
            "refused 410 RAW_DIGEST_REFUSED",
            "refused 422 BALLOT_MISMATCH",
            "refused 422 BALLOT_MISMATCH",
            "refused 409 CHALLENGED_BALLOT"
        ]
    );

    // D. The honest ballot: the helper's page shows what it computed, from the site's definition, not the page.
    let (ballot, opening) = seal(&mut rng, &key, &def.election.id, tokyo, Choice::Candidate(3)).unwrap();
    let honest = opening.reveal(ballot);
    let r = page.post("/api/v1/sign/ballot", &serde_json::to_value(&honest).unwrap()).await;
    assert_eq!(r.status(), 201);
    let started: OperationStarted = r.json().await.unwrap();
    let (shown, signed) = page.voter_confirms(&started).await;
    for part in ["佐々木 里美（ささき さとみ）", &tokyo.name.ja, &honest.ballot.tracker(), &key.fingerprint()]
    {
        assert!(shown.contains(part), "the helper's page shows {part}: {shown}");
    }
    assert!(signed, "the honest ballot is signed");

    // E. The standalone checker agrees with the helper, from the same published definition.
    let dir = tempfile::tempdir().unwrap();
    let def_file = dir.path().join("definition.json");
    std::fs::write(&def_file, serde_json::to_string(&def).unwrap()).unwrap();
    let (holds, text) = ballot_check(&def_file, &challenged);
    assert!(holds && text.contains("佐々木 里美") && text.contains("MATCH"), "{text}");
    let (holds, text) = ballot_check(&def_file, &lie);
    assert!(!holds && text.contains("MISMATCH"), "{text}");
}
