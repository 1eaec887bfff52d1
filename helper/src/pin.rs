//! PIN rules (R-SEC-3), checked before the card is touched, so that a typo in the format never costs a try.
//!
//! - Authentication PIN (利用者証明用電子証明書暗証番号): exactly 4 digits; 3 tries.
//! - Signing password (署名用電子証明書暗証番号): 6–16 characters A–Z and 0–9 with at least one letter and one
//!   digit; lower case is folded to upper case; 5 tries.
//!
//! PINs live only in [`secrecy::SecretString`] (zeroized on drop, redacted in `Debug`) and are moved into the
//! card call; they are never serialized or logged.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Which key of the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The user-authentication key (login, R-VOTE-5).
    Auth,
    /// The digital-signature key (applications and ballots, R-REG-2, R-VOTE-6).
    Sign,
}

impl KeyKind {
    /// Returns how many wrong entries lock the key.
    pub fn max_tries(self) -> u8 {
        match self {
            KeyKind::Auth => 3,
            KeyKind::Sign => 5,
        }
    }

    /// Returns the PIN's name in Japanese and English.
    pub fn pin_name(self) -> (&'static str, &'static str) {
        match self {
            KeyKind::Auth => ("利用者証明用電子証明書の暗証番号（数字4桁）", "user-authentication PIN (4 digits)"),
            KeyKind::Sign => {
                ("署名用電子証明書の暗証番号（英数字6〜16文字）", "signing password (6 to 16 letters and digits)")
            }
        }
    }
}

/// A PIN that passed its format rule.
pub struct Pin {
    kind: KeyKind,
    secret: SecretString,
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pin({:?}, [redacted])", self.kind)
    }
}

impl Pin {
    /// Checks a typed PIN against the rule of its key, folding a signing password to upper case.
    pub fn parse(kind: KeyKind, typed: SecretString) -> Result<Pin, PinFormatError> {
        let s = typed.expose_secret();
        match kind {
            KeyKind::Auth => {
                if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(Pin { kind, secret: typed })
                } else {
                    Err(PinFormatError::Auth)
                }
            }
            KeyKind::Sign => {
                let upper: SecretString = s.to_ascii_uppercase().into();
                let u = upper.expose_secret();
                let ok = (6..=16).contains(&u.len())
                    && u.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && u.bytes().any(|b| b.is_ascii_uppercase())
                    && u.bytes().any(|b| b.is_ascii_digit());
                if ok { Ok(Pin { kind, secret: upper }) } else { Err(PinFormatError::Sign) }
            }
        }
    }

    /// Returns which key this PIN is for.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Returns the secret, for the card call only.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }
}

/// A PIN that does not follow its rule; no try was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinFormatError {
    /// Not 4 digits.
    #[error("the authentication PIN is exactly 4 digits")]
    Auth,
    /// Not 6–16 letters and digits with at least one of each.
    #[error("the signing password is 6 to 16 letters A-Z and digits 0-9, with at least one of each")]
    Sign,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: KeyKind, s: &str) -> Result<Pin, PinFormatError> {
        Pin::parse(kind, SecretString::from(s.to_string()))
    }

    #[test]
    fn auth_pin_is_four_digits() {
        assert!(parse(KeyKind::Auth, "1234").is_ok());
        for bad in ["123", "12345", "12a4", "", "１２３４", " 123"] {
            assert_eq!(parse(KeyKind::Auth, bad).unwrap_err(), PinFormatError::Auth, "{bad:?}");
        }
    }

    #[test]
    fn signing_password_rules_and_folding() {
        let p = parse(KeyKind::Sign, "abc123").unwrap();
        assert_eq!(p.secret().expose_secret(), "ABC123");
        assert!(parse(KeyKind::Sign, "A1B2C3D4E5F6G7H8").is_ok());
        for bad in ["ABC12", "A1B2C3D4E5F6G7H8I", "ABCDEF", "123456", "ABC 123", "ABC-123", "ＡＢＣ１２３", "ÄBC123"]
        {
            assert_eq!(parse(KeyKind::Sign, bad).unwrap_err(), PinFormatError::Sign, "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_pin() {
        let p = parse(KeyKind::Auth, "9876").unwrap();
        assert!(!format!("{p:?}").contains("9876"));
    }

    #[test]
    fn tries_per_key() {
        assert_eq!(KeyKind::Auth.max_tries(), 3);
        assert_eq!(KeyKind::Sign.max_tries(), 5);
    }
}
