//! Sealing and casting one contest's ballot (R-VOTE-6, R-VOTE-7): the only module of the app that holds a ballot's
//! opening (the choice together with the OAEP seed that encrypted it).
//!
//! - [`ElectionKey`]: the election key read from the ballot view, with the fingerprint derived from the key itself
//!   (never the server's word for it: a view whose stated fingerprint is not the key's is refused, `KEY_MISMATCH`).
//!   The voting page pins it for the session: a later view with another key is refused (`KEY_CHANGED`).
//! - [`Sealed`]: an encrypted ballot with its opening, opaque: its tracker can be read, and it is spent exactly once,
//!   either by [`sign_cast`] (the opening goes to the card helper only, the ciphertext to the verifier) or by
//!   [`Sealed::challenge`] (the Benaloh challenge: the opening is shown so the voter can check the encryption).
//! - [`CastPorts`]: the two calls of a cast, the helper's signature and the verifier's `POST /api/v1/ballots`, as
//!   a trait, so that tests can play a hostile helper or verifier; [`Live`] is the real one.
//!
//! Why a challenged ballot can never be cast: the challenge reveals the seed, so whoever sees the opening (the
//! page, the helper, anyone the voter shows it to) knows what that ciphertext holds. [`Sealed::challenge`] takes
//! the `Sealed` by value and it is not `Clone`, so after a challenge no ciphertext is left here to sign; the page
//! seals the choice afresh, with a new seed; and the helper also refuses to sign a ballot it checked
//! (`CHALLENGED_BALLOT`).
//!
//! What it must never do: send the opening anywhere but to the card helper, keep it after the cast, or trust the
//! verifier's receipt without comparing its tracker with the one computed here (`TRACKER_MISMATCH`).

use shared::api::{BallotView, CastReceipt, CastRequest};
use shared::crypto::ElectionPublicKey;
use shared::election::{Choice, Contest, Id};
use shared::sealed::{BallotOpening, Opening, SealedBallot};

use crate::services::card_helper;
use shared::api::ApiError;

use crate::services::verifier_api;

fn fail(code: &str, message: String) -> ApiError {
    ApiError { code: code.into(), message }
}

/// The election's public key as this page uses it, with the fingerprint derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionKey {
    key: ElectionPublicKey,
    fingerprint: String,
}

impl ElectionKey {
    /// Reads the key of a ballot view and derives its fingerprint; refuses a malformed key (`ENCRYPTION`) and a view
    /// whose stated fingerprint is not the key's (`KEY_MISMATCH`).
    pub fn from_view(view: &BallotView) -> Result<ElectionKey, ApiError> {
        let key = ElectionPublicKey::from_spki_der(view.public_key.as_bytes())
            .map_err(|e| fail("ENCRYPTION", format!("the election key cannot be read: {e}")))?;
        let fingerprint = key.fingerprint();
        if !fingerprint.eq_ignore_ascii_case(&view.key_fingerprint) {
            return Err(fail(
                "KEY_MISMATCH",
                format!("the key's fingerprint is {fingerprint}; the verifier states {}", view.key_fingerprint),
            ));
        }
        Ok(ElectionKey { key, fingerprint })
    }

    /// Checks that a later ballot view carries this (pinned) key; refuses another key with `KEY_CHANGED`, and a
    /// view that is inconsistent in itself as [`ElectionKey::from_view`] does.
    pub fn check_view(&self, view: &BallotView) -> Result<(), ApiError> {
        let other = ElectionKey::from_view(view)?;
        if other.fingerprint != self.fingerprint {
            return Err(fail(
                "KEY_CHANGED",
                format!("the key was {} at login; this view has {}", self.fingerprint, other.fingerprint),
            ));
        }
        Ok(())
    }

    /// Returns the fingerprint derived from the key: hex SHA-256 of its DER (the one the voter is shown).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Returns the key.
    pub fn key(&self) -> &ElectionPublicKey {
        &self.key
    }
}

/// One contest's encrypted ballot with its opening, spent exactly once: cast ([`sign_cast`]) or challenged
/// ([`Sealed::challenge`]). Neither `Clone` nor printable.
pub struct Sealed {
    ballot: SealedBallot,
    opening: Opening,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({})", self.ballot.tracker())
    }
}

impl Sealed {
    /// Returns the tracker of the ballot that a cast would record: hex SHA-256 of its ciphertext.
    pub fn tracker(&self) -> String {
        self.ballot.tracker()
    }

    /// Returns the contest.
    pub fn contest(&self) -> &Id {
        self.ballot.contest()
    }

    /// Spends the ballot on a Benaloh challenge: returns it with its opening revealed, for the voter to check with
    /// the card helper's page or `ballot-check`. The ballot is gone: it can never be signed or cast.
    pub fn challenge(self) -> BallotOpening {
        self.opening.reveal(self.ballot)
    }
}

/// Encrypts a choice for a contest under the election key with a fresh seed from the browser's randomness
/// (R-VOTE-7); refuses a choice the contest does not allow (`ENCRYPTION`).
pub fn seal(key: &ElectionKey, election: &Id, contest: &Contest, choice: Choice) -> Result<Sealed, ApiError> {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let (ballot, opening) = shared::sealed::seal(&mut rng, &key.key, election, contest, choice)
        .map_err(|e| fail("ENCRYPTION", e.to_string()))?;
    Ok(Sealed { ballot, opening })
}

/// The outside calls of a cast: the card helper's signature and the verifier's ballot box.
// The app is single-threaded wasm: the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait CastPorts {
    /// Has the card sign a ballot, given with its opening; returns the signature and the signing certificate.
    async fn sign(&self, opening: &BallotOpening) -> Result<(Vec<u8>, Vec<u8>), ApiError>;
    /// Casts the signed ballot; returns the verifier's receipt.
    async fn cast(&self, request: &CastRequest) -> Result<CastReceipt, ApiError>;
}

/// The real ports: the card helper at its origin (`POST /api/v1/sign/ballot`, then its page and the polling) and
/// the verifier (`POST /api/v1/ballots`).
pub struct Live {
    /// The card helper's origin.
    pub helper: String,
}

impl CastPorts for Live {
    async fn sign(&self, opening: &BallotOpening) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
        let started = card_helper::sign_ballot(&self.helper, opening).await?;
        card_helper::confirm_and_wait(&self.helper, &started).await
    }

    async fn cast(&self, request: &CastRequest) -> Result<CastReceipt, ApiError> {
        verifier_api::cast(request).await
    }
}

/// A receipt that names another ballot than the one sealed and signed here: both trackers, for the voter to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerMismatch {
    /// The contest.
    pub contest: Id,
    /// The tracker computed here from the ciphertext that was signed and sent.
    pub computed: String,
    /// The tracker on the verifier's receipt.
    pub receipt: String,
}

/// Why a cast failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CastError {
    /// The helper or the verifier refused, or could not be reached.
    Refused(ApiError),
    /// The verifier answered a receipt whose tracker is not the ballot's.
    TrackerMismatch(TrackerMismatch),
}

impl CastError {
    /// Returns the stable code (`TRACKER_MISMATCH` for a receipt that names another ballot).
    pub fn code(&self) -> &str {
        match self {
            CastError::Refused(f) => &f.code,
            CastError::TrackerMismatch(_) => "TRACKER_MISMATCH",
        }
    }

    /// Returns the failure to show, with both trackers in the message of a mismatch.
    pub fn failure(&self) -> ApiError {
        match self {
            CastError::Refused(f) => f.clone(),
            CastError::TrackerMismatch(m) => fail(
                "TRACKER_MISMATCH",
                format!("this page computed tracker {}; the verifier's receipt says {}", m.computed, m.receipt),
            ),
        }
    }
}

impl From<ApiError> for CastError {
    fn from(f: ApiError) -> CastError {
        CastError::Refused(f)
    }
}

/// Signs and casts a sealed ballot (R-VOTE-6): the opening goes to the card helper only, which re-encrypts it and
/// shows the choice before the card signs; the ciphertext, the signature and the certificate go to the verifier.
/// Returns the receipt with the tracker computed here, once it equals the verifier's (else `TRACKER_MISMATCH`).
pub async fn sign_cast(ports: &impl CastPorts, sealed: Sealed) -> Result<CastReceipt, CastError> {
    let Sealed { ballot, opening } = sealed;
    let (signature, certificate) = {
        let revealed = opening.reveal(ballot.clone());
        // The opening is dropped here (its seed is zeroized): a cast ballot keeps nothing that opens it.
        drop(opening);
        ports.sign(&revealed).await?
    };
    let receipt = ports.cast(&CastRequest::of(&ballot, signature, certificate)).await?;
    let computed = ballot.tracker();
    if receipt.tracker != computed {
        let contest = ballot.contest().clone();
        return Err(CastError::TrackerMismatch(TrackerMismatch { contest, computed, receipt: receipt.tracker }));
    }
    // The contest is this ballot's, whatever the receipt says: the tracker is what the voter checks.
    Ok(CastReceipt { contest: ballot.contest().clone(), tracker: computed })
}
