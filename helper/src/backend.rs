//! The card behind one trait: a software card file ([`crate::soft`]) or any PKCS#11 module
//! ([`crate::pkcs11`]: OpenSC's JPKI driver for the real My Number card, SoftHSM2 in tests).

use serde::{Deserialize, Serialize};

use crate::pin::{KeyKind, Pin};

/// Tries left before a key locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tries {
    /// Tries left; 0 means locked.
    pub left: u8,
    /// Tries when none is used.
    pub max: u8,
}

/// What the helper can say about the reader and the card without any PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardStatus {
    /// `soft` or `pkcs11`.
    pub backend: &'static str,
    /// The reader or token, as the backend names it.
    pub reader: String,
    /// Whether a card (token) is present.
    pub card_present: bool,
    /// The authentication certificate (DER), readable without a PIN as on the real card.
    pub auth_certificate: Option<Vec<u8>>,
    /// The signing certificate (DER): only after its password has been given once, as on the real card.
    pub signing_certificate: Option<Vec<u8>>,
    /// Tries left for the authentication PIN.
    pub auth_tries: Tries,
    /// Tries left for the signing password.
    pub sign_tries: Tries,
}

/// A signature and the certificate of the key that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// PKCS#1 v1.5 signature over the SHA-256 DigestInfo of the digest.
    pub signature: Vec<u8>,
    /// The certificate (DER) of the key used.
    pub certificate: Vec<u8>,
}

/// The card's operations.
pub trait CardBackend: Send + Sync + 'static {
    /// Reports the reader, the card, the certificates that may be read and the tries left.
    fn status(&self) -> Result<CardStatus, CardError>;

    /// Signs a SHA-256 digest (PKCS#1 v1.5 with SHA-256's DigestInfo) with the key the PIN is for. A wrong PIN
    /// uses up a try, persistently across restarts; a right one resets the count; at 0 the key is locked and
    /// is not tried again.
    fn sign(&self, pin: &Pin, digest: &[u8; 32]) -> Result<Signed, CardError>;
}

/// Why the card did not sign or answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// No reader, or no card in it.
    #[error("no card: {0}")]
    NoCard(String),
    /// The PIN was wrong; a try was used.
    #[error("wrong PIN for the {kind:?} key; {tries_left} tries left")]
    WrongPin {
        /// Which key.
        kind: KeyKind,
        /// Tries left now.
        tries_left: u8,
    },
    /// The key is locked (no tries left).
    #[error("the {0:?} key is locked")]
    Locked(KeyKind),
    /// The card has no PIN for this key (a face-authentication card, 顔認証マイナンバーカード).
    #[error("this card has no PIN for the {0:?} key (face-authentication card)")]
    NoPin(KeyKind),
    /// The certificate on the card is missing or unreadable.
    #[error("certificate problem: {0}")]
    Certificate(String),
    /// Any other failure of the card, the reader or the module.
    #[error("card failure: {0}")]
    Backend(String),
}

impl CardError {
    /// Returns the stable code the helper's API reports.
    pub fn code(&self) -> &'static str {
        match self {
            CardError::NoCard(_) => "CARD_NOT_PRESENT",
            CardError::WrongPin { .. } => "WRONG_PIN",
            CardError::Locked(_) => "PIN_LOCKED",
            CardError::NoPin(_) => "NO_PIN_ON_CARD",
            CardError::Certificate(_) => "CERTIFICATE_PROBLEM",
            CardError::Backend(_) => "CARD_ERROR",
        }
    }
}

/// The DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1): the bytes a card signs are this prefix
/// followed by the 32-byte digest, padded with PKCS#1 v1.5 type 1 (CKM_RSA_PKCS on a PKCS#11 token).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

/// Returns the DigestInfo of a SHA-256 digest.
pub fn digest_info(digest: &[u8; 32]) -> Vec<u8> {
    let mut v = SHA256_DIGEST_INFO_PREFIX.to_vec();
    v.extend_from_slice(digest);
    v
}
