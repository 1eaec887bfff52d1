//! What a logged-in voter may vote on, the cast of one contest's sealed ballot, and its receipt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::election::Id;
use crate::sealed::SealedBallot;
use crate::wire::Base64;

/// One contest on the voter's ballot, with whether this voter has voted in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContestView {
    /// The contest: candidates, parties and judges in display order with readings.
    pub contest: crate::election::Contest,
    /// Whether this voter's ballot in this contest has been accepted.
    pub voted: bool,
}

/// `GET /api/v1/ballot`: what the logged-in voter may vote on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BallotView {
    /// The election's id (bound into every ballot).
    pub election_id: Id,
    /// The voter's contests (from the voter's municipality and districts).
    pub contests: Vec<ContestView>,
    /// The election public key, SubjectPublicKeyInfo DER in base64.
    pub public_key: Base64,
    /// Its fingerprint as the server states it: hex SHA-256 of the DER. The app derives the fingerprint it shows
    /// from `public_key` itself, and refuses a ballot view where the two differ.
    pub key_fingerprint: String,
    /// When the session ends.
    pub session_expires_at: DateTime<Utc>,
    /// How many more times the session may be extended by re-authenticating with the card (WCAG 2.2.1).
    #[serde(default)]
    pub session_extensions_left: u32,
    /// When voting closes.
    pub window_closes_at: DateTime<Utc>,
    /// Why voting is paused, if it is (R-VOTE-3).
    pub paused: Option<String>,
}

/// `POST /api/v1/ballots`: one contest's encrypted ballot, the card's signature over
/// `crypto::envelope_digest(election, contest, ciphertext)`, and the signing certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CastRequest {
    /// The contest's id.
    pub contest: Id,
    /// RSA-OAEP ciphertext, base64.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::contract::ciphertext_base64))]
    pub ciphertext: Base64,
    /// PKCS#1 v1.5 SHA-256 signature, base64.
    pub signature: Base64,
    /// The signing certificate, DER in base64.
    pub certificate: Base64,
}

impl CastRequest {
    /// The request for a sealed ballot of the session's election, signed by the card.
    pub fn of(ballot: &SealedBallot, signature: Vec<u8>, certificate: Vec<u8>) -> CastRequest {
        CastRequest {
            contest: ballot.contest().clone(),
            ciphertext: Base64(ballot.ciphertext().to_vec()),
            signature: Base64(signature),
            certificate: Base64(certificate),
        }
    }

    /// The ballot this request casts in an election.
    pub fn sealed(&self, election: &Id) -> SealedBallot {
        SealedBallot::new(election.clone(), self.contest.clone(), self.ciphertext.0.clone())
    }
}

/// The receipt of an accepted ballot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CastReceipt {
    /// The contest.
    pub contest: Id,
    /// The tracker: hex SHA-256 of the stored ciphertext, to check inclusion after the close.
    pub tracker: String,
}
