//! The crate's one error type: every refusal says what was expected and what was found.

/// Why the counting tool refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TallyError {
    /// The export file was refused (changed, truncated, re-ordered, duplicated, or with the wrong count).
    #[error("export refused: {0}")]
    Export(String),
    /// The ceremony record or its signature was refused.
    #[error("ceremony record refused: {0}")]
    Ceremony(String),
    /// PIN custody (share files) failed.
    #[error("PIN custody: {0}")]
    Custody(String),
    /// The PKCS#11 module or token failed or refused.
    #[error("HSM: {0}")]
    Hsm(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
    /// The system's randomness failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
}

impl From<files::WriteError> for TallyError {
    fn from(e: files::WriteError) -> TallyError {
        TallyError::Io(e.to_string())
    }
}
