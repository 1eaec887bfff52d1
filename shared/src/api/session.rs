//! The card login: the server's challenge, the signed login request, and the session it opens (R-VOTE-4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::wire::Base64;

/// `POST /api/v1/session/challenge`: a single-use nonce (base64, 48 bytes: issue time, random, and the server's MAC, so
/// that the server stores nothing until a card has signed it) valid for `expires_in` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Challenge {
    /// The nonce, base64.
    pub nonce: Base64,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// `POST /api/v1/session`: the authentication certificate and the card's signature over
/// `crypto::auth_digest(origin, nonce)`, made through the card helper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// `vote` (the default: the certificate must belong to a registered internet voter) or `apply` (any valid
    /// card, to apply for or switch from internet voting, R-REG-1, R-REG-9).
    #[serde(default)]
    pub purpose: Option<Purpose>,
    /// The nonce from the challenge, base64.
    pub nonce: Base64,
    /// The user-authentication certificate, DER in base64.
    pub certificate: Base64,
    /// PKCS#1 v1.5 SHA-256 signature, base64.
    pub signature: Base64,
}

/// What a card login is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// To vote: the certificate must belong to a registered internet voter.
    #[default]
    Vote,
    /// To apply for, or switch from, internet voting: any valid card (R-REG-1, R-REG-9).
    Apply,
}

/// The answer to a login: the session cookie is set; this says when it ends (absolute, R-VOTE-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Server time of login.
    pub started_at: DateTime<Utc>,
    /// The session ends here unless the voter extends it by logging in again with the same card.
    pub expires_at: DateTime<Utc>,
    /// How many more times the session may be extended (WCAG 2.2.1).
    #[serde(default)]
    pub extensions_left: u32,
}
