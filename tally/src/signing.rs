//! The ceremony's Ed25519 key and signed documents.
//!
//! The key ceremony generates an Ed25519 key (PKCS#8 file, owner-readable) that signs the ceremony record and,
//! at counting, the result files: whoever verifies the result checks it against the public key published in
//! the ceremony record. The key is kept with the counting officer, not in the HSM (SoftHSM2 and NSS in tests
//! have no Ed25519 everywhere), so it proves which ceremony a result file claims, not that the HSM made it.

use std::path::Path;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::error::TallyError;

/// An Ed25519 signing key read from or written to a PKCS#8 file.
pub struct SigningKey(Ed25519KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SigningKey").field(&self.public_hex()).finish()
    }
}

impl SigningKey {
    /// Generates a key and writes it to a new file readable by its owner only.
    pub fn generate(path: &Path) -> Result<SigningKey, TallyError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| TallyError::Random("Ed25519 key".into()))?;
        files::create_new(path, pkcs8.as_ref(), files::Access::Owner)?;
        SigningKey::load(path)
    }

    /// Reads a PKCS#8 Ed25519 key file.
    pub fn load(path: &Path) -> Result<SigningKey, TallyError> {
        let bytes = std::fs::read(path).map_err(|e| TallyError::Io(format!("reading {}: {e}", path.display())))?;
        Ed25519KeyPair::from_pkcs8(&bytes)
            .map(SigningKey)
            .map_err(|_| TallyError::Io(format!("{} is not an Ed25519 PKCS#8 key", path.display())))
    }

    /// Returns the public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.public_key().as_ref())
    }

    /// Signs a document's exact bytes.
    pub fn sign(&self, document: String) -> Signed {
        Signed {
            signature: hex::encode(self.0.sign(document.as_bytes()).as_ref()),
            public_key: self.public_hex(),
            document,
        }
    }
}

/// A document (its exact text) with an Ed25519 signature over its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// The exact text that is signed (JSON or CSV).
    pub document: String,
    /// Ed25519 signature over `document`, hex.
    pub signature: String,
    /// The signer's public key, hex.
    pub public_key: String,
}

/// Verifies an Ed25519 signature (hex) over bytes with a public key (hex).
pub fn verify(public_hex: &str, bytes: &[u8], signature_hex: &str) -> bool {
    let (Ok(public), Ok(sig)) = (hex::decode(public_hex), hex::decode(signature_hex)) else { return false };
    UnparsedPublicKey::new(&ED25519, public).verify(bytes, &sig).is_ok()
}

impl Signed {
    /// Checks the signature and that the signer is the expected key.
    pub fn verify_by(&self, expected_public_hex: &str) -> bool {
        self.public_key.eq_ignore_ascii_case(expected_public_hex)
            && verify(&self.public_key, self.document.as_bytes(), &self.signature)
    }
}
