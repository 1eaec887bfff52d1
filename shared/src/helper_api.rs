//! The JSON bodies of the card helper's loopback API, shared so that the voter app and the helper cannot drift.
//! Binary values are base64 (standard alphabet, padded); digests are lower-case hex.
//!
//! The helper never takes a digest to sign: it computes every digest itself from a typed request (a ballot with
//! its opening, `crate::sealed::BallotOpening`, or an application's text) and shows what it computed.

use serde::{Deserialize, Serialize};

/// The default port of the card helper on 127.0.0.1.
pub const DEFAULT_HELPER_PORT: u16 = 24190;

/// Tries left for one PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TriesView {
    /// Tries left; 0 means locked.
    pub left: u8,
    /// Tries when none is used.
    pub max: u8,
}

/// `GET /api/v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HelperStatus {
    /// `soft` or `pkcs11`.
    pub backend: String,
    /// The reader or token.
    pub reader: String,
    /// Whether a card is present.
    pub card_present: bool,
    /// The authentication certificate (DER, base64), readable without a PIN.
    pub auth_certificate: Option<String>,
    /// The signing certificate (DER, base64), only after its password was given once.
    pub signing_certificate: Option<String>,
    /// Tries left for the authentication PIN.
    pub auth_tries: TriesView,
    /// Tries left for the signing password.
    pub sign_tries: TriesView,
}

/// `POST /api/v1/authenticate`: the verifier's single-use nonce (base64, 16–128 bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthenticateRequest {
    /// The server's challenge.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::contract::challenge_base64))]
    pub challenge: String,
}

/// `POST /api/v1/sign/application`: an application or a switch request (R-REG-2, R-REG-9) as the JSON text of
/// [`crate::api::ApplicationInput`]. The helper parses it, shows every field on its own page, and signs
/// `crypto::application_digest` of exactly these bytes and its card's authentication certificate, which it computes
/// itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApplicationSignRequest {
    /// The application's JSON text, as it will be sent to the verifier (at most 1,000 characters).
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub application: String,
}

/// The answer to `POST /api/v1/check/ballot`: the helper checked a challenged ballot and shows the result on its
/// own page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckStarted {
    /// Open this URL (the helper's own page) in a popup window: it shows the choice the ballot holds.
    pub check_url: String,
    /// The ballot's tracker.
    pub tracker: String,
}

/// The answer to authenticate and sign: where the voter confirms, and what to poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationStarted {
    /// Poll `GET /api/v1/operations/{operation_id}`.
    pub operation_id: String,
    /// Open this URL (the helper's own page) in a popup window.
    pub confirm_url: String,
    /// Seconds until the operation expires.
    pub expires_in: u64,
}

/// `GET /api/v1/operations/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OperationView {
    /// Waiting for the voter; `last_error` is the code of the last refusal (e.g. `WRONG_PIN`).
    Pending {
        /// The last refusal's code.
        last_error: Option<String>,
    },
    /// Signed: the signature and the certificate of the key, base64.
    Done {
        /// PKCS#1 v1.5 SHA-256 signature.
        signature: String,
        /// The certificate (DER).
        certificate: String,
    },
    /// The voter cancelled.
    Cancelled,
    /// It cannot succeed; the code says why (e.g. `PIN_LOCKED`).
    Failed {
        /// The stable code.
        code: String,
    },
}
