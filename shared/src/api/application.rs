//! Applications (申出) and switch requests (切替申出): what the card signs, the request, and the state the voter
//! sees (R-REG-1, R-REG-9, R-REG-10).

use serde::{Deserialize, Serialize};

use crate::wire::Base64;

/// What an application (申出) or a switch request (切替申出) says; its JSON bytes are what the card signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// `apply` (to vote online) or `switch` (back to paper voting).
    pub kind: String,
    /// The municipality code of the overseas roll entry (名簿登録地).
    pub municipality: String,
    /// The roll entry number, or none when the roll registration is pending.
    pub roll_entry: Option<String>,
    /// The roll registration is pending (R-REG-4).
    #[serde(default)]
    pub registration_pending: bool,
    /// Name, as in the signing certificate.
    pub name: String,
    /// Birth date, as in the signing certificate.
    pub birth_date: chrono::NaiveDate,
    /// Address abroad.
    pub address_abroad: String,
    /// E-mail address for notices (R-REG-7).
    pub email: String,
}

/// `POST /api/v1/applications`: the application's JSON (exact bytes signed), the signature and the signing
/// certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// [`ApplicationInput`] as JSON text.
    pub application: String,
    /// PKCS#1 v1.5 SHA-256 signature over `crypto::application_digest(application, auth certificate)`, where the
    /// authentication certificate is the applicant session's (the same card), base64.
    pub signature: Base64,
    /// The signing certificate, DER in base64.
    pub certificate: Base64,
}

/// An application's state as the voter sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationStatus {
    /// The receipt number.
    pub receipt_no: String,
    /// `apply` or `switch`.
    pub kind: String,
    /// `awaiting_card`, `established`, `accepted`, `rejected`, or `kept_for_next_election`.
    pub status: String,
    /// The date it counts as received (R-REG-10).
    pub receipt_date: chrono::NaiveDate,
    /// The reason of a rejection.
    pub reason: Option<String>,
    /// Every exchange about it so far: (when, what), e.g. `application_received`, `card_arrived`, `accepted`.
    #[serde(default)]
    pub history: Vec<(String, String)>,
}
