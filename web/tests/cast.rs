//! Sealing and casting in headless Chromium (issue 18), through `web::services::cast` with test ports playing the
//! card helper and the verifier: a receipt naming another tracker is refused (`TRACKER_MISMATCH`), a ballot view
//! whose stated fingerprint is not its key's is refused (`KEY_MISMATCH`) and a later view with another key too
//! (`KEY_CHANGED`), a challenge spends the sealed ballot and reveals an opening that checks with `shared` against
//! the election, and the honest path sends the helper the opening of exactly the ballot the verifier receives.
//!
//! The keys are the committed RSA-3072 test key of `shared` and a second public key committed for these tests
//! (web/tests/data/other-election-key.pub.pem, public only); the election is the demo election.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;

use chrono::{TimeZone, Utc};
use shared::api::ApiError;
use shared::api::{BallotView, CastReceipt, CastRequest, ContestView};
use shared::crypto::ElectionPublicKey;
use shared::election::{Choice, Election};
use shared::sealed::{BallotOpening, CheckError, describe};
use shared::wire::Base64;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web::services::cast::{self, CastError, CastPorts, ElectionKey};
use web::state::{Action, Step, VoteState};
use yew::Reducible;

wasm_bindgen_test_configure!(run_in_browser);

mod watch;

const ELECTION_PUB: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");
/// Another valid election key (RSA-3072, public only), made for these tests.
const OTHER_PUB: &str = include_str!("data/other-election-key.pub.pem");
/// The demo election `verifier serve --demo` runs.
const DEMO_ELECTION: &str = include_str!("../../verifier/elections/demo.toml");

/// The rehearsal's House of Representatives general election, the kind that holds the Supreme Court review.
const HOR_ELECTION: &str = include_str!("../../verifier/elections/rehearsal-hor.toml");

fn election() -> Election {
    toml::from_str(DEMO_ELECTION).unwrap()
}

/// The ballot view of the demo election under a key, with the fingerprint the server states.
fn view(pem: &str, stated_fingerprint: Option<String>) -> BallotView {
    let e = election();
    let key = ElectionPublicKey::from_pem(pem).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 7, 10, 3, 0, 0).unwrap();
    BallotView {
        election_id: e.id.clone(),
        contests: e.contests.iter().map(|c| ContestView { contest: c.clone(), voted: false }).collect(),
        public_key: Base64(key.spki_der().to_vec()),
        key_fingerprint: stated_fingerprint.unwrap_or_else(|| key.fingerprint()),
        session_expires_at: at,
        session_extensions_left: 3,
        window_closes_at: at,
        paused: None,
    }
}

/// The card helper and the verifier as the tests play them: they record what they are sent; the verifier's
/// receipt names the tracker of what it received, or `receipt_tracker` if set (a hostile verifier).
#[derive(Default)]
struct Ports {
    signed: RefCell<Vec<BallotOpening>>,
    cast: RefCell<Vec<CastRequest>>,
    receipt_tracker: Option<String>,
}

const SIGNATURE: [u8; 3] = [1, 2, 3];
const CERTIFICATE: [u8; 3] = [4, 5, 6];

impl CastPorts for Ports {
    async fn sign(&self, opening: &BallotOpening) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
        self.signed.borrow_mut().push(opening.clone());
        Ok((SIGNATURE.to_vec(), CERTIFICATE.to_vec()))
    }

    async fn cast(&self, request: &CastRequest) -> Result<CastReceipt, ApiError> {
        self.cast.borrow_mut().push(request.clone());
        let stored = shared::crypto::tracker(request.ciphertext.as_bytes());
        Ok(CastReceipt { contest: request.contest.clone(), tracker: self.receipt_tracker.clone().unwrap_or(stored) })
    }
}

#[wasm_bindgen_test]
async fn a_receipt_that_names_another_tracker_is_refused_with_both_trackers() {
    let _watch = watch::Watch::start();
    let (e, v) = (election(), view(ELECTION_PUB, None));
    let key = ElectionKey::from_view(&v).unwrap();
    let sealed = cast::seal(&key, &e.id, &e.contests[0], Choice::Candidate(3)).unwrap();
    let ours = sealed.tracker();
    let forged = "0".repeat(64);
    let hostile = Ports { receipt_tracker: Some(forged.clone()), ..Ports::default() };
    let err = cast::sign_cast(&hostile, sealed).await.unwrap_err();
    assert_eq!(err.code(), "TRACKER_MISMATCH");
    let CastError::TrackerMismatch(m) = &err else { panic!("{err:?}") };
    assert_eq!(
        (m.computed.as_str(), m.receipt.as_str(), m.contest.as_str()),
        (ours.as_str(), forged.as_str(), "tokyo")
    );
    let shown = err.failure();
    assert!(shown.message.contains(&ours) && shown.message.contains(&forged), "{}", shown.message);
    assert_eq!(hostile.cast.borrow().len(), 1, "the ballot was sent: only its receipt is refused");

    // The page then shows both trackers on the failure screen.
    let state = std::rc::Rc::new(VoteState::default()).reduce(Action::CastFailed(err));
    let Step::Failed(f, Some(kept)) = &state.step else { panic!("{:?}", state.step) };
    assert_eq!(
        (f.code.as_str(), kept.computed.as_str(), kept.receipt.as_str()),
        ("TRACKER_MISMATCH", &*ours, &*forged)
    );
}

#[wasm_bindgen_test]
fn a_view_whose_fingerprint_is_not_its_keys_is_refused_and_the_key_is_pinned() {
    let _watch = watch::Watch::start();
    let honest = view(ELECTION_PUB, None);
    let key = ElectionKey::from_view(&honest).unwrap();
    let derived = ElectionPublicKey::from_pem(ELECTION_PUB).unwrap().fingerprint();
    assert_eq!(key.fingerprint(), derived, "the fingerprint shown is derived from the key");

    let lying = view(ELECTION_PUB, Some("ab".repeat(32)));
    assert_eq!(ElectionKey::from_view(&lying).unwrap_err().code, "KEY_MISMATCH");
    // Another key passed off under the pinned key's fingerprint is a mismatch too.
    let disguised = view(OTHER_PUB, Some(derived.clone()));
    assert_eq!(ElectionKey::from_view(&disguised).unwrap_err().code, "KEY_MISMATCH");

    // A later view (the page reads one after each cast) must carry the key pinned at login.
    let other = view(OTHER_PUB, None);
    assert!(ElectionKey::from_view(&other).is_ok(), "the other key is a valid key on its own");
    let changed = key.check_view(&other).unwrap_err();
    assert_eq!(changed.code, "KEY_CHANGED");
    assert!(changed.message.contains(&derived), "{}", changed.message);
    key.check_view(&honest).unwrap();
    assert_eq!(key.check_view(&lying).unwrap_err().code, "KEY_MISMATCH");

    // The page pins the key at login; a cast whose refreshed view has another key keeps its receipt and stops.
    let state = std::rc::Rc::new(VoteState::default()).reduce(Action::LoggedIn(honest.clone(), key.clone()));
    assert_eq!(state.key.as_deref().map(ElectionKey::fingerprint), Some(derived.as_str()));
    let receipt = CastReceipt { contest: honest.contests[0].contest.id.clone(), tracker: "aa".repeat(32) };
    let state = state.reduce(Action::Cast(receipt.clone(), key.check_view(&other).map(|()| other.clone())));
    let Step::Failed(f, None) = &state.step else { panic!("{:?}", state.step) };
    assert_eq!(f.code, "KEY_CHANGED");
    assert_eq!(state.receipts, [receipt]);
    let state = state.reduce(Action::Restart);
    assert!(state.key.is_none() && state.ballot.is_none(), "a new login pins its session's key");
}

#[wasm_bindgen_test]
fn a_challenge_spends_the_ballot_and_its_opening_checks_against_the_election() {
    let _watch = watch::Watch::start();
    let e: Election = toml::from_str(HOR_ELECTION).unwrap();
    let key = ElectionKey::from_view(&view(ELECTION_PUB, None)).unwrap();
    let review = e.contest("review").unwrap();
    let choice = Choice::Review(0b101);
    let sealed = cast::seal(&key, &e.id, review, choice).unwrap();
    let tracker = sealed.tracker();
    // `challenge` takes the sealed ballot by value and `Sealed` is not `Clone`: after this line the compiler
    // refuses any use of `sealed`, so it can never reach `sign_cast`.
    let opening = sealed.challenge();
    assert_eq!(opening.ballot.tracker(), tracker);
    assert_eq!(opening.choice, choice);
    let checked = opening.check(&e, key.key()).unwrap();
    assert_eq!((checked.tracker.as_str(), checked.fingerprint.as_str()), (tracker.as_str(), key.fingerprint()));
    assert_eq!(checked.words, describe(review, &choice));
    // The JSON the page shows (and `ballot-check` reads) is the same opening.
    let json = serde_json::to_string_pretty(&opening).unwrap();
    assert_eq!(serde_json::from_str::<BallotOpening>(&json).unwrap(), opening);
    let mut lie = opening.clone();
    lie.choice = Choice::Review(0b100);
    assert_eq!(lie.check(&e, key.key()), Err(CheckError::Mismatch), "a page that lies about the choice is caught");

    let fresh = cast::seal(&key, &e.id, review, choice).unwrap();
    assert_ne!(fresh.tracker(), tracker, "the choice is sealed afresh with a new seed");
}

#[wasm_bindgen_test]
fn the_confirmation_state_holds_one_sealed_ballot_and_a_challenge_replaces_it() {
    let _watch = watch::Watch::start();
    let e = election();
    let v = view(ELECTION_PUB, None);
    let key = ElectionKey::from_view(&v).unwrap();
    let tokyo = &e.contests[0];
    let state = std::rc::Rc::new(VoteState::default()).reduce(Action::LoggedIn(v, key.clone()));
    let first = cast::seal(&key, &e.id, tokyo, Choice::Blank).unwrap();
    let first_tracker = first.tracker();
    let state = state.reduce(Action::Confirm(0, Choice::Blank, first));
    let Step::Confirm(c) = &state.step else { panic!("{:?}", state.step) };
    assert_eq!((c.tracker.as_str(), c.challenged.is_none()), (first_tracker.as_str(), true));

    // The page's challenge: take the ballot out, open it, seal afresh.
    let opened = state.sealed.take().unwrap().challenge();
    assert!(state.sealed.take().is_none(), "taken once: nothing is left to cast");
    let fresh = cast::seal(&key, &e.id, tokyo, Choice::Blank).unwrap();
    let state = state.reduce(Action::Challenged(opened, fresh));
    let Step::Confirm(c) = &state.step else { panic!("{:?}", state.step) };
    let challenged = c.challenged.clone().unwrap();
    assert_eq!(challenged.tracker, first_tracker);
    assert_ne!(c.tracker, first_tracker, "the screen shows the fresh ballot's tracker");
    assert!(challenged.opening.contains(&format!("\"{}\"", tokyo.id)), "{}", challenged.opening);
    let state = state.reduce(Action::Checked(
        first_tracker.clone(),
        web::components::confirmation::HelperCheck::Refused("BALLOT_MISMATCH".into()),
    ));
    let Step::Confirm(c) = &state.step else { panic!("{:?}", state.step) };
    assert_eq!(
        c.challenged.as_ref().unwrap().check,
        web::components::confirmation::HelperCheck::Refused("BALLOT_MISMATCH".into())
    );
    let tracker = c.tracker.clone();
    assert_eq!(state.sealed.take().map(|s| s.tracker()), Some(tracker), "the slot holds the fresh ballot");

    // Going back to change the choice drops the sealed ballot.
    let again = cast::seal(&key, &e.id, tokyo, Choice::Blank).unwrap();
    let state = state.reduce(Action::Confirm(0, Choice::Blank, again)).reduce(Action::Choose(0, Some(Choice::Blank)));
    assert!(state.sealed.take().is_none());
}

#[wasm_bindgen_test]
async fn the_honest_path_signs_the_opening_of_exactly_the_ballot_that_is_cast() {
    let _watch = watch::Watch::start();
    let e = election();
    let key = ElectionKey::from_view(&view(ELECTION_PUB, None)).unwrap();
    let pr = e.contest("national-pr").unwrap();
    let choice = Choice::Candidate(102);
    let sealed = cast::seal(&key, &e.id, pr, choice).unwrap();
    let tracker = sealed.tracker();
    let ports = Ports::default();
    let receipt = cast::sign_cast(&ports, sealed).await.unwrap();
    assert_eq!((receipt.contest.as_str(), receipt.tracker.as_str()), ("national-pr", tracker.as_str()));

    let signed = ports.signed.borrow();
    let cast = ports.cast.borrow();
    assert_eq!((signed.len(), cast.len()), (1, 1));
    let (opening, request) = (&signed[0], &cast[0]);
    assert_eq!(opening.choice, choice, "the helper is told the voter's choice, to show it");
    opening.check(&e, key.key()).expect("the helper's re-encryption finds the same ciphertext");
    assert_eq!(request.ciphertext.as_bytes(), opening.ballot.ciphertext(), "the verifier gets the signed ballot");
    assert_eq!(request.contest, pr.id);
    assert_eq!((request.signature.as_bytes(), request.certificate.as_bytes()), (&SIGNATURE[..], &CERTIFICATE[..]));
    let body = serde_json::to_string(request).unwrap();
    assert!(!body.contains("seed") && !body.contains("choice"), "nothing of the opening goes to the verifier: {body}");
}
